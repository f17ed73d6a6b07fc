"""Accelerators, one per hardware type, and the registry the Trainer resolves names from."""

from reference.accelerators.accelerator import Accelerator
from reference.accelerators.cpu import CPUAccelerator
from reference.accelerators.cuda import CUDAAccelerator
from reference.accelerators.mps import MPSAccelerator
from reference.accelerators.xla import XLAAccelerator, init_runtime_early

# name -> class (Lightning's names: XLA devices are requested as "tpu").
ACCELERATORS: dict[str, type[Accelerator]] = {
    "cpu": CPUAccelerator,
    "cuda": CUDAAccelerator,
    "mps": MPSAccelerator,
    "tpu": XLAAccelerator,
}
# Which accelerator "auto" picks: the first available in this order (Lightning: TPU > MPS > CUDA >
# CPU).
AUTO_PRIORITY: list[str] = ["tpu", "mps", "cuda", "cpu"]
# What "gpu" means: MPS where there is one, else CUDA (as Lightning).
GPU_PRIORITY: list[str] = ["mps", "cuda"]
# Names Lightning accepts that this reference does not implement; named in error messages.
KNOWN_UNSUPPORTED: tuple[str, ...] = ()


def available_accelerators() -> list[str]:
    """The registered accelerator names whose hardware this process can use."""
    return [name for name, cls in ACCELERATORS.items() if cls.is_available()]


init_runtime_early()

__all__ = [
    "ACCELERATORS",
    "AUTO_PRIORITY",
    "Accelerator",
    "CPUAccelerator",
    "CUDAAccelerator",
    "GPU_PRIORITY",
    "KNOWN_UNSUPPORTED",
    "MPSAccelerator",
    "XLAAccelerator",
    "available_accelerators",
]
