"""``Accelerator``: what one kind of hardware needs (seed 004: one accelerator per hardware
type).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch


class Accelerator(ABC):
    """One hardware type (CPU, CUDA, MPS, ...); strategies own the model, accelerators the device.

    To add hardware, subclass this, implement the static methods and register it in
    :data:`reference.accelerators.ACCELERATORS` (and in ``AUTO_PRIORITY`` so that ``"auto"``
    can pick it).
    """

    name: str = ""

    def setup_device(self, device: torch.device) -> None:
        """Prepare ``device`` for use (e.g. ``torch.cuda.set_device``)."""
        return None

    def setup(self, trainer: Any) -> None:
        """Called by the strategy's ``setup`` before the model is moved."""
        return None

    def teardown(self) -> None:
        """Release what ``setup`` acquired."""
        return None

    @staticmethod
    @abstractmethod
    def parse_devices(devices: Any) -> Any:
        """Validate the ``devices`` flag and return it in this accelerator's canonical form."""

    @staticmethod
    @abstractmethod
    def get_parallel_devices(devices: Any) -> list[torch.device]:
        """The ``torch.device`` objects for the parsed ``devices``."""

    @staticmethod
    @abstractmethod
    def auto_device_count() -> int:
        """How many devices ``devices="auto"`` means."""

    @staticmethod
    @abstractmethod
    def is_available() -> bool:
        """Whether this hardware can be used in this process."""

    def get_device_stats(self, device: torch.device) -> dict[str, Any]:
        return {}
