"""Discovery of actor packages under ``actors/`` and their start order.

Each actor package exports ``DEFINITION``. Packages named in ``actors.LIBRARIES``
are shared code (kernels, books...) and are skipped; any other package without a
definition is an error, so a misnamed attribute never silently drops an actor.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Sequence

from config.settings import Settings
from daemon.actor import ActorDefinition
from daemon.errors import ActorDefinitionError


def discover(package: str = "actors") -> list[ActorDefinition]:
    """Import every actor package under ``package`` and return their definitions."""
    pkg = importlib.import_module(package)
    libraries: frozenset[str] = getattr(pkg, "LIBRARIES", frozenset())
    found: list[ActorDefinition] = []
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not mod.ispkg or mod.name.startswith("_") or mod.name in libraries:
            continue
        module = importlib.import_module(f"{package}.{mod.name}")
        definition = getattr(module, "DEFINITION", None)
        if not isinstance(definition, ActorDefinition):
            raise ActorDefinitionError(
                f"package {package}.{mod.name} has no DEFINITION (an ActorDefinition); "
                f"add one, or list it in {package}.LIBRARIES if it is shared code"
            )
        found.append(definition)
    return found


def select(definitions: Iterable[ActorDefinition], settings: Settings) -> list[ActorDefinition]:
    """Enabled definitions in dependency order (core always; optional per ``[actors]``)."""
    defs = {d.name: d for d in definitions}
    acts = settings.actors
    unknown = (set(acts.enabled) | set(acts.disabled)) - defs.keys()
    if unknown:
        raise ActorDefinitionError(
            f"actors.enabled/disabled name unknown actor(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(defs))}"
        )

    def wanted(d: ActorDefinition) -> bool:
        if d.enabled_when is not None and not d.enabled_when(settings):
            return False
        if d.core:
            return True
        if d.name in acts.disabled:
            return False
        return d.enabled_by_default or d.name in acts.enabled

    enabled = {n: d for n, d in defs.items() if wanted(d)}
    # An optional actor whose requirement is off is off too; a core one is an error.
    changed = True
    while changed:
        changed = False
        for name, d in list(enabled.items()):
            missing = [r for r in d.requires if r not in enabled]
            if missing:
                unknown_req = [r for r in missing if r not in defs]
                if unknown_req:
                    raise ActorDefinitionError(
                        f"actor {name} requires unknown actor(s) {', '.join(unknown_req)}"
                    )
                if d.core:
                    raise ActorDefinitionError(
                        f"core actor {name} requires {', '.join(missing)}, which is not enabled"
                    )
                del enabled[name]
                changed = True
    return order(enabled.values())


def order(definitions: Iterable[ActorDefinition]) -> list[ActorDefinition]:
    """Topological order by ``requires`` (ties by name, so the order is stable)."""
    defs = {d.name: d for d in definitions}
    result: list[ActorDefinition] = []
    state: dict[str, int] = {}

    def visit(name: str, path: Sequence[str]) -> None:
        s = state.get(name, 0)
        if s == 2:
            return
        if s == 1:
            raise ActorDefinitionError(f"actor dependency cycle: {' -> '.join([*path, name])}")
        state[name] = 1
        for req in sorted(defs[name].requires):
            if req not in defs:
                raise ActorDefinitionError(f"actor {name} requires unknown actor {req}")
            visit(req, [*path, name])
        state[name] = 2
        result.append(defs[name])

    for name in sorted(defs):
        visit(name, [])
    return result
