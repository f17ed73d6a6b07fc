"""PREC: what each precision does to parameters, inputs, computation, gradients and defaults.

Every clause runs the full device × precision matrix (:mod:`conformance.matrix`) and asserts on
the cell's probe run (:mod:`conformance.kit.dtype_probe`). Expected values come from
:mod:`conformance.kit.precisions` (facts §5, observed on Lightning 2.6). ``16-mixed`` on CPU is
run, not skipped: Lightning falls back to ``bf16-mixed`` there, so that cell expects bf16 autocast
(PRECVAL-006 checks the reported value and the warning).
"""

from __future__ import annotations

from typing import Any

import torch

from conformance import matrix
from conformance.kit.citations import docs_silent
from conformance.kit.dtype_probe import PHASES, ProbeRun, probe
from conformance.kit.precisions import semantics
from conformance.registry import clause, facts, seed

PRECISION_PROPERTY = seed("002", "Properties: precision", "The type of precision used")
PRECISION_PLUGIN = seed(
    "004",
    "Accelerator",
    "Each Accelerator gets two plugins upon initialization: One to handle differences from the "
    "training routine and one to handle different precisions.",
)
TRUE_HALF = facts(
    "§5",
    "'16-true'/'bf16-true' -> HalfPrecision: module cast to fp16/bf16, float "
    "inputs cast, default dtype switched inside the step context; no autocast",
)
MIXED = facts(
    "§5",
    "'16-mixed'/'bf16-mixed': params stay fp32; training_step/validation_step/"
    "test_step/predict_step run inside torch.autocast(device, dtype=float16|bfloat16); "
    "backward and optimizer step outside autocast",
)
DOUBLE = facts(
    "§5",
    "'64-true' -> DoublePrecision: module.double(), float inputs cast to float64, "
    "default dtype float64 inside steps",
)


def _steps(run: ProbeRun) -> list[Any]:
    missing = [phase for phase in PHASES if not run.steps.get(phase)]
    assert not missing, f"no {', '.join(missing)} step ran in the probe run"
    return [record for phase in PHASES for record in run.steps[phase]]


def _hooks(run: ProbeRun, *names: str) -> list[tuple[str, dict[str, Any]]]:
    found = [(name, record) for name in names for record in run.hook(name)]
    missing = [name for name in names if not run.hook(name)]
    assert not missing, f"{', '.join(missing)} not called in the probe run"
    return found


