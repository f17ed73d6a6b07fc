"""CLIP: gradient clipping as the optimizer really applies it.

Clipping happens *after* ``on_before_optimizer_step``, so the applied gradients are read inside
the optimizer's own ``step`` (:class:`~conformance.kit.optim.RecordingSGD`) and compared with the
raw gradient recomputed in plain torch at the same parameters and batch.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from conformance.kit.citations import docs_silent
from conformance.kit.probe_models import FEATURES, OUTPUTS, linear_probe_class, make_batches
from conformance.kit.probe_models import probe_loss as loss_of
from conformance.registry import clause, facts, seed
from conformance.target import Target

CLIP_HOOKS = seed(
    "002", "Hooks", "on_before_optimizer_step() / configure_gradient_clipping() / optimizer_step()"
)
CLIP_SILENT = docs_silent("gradient_clip_val and gradient_clip_algorithm", "Hooks")
GOAL = 50.0  # far from the initial outputs, so raw gradient norms are in the hundreds
N_BATCHES = 3


def _clip_probe(target: Target, *, manual: bool = False, clip_override: Any = None) -> Any:
    base = linear_probe_class(target)

    class ClipProbe(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__(make_batches(N_BATCHES, seed=7), goal=GOAL)
            self.automatic_optimization = not manual
            self.before_step_grads: list[dict[str, torch.Tensor]] = []
            self.clip_calls: list[tuple[Any, Any]] = []

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.loss_of(batch)
            if manual:
                optimizer = self.optimizers()
                optimizer.zero_grad()
                self.manual_backward(loss)
                optimizer.step()
            return loss

        def on_before_optimizer_step(self, optimizer: Any) -> None:
            self.before_step_grads.append(
                {n: p.grad.detach().clone() for n, p in self.layer.named_parameters()}
            )

        if clip_override is not None:

            def configure_gradient_clipping(
                self,
                optimizer: Any,
                gradient_clip_val: Any = None,
                gradient_clip_algorithm: Any = None,
            ) -> None:
                self.clip_calls.append((gradient_clip_val, gradient_clip_algorithm))
                clip_override(self)

    return ClipProbe()


def _raw_gradients(model: Any) -> list[dict[str, torch.Tensor]]:
    """The unclipped gradient of each applied step, recomputed in plain torch."""
    raw = []
    for index, step in enumerate(model.optimizer.applied):
        layer = torch.nn.Linear(FEATURES, OUTPUTS)
        layer.load_state_dict(step.before)
        batch = model.train_batches[index % N_BATCHES]
        loss_of(layer, batch, GOAL).backward()
        raw.append({n: p.grad.detach().clone() for n, p in layer.named_parameters()})
    return raw


def _total_norm(grads: dict[str, torch.Tensor]) -> float:
    return float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads.values()])))


def _fit(make_trainer: Any, model: Any, **flags: Any) -> None:
    make_trainer(max_epochs=1, limit_val_batches=0, **flags).fit(model)


def _applied(model: Any) -> list[dict[str, torch.Tensor]]:
    steps = model.optimizer.applied
    assert len(steps) == N_BATCHES, f"expected {N_BATCHES} optimizer steps, observed {len(steps)}"
    return [step.grads for step in steps]  # type: ignore[misc]


@clause(
    "CLIP-001",
    "gradient_clip_val with 'norm' (the default) rescales the applied gradients to total norm <= "
    "the value",
    level="de-facto",
    source=facts("§2.9", "algorithm 'norm' (default) or 'value'"),
    docs_say=CLIP_SILENT,
)
@pytest.mark.parametrize("algorithm", [None, "norm"])
def test_norm_clipping(target: Target, make_trainer: Any, algorithm: str | None) -> None:
    model = _clip_probe(target)
    _fit(make_trainer, model, gradient_clip_val=1.0, gradient_clip_algorithm=algorithm)
    for index, (applied, raw) in enumerate(zip(_applied(model), _raw_gradients(model))):
        raw_norm = _total_norm(raw)
        assert raw_norm > 1.0, f"step {index}: the probe should produce a raw norm > 1, {raw_norm}"
        norm = _total_norm(applied)
        assert norm <= 1.0 + 1e-4, (
            f"step {index}, gradient_clip_val=1.0 ({algorithm or 'default'} algorithm): expected "
            f"applied total norm <= 1.0, observed {norm:.6f} (raw {raw_norm:.3f})"
        )
        for name, grad in raw.items():
            assert torch.allclose(applied[name], grad / raw_norm, rtol=1e-4, atol=1e-6), (
                f"step {index}: expected {name}'s gradient to be the raw one rescaled by "
                f"1/{raw_norm:.3f} (direction kept), observed {applied[name].flatten().tolist()}"
            )


@clause(
    "CLIP-002",
    "gradient_clip_algorithm='value' clamps every applied gradient element to [-value, value]",
    level="de-facto",
    source=facts("§2.9", "algorithm 'norm' (default) or 'value'"),
    docs_say=CLIP_SILENT,
)
def test_value_clipping(target: Target, make_trainer: Any) -> None:
    model = _clip_probe(target)
    _fit(make_trainer, model, gradient_clip_val=0.5, gradient_clip_algorithm="value")
    for index, (applied, raw) in enumerate(zip(_applied(model), _raw_gradients(model))):
        for name, grad in raw.items():
            want = grad.clamp(-0.5, 0.5)
            assert torch.allclose(applied[name], want, atol=1e-6), (
                f"step {index}, value clipping at 0.5: expected {name}'s gradient "
                f"{want.flatten().tolist()}, observed {applied[name].flatten().tolist()}"
            )


@clause(
    "CLIP-003",
    "without gradient_clip_val the optimizer applies the raw gradients",
    level="de-facto",
    source=facts(
        "§1.4",
        "default implementation calls clip_gradients, which is a no-op when the value is None/0",
    ),
    docs_say=CLIP_SILENT,
)
def test_no_clipping_by_default(target: Target, make_trainer: Any) -> None:
    model = _clip_probe(target)
    _fit(make_trainer, model)
    for index, (applied, raw) in enumerate(zip(_applied(model), _raw_gradients(model))):
        for name, grad in raw.items():
            assert torch.allclose(applied[name], grad, rtol=1e-5, atol=1e-5), (
                f"step {index}, no clipping configured: expected the raw gradient of {name} "
                f"(norm {grad.norm():.3f}), observed norm {applied[name].norm():.3f}"
            )


@clause(
    "CLIP-004",
    "on_before_optimizer_step sees the gradients before clipping",
    level="core",
    source=CLIP_HOOKS,
)
def test_hook_sees_unclipped(target: Target, make_trainer: Any) -> None:
    model = _clip_probe(target)
    _fit(make_trainer, model, gradient_clip_val=0.5, gradient_clip_algorithm="value")
    raw = _raw_gradients(model)
    assert len(model.before_step_grads) == len(raw), (
        f"expected on_before_optimizer_step once per step ({len(raw)}), observed "
        f"{len(model.before_step_grads)}"
    )
    for index, (seen, want) in enumerate(zip(model.before_step_grads, raw)):
        for name, grad in want.items():
            assert torch.allclose(seen[name], grad, rtol=1e-5, atol=1e-5), (
                f"step {index}: on_before_optimizer_step should see the unclipped gradient of "
                f"{name} (max |g| {grad.abs().max():.3f}), observed max |g| "
                f"{seen[name].abs().max():.3f}"
            )


@clause(
    "CLIP-005",
    "configure_gradient_clipping is called once per optimizer step, even with no clipping set",
    level="core",
    source=CLIP_HOOKS,
)
def test_configure_called_every_step(target: Target, make_trainer: Any) -> None:
    model = _clip_probe(target, clip_override=lambda module: None)
    _fit(make_trainer, model)
    assert len(model.clip_calls) == N_BATCHES, (
        f"expected configure_gradient_clipping {N_BATCHES} times (once per step), observed "
        f"{len(model.clip_calls)}"
    )


@clause(
    "CLIP-006",
    "configure_gradient_clipping receives the Trainer's gradient_clip_val and algorithm",
    level="de-facto",
    source=facts(
        "§1.4",
        "configure_gradient_clipping(optimizer, gradient_clip_val=trainer value, "
        "gradient_clip_algorithm=trainer value)",
    ),
    docs_say=CLIP_HOOKS,
)
@pytest.mark.parametrize("value, algorithm", [(0.5, "value"), (2.0, "norm"), (None, None)])
def test_override_receives_flags(
    target: Target, make_trainer: Any, value: float | None, algorithm: str | None
) -> None:
    model = _clip_probe(target, clip_override=lambda module: None)
    _fit(make_trainer, model, gradient_clip_val=value, gradient_clip_algorithm=algorithm)
    expected_algorithm = algorithm if value is not None else None
    assert model.clip_calls, "expected configure_gradient_clipping calls, observed none"
    for call in model.clip_calls:
        got_value, got_algorithm = call
        got_algorithm = (
            None if got_algorithm is None else str(getattr(got_algorithm, "value", got_algorithm))
        )
        assert (got_value, got_algorithm) == (value, expected_algorithm), (
            f"Trainer(gradient_clip_val={value}, gradient_clip_algorithm={algorithm!r}): expected "
            f"the override to receive ({value}, {expected_algorithm!r}), observed {call}"
        )


def _clamp_hundredth(module: Any) -> None:
    for p in module.parameters():
        if p.grad is not None:
            p.grad.clamp_(-0.01, 0.01)


@clause(
    "CLIP-007",
    "an overriding configure_gradient_clipping decides the clipping; the trainer adds none",
    level="de-facto",
    source=facts("§1.4", "default implementation calls clip_gradients"),
    docs_say=CLIP_HOOKS,
)
def test_override_replaces_clipping(target: Target, make_trainer: Any) -> None:
    model = _clip_probe(target, clip_override=_clamp_hundredth)
    _fit(make_trainer, model, gradient_clip_val=1e-4, gradient_clip_algorithm="value")
    for index, (applied, raw) in enumerate(zip(_applied(model), _raw_gradients(model))):
        for name, grad in raw.items():
            want = grad.clamp(-0.01, 0.01)
            assert torch.allclose(applied[name], want, atol=1e-7), (
                f"step {index}: the override clamps to +-0.01 and the Trainer value 1e-4 must not "
                f"apply on top: expected {name} {want.flatten().tolist()}, observed "
                f"{applied[name].flatten().tolist()}"
            )


@clause(
    "CLIP-008",
    "gradient_clip_val with manual optimization is an error, raised before training",
    level="de-facto",
    source=facts("§1.5", "Manual mode forbids Trainer(gradient_clip_val>0)"),
    docs_say=seed(
        "002",
        "Properties > automatic_optimization",
        "we do take care of precision and any accelerators used",
    ),
)
def test_manual_with_clipping(target: Target, make_trainer: Any) -> None:
    model = _clip_probe(target, manual=True)
    with pytest.raises(Exception) as raised:
        _fit(make_trainer, model, gradient_clip_val=1.0)
    assert model.optimizer is None or not model.optimizer.applied, (
        f"expected no optimizer step before the error, observed {len(model.optimizer.applied)}"
    )
    assert "clip" in str(raised.value).lower(), (
        f"expected the error to name gradient clipping, observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )


@clause(
    "CLIP-009",
    "an unknown gradient_clip_algorithm is an error naming it",
    level="de-facto",
    source=facts("§2.9", "algorithm valid (MisconfigurationException)"),
    docs_say=CLIP_SILENT,
)
def test_unknown_algorithm(target: Target, make_trainer: Any) -> None:
    model = _clip_probe(target)
    with pytest.raises(Exception) as raised:
        _fit(make_trainer, model, gradient_clip_val=1.0, gradient_clip_algorithm="biggest")
    assert "gradient_clip_algorithm" in str(raised.value) or "biggest" in str(raised.value), (
        f"expected the error to name the bad algorithm, observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )
