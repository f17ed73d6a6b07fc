"""Accelerators, one per hardware type, and the registry the Trainer resolves names from."""

from reference.accelerators.accelerator import Accelerator
from reference.accelerators.cpu import CPUAccelerator

# name -> class. The devices issue adds "cuda"/"gpu"/"mps" here.
ACCELERATORS: dict[str, type[Accelerator]] = {"cpu": CPUAccelerator}
# Which accelerator "auto" picks: the first available in this order (Lightning: TPU > MPS > CUDA >
# CPU).
AUTO_PRIORITY: list[str] = ["cpu"]
# Names Lightning accepts that this reference does not implement (yet); named in error messages.
KNOWN_UNSUPPORTED: tuple[str, ...] = ("cuda", "gpu", "mps", "tpu")

__all__ = ["ACCELERATORS", "AUTO_PRIORITY", "Accelerator", "CPUAccelerator", "KNOWN_UNSUPPORTED"]
