"""SCALER: loss scaling with a GradScaler under 16-mixed on an accelerator.

Clauses follow the matrix convention of :mod:`conformance.matrix`. The GradScaler rules only
concern ``16-mixed`` on CUDA (or MPS); the ``cpu-16-mixed`` cell is not run for them, because
Lightning falls back to ``bf16-mixed`` there, which has no scaler (SCALER-001/002 check that
there is none; PRECVAL-006 checks the fallback). The probe (:mod:`conformance.kit.scaler_probe`)
reads the scale off the loss ratio, so only SCALER-001/007 use the ``trainer.scaler`` attribute.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from conformance import matrix
from conformance.kit.citations import docs_silent
from conformance.kit.precisions import semantics
from conformance.kit.scaler_probe import (
    LEARNING_RATE,
    close,
    scaler_model_class,
    weight_delta,
)
from conformance.registry import clause, facts
from conformance.target import Target

AMP = facts(
    "§5",
    "16-mixed creates a torch.amp.GradScaler(device): loss scaled in pre_backward "
    "(so on_before_backward sees the scaled loss, on_after_backward sees scaled grads), "
    "unscale_ after the closure and before on_before_optimizer_step, scaler.step + "
    "scaler.update (step skipped on inf/nan)",
)
SCALER_DOCS = docs_silent("loss scaling / GradScaler")
CPU_FALLBACK = {
    ("cpu", "16-mixed"): "cpu-16-mixed not run: on CPU 16-mixed falls back to bf16-mixed "
    "(de facto), which has no GradScaler (SCALER-001/002 check there is none, PRECVAL-006 "
    "the fallback)"
}
fp16_amp = matrix.parametrize(precisions=("16-mixed",))
RUN_FLAGS = {
    "max_epochs": 1,
    "limit_train_batches": 3,
    "limit_val_batches": 0,
    "num_sanity_val_steps": 0,
}


def _fp16_cell(target: Target, device: str, precision: str) -> matrix.Cell:
    return matrix.require_cell(target, device, precision, exclude=CPU_FALLBACK)


def _fit(
    target: Target, make_trainer: Any, cell: matrix.Cell, inf_at: int | None = None, **flags: Any
) -> tuple[Any, Any]:
    model = scaler_model_class(target)(inf_at=inf_at)
    trainer = make_trainer(**cell.trainer_flags(), **{**RUN_FLAGS, **flags})
    trainer.fit(model)
    assert len(model.batches) == 3, f"{len(model.batches)} training steps ran, expected 3"
    return model, trainer


def _is_power_of_two(value: float) -> bool:
    return value > 0 and math.isfinite(value) and math.log2(value).is_integer()


def _all_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    if a.keys() != b.keys():
        return [f"gradients for {sorted(a)} vs {sorted(b)}"]
    return [name for name in a if not close(a[name], b[name])]


@clause(
    "SCALER-001",
    "trainer.scaler is a GradScaler exactly when the effective precision is 16-mixed on an "
    "accelerator, and None otherwise (bf16, -true, and 16-mixed falling back on CPU)",
    level="de-facto",
    source=facts("§5", "trainer.scaler gives the GradScaler or None; bf16-mixed has no scaler"),
    docs_say=SCALER_DOCS,
)
@matrix.parametrize()
def test_scaler_exists_only_for_fp16_amp(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    trainer = make_trainer(**cell.trainer_flags())
    assert hasattr(trainer, "scaler"), "the Trainer has no `scaler` attribute"
    scaler = trainer.scaler
    if semantics(device, precision).uses_scaler:
        assert isinstance(scaler, torch.amp.GradScaler), f"trainer.scaler is {scaler!r}"
    else:
        assert scaler is None, f"trainer.scaler is {scaler!r} under {cell.effective_precision}"


@clause(
    "SCALER-002",
    "on_before_backward receives the loss multiplied by the loss scale (a power of two > 1) under "
    "16-mixed on an accelerator, and the unscaled loss under every other precision",
    level="de-facto",
    source=AMP,
    docs_say=SCALER_DOCS,
)
@matrix.parametrize()
def test_loss_scaled_before_backward(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    model, _ = _fit(target, make_trainer, cell)
    ratios = [batch.loss_ratio for batch in model.batches]
    if semantics(device, precision).uses_scaler:
        wrong = [r for r in ratios if not (r > 1 and _is_power_of_two(r))]
        assert not wrong, f"loss ratios {ratios}: expected a loss scale (power of two > 1)"
    else:
        assert ratios == [1.0] * len(ratios), (
            f"the loss reaching on_before_backward was scaled by {ratios} without a GradScaler"
        )


@clause(
    "SCALER-003",
    "Under 16-mixed, the gradients in on_after_backward are the true gradients times the loss "
    "scale",
    level="de-facto",
    source=AMP,
    docs_say=SCALER_DOCS,
)
@fp16_amp
def test_grads_scaled_after_backward(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = _fp16_cell(target, device, precision)
    model, _ = _fit(target, make_trainer, cell)
    problems = []
    for i, batch in enumerate(model.batches):
        scaled = {k: g * batch.loss_ratio for k, g in batch.reference_grads.items()}
        wrong = _all_close(batch.after_backward, scaled)
        if wrong:
            problems.append(f"batch {i}: {wrong} are not the true gradients x {batch.loss_ratio}")
    assert not problems, "; ".join(problems)


@clause(
    "SCALER-004",
    "Under 16-mixed, the gradients are unscaled (the true gradients) by the time "
    "on_before_optimizer_step runs",
    level="de-facto",
    source=AMP,
    docs_say=SCALER_DOCS,
)
@fp16_amp
def test_grads_unscaled_before_optimizer_step(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = _fp16_cell(target, device, precision)
    model, _ = _fit(target, make_trainer, cell)
    problems = []
    for i, batch in enumerate(model.batches):
        wrong = _all_close(batch.before_optimizer_step, batch.reference_grads)
        if wrong:
            problems.append(f"batch {i}: {wrong} differ from the true (unscaled) gradients")
    assert not problems, "; ".join(problems)


def _clipped(grads: dict[str, torch.Tensor], max_norm: float) -> dict[str, torch.Tensor]:
    total = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g) for g in grads.values()])
    )
    factor = min(1.0, max_norm / (float(total) + 1e-6))
    return {name: g * factor for name, g in grads.items()}


@clause(
    "SCALER-005",
    "Under 16-mixed, gradient clipping applies to the unscaled gradients: the update is "
    "-lr x the true gradients clipped to gradient_clip_val",
    level="de-facto",
    source=facts(
        "§5",
        "unscale_ after the closure and before on_before_optimizer_step (so that "
        "gradient clipping sees unscaled gradients)",
    ),
    docs_say=SCALER_DOCS,
)
@fp16_amp
def test_clipping_on_unscaled_grads(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = _fp16_cell(target, device, precision)
    clip = 1e-4
    model, _ = _fit(target, make_trainer, cell, gradient_clip_val=clip)
    weights = model.initial_weights
    problems = []
    for i, batch in enumerate(model.batches):
        norm = float(
            torch.linalg.vector_norm(
                torch.cat([g.flatten() for g in batch.reference_grads.values()])
            )
        )
        assert norm > 10 * clip, f"batch {i}: gradient norm {norm} too small to test clipping"
        expected = {k: -LEARNING_RATE * g for k, g in _clipped(batch.reference_grads, clip).items()}
        wrong = _all_close(weight_delta(weights, batch.weights_after), expected)
        if wrong:
            problems.append(
                f"batch {i}: the update of {wrong} is not -lr x the clipped true gradients"
            )
        weights = batch.weights_after
    assert not problems, "; ".join(problems)


@clause(
    "SCALER-006",
    "Under 16-mixed, a batch with inf/nan gradients skips the optimizer update and lowers the loss "
    "scale; training then goes on",
    level="de-facto",
    source=AMP,
    docs_say=SCALER_DOCS,
)
@fp16_amp
def test_nonfinite_gradients_skip_the_step(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = _fp16_cell(target, device, precision)
    model, _ = _fit(target, make_trainer, cell, inf_at=1)
    first, infinite, last = model.batches
    changed = [
        k
        for k in first.weights_after
        if not torch.equal(first.weights_after[k], infinite.weights_after[k])
    ]
    assert not changed, f"the batch with an infinite loss still updated {changed}"
    # The infinite batch's own ratio is inf/inf; the scale before it is the first batch's.
    assert last.loss_ratio < first.loss_ratio, (
        f"the loss scale did not drop after the inf/nan batch ({first.loss_ratio} -> "
        f"{last.loss_ratio})"
    )
    moved = [
        k
        for k in last.weights_after
        if not torch.equal(last.weights_after[k], infinite.weights_after[k])
    ]
    assert moved, "the batch after the skipped step did not update the weights"
    assert all(torch.isfinite(w).all() for w in last.weights_after.values()), "weights not finite"


def _scaler_state(ckpt: dict[str, Any]) -> dict[str, Any]:
    assert "MixedPrecision" in ckpt, (
        f"no 'MixedPrecision' entry in the checkpoint; keys: {sorted(ckpt)}"
    )
    return ckpt["MixedPrecision"]


@clause(
    "SCALER-007",
    "Under 16-mixed, checkpoints hold the GradScaler state under 'MixedPrecision' and resuming "
    "from one restores the loss scale",
    level="de-facto",
    source=facts(
        "§1.2", 'key "MixedPrecision" with GradScaler state for precision="16-mixed" on CUDA'
    ),
    docs_say=SCALER_DOCS,
)
@fp16_amp
def test_scaler_state_in_checkpoint(
    target: Target, make_trainer: Any, tmp_path: Path, device: str, precision: str
) -> None:
    cell = _fp16_cell(target, device, precision)
    # The inf/nan batch halves the scale, so a restored scale differs from a fresh scaler's.
    model, trainer = _fit(target, make_trainer, cell, inf_at=1)
    path = tmp_path / "fp16.ckpt"
    trainer.save_checkpoint(str(path))
    saved = _scaler_state(torch.load(path, map_location="cpu", weights_only=False))
    assert saved == trainer.scaler.state_dict(), (
        f"checkpoint scaler state {saved} != trainer.scaler.state_dict() "
        f"{trainer.scaler.state_dict()}"
    )
    resumed = scaler_model_class(target)()
    make_trainer(**cell.trainer_flags(), **{**RUN_FLAGS, "max_epochs": 2}).fit(
        resumed, ckpt_path=str(path)
    )
    assert resumed.scale_at_train_start == saved["scale"], (
        f"resumed with loss scale {resumed.scale_at_train_start}, the checkpoint has "
        f"{saved['scale']}"
    )
