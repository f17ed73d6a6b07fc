"""``MPSAccelerator``: Apple silicon GPUs through ``torch.backends.mps`` (one device)."""

from __future__ import annotations

from typing import Any

import torch

from reference.accelerators.accelerator import Accelerator
from reference.accelerators.device_parser import parse_device_indices
from reference.utilities.exceptions import MisconfigurationException


class MPSAccelerator(Accelerator):
    name = "mps"
    unavailable_reason = "torch.backends.mps.is_available() is False"

    def setup_device(self, device: torch.device) -> None:
        if device.type != "mps":
            raise MisconfigurationException(f"Device should be MPS, got {device} instead.")

    def teardown(self) -> None:
        torch.mps.empty_cache()

    @staticmethod
    def parse_devices(devices: Any) -> list[int]:
        return parse_device_indices(devices, MPSAccelerator.auto_device_count(), "mps")

    @staticmethod
    def get_parallel_devices(devices: Any) -> list[torch.device]:
        return [torch.device("mps", index) for index in devices]

    @staticmethod
    def auto_device_count() -> int:
        return 1 if MPSAccelerator.is_available() else 0

    @staticmethod
    def is_available() -> bool:
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            return False
        import platform  # only where MPS exists: importing it costs 1.5 ms

        # an x86 Mac under Rosetta reports MPS but cannot use it (as Lightning checks)
        return platform.processor() in ("arm", "arm64")
