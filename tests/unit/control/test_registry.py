"""The command registry: declared vs bound, unknown vs unavailable, arguments."""

from __future__ import annotations

from typing import Any

import pytest

from daemon.control import COMMANDS, Call, CommandError, CommandSpec, ControlRegistry, ErrorCode
from daemon.control._commands import KillArgs, NoArgs, SignalArgs


async def _h(call: Call, args: Any) -> Any:
    return "handled"


def test_every_protocol_command_is_declared_and_none_is_bound_at_first() -> None:
    reg = ControlRegistry()
    names = {c["cmd"] for c in reg.catalogue()}
    assert names == {s.name for s in COMMANDS}
    assert {
        "status", "start", "stop", "pause", "resume", "kill", "reset-kill", "flatten", "close",
        "positions", "orders", "cancel", "reconcile", "reload", "signal", "watch", "version",
    } <= names  # fmt: skip
    assert not any(c["available"] for c in reg.catalogue())


def test_unknown_and_unavailable_are_different_errors() -> None:
    reg = ControlRegistry()
    with pytest.raises(CommandError) as unknown:
        reg.resolve("launch-missiles")
    assert unknown.value.code is ErrorCode.UNKNOWN_COMMAND
    assert "known: " in unknown.value.message
    with pytest.raises(CommandError) as unavailable:
        reg.resolve("reconcile")
    assert unavailable.value.code is ErrorCode.UNAVAILABLE
    assert "the reconciler actor" in unavailable.value.message


def test_binding_rebinding_and_unbinding() -> None:
    reg = ControlRegistry()
    reg.register("reconcile", _h)
    first = reg.resolve("reconcile")
    assert first.handler is _h
    assert reg.is_bound("reconcile")

    async def other(call: Call, args: Any) -> Any:
        return "other"

    reg.register("reconcile", other)  # a restarted owner re-registers
    assert reg.resolve("reconcile").handler is other
    reg.unregister("reconcile")
    with pytest.raises(CommandError):
        reg.resolve("reconcile")


def test_streaming_and_unary_bindings_are_not_mixed_up() -> None:
    reg = ControlRegistry()
    with pytest.raises(ValueError, match="streams"):
        reg.register("watch", _h)
    with pytest.raises(ValueError, match="does not stream"):
        reg.register_stream("status", _h)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        reg.register("never-declared", _h)


def test_owners_can_declare_their_own_commands() -> None:
    reg = ControlRegistry()
    reg.declare(CommandSpec(name="drain-cache", summary="test", mutating=True, provider="x"))
    reg.register("drain-cache", _h)
    assert reg.resolve("drain-cache").spec.mutating


def test_arguments_are_validated_with_the_field_path() -> None:
    spec = next(s for s in COMMANDS if s.name == "kill")
    assert spec.parse_args({"reason": "r", "flatten": True}) == KillArgs(reason="r", flatten=True)
    for bad, where in (
        ({}, "reason"),
        ({"reason": ""}, "$.reason"),
        ({"reason": "r", "flatten": "yes"}, "$.flatten"),
        ({"reason": "r", "surprise": 1}, "surprise"),
    ):
        with pytest.raises(CommandError) as info:
            spec.parse_args(bad)
        assert info.value.code is ErrorCode.BAD_ARGS
        assert where in info.value.message
    sig = next(s for s in COMMANDS if s.name == "signal")
    parsed = sig.parse_args({"symbol": "AAPL", "side": "buy", "conviction": 80})
    assert isinstance(parsed, SignalArgs)
    assert parsed.conviction == 80
    with pytest.raises(CommandError, match=r"\$\.conviction"):
        sig.parse_args({"symbol": "AAPL", "side": "buy", "conviction": 101})
    status = next(s for s in COMMANDS if s.name == "status")
    assert status.parse_args({}) == NoArgs()


def test_the_public_surface_is_exported() -> None:
    import daemon.control as control

    for name in control.__all__:
        assert getattr(control, name) is not None, name
