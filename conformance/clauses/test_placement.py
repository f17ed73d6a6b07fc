"""PLACE: the model is on the target device (and in the precision's dtype) without user calls.

Clauses follow the matrix convention of :mod:`conformance.matrix`. Most assert on the cell's
probe run (:mod:`conformance.kit.dtype_probe`): a fit of two training batches and one validation
batch, then one test and one predict batch, recording placement in every hook that matters.
"""

from __future__ import annotations

from typing import Any

import torch

from conformance import matrix
from conformance.kit.citations import docs_silent
from conformance.kit.dtype_probe import PHASES, ProbeRun, probe
from conformance.kit.precisions import semantics
from conformance.registry import clause, facts, seed
from conformance.target import Target

NO_TO_CALLS = seed(
    "002",
    "LightningModule (introduction)",
    "There are no .cuda() or .to(device) calls required. Lightning does these for you.",
)
SAME_DEVICE = seed(
    "001",
    "Device Management in PyTorch",
    "When a model is transferred to a GPU using the to() function, all its parameters and "
    "buffers are moved to the specified GPU.",
)
SELF_DEVICE = seed(
    "002",
    "Properties: device",
    "The device the module is on. Use it to keep your code device agnostic. "
    "z = torch.rand(2, 3, device=self.device)",
)


def _wrong_devices(where: str, devices: dict[str, torch.device], device_type: str) -> list[str]:
    return [f"{where}: {name} on {dev}" for name, dev in devices.items() if dev.type != device_type]


def _cpu_problems(where: str, devices: dict[str, torch.device]) -> list[str]:
    return [f"{where}: {name} on {dev}" for name, dev in devices.items() if dev.type != "cpu"]


def _step_records(run: ProbeRun) -> list[Any]:
    missing = [phase for phase in PHASES if not run.steps.get(phase)]
    assert not missing, f"no {', '.join(missing)} step ran in the probe run"
    return [record for phase in PHASES for record in run.steps[phase]]


@clause(
    "PLACE-001",
    "Parameters and buffers are on the target device when configure_optimizers runs and in every "
    "training, validation, test and predict step",
    level="core",
    source=(NO_TO_CALLS, SAME_DEVICE),
)
@matrix.parametrize()
def test_model_on_device(target: Target, device: str, precision: str) -> None:
    cell = matrix.require_cell(target, device, precision)
    run = probe(target, device, precision)
    configured = run.hook("configure_optimizers")
    assert configured, "configure_optimizers was not called"
    problems = _wrong_devices(
        "configure_optimizers", configured[0]["tensor_devices"], cell.device_type
    )
    for record in _step_records(run):
        problems += _wrong_devices(f"{record.phase} step", record.tensor_devices, cell.device_type)
    assert not problems, "; ".join(problems)


@clause(
    "PLACE-002",
    "self.device in every step is the parameters' device, and a tensor created on self.device "
    "works with the weights",
    level="core",
    source=SELF_DEVICE,
)
@matrix.parametrize()
def test_self_device_in_steps(target: Target, device: str, precision: str) -> None:
    cell = matrix.require_cell(target, device, precision)
    problems = []
    for record in _step_records(probe(target, device, precision)):
        weight_device = record.tensor_devices["layer.weight"]
        if not isinstance(record.self_device, torch.device):
            problems.append(f"{record.phase}: self.device is {record.self_device!r}")
        elif record.self_device.type != cell.device_type or (
            record.self_device.type != weight_device.type
        ):
            problems.append(
                f"{record.phase}: self.device {record.self_device}, weights on {weight_device}"
            )
        if record.self_device_error:
            problems.append(
                f"{record.phase}: torch.rand(..., device=self.device) failed with the "
                f"weights: {record.self_device_error}"
            )
    assert not problems, "; ".join(problems)


@clause(
    "PLACE-003",
    "self.device already reports the target device inside setup()",
    level="de-facto",
    source=facts(
        "§1.1",
        "self.device already reports the final device inside setup while "
        "parameters are still on CPU",
    ),
    docs_say=docs_silent("what self.device reports inside setup()"),
)
@matrix.parametrize(precisions=("32-true",))
def test_self_device_in_setup(target: Target, device: str, precision: str) -> None:
    cell = matrix.require_cell(target, device, precision)
    setups = probe(target, device, precision).hook("setup")
    assert setups, "setup was not called"
    wrong = [
        f"setup(stage={s['stage']!r}): self.device is {s['self_device']}"
        for s in setups
        if getattr(s["self_device"], "type", None) != cell.device_type
    ]
    assert not wrong, "; ".join(wrong)


