"""trainspec conformance suite: certifies any Lightning-style trainer against numbered clauses.

A *target* is an importable module exposing ``Trainer``, ``LightningModule`` and ``Callback``
(``reference``, ``pytorch_lightning``, ``lightning.pytorch`` or a third party's adapter). Every test
in :mod:`conformance.clauses` is one clause with a stable ID, a cited source and a level.

This package never imports :mod:`reference`: it must be able to certify other trainers.
"""

from conformance.registry import REGISTRY, ClauseInfo, Source, clause, facts, seed
from conformance.target import Target, TargetLoadError, load_target

__version__ = "0.1.0"
SUITE_VERSION = __version__

__all__ = [
    "REGISTRY",
    "SUITE_VERSION",
    "ClauseInfo",
    "Source",
    "Target",
    "TargetLoadError",
    "clause",
    "facts",
    "load_target",
    "seed",
]
