"""STOP: when fit stops, and how many batches each loop runs under the limiting flags.

The probe model records every training batch it trains as ``(current_epoch, batch_idx)``, the
training batch after which each in-fit validation ran, and each ``on_train_epoch_end``.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.kit.citations import docs_silent
from conformance.kit.expectations import global_steps_around_batches, limited_batches
from conformance.kit.models import boring_model_class
from conformance.registry import clause, facts, seed
from conformance.target import Target

EPOCHS_LOOP = seed("002", "Hooks", "for epoch in epochs: fit_loop()")
FLAGS_SILENT = "Trainer stopping flags"


def _stop_probe(
    target: Target,
    n_batches: int = 4,
    *,
    stop_at: tuple[int, int] | None = None,
    skip_from: int | None = None,
) -> Any:
    base = boring_model_class(target)

    class StopProbe(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__(batches=n_batches)
            self.trained: list[tuple[int, int]] = []
            self.validated_after: list[tuple[int, int] | None] = []
            self.val_batches_run: list[int] = []
            self.sanity_batches = 0
            self.epoch_ends: list[int] = []
            self.train_starts = 0

        def on_train_start(self) -> None:
            self.train_starts += 1

        def on_train_batch_start(self, batch: Any, batch_idx: int) -> Any:
            if skip_from is not None and batch_idx == skip_from:
                return -1
            return None

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.trained.append((self.current_epoch, batch_idx))
            if stop_at == (self.current_epoch, batch_idx):
                self.trainer.should_stop = True
            return super().training_step(batch, batch_idx)

        def on_validation_epoch_start(self) -> None:
            if not self.trainer.sanity_checking:
                self.validated_after.append(self.trained[-1] if self.trained else None)
                self.val_batches_run.append(0)

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            if self.trainer.sanity_checking:
                self.sanity_batches += 1
            else:
                self.val_batches_run[-1] += 1
            return super().validation_step(batch, batch_idx)

        def on_train_epoch_end(self) -> None:
            self.epoch_ends.append(self.current_epoch)

    return StopProbe()


def _fit(target: Target, root: Any, model: Any, **flags: Any) -> Any:
    flags = {"limit_val_batches": 0, "num_sanity_val_steps": 0, **flags}
    trainer = target.trainer(root, **flags)
    trainer.fit(model)
    return trainer


def _all(n_epochs: int, n_batches: int) -> list[tuple[int, int]]:
    return [(e, b) for e in range(n_epochs) for b in range(n_batches)]


@clause(
    "STOP-001",
    "max_epochs=N trains exactly N full epochs",
    level="de-facto",
    source=facts("§2.3", "Fit stops when ... completed epochs (processed) >= max_epochs"),
    docs_say=docs_silent("max_epochs", "Hooks"),
)
def test_max_epochs(target: Target, tmp_path: Any) -> None:
    for epochs in (1, 3):
        model = _stop_probe(target, 3)
        trainer = _fit(target, tmp_path, model, max_epochs=epochs)
        assert model.trained == _all(epochs, 3), (
            f"max_epochs={epochs}: expected (epoch, batch_idx) {_all(epochs, 3)}, "
            f"observed {model.trained}"
        )
        assert trainer.current_epoch == epochs, (
            f"max_epochs={epochs}: expected current_epoch {epochs} after fit, "
            f"observed {trainer.current_epoch}"
        )


@clause(
    "STOP-002",
    "max_steps stops training right after the batch whose optimizer step reaches it, mid-epoch "
    "included",
    level="de-facto",
    source=facts("§2.2", "max_steps compares against global_step (optimizer steps)"),
    docs_say=docs_silent("max_steps", "Properties > global_step"),
)
@settings(deadline=None)
@given(
    n_batches=st.integers(1, 5),
    accumulate=st.integers(1, 3),
    max_steps=st.integers(1, 7),
)
def test_max_steps(target: Target, n_batches: int, accumulate: int, max_steps: int) -> None:
    expected = []
    for epoch, batch_idx, _, steps_after in global_steps_around_batches(n_batches, 10, accumulate):
        expected.append((epoch, batch_idx))
        if steps_after >= max_steps:
            break
    model = _stop_probe(target, n_batches)
    with tempfile.TemporaryDirectory() as root:
        trainer = _fit(
            target,
            root,
            model,
            max_steps=max_steps,
            max_epochs=10,
            accumulate_grad_batches=accumulate,
        )
    config = f"{n_batches} batches, accumulate_grad_batches={accumulate}, max_steps={max_steps}"
    assert model.trained == expected, (
        f"{config}: expected trained batches {expected}, observed {model.trained}"
    )
    assert trainer.global_step == max_steps, (
        f"{config}: expected global_step {max_steps} after fit, observed {trainer.global_step}"
    )


@clause(
    "STOP-003",
    "max_epochs=0 trains nothing: no training batch, global_step and current_epoch stay 0",
    level="de-facto",
    source=facts("§2.1", "max_epochs=0 allowed (no training)"),
    docs_say=docs_silent("max_epochs", "Hooks"),
)
def test_max_epochs_zero(target: Target, tmp_path: Any) -> None:
    model = _stop_probe(target, 3)
    trainer = _fit(target, tmp_path, model, max_epochs=0)
    observed = (model.trained, trainer.global_step, trainer.current_epoch)
    assert observed == ([], 0, 0), (
        f"max_epochs=0: expected (no trained batches, global_step 0, current_epoch 0), "
        f"observed {observed}"
    )


@clause(
    "STOP-004",
    "trainer.should_stop set in a batch ends training after that batch, with on_train_epoch_end",
    level="de-facto",
    source=facts(
        "§2.3",
        "Setting trainer.should_stop = True mid-epoch ... then on_train_epoch_end; "
        "current_epoch is still incremented",
    ),
    docs_say=docs_silent("trainer.should_stop"),
)
def test_should_stop_mid_epoch(target: Target, tmp_path: Any) -> None:
    model = _stop_probe(target, 4, stop_at=(0, 1))
    trainer = _fit(target, tmp_path, model, max_epochs=5)
    observed = (model.trained, model.epoch_ends, trainer.current_epoch)
    expected = ([(0, 0), (0, 1)], [0], 1)
    assert observed == expected, (
        "should_stop set in batch (0, 1): expected (trained batches, on_train_epoch_end epochs, "
        f"current_epoch after fit) {expected}, observed {observed}"
    )


@clause(
    "STOP-005",
    "when should_stop ends an epoch early, validation runs right after the stopping batch",
    level="de-facto",
    source=facts(
        "§2.3",
        "validation (if enabled for this epoch) runs right after that batch even "
        "if not a val-check batch",
    ),
    docs_say=docs_silent("trainer.should_stop"),
)
def test_should_stop_validates(target: Target, tmp_path: Any) -> None:
    model = _stop_probe(target, 4, stop_at=(0, 1))
    _fit(target, tmp_path, model, max_epochs=5, limit_val_batches=1)
    assert model.validated_after == [(0, 1)], (
        "should_stop set in batch (0, 1): expected one validation right after it, observed "
        f"validations after {model.validated_after}"
    )


@clause(
    "STOP-006",
    "min_epochs overrides should_stop: training continues until min_epochs full epochs ran",
    level="de-facto",
    source=facts("§2.3", "trainer.should_stop and min_epochs/min_steps satisfied"),
    docs_say=docs_silent("min_epochs"),
)
def test_min_epochs(target: Target, tmp_path: Any) -> None:
    model = _stop_probe(target, 3, stop_at=(0, 0))
    trainer = _fit(target, tmp_path, model, max_epochs=6, min_epochs=3)
    assert model.trained == _all(3, 3), (
        f"should_stop at (0, 0) with min_epochs=3: expected trained batches {_all(3, 3)}, "
        f"observed {model.trained}"
    )
    assert trainer.current_epoch == 3, f"expected current_epoch 3, observed {trainer.current_epoch}"


@clause(
    "STOP-007",
    "min_steps overrides should_stop: training stops right after global_step reaches min_steps",
    level="de-facto",
    source=facts("§2.3", "trainer.should_stop and min_epochs/min_steps satisfied"),
    docs_say=docs_silent("min_steps"),
)
def test_min_steps(target: Target, tmp_path: Any) -> None:
    model = _stop_probe(target, 4, stop_at=(0, 0))
    trainer = _fit(target, tmp_path, model, max_epochs=6, min_steps=6)
    expected = [*_all(1, 4), (1, 0), (1, 1)]
    assert model.trained == expected, (
        f"should_stop at (0, 0) with min_steps=6: expected trained batches {expected}, "
        f"observed {model.trained}"
    )
    assert trainer.global_step == 6, f"expected global_step 6, observed {trainer.global_step}"


@clause(
    "STOP-008",
    "on_train_batch_start returning -1 skips that batch and the rest of the epoch only",
    level="de-facto",
    source=facts("§2.3", "on_train_batch_start returning -1 skips the rest of the epoch"),
    docs_say=seed("002", "Hooks", "on_train_batch_start()"),
)
def test_batch_start_minus_one(target: Target, tmp_path: Any) -> None:
    model = _stop_probe(target, 4, skip_from=2)
    trainer = _fit(target, tmp_path, model, max_epochs=2)
    observed = (model.trained, model.epoch_ends, trainer.global_step, trainer.current_epoch)
    expected = (_all(2, 2), [0, 1], 4, 2)
    assert observed == expected, (
        "on_train_batch_start returns -1 at batch_idx 2 of 4, 2 epochs: expected (trained "
        "batches, on_train_epoch_end epochs, global_step, current_epoch) "
        f"{expected}, observed {observed}"
    )


@clause(
    "STOP-009",
    "fast_dev_run=True runs 1 training batch and 1 validation batch in 1 epoch, no sanity check",
    level="de-facto",
    source=facts(
        "§2.10",
        "fast_dev_run=True|1|N: all four limits = N ... max_epochs=1, num_sanity_val_steps=0",
    ),
    docs_say=seed("002", "Starter Example", "trainer = L.Trainer(fast_dev_run=100)"),
)
def test_fast_dev_run_true(target: Target, tmp_path: Any) -> None:
    model = _stop_probe(target, 5)
    _fit(
        target,
        tmp_path,
        model,
        fast_dev_run=True,
        max_epochs=3,
        limit_val_batches=1.0,
        num_sanity_val_steps=2,
    )
    observed = (model.trained, model.val_batches_run, model.sanity_batches)
    expected = ([(0, 0)], [1], 0)
    assert observed == expected, (
        "fast_dev_run=True: expected (trained batches, validation batches per run, sanity batches)"
        f" {expected}, observed {observed}"
    )


@clause(
    "STOP-010",
    "fast_dev_run=N runs N training and N validation batches in 1 epoch, no sanity check",
    level="de-facto",
    source=facts("§2.10", "fast_dev_run=True|1|N: all four limits = N ... max_epochs=1"),
    docs_say=seed("002", "Starter Example", "trainer = L.Trainer(fast_dev_run=100)"),
)
def test_fast_dev_run_n(target: Target, tmp_path: Any) -> None:
    model = _stop_probe(target, 5)
    trainer = _fit(
        target,
        tmp_path,
        model,
        fast_dev_run=3,
        max_epochs=3,
        limit_val_batches=1.0,
        num_sanity_val_steps=2,
    )
    observed = (model.trained, model.val_batches_run, model.sanity_batches)
    expected = (_all(1, 3), [3], 0)
    assert observed == expected, (
        "fast_dev_run=3 with 5 batches: expected (trained batches, validation batches per run, "
        f"sanity batches) {expected}, observed {observed}"
    )
    assert trainer.global_step == 3, f"expected global_step 3, observed {trainer.global_step}"


@clause(
    "STOP-011",
    "limit_train_batches (int count or float fraction) sets the batches trained per epoch",
    level="de-facto",
    source=facts("§2.10", "int limit -> min(len, limit); float limit -> int(len * limit) (floor)"),
    docs_say=docs_silent("limit_train_batches"),
)
@settings(deadline=None)
@given(
    n_batches=st.integers(1, 8),
    limit=st.one_of(st.integers(1, 10), st.sampled_from([0.25, 0.5, 0.75, 1.0])),
)
def test_limit_train_batches(target: Target, n_batches: int, limit: int | float) -> None:
    per_epoch = limited_batches(n_batches, limit)
    if per_epoch == 0:
        return  # a float limit leaving no batch is an error; STOP-014 covers it
    model = _stop_probe(target, n_batches)
    with tempfile.TemporaryDirectory() as root:
        _fit(target, root, model, max_epochs=2, limit_train_batches=limit)
    assert model.trained == _all(2, per_epoch), (
        f"{n_batches} batches, limit_train_batches={limit!r}: expected {per_epoch} batches per "
        f"epoch {_all(2, per_epoch)}, observed {model.trained}"
    )


@clause(
    "STOP-012",
    "limit_train_batches=0 trains nothing: no training batch and no training epoch",
    level="de-facto",
    source=facts("§2.10", "limit_train_batches=0 -> fit does nothing"),
    docs_say=docs_silent("limit_train_batches"),
)
def test_limit_train_batches_zero(target: Target, tmp_path: Any) -> None:
    model = _stop_probe(target, 3)
    trainer = _fit(target, tmp_path, model, max_epochs=2, limit_train_batches=0)
    observed = (model.trained, model.epoch_ends, trainer.global_step)
    assert observed == ([], [], 0), (
        "limit_train_batches=0: expected (no trained batches, no on_train_epoch_end, global_step "
        f"0), observed {observed}"
    )


@clause(
    "STOP-013",
    "limit_val/test/predict_batches (int, float, 0) set how many batches each evaluation runs",
    level="de-facto",
    source=facts("§2.10", "Limits apply per dataloader"),
    docs_say=docs_silent("limit_*_batches"),
)
@pytest.mark.parametrize("limit", [2, 0.5, 0, 1.0])
@pytest.mark.parametrize("stage", ["fit", "validate", "test", "predict"])
def test_limit_eval_batches(target: Target, tmp_path: Any, stage: str, limit: int | float) -> None:
    n_batches = 6
    base = boring_model_class(target)
    seen: list[str] = []

    class EvalCounter(base):  # type: ignore[misc,valid-type]
        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            seen.append("validation")
            return super().validation_step(batch, batch_idx)

        def test_step(self, batch: Any, batch_idx: int) -> Any:
            seen.append("test")
            return super().test_step(batch, batch_idx)

        def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            seen.append("predict")
            return self(batch)

    model = EvalCounter(batches=n_batches)
    flag = {"fit": "val", "validate": "val"}.get(stage, stage)
    trainer = target.trainer(
        tmp_path,
        max_epochs=1,
        limit_train_batches=1,
        num_sanity_val_steps=0,
        **{f"limit_{flag}_batches": limit},
    )
    getattr(trainer, stage)(model)
    want = limited_batches(n_batches, limit)
    assert len(seen) == want, (
        f"{stage} with {n_batches} batches and limit_{flag}_batches={limit!r}: expected {want} "
        f"evaluation batches, observed {len(seen)}"
    )


@clause(
    "STOP-014",
    "a float batch limit that leaves no batch of a non-empty loader is an error",
    level="de-facto",
    source=facts(
        "§2.10",
        "a float limit producing 0 batches from a non-empty loader -> MisconfigurationException",
    ),
    docs_say=docs_silent("limit_train_batches"),
)
def test_limit_fraction_too_small(target: Target, tmp_path: Any) -> None:
    model = _stop_probe(target, 4)
    with pytest.raises(Exception) as raised:
        _fit(target, tmp_path, model, max_epochs=1, limit_train_batches=0.1)
    assert model.trained == [], f"expected no training before the error, observed {model.trained}"
    assert "limit_train_batches" in str(raised.value), (
        "expected the error to name limit_train_batches, observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )
