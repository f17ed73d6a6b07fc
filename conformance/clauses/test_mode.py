"""MODE: train/eval mode and autograd mode inside each step and stage hook.

The probe model has a trainable ``layer`` and a ``frozen`` submodule (a Dropout) the user put in
eval mode; it records :func:`~conformance.kit.state.module_modes` and
:func:`~conformance.kit.state.grad_mode` from inside the steps and the ``on_*_start`` hooks.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from conformance.kit.citations import docs_silent
from conformance.kit.models import boring_model_class
from conformance.kit.state import grad_mode, module_modes
from conformance.registry import clause, facts, seed
from conformance.target import Target

TRAIN_GRAD = seed("002", "Training > Training Loop", "# enable gradient calculation")
VAL_LOOP = seed(
    "002",
    "Validation > Validation Loop",
    "# disable grads + batchnorm + dropout / torch.set_grad_enabled(False) / model.eval()",
)
VAL_LOOP_RESTORE = seed(
    "002",
    "Validation > Validation Loop",
    "# enable grads + batchnorm + dropout / torch.set_grad_enabled(True) / model.train()",
)
PREDICT_LOOP = seed(
    "002",
    "Inference > Prediction Loop",
    "# disable grads + batchnorm + dropout / torch.set_grad_enabled(False) / model.eval()",
)
TEST_LOOP = seed(
    "002",
    "Testing > Test Loop",
    "The process for enabling a test loop is the same as the process for enabling a "
    "validation loop",
)
HOOKS_VAL_LOOP = seed(
    "002", "Hooks", "def val_loop(): on_validation_model_eval()  # calls `model.eval()` ..."
)
STAGES = ("validate", "test", "predict")
STEP_OF = {"validate": "validation_step", "test": "test_step", "predict": "predict_step"}
START_OF = {
    "validate": "on_validation_start",
    "test": "on_test_start",
    "predict": "on_predict_start",
}


def _mode_probe(target: Target, *, frozen: bool = True, batches: int = 3) -> Any:
    """A model recording (what, sanity_checking, grad mode, module modes) from steps and hooks."""
    base = boring_model_class(target)

    class ModeProbe(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__(batches=batches)
            self.frozen = torch.nn.Dropout(0.5)
            if frozen:
                self.frozen.eval()
            self.seen: list[tuple[str, bool, Any, dict[str, bool]]] = []

        def _record(self, what: str) -> None:
            try:
                trainer = self.trainer
            except Exception:  # not attached (yet): no sanity check can be running
                trainer = None
            sanity = bool(getattr(trainer, "sanity_checking", False))
            self.seen.append((what, sanity, grad_mode(), module_modes(self)))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self._record("training_step")
            return super().training_step(batch, batch_idx)

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            self._record("validation_step")
            return super().validation_step(batch, batch_idx)

        def test_step(self, batch: Any, batch_idx: int) -> Any:
            self._record("test_step")
            return super().test_step(batch, batch_idx)

        def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            self._record("predict_step")
            return self(batch)

        def on_train_start(self) -> None:
            self._record("on_train_start")

        def on_validation_start(self) -> None:
            self._record("on_validation_start")

        def on_test_start(self) -> None:
            self._record("on_test_start")

        def on_predict_start(self) -> None:
            self._record("on_predict_start")

        def records(self, what: str) -> list[tuple[bool, Any, dict[str, bool]]]:
            return [(s, g, m) for w, s, g, m in self.seen if w == what]

    return ModeProbe()


def _fit(make_trainer: Any, model: Any, **flags: Any) -> Any:
    flags = {"max_epochs": 1, "limit_val_batches": 1, **flags}
    trainer = make_trainer(**flags)
    trainer.fit(model)
    return trainer


def _run_stage(make_trainer: Any, model: Any, stage: str, **flags: Any) -> None:
    getattr(make_trainer(**flags), stage)(model)


@clause(
    "MODE-001",
    "training_step runs with gradients enabled, even when fit is called under torch.no_grad()",
    level="core",
    source=TRAIN_GRAD,
)
def test_training_step_grad_enabled(target: Target, make_trainer: Any) -> None:
    model = _mode_probe(target)
    with torch.no_grad():
        _fit(make_trainer, model)
    modes = [g for _, g, _ in model.records("training_step")]
    assert modes, "expected training_step calls, observed none"
    bad = [g.describe() for g in modes if not g.grad_enabled or g.inference_mode]
    assert not bad, f"expected every training_step with grad enabled, observed {bad}"


@clause(
    "MODE-002",
    "fit never calls .train(): a module left in eval mode before fit trains in eval mode",
    level="de-facto",
    source=facts("§1.13", "a model left in .eval() before fit trains in eval mode"),
    docs_say=VAL_LOOP_RESTORE,
)
def test_fit_keeps_eval_module_in_eval(target: Target, make_trainer: Any) -> None:
    model = _mode_probe(target)
    model.eval()
    _fit(make_trainer, model, limit_val_batches=0)
    observed = [m for _, _, m in model.records("training_step")]
    assert observed, "expected training_step calls, observed none"
    trained = [m for m in observed if any(m.values())]
    assert not trained, (
        f"expected every submodule still in eval mode in training_step, observed {trained[0]}"
    )


@clause(
    "MODE-003",
    "a submodule in eval mode stays in eval mode during training, after in-fit validation and "
    "after fit",
    level="de-facto",
    source=facts("§2.7", "Frozen submodules stay in eval mode during training"),
    docs_say=VAL_LOOP_RESTORE,
)
def test_frozen_submodule_stays_eval(target: Target, make_trainer: Any) -> None:
    model = _mode_probe(target)
    before = module_modes(model)
    # validation after every batch, so most training steps follow a validation run
    _fit(make_trainer, model, val_check_interval=1)
    observed = [m for _, _, m in model.records("training_step")]
    assert len(observed) == 3, f"expected 3 training steps, observed {len(observed)}"
    for index, modes in enumerate(observed):
        assert modes == before, (
            f"training_step {index}: expected the modes set before fit {before}, observed {modes}"
        )
    after = module_modes(model)
    assert after == before, (
        f"after fit: expected the modes set before fit {before}, observed {after}"
    )


@clause(
    "MODE-004",
    "after in-fit validation, training resumes with gradients enabled and the module in train mode",
    level="core",
    source=VAL_LOOP_RESTORE,
)
def test_training_resumes_after_validation(target: Target, make_trainer: Any) -> None:
    model = _mode_probe(target, frozen=False)
    _fit(make_trainer, model, val_check_interval=1)
    steps = model.records("training_step")
    assert len(steps) == 3, f"expected 3 training steps, observed {len(steps)}"
    for index, (_, grads, modes) in enumerate(steps[1:], start=1):
        assert grads.grad_enabled and not grads.inference_mode, (
            f"training_step {index} (after a validation run): expected grad enabled, "
            f"observed {grads.describe()}"
        )
        assert all(modes.values()), (
            f"training_step {index} (after a validation run): expected train mode everywhere, "
            f"observed {modes}"
        )


@clause(
    "MODE-005",
    "validation_step inside fit (sanity check included) runs in eval mode with gradients disabled",
    level="core",
    source=VAL_LOOP,
)
def test_fit_validation_eval_no_grad(target: Target, make_trainer: Any) -> None:
    model = _mode_probe(target, frozen=False)
    _fit(make_trainer, model, num_sanity_val_steps=1)
    steps = model.records("validation_step")
    assert any(s for s, _, _ in steps), "expected a sanity-check validation_step, observed none"
    assert any(not s for s, _, _ in steps), "expected an in-fit validation_step, observed none"
    for sanity, grads, modes in steps:
        where = "sanity check" if sanity else "in-fit validation"
        assert not grads.grad_enabled, f"{where}: expected grad disabled, observed grad enabled"
        assert not any(modes.values()), f"{where}: expected eval mode everywhere, observed {modes}"


@clause(
    "MODE-006",
    "validation inside fit disables gradients with no_grad, not inference_mode",
    level="de-facto",
    source=facts("§1.13", "code uses torch.no_grad() for validation inside fit"),
    docs_say=VAL_LOOP,
)
def test_fit_validation_not_inference_mode(target: Target, make_trainer: Any) -> None:
    model = _mode_probe(target, frozen=False)
    _fit(make_trainer, model, num_sanity_val_steps=1)
    steps = model.records("validation_step")
    assert steps, "expected validation_step calls, observed none"
    bad = [g.describe() for _, g, _ in steps if g.inference_mode or g.grad_enabled]
    assert not bad, f"expected no_grad (not inference_mode) in fit's validation, observed {bad}"


@clause(
    "MODE-007",
    "standalone validate/test/predict run their steps in eval mode with gradients disabled",
    level="core",
    source=(VAL_LOOP, TEST_LOOP, PREDICT_LOOP),
)
@pytest.mark.parametrize("stage", STAGES)
def test_standalone_eval_no_grad(target: Target, make_trainer: Any, stage: str) -> None:
    model = _mode_probe(target, frozen=False)
    _run_stage(make_trainer, model, stage)
    steps = model.records(STEP_OF[stage])
    assert steps, f"expected {STEP_OF[stage]} calls, observed none"
    for _, grads, modes in steps:
        assert not grads.grad_enabled, f"{stage}: expected grad disabled, observed grad enabled"
        assert not any(modes.values()), f"{stage}: expected eval mode everywhere, observed {modes}"


@clause(
    "MODE-008",
    "standalone validate/test/predict run under torch.inference_mode() by default",
    level="de-facto",
    source=facts(
        "§1.13",
        "torch.inference_mode() for validate/test/predict when "
        "Trainer(inference_mode=True) (default)",
    ),
    docs_say=PREDICT_LOOP,
)
@pytest.mark.parametrize("stage", STAGES)
def test_standalone_inference_mode(target: Target, make_trainer: Any, stage: str) -> None:
    model = _mode_probe(target, frozen=False)
    _run_stage(make_trainer, model, stage)
    modes = [g for _, g, _ in model.records(STEP_OF[stage])]
    assert modes, f"expected {STEP_OF[stage]} calls, observed none"
    bad = [g.describe() for g in modes if not g.inference_mode]
    assert not bad, f"{stage} with default Trainer: expected inference_mode, observed {bad}"


@clause(
    "MODE-009",
    "with Trainer(inference_mode=False) validate/test/predict use no_grad, not inference_mode",
    level="de-facto",
    source=facts("§2.7", "no_grad when inference_mode=False"),
    docs_say=PREDICT_LOOP,
)
@pytest.mark.parametrize("stage", STAGES)
def test_standalone_no_grad_flag(target: Target, make_trainer: Any, stage: str) -> None:
    model = _mode_probe(target, frozen=False)
    _run_stage(make_trainer, model, stage, inference_mode=False)
    modes = [g for _, g, _ in model.records(STEP_OF[stage])]
    assert modes, f"expected {STEP_OF[stage]} calls, observed none"
    bad = [g.describe() for g in modes if g.inference_mode or g.grad_enabled]
    assert not bad, f"{stage} with inference_mode=False: expected no_grad, observed {bad}"


@clause(
    "MODE-010",
    "standalone validate/test/predict restore every submodule's mode afterwards",
    level="de-facto",
    source=facts("§2.7", "afterwards restores the captured flags"),
    docs_say=VAL_LOOP_RESTORE,
)
@pytest.mark.parametrize("stage", STAGES)
def test_standalone_restores_modes(target: Target, make_trainer: Any, stage: str) -> None:
    model = _mode_probe(target)
    before = module_modes(model)
    _run_stage(make_trainer, model, stage)
    assert model.records(STEP_OF[stage]), f"expected {STEP_OF[stage]} calls, observed none"
    after = module_modes(model)
    assert after == before, f"after {stage}: expected modes {before}, observed {after}"


@clause(
    "MODE-011",
    "on_validation_start/on_test_start/on_predict_start see the module in eval mode",
    level="core",
    source=(HOOKS_VAL_LOOP, TEST_LOOP, PREDICT_LOOP),
)
@pytest.mark.parametrize("stage", ("fit", *STAGES))
def test_stage_start_sees_eval(target: Target, make_trainer: Any, stage: str) -> None:
    model = _mode_probe(target, frozen=False)
    if stage == "fit":
        _fit(make_trainer, model, num_sanity_val_steps=0)
        hook = "on_validation_start"
    else:
        _run_stage(make_trainer, model, stage)
        hook = START_OF[stage]
    seen = model.records(hook)
    assert seen, f"{stage}: expected {hook} calls, observed none"
    for _, _, modes in seen:
        assert not any(modes.values()), f"{stage}: {hook} expected eval mode, observed {modes}"


@clause(
    "MODE-012",
    "on_train_start sees the modes the module had before fit (the sanity check restored them)",
    level="de-facto",
    source=facts("§2.7", "self.training True in on_train_start"),
    docs_say=docs_silent("the module's mode in on_train_start", "Hooks"),
)
def test_train_start_sees_train_mode(target: Target, make_trainer: Any) -> None:
    model = _mode_probe(target)
    before = module_modes(model)
    _fit(make_trainer, model, num_sanity_val_steps=1)
    seen = model.records("on_train_start")
    assert len(seen) == 1, f"expected on_train_start once, observed {len(seen)} calls"
    assert seen[0][2] == before, f"on_train_start: expected modes {before}, observed {seen[0][2]}"
