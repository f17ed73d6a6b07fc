"""``XLAAccelerator`` (``accelerator="tpu"``): XLA devices through ``torch_xla``'s PJRT runtime.

``torch_xla`` is imported lazily: most environments do not have it, and importing it costs
seconds. The runtime is "configured" when ``PJRT_DEVICE`` names a device type (``TPU``, ``CPU``,
``CUDA``); without it torch_xla would silently default to its CPU backend, which nobody asking
for ``accelerator="auto"`` means.

One trap (reproduced with torch 2.9 / torch_xla 2.9): PyTorch's autograd engine sizes its device
queues at the first ``backward()`` of a process. If the XLA runtime starts after a CPU backward,
every later XLA backward fails with ``INTERNAL ASSERT FAILED ... device_ready_queues_``. So
:func:`init_runtime_early` starts the runtime when ``reference`` is imported, if ``PJRT_DEVICE``
is set and torch_xla is installed; processes that mix CPU and XLA training (a certification)
then work.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Any

import torch

from reference.accelerators.accelerator import Accelerator
from reference.utilities.exceptions import MisconfigurationException


def _installed() -> bool:
    return importlib.util.find_spec("torch_xla") is not None


@functools.cache
def runtime_device_count() -> int:
    """Devices the configured XLA runtime offers this process (0 if none is configured)."""
    if not os.environ.get("PJRT_DEVICE") or not _installed():
        return 0
    try:
        from torch_xla import runtime as xr

        return int(xr.addressable_runtime_device_count())
    except (ImportError, RuntimeError, ValueError, OSError):  # a broken install counts as absent
        return 0


def init_runtime_early() -> None:
    """Start the XLA runtime now if it is configured (see the module docstring for why)."""
    if os.environ.get("PJRT_DEVICE") and _installed():
        runtime_device_count()


def sync() -> None:
    """Run the XLA graph recorded so far (after each optimizer step, as Lightning does)."""
    import torch_xla

    if hasattr(torch_xla, "sync"):
        torch_xla.sync()
    else:  # torch_xla < 2.6
        import torch_xla.core.xla_model as xm

        xm.mark_step()


class XLAAccelerator(Accelerator):
    name = "tpu"
    unavailable_reason = "torch_xla is not installed or PJRT_DEVICE is not set"

    def setup_device(self, device: torch.device) -> None:
        if device.type != "xla":
            raise MisconfigurationException(f"Device should be an XLA device, got {device}.")

    @staticmethod
    def parse_devices(devices: Any) -> list[int]:
        """``1``, every device (the count), or one index: ``[i]`` / ``"i,"`` (as Lightning)."""
        count = XLAAccelerator.auto_device_count()
        if isinstance(devices, str):
            text = devices.strip()
            if text.endswith(",") and text[:-1].strip().isdigit():
                devices = [int(text[:-1])]
            elif text.lstrip("-").isdigit():
                devices = int(text)
        if isinstance(devices, int) and not isinstance(devices, bool) and devices in (1, count):
            return list(range(devices))  # Lightning: one device or all of them
        if (
            isinstance(devices, (list, tuple))
            and len(devices) == 1
            and isinstance(devices[0], int)
            and 0 <= devices[0] < count
        ):
            return [devices[0]]
        raise MisconfigurationException(
            f"`devices={devices!r}` is not valid for the tpu (XLA) accelerator: use 1, '1',"
            f" 'auto', {count} (all) or [i] with 0 <= i < {count}"
        )

    @staticmethod
    def get_parallel_devices(devices: Any) -> list[torch.device]:
        return [torch.device("xla", index) for index in devices]

    @staticmethod
    def auto_device_count() -> int:
        return runtime_device_count()

    @staticmethod
    def is_available() -> bool:
        return runtime_device_count() > 0
