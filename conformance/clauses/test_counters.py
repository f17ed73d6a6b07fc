"""COUNT: global_step, current_epoch and batch_idx as hooks see them, and after fit.

Counters are read from the trainer by an observer callback
(:func:`~conformance.kit.observers.observer`) and compared with the pure-Python arithmetic in
:mod:`conformance.kit.expectations`.
"""

from __future__ import annotations

from typing import Any

import torch

from conformance.kit.citations import docs_silent
from conformance.kit.expectations import global_steps_around_batches
from conformance.kit.models import boring_model_class
from conformance.kit.observers import observer
from conformance.registry import clause, facts, seed
from conformance.target import Target

GLOBAL_STEP = seed(
    "002",
    "Properties > global_step",
    "The number of optimizer steps taken (does not reset each epoch). This includes multiple "
    "optimizers (if enabled).",
)
CURRENT_EPOCH = seed(
    "002", "Properties > current_epoch", "The number of epochs run. ... if self.current_epoch == 0"
)
FIT_LOOP = seed(
    "002", "Hooks", "for epoch in epochs: fit_loop() ... for batch_idx, batch in enumerate("
)
BATCH_HOOKS = ("on_train_batch_start", "on_train_batch_end")
EPOCH_HOOKS = ("on_train_epoch_start", "on_train_epoch_end")


def _observed_fit(
    target: Target, make_trainer: Any, hooks: tuple[str, ...], *, n_batches: int, **flags: Any
) -> tuple[Any, list]:
    flags = {"max_epochs": 2, "limit_val_batches": 0, **flags}
    watcher = observer(target, hooks)
    trainer = make_trainer(callbacks=[watcher], **flags)
    trainer.fit(boring_model_class(target)(batches=n_batches))
    return trainer, watcher.records


@clause(
    "COUNT-001",
    "global_step counts optimizer steps (not batches) and does not reset between epochs",
    level="core",
    source=GLOBAL_STEP,
)
def test_global_step_counts_steps(target: Target, make_trainer: Any) -> None:
    trainer, records = _observed_fit(
        target, make_trainer, ("on_train_batch_start",), n_batches=5, accumulate_grad_batches=2
    )
    expected = [(e, b, start) for e, b, start, _ in global_steps_around_batches(5, 2, 2)]
    observed = [(r.epoch, r.batch_idx, r.global_step) for r in records]
    assert observed == expected, (
        "5 batches, accumulate_grad_batches=2, 2 epochs: expected (epoch, batch_idx, global_step) "
        f"at on_train_batch_start {expected}, observed {observed}"
    )
    assert trainer.global_step == 6, f"after fit: expected global_step 6, got {trainer.global_step}"


@clause(
    "COUNT-002",
    "at on_train_batch_end of a stepping batch, global_step already includes that batch's step",
    level="de-facto",
    source=facts("§2.2", "At on_train_batch_end of a stepping batch, global_step already includes"),
    docs_say=docs_silent("when global_step is incremented", "Properties > global_step"),
)
def test_global_step_at_batch_end(target: Target, make_trainer: Any) -> None:
    _, records = _observed_fit(
        target, make_trainer, ("on_train_batch_end",), n_batches=3, accumulate_grad_batches=2
    )
    expected = [(e, b, end) for e, b, _, end in global_steps_around_batches(3, 2, 2)]
    observed = [(r.epoch, r.batch_idx, r.global_step) for r in records]
    assert observed == expected, (
        "3 batches, accumulate_grad_batches=2, 2 epochs: expected (epoch, batch_idx, global_step) "
        f"at on_train_batch_end {expected}, observed {observed}"
    )


@clause(
    "COUNT-003",
    "during epoch k (0-based) the batch hooks and on_train_epoch_start see current_epoch == k",
    level="core",
    source=CURRENT_EPOCH,
)
def test_current_epoch_during_epoch(target: Target, make_trainer: Any) -> None:
    _, records = _observed_fit(
        target,
        make_trainer,
        ("on_train_epoch_start", *BATCH_HOOKS),
        n_batches=2,
        max_epochs=3,
    )
    observed = [(r.hook, r.epoch) for r in records]
    expected = [
        (hook, epoch) for epoch in range(3) for hook in ("on_train_epoch_start", *BATCH_HOOKS * 2)
    ]
    assert sorted(observed) == sorted(expected) and len(observed) == len(expected), (
        f"expected (hook, current_epoch) pairs {expected}, observed {observed}"
    )


