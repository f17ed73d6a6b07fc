"""Observing optimization with plain torch: a recording optimizer and the expected SGD trajectory.

:class:`RecordingSGD` is an ordinary ``torch.optim.SGD`` (no momentum) that, at every ``step``,
first runs the closure it is given (if any: Lightning-style trainers do forward/backward inside it)
and then records the gradients it is *about to apply*, before updating. That is the only reliable
place to observe clipping, which happens after ``on_before_optimizer_step``.

:func:`expected_sgd` computes, with plain torch and no trainer, what SGD over given accumulation
windows must produce, so clauses compare real parameter updates with an independent computation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class AppliedStep:
    """One optimizer step as the optimizer saw it."""

    grads: dict[str, torch.Tensor | None]
    lrs: list[float]
    before: dict[str, torch.Tensor]
    after: dict[str, torch.Tensor] = field(default_factory=dict)


class RecordingSGD(torch.optim.SGD):
    """SGD without momentum that records the gradients and learning rates of every step.

    ``named`` maps parameter names to parameters so records are keyed by name.
    """

    def __init__(self, named: Iterable[tuple[str, torch.nn.Parameter]], lr: float) -> None:
        pairs = list(named)
        super().__init__([p for _, p in pairs], lr=lr)
        self._names = [n for n, _ in pairs]
        self.applied: list[AppliedStep] = []

    def _named(self) -> list[tuple[str, torch.Tensor]]:
        params = [p for group in self.param_groups for p in group["params"]]
        return list(zip(self._names, params))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            record = AppliedStep(
                grads={
                    n: None if p.grad is None else p.grad.detach().clone() for n, p in self._named()
                },
                lrs=[float(g["lr"]) for g in self.param_groups],
                before={n: p.detach().clone() for n, p in self._named()},
            )
            super().step()
            record.after = {n: p.detach().clone() for n, p in self._named()}
        self.applied.append(record)
        return loss


@dataclass
class ExpectedStep:
    """What one SGD step over an accumulation window must do."""

    batches: list[int]
    grads: dict[str, torch.Tensor]
    after: dict[str, torch.Tensor]


LossFn = Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]


def accumulation_windows(n_batches: int, accumulate: int) -> list[list[int]]:
    """Batch indices of one epoch grouped into windows; the last window may be incomplete."""
    return [list(range(i, min(i + accumulate, n_batches))) for i in range(0, n_batches, accumulate)]


def expected_sgd(
    module: torch.nn.Module,
    batches: Sequence[torch.Tensor],
    windows: Iterable[Sequence[int]],
    *,
    lr: float,
    loss_fn: LossFn,
    divisor: int = 1,
) -> list[ExpectedStep]:
    """Plain-torch SGD: per window, fresh gradients of ``sum(loss(batch) / divisor)``, one step.

    ``module`` is copied; it is a plain ``torch.nn.Module`` holding the initial parameters.
    """
    model = copy.deepcopy(module)
    params = dict(model.named_parameters())
    steps = []
    for window in windows:
        for p in params.values():
            p.grad = None
        for index in window:
            (loss_fn(model, batches[index]) / divisor).backward()
        grads = {n: p.grad.detach().clone() for n, p in params.items()}  # type: ignore[union-attr]
        with torch.no_grad():
            for p in params.values():
                p -= lr * p.grad  # type: ignore[operator]
        steps.append(
            ExpectedStep(list(window), grads, {n: p.detach().clone() for n, p in params.items()})
        )
    return steps