@clause(
    "PLACE-004",
    "self.dtype in every step reports the parameters' dtype (float64 under 64-true, "
    "float16/bfloat16 under 16-true/bf16-true, float32 under 32-true and the mixed precisions)",
    level="de-facto",
    source=facts("§5", "LightningModule.dtype reflects the module dtype"),
    docs_say=docs_silent("LightningModule.dtype", "Properties"),
)
@matrix.parametrize()
def test_self_dtype_in_steps(target: Target, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    # Compared with the weights as they are (PREC-001 checks them against the precision), so a
    # wrong `dtype` property and a wrong conversion fail different clauses.
    wrong = [
        f"{r.phase}: self.dtype is {r.self_dtype}, the weights are "
        f"{r.tensor_dtypes['layer.weight']}"
        for r in _step_records(probe(target, device, precision))
        if r.self_dtype != r.tensor_dtypes["layer.weight"]
    ]
    assert not wrong, "; ".join(wrong)


@clause(
    "PLACE-005",
    "During training the optimizer's state tensors are on the parameters' device",
    level="core",
    source=(
        SAME_DEVICE,
        seed(
            "001",
            "Error Handling and Debugging",
            "ensure that all model components and data are consistently placed on the same device",
        ),
    ),
)
@matrix.parametrize()
def test_optimizer_state_on_device(target: Target, device: str, precision: str) -> None:
    cell = matrix.require_cell(target, device, precision)
    ends = probe(target, device, precision).hook("on_train_batch_end")
    assert ends, "on_train_batch_end was not called"
    states = ends[-1]["optimizer_state"]
    assert states, "the SGD(momentum=0.9) optimizer has no state tensors after two steps"
    wrong = _wrong_devices("on_train_batch_end", states, cell.device_type)
    assert not wrong, "; ".join(wrong)


@clause(
    "PLACE-006",
    "After a run the model is back on CPU: in on_fit_end (with the optimizer state), in teardown "
    "and when fit returns",
    level="de-facto",
    source=facts(
        "§6",
        "Strategy.teardown moves optimizer state and the LightningModule back to "
        "CPU before on_fit_end/teardown hooks run",
    ),
    docs_say=docs_silent("where the model is after fit"),
)
@matrix.parametrize(precisions=("32-true",))
def test_model_back_on_cpu_after_run(target: Target, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    run = probe(target, device, precision)
    fit_ends, teardowns = run.hook("on_fit_end"), run.hook("teardown")
    assert fit_ends and teardowns, "on_fit_end or teardown was not called"
    problems = _cpu_problems("on_fit_end", fit_ends[0]["tensor_devices"])
    problems += _cpu_problems("on_fit_end optimizer", fit_ends[0]["optimizer_state"])
    for record in teardowns:
        problems += _cpu_problems(f"teardown({record['stage']!r})", record["tensor_devices"])
    problems += _cpu_problems("after fit", run.after_fit["tensor_devices"])
    assert not problems, "; ".join(problems)


@clause(
    "PLACE-007",
    "Tensors and layers created inside Trainer.init_module() are on the target device with the "
    "precision's parameter dtype; the default dtype is restored on exit",
    level="de-facto",
    source=facts(
        "§6",
        "Trainer.init_module() context creates parameters directly on the device "
        "with the precision's dtype",
    ),
    docs_say=docs_silent("Trainer.init_module()"),
)
@matrix.parametrize()
def test_init_module(target: Target, make_trainer: Any, device: str, precision: str) -> None:
    cell = matrix.require_cell(target, device, precision)
    expected = semantics(device, precision).param_dtype
    trainer = make_trainer(**cell.trainer_flags())
    before = torch.get_default_dtype()
    with trainer.init_module():
        layer = torch.nn.Linear(4, 2)
        plain = torch.zeros(3)
    created = {"Linear.weight": layer.weight, "Linear.bias": layer.bias, "torch.zeros": plain}
    wrong = [
        f"{name}: {t.dtype} on {t.device}"
        for name, t in created.items()
        if t.dtype != expected or t.device.type != cell.device_type
    ]
    assert not wrong, f"expected {expected} on {cell.device_type}: " + "; ".join(wrong)
    assert torch.get_default_dtype() == before, (
        f"the default dtype is {torch.get_default_dtype()} after init_module, was {before}"
    )


def _configure_model_class(target: Target) -> type:
    class ConfigureModelProbe(target.LightningModule):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.created: dict[str, torch.Tensor] = {}
            self.layer: torch.nn.Module | None = None

        def configure_model(self) -> None:
            if self.layer is None:
                self.layer = torch.nn.Linear(4, 2)
                # a detached view of the weight as created, before the trainer converts anything
                self.created = {"weight": self.layer.weight.detach().clone()}

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x = batch[0].to(self.layer.weight.dtype)  # inputs are PREC-002's business
            return self.layer(x).float().pow(2).mean()

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

        def train_dataloader(self) -> Any:
            return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(2, 4)))

    return ConfigureModelProbe


@clause(
    "PLACE-008",
    "Layers created in configure_model() are created on the target device with the precision's "
    "parameter dtype",
    level="de-facto",
    source=facts(
        "§1.12",
        "configure_model runs inside strategy.tensor_init_context() + "
        "precision_plugin.module_init_context() (so layers created there get the target "
        "device/dtype)",
    ),
    docs_say=seed(
        "002",
        "Hooks (fit pseudocode)",
        "setup('fit') configure_model() "
        "configure_optimizers() (nothing said about device or dtype)",
    ),
)
@matrix.parametrize()
def test_configure_model_creates_on_device(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    expected = semantics(device, precision).param_dtype
    model = _configure_model_class(target)()
    trainer = make_trainer(**cell.trainer_flags(), max_steps=1, limit_val_batches=0)
    trainer.fit(model)
    assert model.created, "configure_model was not called"
    weight = model.created["weight"]
    assert weight.device.type == cell.device_type and weight.dtype == expected, (
        f"a Linear created in configure_model had its weight as {weight.dtype} on "
        f"{weight.device}, expected {expected} on {cell.device_type}"
    )
