"""Demo feed (optional, off by default): real S&P 500 / NASDAQ daily bars from the
``arch`` package played as if live at an accelerated pace, traded by a built-in signal
source, with a status line and a summary. ``config/paper.toml`` turns it on for
``make run``; ``[demo]`` configures it. See README's first-hour walkthrough.
"""

from actors.demo_feed._actor import DemoFeed as DemoFeed
from actors.demo_feed._actor import DemoStats as DemoStats
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="demo_feed",
    factory=DemoFeed,
    description="plays real historical bars as if live and trades them (the make run demo)",
    core=False,
    enabled_by_default=False,
    requires=("signal_guard", "broker"),
)

__all__ = ("DEFINITION", "DemoFeed", "DemoStats")
