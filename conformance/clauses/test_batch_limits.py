"""STOP (batch limits): how many batches each loop runs under fast_dev_run and limit_*_batches.

The probe (:func:`~conformance.kit.loop_probes.stop_probe`) records every trained batch, the size
of each in-fit validation run and of the sanity check.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.kit.citations import docs_silent
from conformance.kit.expectations import limited_batches
from conformance.kit.loop_probes import all_batches, fit_probe, stop_probe
from conformance.kit.models import boring_model_class
from conformance.registry import clause, facts, seed
from conformance.target import Target


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
    model = stop_probe(target, 5)
    fit_probe(
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
    model = stop_probe(target, 5)
    trainer = fit_probe(
        target,
        tmp_path,
        model,
        fast_dev_run=3,
        max_epochs=3,
        limit_val_batches=1.0,
        num_sanity_val_steps=2,
    )
    observed = (model.trained, model.val_batches_run, model.sanity_batches)
    expected = (all_batches(1, 3), [3], 0)
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
    model = stop_probe(target, n_batches)
    with tempfile.TemporaryDirectory() as root:
        fit_probe(target, root, model, max_epochs=2, limit_train_batches=limit)
    assert model.trained == all_batches(2, per_epoch), (
        f"{n_batches} batches, limit_train_batches={limit!r}: expected {per_epoch} batches per "
        f"epoch {all_batches(2, per_epoch)}, observed {model.trained}"
    )


@clause(
    "STOP-012",
    "limit_train_batches=0 trains nothing: no training batch and no training epoch",
    level="de-facto",
    source=facts("§2.10", "limit_train_batches=0 -> fit does nothing"),
    docs_say=docs_silent("limit_train_batches"),
)
def test_limit_train_batches_zero(target: Target, tmp_path: Any) -> None:
    model = stop_probe(target, 3)
    trainer = fit_probe(target, tmp_path, model, max_epochs=2, limit_train_batches=0)
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
    model = stop_probe(target, 4)
    with pytest.raises(Exception) as raised:
        fit_probe(target, tmp_path, model, max_epochs=1, limit_train_batches=0.1)
    assert model.trained == [], f"expected no training before the error, observed {model.trained}"
    assert "limit_train_batches" in str(raised.value), (
        "expected the error to name limit_train_batches, observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )
