"""SCHED: when learning-rate schedulers step, observed through the learning rate really applied.

Each optimizer step's learning rate is read by :class:`~conformance.kit.optim.RecordingSGD` at the
moment it updates the parameters; hooks additionally read ``param_groups[0]["lr"]``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from conformance.kit.citations import docs_silent
from conformance.kit.optim import RecordingSGD
from conformance.kit.probe_models import linear_probe_class, make_batches
from conformance.registry import clause, facts
from conformance.target import Target

SCHEDULERS_SILENT = docs_silent("when lr schedulers step", "Hooks")
LR = 0.1
GAMMA = 0.5


def _scheduled(
    target: Target,
    n_batches: int,
    scheduler_config: dict[str, Any],
    *,
    metrics: list[float] | None = None,
    plateau: bool = False,
    manual: bool = False,
) -> Any:
    """A linear probe with one scheduler; records hook-time lrs as (where, epoch, idx, lr)."""
    base = linear_probe_class(target)

    class Scheduled(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__(make_batches(n_batches, seed=6), lr=LR)
            self.automatic_optimization = not manual
            self.seen: list[tuple[str, int, int, float]] = []

        def _lr(self) -> float:
            return round(float(self.optimizer.param_groups[0]["lr"]), 10)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.loss_of(batch)
            if manual:
                optimizer = self.optimizers()
                optimizer.zero_grad()
                self.manual_backward(loss)
                optimizer.step()
            return loss

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            self.seen.append(("on_train_batch_end", self.current_epoch, batch_idx, self._lr()))

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            if metrics is not None:
                self.log("watched", metrics[self.current_epoch])
            if not self.trainer.sanity_checking:
                self.seen.append(("validation_step", self.current_epoch, batch_idx, self._lr()))
            return None

        def configure_optimizers(self) -> Any:
            self.optimizer = RecordingSGD(self.layer.named_parameters(), lr=LR)
            if plateau:
                scheduler: Any = torch.optim.lr_scheduler.ReduceLROnPlateau(
                    self.optimizer, mode="min", factor=GAMMA, patience=0
                )
            else:
                scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, 1, gamma=GAMMA)
            return {
                "optimizer": self.optimizer,
                "lr_scheduler": {"scheduler": scheduler, **scheduler_config},
            }

        def applied_lrs(self) -> list[float]:
            return [round(step.lrs[0], 10) for step in self.optimizer.applied]

    return Scheduled()


def _fit(make_trainer: Any, model: Any, **flags: Any) -> None:
    flags = {"limit_val_batches": 0, "num_sanity_val_steps": 0, **flags}
    make_trainer(**flags).fit(model)


def _lr(exponent: int) -> float:
    return round(LR * GAMMA**exponent, 10)


@clause(
    "SCHED-001",
    "an epoch-interval scheduler steps once per epoch: every step of epoch e uses lr0 * gamma^e",
    level="de-facto",
    source=facts("§2.8", "epoch-interval non-plateau: right after the last batch's optimization"),
    docs_say=SCHEDULERS_SILENT,
)
@pytest.mark.parametrize("accumulate", [1, 2])
def test_epoch_interval(target: Target, make_trainer: Any, accumulate: int) -> None:
    model = _scheduled(target, 3, {"interval": "epoch"})
    _fit(make_trainer, model, max_epochs=3, accumulate_grad_batches=accumulate)
    per_epoch = -(-3 // accumulate)
    expected = [_lr(e) for e in range(3) for _ in range(per_epoch)]
    assert model.applied_lrs() == expected, (
        f"StepLR(gamma={GAMMA}), interval 'epoch', 3 batches, accumulate_grad_batches="
        f"{accumulate}: expected step learning rates {expected}, observed {model.applied_lrs()}"
    )


@clause(
    "SCHED-002",
    "the epoch-interval scheduler has stepped by the last batch's on_train_batch_end and before "
    "end-of-epoch validation",
    level="de-facto",
    source=facts("§1.4", "epoch-interval schedulers are stepped ... before on_train_batch_end"),
    docs_say=SCHEDULERS_SILENT,
)
def test_epoch_interval_timing(target: Target, make_trainer: Any) -> None:
    model = _scheduled(target, 2, {"interval": "epoch"})
    _fit(make_trainer, model, max_epochs=2, limit_val_batches=1)
    expected = [
        ("on_train_batch_end", 0, 0, _lr(0)),
        ("on_train_batch_end", 0, 1, _lr(1)),
        ("validation_step", 0, 0, _lr(1)),
        ("on_train_batch_end", 1, 0, _lr(1)),
        ("on_train_batch_end", 1, 1, _lr(2)),
        ("validation_step", 1, 0, _lr(2)),
    ]
    assert model.seen == expected, (
        f"expected (where, epoch, batch_idx, lr) {expected}, observed {model.seen}"
    )


@clause(
    "SCHED-003",
    "a step-interval scheduler steps after every optimizer step, not while accumulating",
    level="de-facto",
    source=facts(
        "§2.8", "step-interval non-plateau: after every stepping batch (not while accumulating)"
    ),
    docs_say=SCHEDULERS_SILENT,
)
@pytest.mark.parametrize("accumulate", [1, 2])
def test_step_interval(target: Target, make_trainer: Any, accumulate: int) -> None:
    model = _scheduled(target, 4, {"interval": "step"})
    _fit(make_trainer, model, max_epochs=2, accumulate_grad_batches=accumulate)
    steps = 2 * (4 // accumulate)
    expected = [_lr(s) for s in range(steps)]
    assert model.applied_lrs() == expected, (
        f"StepLR(gamma={GAMMA}), interval 'step', accumulate_grad_batches={accumulate}: "
        f"expected step learning rates {expected}, observed {model.applied_lrs()}"
    )


@clause(
    "SCHED-004",
    "a scheduler's frequency n makes it step every n-th batch ('step') or epoch ('epoch')",
    level="de-facto",
    source=facts(
        "§2.8",
        "when (batch_idx + 1) % frequency == 0 ... when (current_epoch + 1) % frequency == 0",
    ),
    docs_say=SCHEDULERS_SILENT,
)
@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_frequency(target: Target, make_trainer: Any, interval: str) -> None:
    model = _scheduled(target, 4, {"interval": interval, "frequency": 2})
    _fit(make_trainer, model, max_epochs=4)
    # 4 batches per epoch, 4 epochs; step-interval: decays after batches 2, 4, 6, ... (1-based)
    if interval == "step":
        expected = [_lr(s // 2) for s in range(16)]
    else:
        expected = [_lr(e // 2) for e in range(4) for _ in range(4)]
    assert model.applied_lrs() == expected, (
        f"StepLR(gamma={GAMMA}), interval {interval!r}, frequency 2: expected step learning "
        f"rates {expected}, observed {model.applied_lrs()}"
    )


def _plateau_replay(values: list[float]) -> list[float]:
    """Learning rate in force during each epoch when plain torch steps the scheduler per epoch."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=LR)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=GAMMA, patience=0
    )
    rates = []
    for value in values:
        rates.append(round(optimizer.param_groups[0]["lr"], 10))
        scheduler.step(value)
    return rates


