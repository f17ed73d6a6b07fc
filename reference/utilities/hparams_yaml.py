"""YAML for hyperparameters: safe both ways, and compatible with Lightning's ``hparams.yaml``.

Lightning writes ``hparams.yaml`` with ``yaml.dump``, so a tuple (``betas=(0.9, 0.999)``) carries
the ``!!python/tuple`` tag, and reads it back with ``yaml.full_load``. The reference never builds
arbitrary Python objects from YAML; it uses the safe loader and dumper extended with that one
tag, which only ever makes a tuple of plain values. Files therefore go both ways between the two
trainers, and a tuple comes back as a tuple.

``yaml`` is imported on first use (it is only needed when hyperparameters are logged or read).
"""

from __future__ import annotations

import functools
from enum import Enum
from typing import IO, Any

_TUPLE_TAG = "tag:yaml.org,2002:python/tuple"


@functools.cache
def _loader_and_dumper() -> tuple[type, type]:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    class Dumper(yaml.SafeDumper):
        pass

    Loader.add_constructor(
        _TUPLE_TAG, lambda loader, node: tuple(loader.construct_sequence(node, deep=True))
    )
    Dumper.add_representer(tuple, lambda dumper, data: dumper.represent_sequence(_TUPLE_TAG, data))
    return Loader, Dumper


def load(stream: str | IO[str]) -> Any:
    """Parse YAML: plain values and tuples only (anything else raises ``yaml.YAMLError``)."""
    import yaml

    return yaml.load(stream, Loader=_loader_and_dumper()[0])


def dump(data: Any, stream: IO[str] | None = None) -> str | None:
    """Write YAML as Lightning does (sorted keys, block style, tuples tagged); raises
    ``yaml.YAMLError`` for values that are not plain data."""
    import yaml

    return yaml.dump(data, stream, Dumper=_loader_and_dumper()[1])


def plain(value: Any) -> Any:
    """An enum member is written by its name, as Lightning does."""
    return value.name if isinstance(value, Enum) else value
