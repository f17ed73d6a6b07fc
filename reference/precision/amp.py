"""``MixedPrecision`` (``"16-mixed"``, ``"bf16-mixed"``): float32 weights, steps under autocast.

``16-mixed`` also scales the loss with a ``torch.amp.GradScaler`` so that small float16 gradients
do not underflow. The order inside one optimizer step (facts §5) is::

    loss scaled (pre_backward) -> on_before_backward(scaled loss) -> backward -> on_after_backward
    -> unscale_ -> on_before_optimizer_step -> gradient clipping -> scaler.step -> scaler.update

so user hooks after the closure and clipping see true gradients, and ``scaler.step`` skips the
update when a gradient is inf/nan (then ``update`` lowers the scale). ``bf16-mixed`` has the range
of float32 and needs no scaler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.optim import LBFGS, Optimizer

from reference.precision.precision import Precision
from reference.utilities.exceptions import MisconfigurationException

AUTOCAST_DTYPES: dict[str, torch.dtype] = {"16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}


def _optimizer_unscales_itself(optimizer: Optimizer) -> bool:
    # fused optimizers take the scale as an argument of step() and unscale inside it
    return bool(getattr(optimizer, "_step_supports_amp_scaling", False))


class MixedPrecision(Precision):
    """Automatic mixed precision on ``device`` (a ``torch.autocast`` device type: cuda, cpu, mps).

    The class name is the checkpoint key of the scaler state (``"MixedPrecision"``, as Lightning).
    """

    def __init__(
        self, precision: str, device: str, scaler: torch.amp.GradScaler | None = None
    ) -> None:
        if precision not in AUTOCAST_DTYPES:
            raise ValueError(
                f"`MixedPrecision(precision={precision!r})`: precision must be '16-mixed' or"
                " 'bf16-mixed'"
            )
        if scaler is None and precision == "16-mixed":
            scaler = torch.amp.GradScaler(device)
        if scaler is not None and precision == "bf16-mixed":
            raise MisconfigurationException(
                f"`precision='bf16-mixed'` does not use a scaler, found {scaler}."
            )
        self.precision = precision
        self.device = device
        self.dtype = AUTOCAST_DTYPES[precision]
        self.scaler = scaler

    def forward_context(self) -> Any:
        # cache_enabled=False: the cast-weight cache would outlive an optimizer step taken inside
        # the step (manual optimization) and serve stale weights
        return torch.autocast(self.device, dtype=self.dtype, cache_enabled=False)

    def pre_backward(self, tensor: Tensor, module: Any) -> Tensor:
        if self.scaler is not None:
            tensor = self.scaler.scale(tensor)
        return super().pre_backward(tensor, module)

    def optimizer_step(
        self, optimizer: Optimizer, model: Any, closure: Callable[[], Any], **kwargs: Any
    ) -> Any:
        if self.scaler is None:
            return super().optimizer_step(optimizer, model=model, closure=closure, **kwargs)
        if isinstance(optimizer, LBFGS):
            # LBFGS calls the closure several times per step; one scaler.step cannot cover that
            raise MisconfigurationException("AMP and the LBFGS optimizer are not compatible.")
        closure_result = closure()
        # automatic optimization whose training_step returned None ran no backward: no step
        skipped_backward = closure_result is None and model.automatic_optimization
        if not skipped_backward and not _optimizer_unscales_itself(optimizer):
            self.scaler.unscale_(optimizer)
        self._after_closure(model, optimizer)
        if skipped_backward:
            return closure_result
        output = self.scaler.step(optimizer, **kwargs)  # skipped on inf/nan gradients
        self.scaler.update()
        return output

    def clip_gradients(
        self, optimizer: Optimizer, clip_val: float = 0.0, gradient_clip_algorithm: str = "norm"
    ) -> None:
        if clip_val > 0 and _optimizer_unscales_itself(optimizer):
            raise RuntimeError(
                f"The optimizer {type(optimizer).__qualname__} unscales gradients inside its step"
                " (a fused optimizer?), so they are still scaled when clipping would run:"
                " gradient clipping is not possible with it under 16-mixed."
            )
        super().clip_gradients(optimizer, clip_val, gradient_clip_algorithm)

    def state_dict(self) -> dict[str, Any]:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if self.scaler is not None:
            self.scaler.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return f"MixedPrecision(precision={self.precision!r}, device={self.device!r})"
