"""From a pytest node ID back to its clause, without collecting.

Used by the xdist controller for tests whose worker died before sending its catalogue (when xdist
gives up replacing crashed workers): the report of such a test carries only its node ID, e.g.
``conformance/clauses/test_stopping.py::test_max_steps[2-1]``. Importing the module registers its
clauses, and the registry's ``nodeid_hint`` (``module.qualname``) identifies the test's clause.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from conformance.registry import REGISTRY, ClauseInfo


def module_name(path: Path) -> tuple[str, Path]:
    """``(dotted module name, directory to import it from)`` for a test file, walking up through
    packages (directories with ``__init__.py``) as pytest's default import mode does."""
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").exists():
        parts.append(directory.name)
        directory = directory.parent
    return ".".join(reversed(parts)), directory


def clause_for_nodeid(nodeid: str, rootdir: Path) -> tuple[ClauseInfo, str | None] | None:
    """The clause a node ID belongs to and its parameter id (``None`` if not parametrized), or
    ``None`` when the node is not a clause or its module cannot be imported."""
    file_part, _, test_part = nodeid.partition("::")
    if not test_part or not file_part.endswith(".py"):
        return None
    name, base = module_name(rootdir / file_part)
    if str(base) not in sys.path:
        sys.path.append(str(base))
    try:
        importlib.import_module(name)
    except Exception:  # an unimportable module: the caller reports the test without its clause
        return None
    function, _, rest = test_part.partition("[")
    hint = f"{name}.{function.replace('::', '.')}"
    param_id = rest[:-1] if rest.endswith("]") else None
    for info in REGISTRY.values():
        if info.nodeid_hint == hint:
            return info, param_id
    return None
