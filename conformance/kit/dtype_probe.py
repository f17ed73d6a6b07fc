"""A probe run per matrix cell: what devices and dtypes a model really sees during fit/test/predict.

:func:`probe` fits a small model (a subclass of the *target's* ``LightningModule``) for two
training batches and one validation batch, then tests and predicts one batch each, on one cell
(device × precision). Its hooks record the devices and dtypes of parameters, buffers, inputs,
outputs, losses and gradients, the autocast state and the default dtype. Many clauses (PLACE,
PREC, PRECVAL) assert on one run, so each cell runs once per process (cached); a run that raises
re-raises in every clause that asks for it, so they report ``errored`` rather than pass.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from conformance import matrix
from conformance.kit.devices import autocast_dtype, autocast_enabled, devices_in
from conformance.target import Target

FEATURES = 32
MISSING = "<missing>"  # what `getattr(module, "precision", MISSING)` found when there is none
PHASES = ("train", "val", "test", "predict")


class DictDataset(Dataset):
    """Rows ``{"x": float32[32], "idx": int64}``: a float input and an integer one."""

    def __init__(self, length: int = 4, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.x = torch.randn(length, FEATURES, generator=generator)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[index], "idx": torch.tensor(index)}


@dataclass
class StepRecord:
    """What one ``*_step`` call saw."""

    phase: str
    self_device: Any
    self_dtype: Any
    tensor_devices: dict[str, torch.device]  # parameters and buffers
    tensor_dtypes: dict[str, torch.dtype]
    input_devices: dict[str, torch.device]
    input_dtypes: dict[str, torch.dtype]
    output_dtype: torch.dtype
    loss_dtype: torch.dtype | None
    autocast_enabled: bool
    autocast_dtype: torch.dtype | None
    default_dtype: torch.dtype
    self_device_error: str | None  # a tensor made on `self.device` failed to meet the weights
    module_precision: Any


@dataclass
class ProbeRun:
    """Everything one probe run recorded."""

    device: str
    precision: str
    steps: dict[str, list[StepRecord]] = field(default_factory=dict)
    hooks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    trainer_precision: Any = MISSING
    weights_before: torch.Tensor | None = None
    weights_after: torch.Tensor | None = None
    after_fit: dict[str, Any] = field(default_factory=dict)

    def hook(self, name: str) -> list[dict[str, Any]]:
        return self.hooks.get(name, [])


def _module_tensors(module: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from module.named_parameters()
    yield from module.named_buffers()


def _optimizer_state_devices(optimizers: Any) -> dict[str, torch.device]:
    found: dict[str, torch.device] = {}
    for i, optimizer in enumerate(optimizers or []):
        optimizer = getattr(optimizer, "optimizer", optimizer)  # unwrap a LightningOptimizer
        for j, state in enumerate(optimizer.state.values()):
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0:
                    found[f"optimizer{i}.state{j}.{key}"] = value.device
    return found


_CLASSES: dict[int, type] = {}


def probe_model_class(target: Target) -> type:
    """The recording model, subclassing ``target.LightningModule`` (cached per target)."""
    key = id(target.LightningModule)
    if key in _CLASSES:
        return _CLASSES[key]

    class DtypeProbeModel(target.LightningModule):  # type: ignore[name-defined,misc]
        def __init__(self, run: ProbeRun) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(FEATURES, 2)
            self.register_buffer("offset", torch.zeros(2))
            self._probe_run = run
            self._probe_device_type = matrix.TORCH_DEVICE_TYPE[run.device]

        def _record(self, hook: str, **values: Any) -> None:
            self._probe_run.hooks.setdefault(hook, []).append(values)

        def _tensors(self) -> dict[str, Any]:
            named = dict(_module_tensors(self))
            return {
                "tensor_devices": {n: t.device for n, t in named.items()},
                "tensor_dtypes": {n: t.dtype for n, t in named.items()},
            }

        def _grads(self) -> dict[str, Any]:
            grads = {n: p.grad for n, p in self.named_parameters() if p.grad is not None}
            return {
                "grad_dtypes": {n: g.dtype for n, g in grads.items()},
                "grad_devices": {n: g.device for n, g in grads.items()},
                "autocast_enabled": autocast_enabled(self._probe_device_type),
                "default_dtype": torch.get_default_dtype(),
            }

        # -- placement before and after the run ------------------------------------------
        def setup(self, stage: str) -> None:
            self._record("setup", stage=stage, self_device=self.device, **self._tensors())

        def configure_optimizers(self) -> Any:
            self._record("configure_optimizers", self_device=self.device, **self._tensors())
            return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)

        def on_fit_end(self) -> None:
            self._record(
                "on_fit_end",
                optimizer_state=_optimizer_state_devices(self.trainer.optimizers),
                **self._tensors(),
            )

        def teardown(self, stage: str) -> None:
            self._record("teardown", stage=stage, **self._tensors())

        # -- the batch and the steps -------------------------------------------------------
        def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
            self._record(
                "on_before_batch_transfer",
                input_dtypes={k: v.dtype for k, v in batch.items()},
                input_devices=devices_in(batch),
            )
            return batch

        def _step(self, phase: str, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
            x = batch["x"]
            input_devices = {k: v.device for k, v in batch.items()}
            input_dtypes = {k: v.dtype for k, v in batch.items()}
            weight = self.layer.weight
            if x.device != weight.device or (
                x.dtype != weight.dtype and not autocast_enabled(self._probe_device_type)
            ):
                # Recorded above; adapted here so that one breach (an input not moved or not
                # cast) fails the clause about it instead of crashing every clause of the run.
                x = x.to(weight.device, weight.dtype)
            out = self.layer(x)
            # mul and mean keep the compute dtype under every autocast (pow and sum would be
            # promoted to float32 on CUDA); the factor keeps a 2**16-scaled float16 loss finite.
            loss = (out * out).mean() * 0.01
            error = None
            try:  # seed 002: create tensors on `self.device` and they meet the weights
                self.layer(torch.rand(1, FEATURES, device=self.device).type_as(x))
            except RuntimeError as exc:
                error = str(exc)
            record = StepRecord(
                phase=phase,
                self_device=self.device,
                self_dtype=self.dtype,
                input_devices=input_devices,
                input_dtypes=input_dtypes,
                output_dtype=out.dtype,
                loss_dtype=loss.dtype,
                autocast_enabled=autocast_enabled(self._probe_device_type),
                autocast_dtype=autocast_dtype(self._probe_device_type),
                default_dtype=torch.get_default_dtype(),
                self_device_error=error,
                module_precision=getattr(self, "precision", MISSING),
                **self._tensors(),
            )
            self._probe_run.steps.setdefault(phase, []).append(record)
            return out, loss

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            return self._step("train", batch)[1]

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            return self._step("val", batch)[1]

        def test_step(self, batch: Any, batch_idx: int) -> Any:
            return self._step("test", batch)[1]

        def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            return self._step("predict", batch)[0]

        # -- backward and optimizer ----------------------------------------------------------
        def on_before_backward(self, loss: torch.Tensor) -> None:
            self._record(
                "on_before_backward",
                loss_dtype=loss.dtype,
                autocast_enabled=autocast_enabled(self._probe_device_type),
            )

        def on_after_backward(self) -> None:
            self._record("on_after_backward", **self._grads())

        def on_before_optimizer_step(self, optimizer: Any) -> None:
            self._record("on_before_optimizer_step", **self._grads())

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            self._record(
                "on_train_batch_end",
                optimizer_state=_optimizer_state_devices(self.trainer.optimizers),
                **self._tensors(),
            )

        def _loader(self) -> DataLoader:
            return DataLoader(DictDataset(), batch_size=2)

        def train_dataloader(self) -> DataLoader:
            return self._loader()

        def val_dataloader(self) -> DataLoader:
            return self._loader()

        def test_dataloader(self) -> DataLoader:
            return self._loader()

        def predict_dataloader(self) -> DataLoader:
            return self._loader()

    _CLASSES[key] = DtypeProbeModel
    return DtypeProbeModel


@contextmanager
def _restoring_global_state() -> Iterator[None]:
    # A probe run must not leak a changed default dtype or grad mode into the clause that
    # asked for it; the leak itself is recorded (after_fit) for the clause that checks it.
    dtype, grad = torch.get_default_dtype(), torch.is_grad_enabled()
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        torch.set_grad_enabled(grad)


def run_probe(target: Target, device: str, precision: str) -> ProbeRun:
    """Fit, test and predict the probe model on one cell (uncached)."""
    run = ProbeRun(device, precision)
    with tempfile.TemporaryDirectory(prefix="trainspec-probe-") as root, _restoring_global_state():
        model = probe_model_class(target)(run)
        trainer = target.trainer(
            root,
            **matrix.trainer_flags(device, precision),
            max_epochs=1,
            limit_train_batches=2,
            limit_val_batches=1,
            limit_test_batches=1,
            limit_predict_batches=1,
            num_sanity_val_steps=0,
        )
        run.trainer_precision = getattr(trainer, "precision", MISSING)
        run.weights_before = model.layer.weight.detach().to("cpu", torch.float64, copy=True)
        trainer.fit(model)
        run.after_fit = {"default_dtype": torch.get_default_dtype(), **model._tensors()}
        run.weights_after = model.layer.weight.detach().to("cpu", torch.float64, copy=True)
        trainer.test(model)
        trainer.predict(model)
    return run


_RUNS: dict[tuple[str, int, str, str], ProbeRun | BaseException] = {}


def probe(target: Target, device: str, precision: str) -> ProbeRun:
    """The probe run for a cell, run once per process and target."""
    key = (target.spec, id(target), device, precision)
    if key not in _RUNS:
        try:
            _RUNS[key] = run_probe(target, device, precision)
        except Exception as exc:  # the target's failure: every clause using it reports it
            _RUNS[key] = exc
    result = _RUNS[key]
    if isinstance(result, BaseException):
        raise RuntimeError(
            f"the {device}-{precision} probe run (fit/test/predict of a Linear model) failed: "
            f"{type(result).__name__}: {result}"
        ) from result
    return result