@clause(
    "COUNT-004",
    "on_train_epoch_end and end-of-epoch validation still see the epoch's 0-based index",
    level="de-facto",
    source=facts(
        "§2.2",
        "during epoch k every hook (including on_train_epoch_end ...) sees current_epoch == k",
    ),
    docs_say=CURRENT_EPOCH,
)
def test_current_epoch_at_epoch_end(target: Target, make_trainer: Any) -> None:
    _, records = _observed_fit(
        target,
        make_trainer,
        ("on_train_epoch_end", "on_validation_end"),
        n_batches=2,
        max_epochs=3,
        limit_val_batches=1,
        num_sanity_val_steps=0,
    )
    observed = [(r.hook, r.epoch) for r in records]
    expected = [(h, e) for e in range(3) for h in ("on_validation_end", "on_train_epoch_end")]
    assert observed == expected, f"expected (hook, current_epoch) {expected}, observed {observed}"


@clause(
    "COUNT-005",
    "after fit, current_epoch equals the number of epochs run",
    level="core",
    source=CURRENT_EPOCH,
)
def test_current_epoch_after_fit(target: Target, make_trainer: Any) -> None:
    for epochs in (1, 3):
        trainer, records = _observed_fit(
            target, make_trainer, ("on_train_epoch_start",), n_batches=2, max_epochs=epochs
        )
        assert len(records) == epochs, f"expected {epochs} epochs to run, observed {len(records)}"
        assert trainer.current_epoch == epochs, (
            f"after {epochs} epoch(s): expected current_epoch {epochs}, "
            f"observed {trainer.current_epoch}"
        )


@clause(
    "COUNT-006",
    "batch_idx is epoch-local: 0, 1, ..., n-1 in every epoch",
    level="core",
    source=FIT_LOOP,
)
def test_batch_idx_epoch_local(target: Target, make_trainer: Any) -> None:
    _, records = _observed_fit(
        target, make_trainer, ("on_train_batch_start",), n_batches=3, max_epochs=3
    )
    observed = [(r.epoch, r.batch_idx) for r in records]
    expected = [(e, b) for e in range(3) for b in range(3)]
    assert observed == expected, f"expected (epoch, batch_idx) {expected}, observed {observed}"


def _manual_two_optimizers(target: Target) -> Any:
    base = boring_model_class(target)

    class TwoOptimizers(base):  # type: ignore[misc,valid-type]
        """Manual optimization: optimizer A steps every batch, B only on even batch_idx."""

        def __init__(self) -> None:
            super().__init__(batches=4)
            self.automatic_optimization = False
            self.other = torch.nn.Linear(32, 2)
            self.seen: list[tuple[int, int, int]] = []

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            first, second = self.optimizers()
            before = self.trainer.global_step
            for optimizer, layer in ((first, self.layer), (second, self.other)):
                if optimizer is second and batch_idx % 2:
                    continue
                optimizer.zero_grad()
                self.manual_backward(self.loss(layer(batch)))
                optimizer.step()
            self.seen.append((batch_idx, before, self.trainer.global_step))

        def configure_optimizers(self) -> Any:
            return [
                torch.optim.SGD(self.layer.parameters(), lr=0.1),
                torch.optim.SGD(self.other.parameters(), lr=0.1),
            ]

    return TwoOptimizers()


@clause(
    "COUNT-007",
    "in manual optimization global_step counts every optimizer.step() of every optimizer",
    level="core",
    source=GLOBAL_STEP,
)
def test_manual_global_step(target: Target, make_trainer: Any) -> None:
    model = _manual_two_optimizers(target)
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model)
    # batches 0 and 2 step both optimizers (+2), batches 1 and 3 step only the first (+1)
    expected = [(0, 0, 2), (1, 2, 3), (2, 3, 5), (3, 5, 6)]
    assert model.seen == expected, (
        "(batch_idx, global_step before, global_step after) with two optimizers stepped on even "
        f"batches and one on odd batches: expected {expected}, observed {model.seen}"
    )
    assert trainer.global_step == 6, f"after fit: expected global_step 6, got {trainer.global_step}"


@clause(
    "COUNT-008",
    "LightningModule.global_step and current_epoch equal the trainer's in every hook",
    level="core",
    source=(GLOBAL_STEP, CURRENT_EPOCH),
)
def test_module_mirrors_trainer(target: Target, make_trainer: Any) -> None:
    hooks = (*BATCH_HOOKS, *EPOCH_HOOKS, "on_validation_start", "on_train_end")
    watcher = observer(
        target,
        hooks,
        lambda hook, trainer, module, args: (
            hook,
            (module.global_step, module.current_epoch),
            (trainer.global_step, trainer.current_epoch),
        ),
    )
    trainer = make_trainer(
        callbacks=[watcher], max_epochs=2, limit_val_batches=1, accumulate_grad_batches=2
    )
    trainer.fit(boring_model_class(target)(batches=3))
    assert watcher.records, "no hook was observed"
    for hook, from_module, from_trainer in watcher.records:
        assert from_module == from_trainer, (
            f"{hook}: expected module (global_step, current_epoch) == trainer's {from_trainer}, "
            f"observed {from_module}"
        )
