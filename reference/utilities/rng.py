"""Global random states in a form a checkpoint can hold and the safe loader can read.

``torch.load(weights_only=True)`` accepts tensors, numbers, strings and containers, but not a
NumPy array: NumPy's state is stored as a tensor of its key words. Capturing never draws a number,
so saving a checkpoint leaves every generator exactly where it was.
"""

from __future__ import annotations

import random
from typing import Any

import torch


def capture() -> dict[str, Any]:
    """The state of Python's ``random``, NumPy's global generator (if installed) and torch."""
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    numpy = _numpy()
    if numpy is not None:
        kind, keys, position, has_gauss, cached = numpy.random.get_state()
        states["numpy"] = {
            "kind": str(kind),
            "keys": torch.from_numpy(keys.astype("int64")),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["torch.cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore(states: dict[str, Any]) -> None:
    """Put back what :func:`capture` returned (generators missing from ``states`` are left)."""
    if "torch" in states:
        torch.set_rng_state(states["torch"].cpu())
    if "python" in states:
        version, internal, gauss = states["python"]
        random.setstate((version, tuple(internal), gauss))
    numpy = _numpy()
    if numpy is not None and "numpy" in states:
        saved = states["numpy"]
        keys = saved["keys"].cpu().numpy().astype("uint32")
        numpy.random.set_state(
            (saved["kind"], keys, saved["position"], saved["has_gauss"], saved["cached_gaussian"])
        )
    if "torch.cuda" in states and torch.cuda.is_available():
        cuda_states = states["torch.cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:  # NumPy is optional
        return None
    return numpy
