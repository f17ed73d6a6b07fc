"""OPT: automatic optimization really does zero_grad -> backward -> step, window by window.

Every clause trains :mod:`~conformance.kit.probe_models`' linear probe on batches it chose, then
compares what the optimizer actually applied (gradients, parameters after each step) with plain
torch SGD run over the same batches, independent of the trainer.
"""

from __future__ import annotations

import tempfile
from typing import Any

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.kit.citations import docs_silent
from conformance.kit.optim import accumulation_windows, expected_sgd
from conformance.kit.probe_models import linear_probe_class, make_batches, probe_loss
from conformance.registry import clause, facts, seed

LR = 0.1
TRAINING_LOOP = seed(
    "002",
    "Training > Training Loop",
    "loss = training_step(batch, batch_idx) ... optimizer.zero_grad() ... loss.backward() "
    "... optimizer.step()",
)
ACCUMULATION_SILENT = docs_silent("accumulate_grad_batches", "Training > Training Loop")


def _train(target: Any, root: str, batches: list[torch.Tensor], **flags: Any) -> tuple[Any, Any]:
    """Fit the probe on ``batches`` without validation; return (model, initial plain layer)."""
    model = linear_probe_class(target)(batches, lr=LR)
    initial = model.initial_layer()
    flags = {"max_epochs": 1, "limit_val_batches": 0, "num_sanity_val_steps": 0, **flags}
    target.trainer(root, **flags).fit(model)
    return model, initial


def _expected(initial: Any, batches: list[torch.Tensor], n_epochs: int, accumulate: int) -> list:
    windows = accumulation_windows(len(batches), accumulate) * n_epochs
    return expected_sgd(initial, batches, windows, lr=LR, loss_fn=probe_loss, divisor=accumulate)


def _fmt(t: torch.Tensor | None) -> object:
    return None if t is None else [round(v, 6) for v in t.flatten().tolist()]