@clause(
    "PREC-001",
    "Parameters and floating-point buffers are kept in the precision's dtype in every step: "
    "float64 (64-true), float16 (16-true), bfloat16 (bf16-true), float32 otherwise",
    level="de-facto",
    source=(DOUBLE, TRUE_HALF, MIXED),
    docs_say=PRECISION_PROPERTY,
)
@matrix.parametrize()
def test_parameter_dtype(target: Any, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    expected = semantics(device, precision).param_dtype
    wrong = [
        f"{r.phase}: {name} is {dtype}"
        for r in _steps(probe(target, device, precision))
        for name, dtype in r.tensor_dtypes.items()
        if dtype != expected
    ]
    assert not wrong, f"expected {expected}: " + "; ".join(wrong)


@clause(
    "PREC-002",
    "Floating-point inputs reach every step cast to the precision's dtype for the -true "
    "precisions and unchanged (float32) for the mixed ones; integer inputs are never cast",
    level="de-facto",
    source=(DOUBLE, TRUE_HALF, MIXED),
    docs_say=PRECISION_PROPERTY,
)
@matrix.parametrize()
def test_input_dtype(target: Any, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    expected = {"x": semantics(device, precision).input_dtype, "idx": torch.int64}
    wrong = [
        f"{r.phase}: {r.input_dtypes}"
        for r in _steps(probe(target, device, precision))
        if r.input_dtypes != expected
    ]
    assert not wrong, f"expected inputs {expected}: " + "; ".join(wrong)


@clause(
    "PREC-003",
    "The precision's input cast happens before on_before_batch_transfer sees the batch",
    level="de-facto",
    source=facts(
        "§6 Data movement",
        "Per batch, before any batch hook: "
        "precision_plugin.convert_input(batch) -> on_before_batch_transfer(...)",
    ),
    docs_say=docs_silent("when inputs are cast to the precision"),
)
@matrix.parametrize()
def test_inputs_cast_before_transfer_hooks(target: Any, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    expected = {"x": semantics(device, precision).input_dtype, "idx": torch.int64}
    seen = _hooks(probe(target, device, precision), "on_before_batch_transfer")
    wrong = [str(rec["input_dtypes"]) for _, rec in seen if rec["input_dtypes"] != expected]
    assert not wrong, f"on_before_batch_transfer saw {wrong}, expected {expected}"


@clause(
    "PREC-004",
    "Every step runs under torch.autocast on the device with float16 (16-mixed) or bfloat16 "
    "(bf16-mixed, and 16-mixed on CPU), and without autocast for the -true precisions",
    level="de-facto",
    source=MIXED,
    docs_say=PRECISION_PROPERTY,
)
@matrix.parametrize()
def test_autocast_in_steps(target: Any, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    expected = semantics(device, precision).autocast_dtype
    wrong = [
        f"{r.phase}: autocast {r.autocast_dtype if r.autocast_enabled else 'off'}"
        for r in _steps(probe(target, device, precision))
        if r.autocast_enabled != (expected is not None) or r.autocast_dtype != expected
    ]
    assert not wrong, f"expected autocast {expected or 'off'}: " + "; ".join(wrong)


@clause(
    "PREC-005",
    "Inside every step a Linear layer's output and a loss reduced from it have the compute dtype: "
    "the autocast dtype for mixed precisions, the precision's dtype for -true ones",
    level="de-facto",
    source=(
        facts(
            "§5",
            "OBSERVED bf16-mixed on CPU: inputs fp32, params fp32, linear output bf16, "
            "autocast enabled",
        ),
        TRUE_HALF,
    ),
    docs_say=PRECISION_PROPERTY,
)
@matrix.parametrize()
def test_compute_dtype(target: Any, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    expected = semantics(device, precision).compute_dtype
    wrong = [
        f"{r.phase}: output {r.output_dtype}, loss {r.loss_dtype}"
        for r in _steps(probe(target, device, precision))
        if r.output_dtype != expected or r.loss_dtype != expected
    ]
    assert not wrong, f"expected {expected}: " + "; ".join(wrong)


@clause(
    "PREC-006",
    "Backward and the optimizer step run outside autocast: on_before_backward, on_after_backward "
    "and on_before_optimizer_step see autocast off",
    level="de-facto",
    source=MIXED,
    docs_say=docs_silent("autocast around backward and the optimizer step"),
)
@matrix.parametrize()
def test_backward_outside_autocast(target: Any, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    seen = _hooks(
        probe(target, device, precision),
        "on_before_backward",
        "on_after_backward",
        "on_before_optimizer_step",
    )
    wrong = sorted({name for name, record in seen if record["autocast_enabled"]})
    assert not wrong, f"autocast was on in {wrong}"


@clause(
    "PREC-007",
    "Gradients have the parameters' dtype and device in on_after_backward and "
    "on_before_optimizer_step (float32 under the mixed precisions)",
    level="de-facto",
    source=MIXED,
    docs_say=PRECISION_PLUGIN,
)
@matrix.parametrize()
def test_gradient_dtype(target: Any, device: str, precision: str) -> None:
    cell = matrix.require_cell(target, device, precision)
    expected = semantics(device, precision).param_dtype
    seen = _hooks(probe(target, device, precision), "on_after_backward", "on_before_optimizer_step")
    problems = []
    for name, record in seen:
        if not record["grad_dtypes"]:
            problems.append(f"{name}: no parameter has a gradient")
        problems += [
            f"{name}: {p}.grad is {d}" for p, d in record["grad_dtypes"].items() if d != expected
        ]
        problems += [
            f"{name}: {p}.grad on {d}"
            for p, d in record["grad_devices"].items()
            if d.type != cell.device_type
        ]
    assert not problems, f"expected {expected} on {cell.device_type}: " + "; ".join(problems)


@clause(
    "PREC-008",
    "Inside every step the default dtype is the precision's dtype for the -true precisions "
    "(tensors created there match the weights) and float32 for the mixed ones",
    level="de-facto",
    source=(DOUBLE, TRUE_HALF),
    docs_say=PRECISION_PROPERTY,
)
@matrix.parametrize()
def test_default_dtype_in_steps(target: Any, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    expected = semantics(device, precision).default_dtype_in_step
    wrong = [
        f"{r.phase}: {r.default_dtype}"
        for r in _steps(probe(target, device, precision))
        if r.default_dtype != expected
    ]
    assert not wrong, f"expected default dtype {expected}: " + "; ".join(wrong)


@clause(
    "PREC-009",
    "A run leaves the process's default dtype as it found it (float32)",
    level="de-facto",
    source=facts("§5", "default dtype switched inside the step context"),
    docs_say=docs_silent("the global default dtype"),
)
@matrix.parametrize()
def test_default_dtype_restored(target: Any, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    after = probe(target, device, precision).after_fit["default_dtype"]
    assert after == torch.float32, f"after fit the default dtype is {after}"


@clause(
    "PREC-010",
    "Training under the precision updates the weights and leaves them in the precision's "
    "parameter dtype",
    level="de-facto",
    source=(
        facts("§5", "Params stay fp32 (mixed); module cast (-true)"),
        seed("004", "Accelerator.optimizer_step", "performs the actual optimizer step"),
    ),
    docs_say=PRECISION_PROPERTY,
)
@matrix.parametrize()
def test_training_updates_weights(target: Any, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    run = probe(target, device, precision)
    expected = semantics(device, precision).param_dtype
    assert run.weights_before is not None and run.weights_after is not None
    assert not torch.equal(run.weights_before, run.weights_after), (
        "two optimizer steps left the weights unchanged"
    )
    assert torch.isfinite(run.weights_after).all(), "the weights are not finite after training"
    dtypes = run.after_fit["tensor_dtypes"]
    wrong = {name: dtype for name, dtype in dtypes.items() if dtype != expected}
    assert not wrong, f"after fit expected {expected}, found {wrong}"
