"""Seeding every random number generator, and running code without disturbing them."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from reference.utilities import rng
from reference.utilities.warnings import info, warn

_MAX_SEED = 2**32 - 1


def seed_everything(seed: int | None = None, workers: bool = False, verbose: bool = True) -> int:
    """Seed Python's ``random``, NumPy (if installed) and torch; return the seed used.

    ``seed=None`` reads ``PL_GLOBAL_SEED`` and falls back to 0 with a warning (Lightning >= 2.2).
    The seed is exported as ``PL_GLOBAL_SEED`` and ``workers`` as ``PL_SEED_WORKERS`` so that
    dataloader workers can be seeded the same way.
    """
    if seed is None:
        env_seed = os.environ.get("PL_GLOBAL_SEED")
        if env_seed is None:
            seed = 0
            warn(f"No seed found, seed set to {seed}")
        else:
            try:
                seed = int(env_seed)
            except ValueError:
                seed = 0
                warn(f"Invalid seed found: {env_seed!r}, seed set to {seed}")
    elif not isinstance(seed, int):
        seed = int(seed)
    if not 0 <= seed <= _MAX_SEED:
        warn(f"{seed} is not in bounds, numpy accepts from 0 to {_MAX_SEED}")
        seed = 0
    if verbose:
        info(f"Seed set to {seed}")
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    random.seed(seed)
    _numpy_seed(seed)
    torch.manual_seed(seed)
    os.environ["PL_SEED_WORKERS"] = f"{int(workers)}"
    return seed


def _numpy_seed(seed: int) -> None:
    try:
        import numpy
    except ImportError:  # NumPy is optional
        return
    numpy.random.seed(seed)


@contextmanager
def isolate_rng() -> Iterator[None]:
    """Run the body and put every global random state back afterwards (used for the sanity
    check).
    """
    states = rng.capture()
    try:
        yield
    finally:
        rng.restore(states)
