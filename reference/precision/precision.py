"""``Precision``: how tensors are typed, how the loss is backpropagated and how optimizers step.

The base class is ``"32-true"``: nothing is converted. Other precisions override the seams:
``convert_module``/``convert_input`` (cast weights and float inputs), ``forward_context``
(autocast around the step methods), ``pre_backward``/``optimizer_step`` (loss scaling with a
GradScaler, unscaling before ``on_before_optimizer_step``) and ``state_dict`` (scaler state).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module
from torch.optim import Optimizer

_NULL_CONTEXT = nullcontext()


class Precision:
    """Full float32 precision: the identity on every seam."""

    precision: str = "32-true"

    # ------------------------------------------------------------------ tensors and modules
    def convert_module(self, module: Module) -> Module:
        return module

    def convert_input(self, data: Any) -> Any:
        return data

    def convert_output(self, data: Any) -> Any:
        return data

    def tensor_init_context(self) -> Any:
        """Where ``Trainer.init_module`` runs: new tensors get this precision's dtype."""
        return _NULL_CONTEXT

    def module_init_context(self) -> Any:
        """Where ``configure_model`` runs: new layers get this precision's dtype."""
        return self.tensor_init_context()

    def forward_context(self) -> Any:
        """Entered around ``training_step``/``validation_step``/... (autocast goes here)."""
        return _NULL_CONTEXT

    # ----------------------------------------------------------------------- backward pass
    def pre_backward(self, tensor: Tensor, module: Any) -> Tensor:
        hooks = module._trainer._hooks
        if "on_before_backward" in hooks.live:
            hooks.event("on_before_backward", tensor)
        return tensor

    def backward(
        self, tensor: Tensor, model: Any, optimizer: Any, *args: Any, **kwargs: Any
    ) -> None:
        model._trainer._hooks.module("backward", tensor, *args, **kwargs)

    def post_backward(self, tensor: Tensor, module: Any) -> Tensor:
        hooks = module._trainer._hooks
        if "on_after_backward" in hooks.live:
            hooks.event("on_after_backward")
        return tensor

    # ------------------------------------------------------------------------ optimization
    def optimizer_step(
        self, optimizer: Optimizer, model: Any, closure: Callable[[], Any], **kwargs: Any
    ) -> Any:
        """``optimizer.step`` with a closure that also runs the pre-step hooks and clipping.

        The hooks run inside the optimizer's call of the closure, after ``backward``, so that a
        precision that must unscale gradients can do it between the two.
        """

        def closure_then_before_step() -> Any:
            result = closure()
            self._after_closure(model, optimizer)
            return result

        return optimizer.step(closure=closure_then_before_step, **kwargs)

    def _after_closure(self, model: Any, optimizer: Optimizer) -> None:
        hooks = model._trainer._hooks
        if "on_before_optimizer_step" in hooks.live:
            hooks.event("on_before_optimizer_step", optimizer)
        if model._automatic_optimization and not hooks.clipping_is_noop:
            hooks.configure_gradient_clipping(optimizer)

    def clip_gradients(
        self, optimizer: Optimizer, clip_val: float = 0.0, gradient_clip_algorithm: str = "norm"
    ) -> None:
        if clip_val <= 0:
            return
        params = self.main_params(optimizer)
        if gradient_clip_algorithm == "value":
            torch.nn.utils.clip_grad_value_(params, clip_value=clip_val)
        else:
            torch.nn.utils.clip_grad_norm_(params, clip_val)

    def main_params(self, optimizer: Optimizer) -> Any:
        """The parameters whose gradients are clipped (the fp32 masters, for mixed precision)."""
        return [p for group in optimizer.param_groups for p in group["params"]]

    # ----------------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        pass

    def teardown(self) -> None:
        pass
