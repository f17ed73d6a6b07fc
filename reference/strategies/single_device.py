"""``SingleDeviceStrategy``: the whole model on one device; collectives are the identity."""

from __future__ import annotations

import torch

from reference.accelerators.accelerator import Accelerator
from reference.precision.precision import Precision
from reference.strategies.strategy import Strategy


class SingleDeviceStrategy(Strategy):
    strategy_name = "single_device"

    def __init__(
        self,
        device: str | torch.device = "cpu",
        accelerator: Accelerator | None = None,
        precision_plugin: Precision | None = None,
    ) -> None:
        super().__init__(accelerator=accelerator, precision_plugin=precision_plugin)
        self._root_device = torch.device(device)

    @property
    def root_device(self) -> torch.device:
        return self._root_device

    def model_to_device(self) -> None:
        self.model.to(self.root_device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.root_device!r})"
