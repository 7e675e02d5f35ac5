"""Actor packages: one package per actor, each exporting ``DEFINITION``.

Packages listed in :data:`LIBRARIES` hold code shared by actors and are not actors.
"""

LIBRARIES: frozenset[str] = frozenset({"kernels", "common"})
