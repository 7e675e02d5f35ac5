"""The root :class:`Settings` struct, assembled from one module per section."""

from __future__ import annotations

from config.sections._base import Section
from config.sections.alerts import AlertsSettings
from config.sections.broker import BrokerSettings
from config.sections.control import ControlSettings
from config.sections.daemon import DaemonSettings
from config.sections.demo import DemoSettings
from config.sections.feedback import FeedbackSettings
from config.sections.guard import GuardSettings
from config.sections.journal import JournalSettings
from config.sections.lifecycle import LifecycleSettings
from config.sections.metrics import MetricsSettings
from config.sections.orchestrator import OrchestratorSettings
from config.sections.reconciler import ReconcilerSettings
from config.sections.redis import RedisSettings
from config.sections.regime import RegimeSettings
from config.sections.risk import RiskSettings
from config.sections.safety import SafetySettings
from config.sections.sizing import SizingSettings
from config.sections.storage import StorageSettings
from config.sections.supervisor import ActorsSettings


class Settings(Section, frozen=True, kw_only=True):
    """Everything configurable in tradingd; see docs/configuration.md for every key."""

    daemon: DaemonSettings = DaemonSettings()
    storage: StorageSettings = StorageSettings()
    redis: RedisSettings = RedisSettings()
    broker: BrokerSettings = BrokerSettings()
    risk: RiskSettings = RiskSettings()
    safety: SafetySettings = SafetySettings()
    guard: GuardSettings = GuardSettings()
    orchestrator: OrchestratorSettings = OrchestratorSettings()
    sizing: SizingSettings = SizingSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    reconciler: ReconcilerSettings = ReconcilerSettings()
    alerts: AlertsSettings = AlertsSettings()
    regime: RegimeSettings = RegimeSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    actors: ActorsSettings = ActorsSettings()
    control: ControlSettings = ControlSettings()
    metrics: MetricsSettings = MetricsSettings()
    journal: JournalSettings = JournalSettings()
    demo: DemoSettings = DemoSettings()