@clause(
    "SCHED-005",
    "ReduceLROnPlateau with 'monitor' steps after each validation on the value logged there",
    level="de-facto",
    source=facts(
        "§2.8",
        "plateau schedulers ... 'epoch' ones after on_train_epoch_end so they can "
        "read validation metrics from trainer.callback_metrics",
    ),
    docs_say=SCHEDULERS_SILENT,
)
def test_reduce_on_plateau(target: Target, make_trainer: Any) -> None:
    metrics = [5.0, 4.0, 4.0, 6.0, 3.0, 3.0]
    model = _scheduled(target, 2, {"monitor": "watched"}, metrics=metrics, plateau=True)
    _fit(make_trainer, model, max_epochs=len(metrics), limit_val_batches=1)
    observed = model.applied_lrs()[::2]  # the learning rate of each epoch's first step
    expected = _plateau_replay(metrics)
    assert observed == expected, (
        f"ReduceLROnPlateau(factor={GAMMA}, patience=0) on logged values {metrics}: expected "
        f"learning rate per epoch {expected}, observed {observed}"
    )


@clause(
    "SCHED-006",
    "a ReduceLROnPlateau monitor that was never logged is an error naming the metric",
    level="de-facto",
    source=facts("§2.8", "missing monitor key -> MisconfigurationException if strict"),
    docs_say=SCHEDULERS_SILENT,
)
def test_plateau_missing_metric(target: Target, make_trainer: Any) -> None:
    model = _scheduled(target, 2, {"monitor": "never_logged"}, plateau=True)
    with pytest.raises(Exception) as raised:
        _fit(make_trainer, model, max_epochs=2, limit_val_batches=1)
    assert "never_logged" in str(raised.value), (
        "expected the error to name the missing monitor 'never_logged', observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )


@clause(
    "SCHED-007",
    "in manual optimization the trainer never steps the schedulers",
    level="de-facto",
    source=facts(
        "§1.5",
        "In manual mode Lightning never calls ... lr_scheduler_step (schedulers "
        "are the user's job)",
    ),
    docs_say=SCHEDULERS_SILENT,
)
@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_manual_schedulers_untouched(target: Target, make_trainer: Any, interval: str) -> None:
    model = _scheduled(target, 2, {"interval": interval}, manual=True)
    _fit(make_trainer, model, max_epochs=2)
    expected = [_lr(0)] * 4
    assert model.applied_lrs() == expected, (
        f"manual optimization, interval {interval!r}: expected the learning rate untouched "
        f"{expected}, observed {model.applied_lrs()}"
    )
