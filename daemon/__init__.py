"""The tradingd process: clock, bus, actors and supervision, CLI entry points."""
