"""``CUDAAccelerator``: NVIDIA GPUs through ``torch.cuda``."""

from __future__ import annotations

from typing import Any

import torch

from reference.accelerators.accelerator import Accelerator
from reference.accelerators.device_parser import parse_device_indices
from reference.utilities.exceptions import MisconfigurationException


class CUDAAccelerator(Accelerator):
    name = "cuda"
    unavailable_reason = "torch.cuda.is_available() is False"

    def setup_device(self, device: torch.device) -> None:
        if device.type != "cuda":
            raise MisconfigurationException(f"Device should be a CUDA device, got {device}.")
        # later `torch.device("cuda")` and `.cuda()` calls (the user's too) mean this device
        torch.cuda.set_device(device)

    def teardown(self) -> None:
        # the model has been moved back to the CPU by now: hand its cached blocks back
        torch.cuda.empty_cache()

    @staticmethod
    def parse_devices(devices: Any) -> list[int]:
        return parse_device_indices(devices, CUDAAccelerator.auto_device_count(), "cuda")

    @staticmethod
    def get_parallel_devices(devices: Any) -> list[torch.device]:
        return [torch.device("cuda", index) for index in devices]

    @staticmethod
    def auto_device_count() -> int:
        return torch.cuda.device_count()

    @staticmethod
    def is_available() -> bool:
        return torch.cuda.is_available()

    def get_device_stats(self, device: torch.device) -> dict[str, Any]:
        return torch.cuda.memory_stats(device)
