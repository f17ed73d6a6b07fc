"""STOP: when fit stops: epoch and step limits, should_stop, min_* overrides, -1 from a hook.

The probe (:func:`~conformance.kit.loop_probes.stop_probe`) records every trained batch as
``(current_epoch, batch_idx)``, the batch after which each in-fit validation ran, and each
``on_train_epoch_end``.
"""

from __future__ import annotations

import tempfile
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.kit.citations import docs_silent
from conformance.kit.expectations import global_steps_around_batches
from conformance.kit.loop_probes import all_batches, fit_probe, stop_probe
from conformance.registry import clause, facts, seed
from conformance.target import Target


@clause(
    "STOP-001",
    "max_epochs=N trains exactly N full epochs",
    level="de-facto",
    source=facts("§2.3", "Fit stops when ... completed epochs (processed) >= max_epochs"),
    docs_say=docs_silent("max_epochs", "Hooks"),
)
def test_max_epochs(target: Target, tmp_path: Any) -> None:
    for epochs in (1, 3):
        model = stop_probe(target, 3)
        trainer = fit_probe(target, tmp_path, model, max_epochs=epochs)
        assert model.trained == all_batches(epochs, 3), (
            f"max_epochs={epochs}: expected (epoch, batch_idx) {all_batches(epochs, 3)}, "
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
    model = stop_probe(target, n_batches)
    with tempfile.TemporaryDirectory() as root:
        trainer = fit_probe(
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
    model = stop_probe(target, 3)
    trainer = fit_probe(target, tmp_path, model, max_epochs=0)
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
    model = stop_probe(target, 4, stop_at=(0, 1))
    trainer = fit_probe(target, tmp_path, model, max_epochs=5)
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
    model = stop_probe(target, 4, stop_at=(0, 1))
    fit_probe(target, tmp_path, model, max_epochs=5, limit_val_batches=1)
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
    model = stop_probe(target, 3, stop_at=(0, 0))
    trainer = fit_probe(target, tmp_path, model, max_epochs=6, min_epochs=3)
    assert model.trained == all_batches(3, 3), (
        f"should_stop at (0, 0) with min_epochs=3: expected trained batches {all_batches(3, 3)}, "
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
    model = stop_probe(target, 4, stop_at=(0, 0))
    trainer = fit_probe(target, tmp_path, model, max_epochs=6, min_steps=6)
    expected = [*all_batches(1, 4), (1, 0), (1, 1)]
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
    model = stop_probe(target, 4, skip_from=2)
    trainer = fit_probe(target, tmp_path, model, max_epochs=2)
    observed = (model.trained, model.epoch_ends, trainer.global_step, trainer.current_epoch)
    expected = (all_batches(2, 2), [0, 1], 4, 2)
    assert observed == expected, (
        "on_train_batch_start returns -1 at batch_idx 2 of 4, 2 epochs: expected (trained "
        "batches, on_train_epoch_end epochs, global_step, current_epoch) "
        f"{expected}, observed {observed}"
    )
