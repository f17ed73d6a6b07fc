"""``module.device`` and ``module.dtype`` for LightningModules, kept up to date by ``.to()`` &
co.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import Module


class DeviceDtypeModuleMixin(Module):
    """Tracks the device and dtype the module was last moved to.

    Parameters can be absent (or created later in ``configure_model``), so the answer cannot be
    read off the parameters; every moving method records its target instead.
    """

    def __init__(self) -> None:
        super().__init__()
        self._dtype: torch.dtype = torch.get_default_dtype()
        self._device: torch.device = torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @dtype.setter
    def dtype(self, new_dtype: torch.dtype) -> None:
        raise RuntimeError("Cannot set the dtype explicitly. Please use module.to(new_dtype).")

    @property
    def device(self) -> torch.device:
        device = self._device
        # a bare "cuda" means the current CUDA device; report it with its index
        if device.type == "cuda" and device.index is None:
            return torch.device(f"cuda:{torch.cuda.current_device()}")
        return device

    def to(self, *args: Any, **kwargs: Any) -> Any:
        device, dtype = torch._C._nn._parse_to(*args, **kwargs)[:2]
        _update_properties(self, device=device, dtype=dtype)
        return super().to(*args, **kwargs)

    def cuda(self, device: torch.device | int | None = None) -> Any:
        if device is None:
            device = torch.device("cuda", torch.cuda.current_device())
        elif isinstance(device, int):
            device = torch.device("cuda", index=device)
        _update_properties(self, device=device)
        return super().cuda(device=device)

    def cpu(self) -> Any:
        _update_properties(self, device=torch.device("cpu"))
        return super().cpu()

    def type(self, dst_type: str | torch.dtype) -> Any:
        _update_properties(self, dtype=dst_type)
        return super().type(dst_type=dst_type)

    def float(self) -> Any:
        _update_properties(self, dtype=torch.float)
        return super().float()

    def double(self) -> Any:
        _update_properties(self, dtype=torch.double)
        return super().double()

    def half(self) -> Any:
        _update_properties(self, dtype=torch.half)
        return super().half()

    def bfloat16(self) -> Any:
        _update_properties(self, dtype=torch.bfloat16)
        return super().bfloat16()


def _update_properties(root: Module, device: torch.device | None = None, dtype: Any = None) -> None:
    """Record the new device/dtype on ``root`` and on every tracking submodule."""

    def apply(module: Module) -> None:
        if not isinstance(module, DeviceDtypeModuleMixin):
            return
        if device is not None:
            module._device = torch.device(device)
        if dtype is not None and isinstance(dtype, torch.dtype):
            module._dtype = dtype

    root.apply(apply)
