"""``CPUAccelerator``: always available; one device."""

from __future__ import annotations

from typing import Any

import torch

from reference.accelerators.accelerator import Accelerator
from reference.utilities.exceptions import MisconfigurationException


class CPUAccelerator(Accelerator):
    name = "cpu"

    def setup_device(self, device: torch.device) -> None:
        if device.type != "cpu":
            raise MisconfigurationException(f"Device should be CPU, got {device} instead.")

    @staticmethod
    def parse_devices(devices: Any) -> int:
        """``devices`` for the CPU: a positive int or a string of digits (``"auto"`` means 1)."""
        if devices == "auto":
            return 1
        if isinstance(devices, bool) or not isinstance(devices, (int, str)):
            raise TypeError(
                "`devices` selected with `CPUAccelerator` should be an int > 0 or a string of"
                f" digits, got {devices!r}"
            )
        if isinstance(devices, str):
            if not devices.strip().isdigit():
                raise TypeError(
                    f"`devices` should be an int > 0 or a string of digits, got {devices!r}"
                )
            devices = int(devices.strip())
        if devices <= 0:
            raise MisconfigurationException(
                f"`devices={devices}` is not a valid number of CPU devices; it must be >= 1"
            )
        return devices

    @staticmethod
    def get_parallel_devices(devices: Any) -> list[torch.device]:
        return [torch.device("cpu")] * CPUAccelerator.parse_devices(devices)

    @staticmethod
    def auto_device_count() -> int:
        return 1

    @staticmethod
    def is_available() -> bool:
        return True
