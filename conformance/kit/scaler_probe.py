"""A probe for loss scaling (SCALER clauses): what the loss and gradients look like at each hook.

The model computes its loss in float32 (so a scaled loss cannot overflow float16) and, inside the
training step, the *unscaled* reference gradients with ``torch.autograd.grad``. The hooks then
record the loss handed to ``on_before_backward``, the gradients in ``on_after_backward`` and in
``on_before_optimizer_step``, and the weights after each batch. Nothing here asks the trainer for
its scaler: the scale is read off the ratio between the loss the step returned and the loss that
reached ``on_before_backward``, so any trainer's loss scaling can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader

from conformance.kit.dtype_probe import FEATURES, DictDataset
from conformance.target import Target

LEARNING_RATE = 0.1
LOSS_FACTOR = 1e-2  # keeps scaled float16 gradients far from overflow at the default 2**16 scale


def _grads(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: p.grad.detach().to("cpu", torch.float64, copy=True)
        for name, p in module.named_parameters()
        if p.grad is not None
    }


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu", torch.float64, copy=True) for n, p in module.named_parameters()}


@dataclass
class ScalerBatch:
    """What one training batch saw."""

    step_loss: float | None = None  # the loss training_step returned
    backward_loss: float | None = None  # the loss on_before_backward received
    reference_grads: dict[str, torch.Tensor] = field(default_factory=dict)  # of step_loss
    after_backward: dict[str, torch.Tensor] = field(default_factory=dict)
    before_optimizer_step: dict[str, torch.Tensor] = field(default_factory=dict)
    weights_after: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def loss_ratio(self) -> float:
        """backward loss / step loss: the loss scale the trainer applied (1.0 when none)."""
        assert self.step_loss is not None and self.backward_loss is not None, (
            "training_step or on_before_backward did not run for this batch"
        )
        return self.backward_loss / self.step_loss


_CLASSES: dict[int, type] = {}


def scaler_model_class(target: Target) -> type:
    """The recording model, subclassing ``target.LightningModule`` (cached per target)."""
    key = id(target.LightningModule)
    if key in _CLASSES:
        return _CLASSES[key]

    class ScalerProbeModel(target.LightningModule):  # type: ignore[name-defined,misc]
        def __init__(self, inf_at: int | None = None) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(FEATURES, 2)
            self.inf_at = inf_at  # batch whose loss is made infinite
            self.batches: list[ScalerBatch] = []
            self.initial_weights: dict[str, torch.Tensor] = {}
            self.scale_at_train_start: float | None = None

        def on_train_start(self) -> None:
            self.initial_weights = _weights(self)
            scaler = getattr(self.trainer, "scaler", None)
            self.scale_at_train_start = None if scaler is None else float(scaler.get_scale())

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            record = ScalerBatch()
            self.batches.append(record)
            loss = self.layer(batch["x"]).float().pow(2).mean() * LOSS_FACTOR
            if batch_idx == self.inf_at:
                loss = loss * float("inf")
            grads = torch.autograd.grad(loss, list(self.parameters()), retain_graph=True)
            record.reference_grads = {
                name: g.detach().to("cpu", torch.float64)
                for (name, _), g in zip(self.named_parameters(), grads)
            }
            record.step_loss = float(loss.detach())
            return loss

        def on_before_backward(self, loss: torch.Tensor) -> None:
            self.batches[-1].backward_loss = float(loss.detach().float())

        def on_after_backward(self) -> None:
            self.batches[-1].after_backward = _grads(self)

        def on_before_optimizer_step(self, optimizer: Any) -> None:
            self.batches[-1].before_optimizer_step = _grads(self)

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            self.batches[-1].weights_after = _weights(self)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=LEARNING_RATE)

        def train_dataloader(self) -> DataLoader:
            return DataLoader(DictDataset(length=8), batch_size=2)

    _CLASSES[key] = ScalerProbeModel
    return ScalerProbeModel


def weight_delta(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {name: after[name] - before[name] for name in before}


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 2e-2) -> bool:
    """Equal up to float16 rounding, relative to the larger of the two tensors."""
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-12)
    return bool((a - b).abs().max() <= rtol * scale)