def _close(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    # Either side may be None (a trainer that zeroes gradients to None at the wrong time): that
    # is a mismatch to report, not a crash of the clause.
    return a is not None and b is not None and torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def _check_steps(model: Any, expected: list, what: str) -> None:
    applied = model.optimizer.applied
    assert len(applied) == len(expected), (
        f"{what}: expected {len(expected)} optimizer steps, observed {len(applied)}"
    )
    for number, (got, want) in enumerate(zip(applied, expected)):
        for name, grad in want.grads.items():
            assert _close(got.grads[name], grad), (
                f"{what}: step {number} (batches {want.batches}) should apply gradient of "
                f"{name} = {_fmt(grad)}, observed {_fmt(got.grads[name])}"
            )
        for name, value in want.after.items():
            assert _close(got.after[name], value), (
                f"{what}: after step {number} {name} should be {_fmt(value)}, "
                f"observed {_fmt(got.after[name])}"
            )


@clause(
    "OPT-001",
    "every training batch applies exactly one SGD update computed from that batch's loss",
    level="core",
    source=TRAINING_LOOP,
)
def test_one_update_per_batch(target: Any, tmp_path: Any) -> None:
    batches = make_batches(4)
    model, initial = _train(target, tmp_path, batches, max_epochs=2)
    _check_steps(model, _expected(initial, batches, 2, 1), "accumulate_grad_batches=1")


@clause(
    "OPT-002",
    "gradients are zeroed before each step's backward: stale gradients are never applied",
    level="core",
    source=TRAINING_LOOP,
)
def test_gradients_not_carried_over(target: Any, tmp_path: Any) -> None:
    batches = make_batches(3, seed=1)
    model = linear_probe_class(target)(batches, lr=LR)
    initial = model.initial_layer()
    # Stale gradients left on the module before fit must not leak into the first update either.
    for p in model.parameters():
        p.grad = torch.full_like(p, 100.0)
    target.trainer(tmp_path, max_epochs=1, limit_val_batches=0).fit(model)
    expected = _expected(initial, batches, 1, 1)
    for number, (got, want) in enumerate(zip(model.optimizer.applied, expected)):
        for name, grad in want.grads.items():
            assert _close(got.grads[name], grad), (
                f"step {number}: the applied gradient of {name} should come from batch "
                f"{want.batches} alone ({_fmt(grad)}); observed {_fmt(got.grads[name])} "
                "(gradients carried over from earlier batches or from before fit?)"
            )
    assert len(model.optimizer.applied) == len(expected), (
        f"expected {len(expected)} optimizer steps, observed {len(model.optimizer.applied)}"
    )


@clause(
    "OPT-003",
    "with accumulate_grad_batches=k one step per window applies the sum of grad(loss / k) "
    "over the window's batches",
    level="de-facto",
    source=facts("§1.6", "the loss is divided by accumulate_grad_batches before backward"),
    docs_say=ACCUMULATION_SILENT,
)
@settings(deadline=None)
@given(
    n_batches=st.integers(1, 7),
    accumulate=st.integers(1, 4),
    n_epochs=st.integers(1, 2),
)
def test_accumulated_windows(target: Any, n_batches: int, accumulate: int, n_epochs: int) -> None:
    batches = make_batches(n_batches, seed=n_batches)
    with tempfile.TemporaryDirectory() as root:
        model, initial = _train(
            target, root, batches, max_epochs=n_epochs, accumulate_grad_batches=accumulate
        )
    _check_steps(
        model,
        _expected(initial, batches, n_epochs, accumulate),
        f"{n_batches} batches, accumulate_grad_batches={accumulate}, {n_epochs} epoch(s)",
    )


@clause(
    "OPT-004",
    "the last batch of an epoch steps the optimizer even when its accumulation window is "
    "incomplete",
    level="de-facto",
    source=facts(
        "§1.6", "The last batch of an epoch always steps, even if the window is incomplete"
    ),
    docs_say=ACCUMULATION_SILENT,
)
def test_last_batch_steps(target: Any, tmp_path: Any) -> None:
    batches = make_batches(5, seed=2)
    model, initial = _train(target, tmp_path, batches, accumulate_grad_batches=2)
    expected = _expected(initial, batches, 1, 2)
    applied = model.optimizer.applied
    assert len(applied) == 3, (
        "5 batches with accumulate_grad_batches=2: expected 3 steps (windows [0,1], [2,3], [4]), "
        f"observed {len(applied)}"
    )
    final = expected[-1]
    for name, value in final.after.items():
        assert _close(applied[-1].after[name], value), (
            f"the incomplete window [4] should be applied as grad(loss/2): {name} should end at "
            f"{_fmt(value)}, observed {_fmt(applied[-1].after[name])}"
        )


@clause(
    "OPT-005",
    "the loss is divided by accumulate_grad_batches: k identical batches give the one-batch update",
    level="de-facto",
    source=facts("§2.6", "The loss is divided by accumulate_grad_batches before backward"),
    docs_say=ACCUMULATION_SILENT,
)
def test_loss_divided_by_accumulation(target: Any, tmp_path: Any) -> None:
    batch = make_batches(1, seed=3)[0]
    single, _ = _train(target, tmp_path / "single", [batch])
    triple, _ = _train(target, tmp_path / "triple", [batch] * 3, accumulate_grad_batches=3)
    assert len(triple.optimizer.applied) == 1, (
        f"3 batches with accumulate_grad_batches=3: expected 1 step, "
        f"observed {len(triple.optimizer.applied)}"
    )
    for name, grad in single.optimizer.applied[0].grads.items():
        got = triple.optimizer.applied[0].grads[name]
        assert _close(got, grad), (
            f"a window of 3 identical batches should apply the single-batch gradient of {name} "
            f"({_fmt(grad)}); observed {_fmt(got)}"
            " (loss not divided by accumulate_grad_batches?)"
        )


@clause(
    "OPT-006",
    "the optimizer steps once per accumulation window: ceil(batches / k) times per epoch",
    level="de-facto",
    source=facts(
        "§2.2", "optimizer steps ... incremented only on stepping batches, not while accumulating"
    ),
    docs_say=ACCUMULATION_SILENT,
)
def test_step_count(target: Any, tmp_path: Any) -> None:
    cases = [(6, 1, 2), (6, 2, 2), (7, 3, 1), (2, 4, 3)]
    for n_batches, accumulate, n_epochs in cases:
        model, _ = _train(
            target,
            tmp_path / f"{n_batches}-{accumulate}",
            make_batches(n_batches),
            max_epochs=n_epochs,
            accumulate_grad_batches=accumulate,
        )
        want = -(-n_batches // accumulate) * n_epochs
        assert len(model.optimizer.applied) == want, (
            f"{n_batches} batches, accumulate_grad_batches={accumulate}, {n_epochs} epoch(s): "
            f"expected {want} optimizer steps, observed {len(model.optimizer.applied)}"
        )
