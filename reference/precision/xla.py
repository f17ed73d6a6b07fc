"""``XLAPrecision``: precision on XLA devices (``"32-true"``, ``"16-true"``, ``"bf16-true"``).

As Lightning's plugin, half precision is requested from the XLA compiler through environment
flags (``XLA_USE_F16`` / ``XLA_USE_BF16``) instead of casting: PyTorch keeps seeing float32
tensors (facts §5, the conformance kit expects exactly that). torch_xla deprecates these flags
(2.6 announces it; 2.9 still reads ``XLA_USE_BF16`` but no longer ``XLA_USE_F16``, see
``docs/xla.md``). The optimizer step is followed by a graph sync, so that each step's graph is
compiled and run once, where Lightning calls ``xm.mark_step()``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from torch.nn import Module
from torch.optim import Optimizer

from reference.accelerators.xla import sync
from reference.precision.precision import Precision

XLA_PRECISIONS: dict[str, str | None] = {
    "32-true": None,
    "16-true": "XLA_USE_F16",
    "bf16-true": "XLA_USE_BF16",
}


class XLAPrecision(Precision):
    def __init__(self, precision: str = "32-true") -> None:
        if precision not in XLA_PRECISIONS:
            raise ValueError(
                f"`precision={precision!r}` is not supported on XLA devices. `precision` must be"
                f" one of: {', '.join(repr(p) for p in XLA_PRECISIONS)}."
            )
        self.precision = precision

    def convert_module(self, module: Module) -> Module:
        # Set per run (teardown removes it): the flag is process-wide and must not outlive the
        # Trainer that asked for it.
        flag = XLA_PRECISIONS[self.precision]
        if flag is not None:
            os.environ[flag] = "1"
        return module

    def optimizer_step(
        self, optimizer: Optimizer, model: Any, closure: Callable[[], Any], **kwargs: Any
    ) -> Any:
        output = super().optimizer_step(optimizer, model=model, closure=closure, **kwargs)
        sync()
        return output

    def teardown(self) -> None:
        for flag in XLA_PRECISIONS.values():
            if flag is not None:
                os.environ.pop(flag, None)

    def __repr__(self) -> str:
        return f"XLAPrecision(precision={self.precision!r})"
