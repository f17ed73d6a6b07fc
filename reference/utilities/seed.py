"""Seeding every random number generator, and running code without disturbing them."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

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


def _rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    try:
        import numpy

        states["numpy"] = numpy.random.get_state()
    except ImportError:
        pass
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["torch.cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])
    if "numpy" in states:
        import numpy

        numpy.random.set_state(states["numpy"])
    if "torch.cuda" in states:
        torch.cuda.set_rng_state_all(states["torch.cuda"])


@contextmanager
def isolate_rng() -> Iterator[None]:
    """Run the body and put every global random state back afterwards (used for the sanity
    check).
    """
    states = _rng_states()
    try:
        yield
    finally:
        _set_rng_states(states)
