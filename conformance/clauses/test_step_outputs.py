"""RET: what training_step may return, and what on_train_batch_end receives as ``outputs``.

The loss a trainer backpropagates is observed through the gradients the optimizer applies
(:class:`~conformance.kit.optim.RecordingSGD`), compared with plain torch.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from conformance.kit.citations import docs_silent
from conformance.kit.optim import expected_sgd
from conformance.kit.probe_models import linear_probe_class, make_batches, probe_loss
from conformance.registry import clause, facts, seed
from conformance.target import Target

RETURN_LOSS = seed(
    "002", "Training > Training Loop", "loss = torch.nn.functional.nll_loss(...) / return loss"
)
RETURN_FORMS_SILENT = docs_silent(
    "training_step return values other than a loss tensor", "Training > Training Loop"
)
OUTPUTS_SILENT = docs_silent("the outputs argument of on_train_batch_end", "Hooks")
MISSING = object()


def _returning(target: Target, shape: Any, *, n_batches: int = 2, manual: bool = False) -> Any:
    """A linear probe whose training_step returns ``shape(loss)`` and records the outputs."""
    base = linear_probe_class(target)

    class Returning(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__(make_batches(n_batches, seed=5))
            self.automatic_optimization = not manual
            self.returned: list[Any] = []
            self.outputs: list[Any] = []

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.loss_of(batch)
            if manual:
                optimizer = self.optimizers()
                optimizer.zero_grad()
                self.manual_backward(loss)
                optimizer.step()
            value = shape(loss)
            self.returned.append(value)
            return value

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            self.outputs.append(outputs)

    return Returning()


def _fit(make_trainer: Any, model: Any, **flags: Any) -> Any:
    trainer = make_trainer(max_epochs=1, limit_val_batches=0, **flags)
    trainer.fit(model)
    return trainer


def _check_backpropagated(model: Any, initial: Any, scale: float, what: str) -> None:
    expected = expected_sgd(
        initial,
        model.train_batches,
        [[i] for i in range(len(model.train_batches))],
        lr=model.lr,
        loss_fn=lambda layer, batch: scale * probe_loss(layer, batch),
    )
    applied = model.optimizer.applied
    assert len(applied) == len(expected), (
        f"{what}: expected {len(expected)} optimizer steps, observed {len(applied)}"
    )
    for number, (got, want) in enumerate(zip(applied, expected)):
        for name, grad in want.grads.items():
            observed = got.grads[name]
            assert observed is not None and torch.allclose(observed, grad, atol=1e-6), (
                f"{what}: step {number} should apply the gradient of the returned loss for {name}: "
                f"{grad.flatten().tolist()}, observed "
                f"{None if observed is None else observed.flatten().tolist()}"
            )


@clause(
    "RET-001",
    "a Tensor returned by training_step is the loss that is backpropagated",
    level="core",
    source=RETURN_LOSS,
)
def test_tensor_is_the_loss(target: Target, make_trainer: Any) -> None:
    model = _returning(target, lambda loss: 3.0 * loss)
    initial = model.initial_layer()
    _fit(make_trainer, model)
    _check_backpropagated(model, initial, 3.0, "training_step returns 3 * loss")


@clause(
    "RET-002",
    "a dict returned by training_step has its 'loss' entry backpropagated",
    level="de-facto",
    source=facts("§2.6", "Mapping -> must contain key 'loss'"),
    docs_say=RETURN_FORMS_SILENT,
)
def test_dict_loss_is_the_loss(target: Target, make_trainer: Any) -> None:
    model = _returning(target, lambda loss: {"loss": 2.0 * loss, "other": 10.0 * loss})
    initial = model.initial_layer()
    _fit(make_trainer, model)
    _check_backpropagated(model, initial, 2.0, "training_step returns {'loss': 2 * loss, ...}")


@clause(
    "RET-003",
    "on_train_batch_end receives the returned dict's extra keys unchanged next to 'loss'",
    level="de-facto",
    source=facts("§2.6", "outputs passed to on_train_batch_end = {'loss': ..., **extras}"),
    docs_say=OUTPUTS_SILENT,
)
def test_dict_extras_reach_batch_end(target: Target, make_trainer: Any) -> None:
    marker = object()
    model = _returning(target, lambda loss: {"loss": loss, "tag": marker, "n": 7})
    _fit(make_trainer, model)
    assert len(model.outputs) == 2, f"expected 2 on_train_batch_end calls, got {len(model.outputs)}"
    for index, outputs in enumerate(model.outputs):
        assert isinstance(outputs, dict) and set(outputs) == {"loss", "tag", "n"}, (
            f"batch {index}: expected outputs with keys loss, tag, n; observed {outputs!r}"
        )
        assert outputs["tag"] is marker and outputs["n"] == 7, (
            f"batch {index}: expected the extras unchanged (tag=<the same object>, n=7), "
            f"observed tag={outputs['tag']!r}, n={outputs['n']!r}"
        )


@clause(
    "RET-004",
    "training_step returning None skips the update but the batch still counts as an optimizer step",
    level="de-facto",
    source=facts("§2.6", "None -> step skipped ... global_step still increments"),
    docs_say=RETURN_FORMS_SILENT,
)
def test_none_skips_update(target: Target, make_trainer: Any) -> None:
    model = _returning(target, lambda loss: None, n_batches=3)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = _fit(make_trainer, model)
    after = dict(model.named_parameters())
    changed = [n for n, p in after.items() if not torch.equal(p.detach(), before[n])]
    assert not changed, (
        f"training_step returned None: expected no parameter change, {changed} changed"
    )
    assert trainer.global_step == 3, (
        f"training_step returned None on 3 batches: expected global_step 3, "
        f"observed {trainer.global_step}"
    )


@clause(
    "RET-005",
    "when training_step returns None, on_train_batch_end receives outputs == {}",
    level="de-facto",
    source=facts("§2.6", "If the step returned None, outputs == {}"),
    docs_say=OUTPUTS_SILENT,
)
def test_none_outputs_empty(target: Target, make_trainer: Any) -> None:
    model = _returning(target, lambda loss: None)
    _fit(make_trainer, model)
    assert model.outputs == [{}, {}], f"expected outputs [{{}}, {{}}], observed {model.outputs!r}"


@clause(
    "RET-006",
    "a dict without 'loss' returned in automatic optimization is an error naming 'loss'",
    level="de-facto",
    source=facts("§2.6", "Mapping -> must contain key 'loss' (else MisconfigurationException)"),
    docs_say=RETURN_FORMS_SILENT,
)
def test_dict_without_loss(target: Target, make_trainer: Any) -> None:
    model = _returning(target, lambda loss: {"total": loss})
    with pytest.raises(Exception) as raised:
        _fit(make_trainer, model)
    assert "loss" in str(raised.value), (
        f"expected an error naming the missing 'loss' key, observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )
    assert model.optimizer is None or not model.optimizer.applied, (
        f"expected no optimizer step before the error, observed {len(model.optimizer.applied)}"
    )


@clause(
    "RET-007",
    "any other training_step return type is an error naming training_step",
    level="de-facto",
    source=facts("§2.6", "Any other type -> MisconfigurationException"),
    docs_say=RETURN_FORMS_SILENT,
)
@pytest.mark.parametrize("manual", [False, True], ids=["automatic", "manual"])
@pytest.mark.parametrize(
    "shape",
    [lambda loss: 1.5, lambda loss: [loss], lambda loss: "loss"],
    ids=["float", "list", "str"],
)
def test_other_return_types(target: Target, make_trainer: Any, shape: Any, manual: bool) -> None:
    model = _returning(target, shape, manual=manual)
    with pytest.raises(Exception) as raised:
        _fit(make_trainer, model)
    assert "training_step" in str(raised.value), (
        f"training_step returned {model.returned[-1]!r}: expected an error naming training_step, "
        f"observed {type(raised.value).__name__}: {raised.value}"
    )


@clause(
    "RET-008",
    "on_train_batch_end's outputs['loss'] is the returned loss / accumulate_grad_batches, detached",
    level="de-facto",
    source=facts("§2.6", "{'loss': <normalized loss, detached clone>, **extras}"),
    docs_say=OUTPUTS_SILENT,
)
@pytest.mark.parametrize("accumulate", [1, 2])
def test_outputs_loss_normalised(target: Target, make_trainer: Any, accumulate: int) -> None:
    model = _returning(target, lambda loss: loss, n_batches=4)
    _fit(make_trainer, model, accumulate_grad_batches=accumulate)
    assert len(model.outputs) == 4, f"expected 4 on_train_batch_end calls, got {len(model.outputs)}"
    for index, (returned, outputs) in enumerate(zip(model.returned, model.outputs)):
        loss = outputs.get("loss") if isinstance(outputs, dict) else None
        assert isinstance(loss, torch.Tensor), (
            f"batch {index}: expected outputs['loss'] to be a tensor, observed {outputs!r}"
        )
        want = returned.detach() / accumulate
        assert torch.allclose(loss, want), (
            f"batch {index}, accumulate_grad_batches={accumulate}: expected outputs['loss'] = "
            f"{want.item():.6f} (returned / {accumulate}), observed {loss.item():.6f}"
        )
        assert not loss.requires_grad, (
            f"batch {index}: expected outputs['loss'] detached, observed requires_grad=True"
        )


@clause(
    "RET-009",
    "manual optimization: a Tensor, a dict or None may be returned; outputs hold them detached",
    level="de-facto",
    source=facts(
        "§2.6",
        "Manual optimization: Tensor -> {'loss': t.detach()}; Mapping -> shallow "
        "copy with 'loss' detached; None -> {}",
    ),
    docs_say=seed("002", "Properties > automatic_optimization", "loss = ... / opt.step()"),
)
@pytest.mark.parametrize("form", ["tensor", "dict", "none"])
def test_manual_returns(target: Target, make_trainer: Any, form: str) -> None:
    shapes = {
        "tensor": lambda loss: loss,
        "dict": lambda loss: {"loss": loss, "n": 3},
        "none": lambda loss: None,
    }
    model = _returning(target, shapes[form], manual=True)
    _fit(make_trainer, model)
    assert len(model.outputs) == 2, f"expected 2 on_train_batch_end calls, got {len(model.outputs)}"
    for index, (returned, outputs) in enumerate(zip(model.returned, model.outputs)):
        if form == "none":
            assert outputs == {}, f"batch {index}: returned None, expected {{}}, got {outputs!r}"
            continue
        loss = returned if form == "tensor" else returned["loss"]
        extras = {} if form == "tensor" else {"n": 3}
        assert isinstance(outputs, dict) and set(outputs) == {"loss", *extras}, (
            f"batch {index} ({form}): expected outputs keys {{'loss', *{sorted(extras)}}}, "
            f"observed {outputs!r}"
        )
        assert torch.equal(outputs["loss"], loss.detach()) and not outputs["loss"].requires_grad, (
            f"batch {index} ({form}): expected outputs['loss'] == the returned loss, detached; "
            f"observed {outputs['loss']!r}"
        )
        assert all(outputs[k] == v for k, v in extras.items()), (
            f"batch {index} ({form}): expected extras {extras}, observed {outputs!r}"
        )


@clause(
    "RET-010",
    "validation_step's return value reaches on_validation_batch_end as the same object",
    level="de-facto",
    source=facts("§2.6", "validation_step/test_step outputs are passed as-is to on_*_batch_end"),
    docs_say=seed(
        "002",
        "Hooks",
        "out = validation_step(batch, batch_idx) / on_validation_batch_end(out, batch, batch_idx)",
    ),
)
def test_validation_outputs_as_is(target: Target, make_trainer: Any) -> None:
    base = linear_probe_class(target)

    class EvalOutputs(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__(make_batches(1), val_batches=make_batches(3, seed=9))
            self.pairs: list[tuple[Any, Any]] = []

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            out = {"value": self.loss_of(batch), "marker": object()}
            self.pairs.append((out, None))
            return out

        def on_validation_batch_end(
            self, outputs: Any, batch: Any, batch_idx: int, *_: Any
        ) -> None:
            out, _seen = self.pairs[-1]
            self.pairs[-1] = (out, outputs)

    model = EvalOutputs()
    make_trainer().validate(model)
    assert len(model.pairs) == 3, f"expected 3 validation batches, observed {len(model.pairs)}"
    for index, (returned, received) in enumerate(model.pairs):
        assert received is returned, (
            f"validation batch {index}: expected on_validation_batch_end to receive the returned "
            f"object {returned!r}, observed {received!r}"
        )
