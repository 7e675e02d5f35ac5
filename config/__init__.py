"""Typed settings for tradingd: msgspec Structs, loaded from TOML plus environment."""

from config.loader import ConfigError as ConfigError
from config.loader import load_settings as load_settings
from config.loader import settings_from_mapping as settings_from_mapping
from config.settings import Settings as Settings

__all__ = ("ConfigError", "Settings", "load_settings", "settings_from_mapping")
