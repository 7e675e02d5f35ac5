"""Actor discovery and ordering."""

from __future__ import annotations

import anyio
import pytest
from anyio.abc import TaskStatus

from config import Settings, settings_from_mapping
from daemon import registry
from daemon.actor import Actor, ActorDefinition
from daemon.errors import ActorDefinitionError


class _Nop(Actor):
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()


def d(
    name: str, *, core: bool = True, requires: tuple[str, ...] = (), **kw: object
) -> ActorDefinition:
    return ActorDefinition(
        name=name,
        factory=_Nop,
        description=name,
        core=core,
        requires=requires,
        **kw,  # type: ignore[arg-type]
    )


def test_order_puts_requirements_first_and_is_stable() -> None:
    defs = [
        d("orchestrator", requires=("risk", "broker")),
        d("broker"),
        d("risk"),
        d("guard", requires=("orchestrator",)),
    ]
    assert [x.name for x in registry.order(defs)] == ["broker", "risk", "orchestrator", "guard"]


def test_cycles_are_reported_with_their_path() -> None:
    with pytest.raises(ActorDefinitionError, match="cycle: a -> b -> a"):
        registry.order([d("a", requires=("b",)), d("b", requires=("a",))])


def test_unknown_requirement_is_an_error() -> None:
    with pytest.raises(ActorDefinitionError, match="unknown"):
        registry.select([d("a", requires=("ghost",))], Settings())


def test_optional_actors_follow_configuration() -> None:
    defs = [
        d("core"),
        d("regime", core=False, enabled_by_default=False),
        d("alerts", core=False),
        d("needs_regime", core=False, requires=("regime",)),
        d("redis", core=False, enabled_when=lambda s: bool(s.redis.url)),
    ]
    names = [x.name for x in registry.select(defs, Settings())]
    assert names == ["alerts", "core"]
    s = settings_from_mapping(
        {"actors": {"enabled": ["regime"], "disabled": ["alerts"]}, "redis": {"url": "redis://x"}}
    )
    selected = {x.name for x in registry.select(defs, s)}
    assert selected == {"core", "regime", "needs_regime", "redis"}


def test_core_actor_requiring_a_disabled_optional_actor_is_an_error() -> None:
    defs = [d("core", requires=("opt",)), d("opt", core=False)]
    s = settings_from_mapping({"actors": {"disabled": ["opt"]}})
    with pytest.raises(ActorDefinitionError, match="core actor core requires opt"):
        registry.select(defs, s)


def test_unknown_names_in_actor_config_are_errors() -> None:
    s = settings_from_mapping({"actors": {"enabled": ["nope"]}})
    with pytest.raises(ActorDefinitionError, match="unknown actor"):
        registry.select([d("a")], s)


def test_discovery_finds_every_shipped_actor_package() -> None:
    defs = registry.discover()
    names = [x.name for x in defs]
    assert len(names) == len(set(names))
    for x in defs:
        assert x.description
