"""The admin control socket: protocol, command registry, server, and the daemon's commands.

Public surface (see docs/control.md for the protocol and every command):

* :class:`ControlRegistry` — the ``Daemon.resources[ControlRegistry]`` resource mapping
  command names to handlers; owners bind their own commands with ``register``;
* :class:`ControlServer` — the Unix socket server the runtime runs;
* :class:`CommandSpec`, :data:`COMMANDS` — the command catalogue;
* :class:`CommandError`, :class:`ErrorCode` — how handlers answer with an error;
* :func:`install_commands` — binds the runtime's and the owners' commands to a daemon;
* :class:`ControlClient`, :class:`ClientError`, :class:`CtlExit` — the blocking client
  ``tradingctl`` uses, for scripts.
"""

from daemon.control._client import ClientError as ClientError
from daemon.control._client import ControlClient as ControlClient
from daemon.control._client import CtlExit as CtlExit
from daemon.control._commands import COMMANDS as COMMANDS
from daemon.control._commands import Args as Args
from daemon.control._commands import CommandSpec as CommandSpec
from daemon.control._protocol import PROTOCOL_VERSION as PROTOCOL_VERSION
from daemon.control._protocol import CommandError as CommandError
from daemon.control._protocol import ErrorCode as ErrorCode
from daemon.control._registry import Call as Call
from daemon.control._registry import ControlRegistry as ControlRegistry
from daemon.control._registry import EventStream as EventStream
from daemon.control._registry import Handler as Handler
from daemon.control._registry import Peer as Peer
from daemon.control._registry import StreamHandler as StreamHandler
from daemon.control._server import ControlServer as ControlServer
from daemon.control._server import ControlSocketError as ControlSocketError
from daemon.control._status import summary_line as summary_line
from daemon.control._wiring import install_commands as install_commands
from daemon.control._wiring import open_control as open_control

__all__ = (
    "COMMANDS",
    "PROTOCOL_VERSION",
    "Args",
    "Call",
    "ClientError",
    "CommandError",
    "CommandSpec",
    "ControlClient",
    "ControlRegistry",
    "ControlServer",
    "ControlSocketError",
    "CtlExit",
    "ErrorCode",
    "EventStream",
    "Handler",
    "Peer",
    "StreamHandler",
    "install_commands",
    "open_control",
    "summary_line",
)
