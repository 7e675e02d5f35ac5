"""The exceptions tradingd raises, one root, kept flat.

::

    TradingdError
    ├── IllegalTransition      an actor lifecycle change the transition table forbids
    ├── ActorDefinitionError   an actor package that cannot be discovered or ordered
    ├── EscalationError        a core actor went past its restart intensity
    ├── ResourceMissing        an actor asked for a shared resource nobody provided
    └── StartupError           a precondition of starting failed (e.g. database schema behind)

Configuration problems raise :class:`config.ConfigError`; message problems raise
:class:`daemon.messages.MessageDecodeError`. Third-party errors are mapped at the boundary
with ``raise OurError(...) from exc``.
"""

from __future__ import annotations


class TradingdError(Exception):
    """Root of every error tradingd raises on purpose."""


class IllegalTransition(TradingdError):
    """Raised when a component is asked to move between lifecycle states it may not."""


class ActorDefinitionError(TradingdError):
    """Raised when actor packages cannot be discovered, enabled or ordered."""


class EscalationError(TradingdError):
    """Raised when a core actor exceeds its restart intensity and the daemon must stop."""


class ResourceMissing(TradingdError):
    """Raised when an actor asks its context for a resource the runtime did not provide."""


class StartupError(TradingdError):
    """Raised when the daemon must not start (the text says why and how to fix it).

    The command line reports it and exits with ``ExitCode.STARTUP_FAILED``.
    """
