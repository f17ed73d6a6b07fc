"""VAL: when validation runs during fit.

An observer callback records each ``on_train_batch_end`` and ``on_validation_start``; a validation
point is the ``(epoch, batch_idx)`` of the training batch right before ``on_validation_start``.
Configurations are drawn by hypothesis and compared with
:func:`~conformance.kit.expectations.validation_points`, a small pure-Python model.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conformance.kit.citations import docs_silent
from conformance.kit.expectations import validation_points
from conformance.kit.models import boring_model_class
from conformance.kit.observers import observer
from conformance.registry import clause, facts, seed
from conformance.target import Target

VAL_IN_EPOCH = (
    seed(
        "002",
        "Hooks",
        "on_train_batch_end(out, batch, batch_idx) / if should_check_val: "
        "val_loop() ... on_train_epoch_end()",
    ),
    seed(
        "002",
        "Validation > Validation Epoch-level Metrics",
        "Note that this method is called before on_train_epoch_end",
    ),
)
SCHEDULE_SILENT = docs_silent(
    "val_check_interval and check_val_every_n_epoch", "Validation > Validation Loop"
)
EXAMPLES = settings(deadline=None)


def _validation_points(target: Target, root: Any, n_batches: int, **flags: Any) -> list:
    """Fit with one validation batch; return the (epoch, batch_idx) before each validation."""
    watcher = observer(target, ("on_train_batch_end", "on_validation_start", "on_train_epoch_end"))
    flags = {"limit_val_batches": 1, "num_sanity_val_steps": 0, **flags}
    target.trainer(root, callbacks=[watcher], **flags).fit(boring_model_class(target)(n_batches))
    points = []
    last: tuple[int, int | None] | None = None
    for record in watcher.records:
        if record.hook == "on_train_batch_end":
            last = (record.epoch, record.batch_idx)
        elif record.hook == "on_validation_start" and not record.sanity_checking:
            points.append(last)
    return points


def _check(target: Target, n_batches: int, n_epochs: int, **flags: Any) -> None:
    expected = validation_points(
        n_batches,
        n_epochs,
        flags.get("val_check_interval", 1.0),
        flags.get("check_val_every_n_epoch", 1),
    )
    with tempfile.TemporaryDirectory() as root:
        observed = _validation_points(target, root, n_batches, max_epochs=n_epochs, **flags)
    assert observed == expected, (
        f"{n_batches} batches x {n_epochs} epochs with {flags or 'default flags'}: expected "
        f"validation after (epoch, batch_idx) {expected}, observed {observed}"
    )


@clause(
    "VAL-001",
    "by default validation runs once per epoch, after its last batch and before on_train_epoch_end",
    level="core",
    source=VAL_IN_EPOCH,
)
def test_default_once_per_epoch(target: Target, tmp_path: Any) -> None:
    watcher = observer(target, ("on_train_batch_end", "on_validation_start", "on_train_epoch_end"))
    target.trainer(
        tmp_path, callbacks=[watcher], max_epochs=2, limit_val_batches=1, num_sanity_val_steps=0
    ).fit(boring_model_class(target)(3))
    observed = [(r.hook, r.epoch, r.batch_idx) for r in watcher.records]
    expected = []
    for epoch in range(2):
        expected += [("on_train_batch_end", epoch, b) for b in range(3)]
        expected += [("on_validation_start", epoch, None), ("on_train_epoch_end", epoch, None)]
    assert observed == expected, f"expected (hook, epoch, batch_idx) {expected}, got {observed}"


@clause(
    "VAL-002",
    "an int val_check_interval N validates after every N-th batch of each epoch, and only then",
    level="de-facto",
    source=facts(
        "§2.4",
        "int val_check_interval -> val_check_batch = interval ... (idx + 1) % val_check_batch == 0",
    ),
    docs_say=SCHEDULE_SILENT,
)
@EXAMPLES
@given(n_batches=st.integers(1, 6), interval=st.integers(1, 6), n_epochs=st.integers(1, 2))
def test_int_interval(target: Target, n_batches: int, interval: int, n_epochs: int) -> None:
    assume(interval <= n_batches)
    _check(target, n_batches, n_epochs, val_check_interval=interval)


@clause(
    "VAL-003",
    "a float val_check_interval f validates every max(1, int(n * f)) batches, with no forced "
    "end-of-epoch run",
    level="de-facto",
    source=facts(
        "§2.4",
        "float -> max(1, int(num_training_batches * interval)) ... the end of the "
        "epoch is only a val point if divisible",
    ),
    docs_say=SCHEDULE_SILENT,
)
@EXAMPLES
@given(
    n_batches=st.integers(1, 7),
    fraction=st.sampled_from([0.1, 0.25, 0.3, 0.5, 0.75, 1.0]),
    n_epochs=st.integers(1, 2),
)
def test_float_interval(target: Target, n_batches: int, fraction: float, n_epochs: int) -> None:
    _check(target, n_batches, n_epochs, val_check_interval=fraction)


@clause(
    "VAL-004",
    "check_val_every_n_epoch=k validates only in epochs e with (e + 1) % k == 0, with no forced "
    "final-epoch validation",
    level="de-facto",
    source=facts(
        "§2.4",
        "(current_epoch + 1) % check_val_every_n_epoch == 0. No forced validation "
        "on the final epoch",
    ),
    docs_say=SCHEDULE_SILENT,
)
@EXAMPLES
@given(
    n_batches=st.integers(1, 3),
    every=st.integers(1, 3),
    n_epochs=st.integers(1, 5),
    fraction=st.sampled_from([0.5, 1.0]),
)
def test_every_n_epochs(
    target: Target, n_batches: int, every: int, n_epochs: int, fraction: float
) -> None:
    _check(target, n_batches, n_epochs, val_check_interval=fraction, check_val_every_n_epoch=every)


@clause(
    "VAL-005",
    "with check_val_every_n_epoch=None an int val_check_interval counts batches across epochs",
    level="de-facto",
    source=facts(
        "§2.4",
        "check_val_every_n_epoch=None + int interval counts batches, not "
        "optimizer steps, across epochs",
    ),
    docs_say=SCHEDULE_SILENT,
)
@EXAMPLES
@given(n_batches=st.integers(1, 4), interval=st.integers(1, 7), n_epochs=st.integers(1, 3))
def test_interval_across_epochs(
    target: Target, n_batches: int, interval: int, n_epochs: int
) -> None:
    _check(
        target,
        n_batches,
        n_epochs,
        val_check_interval=interval,
        check_val_every_n_epoch=None,
        accumulate_grad_batches=2,  # batches, not optimizer steps, are counted
    )


@clause(
    "VAL-006",
    "limit_val_batches=0 disables validation during fit",
    level="de-facto",
    source=facts("§2.10", "limit_val_batches=0 -> validation (and sanity check) disabled"),
    docs_say=SCHEDULE_SILENT,
)
def test_limit_zero_disables(target: Target, tmp_path: Any) -> None:
    observed = _validation_points(
        target, tmp_path, 3, max_epochs=2, limit_val_batches=0, num_sanity_val_steps=2
    )
    assert observed == [], f"limit_val_batches=0: expected no validation, observed {observed}"


@clause(
    "VAL-007",
    "an int val_check_interval longer than the epoch is an error naming val_check_interval",
    level="de-facto",
    source=facts(
        "§2.4",
        "if interval > num_training_batches and check_val_every_n_epoch is not "
        "None and limit_val_batches > 0 -> ValueError",
    ),
    docs_say=SCHEDULE_SILENT,
)
def test_interval_longer_than_epoch(target: Target, tmp_path: Any) -> None:
    with pytest.raises(Exception) as raised:
        _validation_points(target, tmp_path, 3, max_epochs=1, val_check_interval=5)
    assert "val_check_interval" in str(raised.value), (
        f"expected an error naming val_check_interval, observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )
