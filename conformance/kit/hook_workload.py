"""The recorded workload: a BoringModel-shaped module and DataModule, and runs of them on recorders.

The hook clauses and ``tests/spec`` describe a run by a spec configuration (``FitConfig`` or
``EvalConfig`` from ``conformance.spec``). This module turns one into a real run of the target:
a workload (``Linear(32, 2)``, SGD, one-sample batches) whose loader sizes, optimization mode and
scheduler follow the configuration, wrapped in the recorders of :mod:`conformance.kit.recording`,
so that the recorded trace and the spec's trace describe the same run.

* :func:`record` runs a configuration and returns its trace;
* :func:`record_checkpoint_round_trip` records a save and the resumed fit;
* :func:`recorded_run` builds a run without running it, for callers that drive it themselves.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.kit.recording import (
    monitoring_callback_base,
    recording_callback,
    recording_datamodule,
    recording_module,
)
from conformance.spec.trace import Trace
from conformance.target import Target

__all__ = [
    "hook_model_class",
    "hook_datamodule_class",
    "RecordedRun",
    "recorded_run",
    "record",
    "record_checkpoint_round_trip",
]

# the stages whose loaders a workload supplies; ``batches`` maps them to loader sizes
STAGES = ("train", "val", "test", "predict")
_WORKLOAD_CLASSES: dict[tuple[int, bool, bool], type] = {}


def _loader_methods(stages: Iterable[str]) -> dict[str, Any]:
    """``<stage>_dataloader`` methods: one loader, or a list when ``self.batches[stage]`` has
    several entries (one per dataloader, each the number of batches it yields)."""
    from conformance.kit.data import loader

    def make(stage: str) -> Callable[[Any], Any]:
        def dataloader(self: Any) -> Any:
            loaders = [loader(n, seed=i) for i, n in enumerate(self.batches.get(stage, (2,)))]
            return loaders[0] if len(loaders) == 1 else loaders

        dataloader.__name__ = dataloader.__qualname__ = f"{stage}_dataloader"
        return dataloader

    return {f"{stage}_dataloader": make(stage) for stage in stages}


def hook_model_class(target: Target, *, validation: bool = True, dataloaders: bool = True) -> type:
    """The workload's module class (a subclass of ``target.LightningModule``, cached).

    ``validation=False`` leaves out ``validation_step`` and ``val_dataloader`` (a model that does
    not validate); ``dataloaders=False`` leaves out every ``*_dataloader`` (a DataModule supplies
    them). Instances take ``batches={"train": (4,), "val": (2, 3), ...}``,
    ``automatic_optimization``, ``scheduler`` (None, "epoch" or "step") and ``scheduler_frequency``.
    """
    key = (id(target.LightningModule), validation, dataloaders)
    if key in _WORKLOAD_CLASSES:
        return _WORKLOAD_CLASSES[key]
    import torch

    class HookWorkload(target.LightningModule):  # type: ignore[name-defined,misc]
        def __init__(
            self,
            batches: Mapping[str, tuple[int, ...]] | None = None,
            automatic_optimization: bool = True,
            scheduler: str | None = "epoch",
            scheduler_frequency: int = 1,
        ) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(32, 2)
            self.batches = dict(batches or {})
            self.automatic_optimization = automatic_optimization
            self.scheduler_interval = scheduler
            self.scheduler_frequency = scheduler_frequency

        def forward(self, x: Any) -> Any:
            return self.layer(x)

        def loss(self, batch: Any) -> Any:
            preds = self(batch)
            return torch.nn.functional.mse_loss(preds, torch.ones_like(preds))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if self.automatic_optimization:
                return {"loss": self.loss(batch)}
            optimizer = self.optimizers()  # manual optimization, facts §1.5
            optimizer.zero_grad()
            loss = self.loss(batch)
            self.manual_backward(loss)
            optimizer.step()
            return {"loss": loss}

        def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            return self.loss(batch)

        def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            return self(batch)

        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.SGD(self.layer.parameters(), lr=0.1)
            if self.scheduler_interval is None:
                return optimizer
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.99)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {
                    "scheduler": scheduler,
                    "interval": self.scheduler_interval,
                    "frequency": self.scheduler_frequency,
                },
            }

    def validation_step(self: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
        return self.loss(batch)

    extra: dict[str, Any] = {"validation_step": validation_step} if validation else {}
    if dataloaders:
        extra.update(_loader_methods(s for s in STAGES if validation or s != "val"))
    cls = type("HookWorkload", (HookWorkload,), {**extra, "__qualname__": "HookWorkload"})
    _WORKLOAD_CLASSES[key] = cls
    return cls


def hook_datamodule_class(target: Target, *, validation: bool = True) -> type:
    """The workload's DataModule class: it supplies every loader (``val`` only with validation)."""
    if target.LightningDataModule is None:
        raise TypeError(f"target {target.spec!r} has no LightningDataModule")
    key = (id(target.LightningDataModule), validation, False)
    if key not in _WORKLOAD_CLASSES:

        def __init__(self: Any, batches: Mapping[str, tuple[int, ...]] | None = None) -> None:
            target.LightningDataModule.__init__(self)
            self.batches = dict(batches or {})

        methods = _loader_methods(s for s in STAGES if validation or s != "val")
        _WORKLOAD_CLASSES[key] = type(
            "HookWorkloadData", (target.LightningDataModule,), {"__init__": __init__, **methods}
        )
    return _WORKLOAD_CLASSES[key]


@dataclass
class RecordedRun:
    """A trainer wired to recording copies of the workload, its callbacks and DataModule."""

    trace: Trace
    trainer: Any
    model: Any
    datamodule: Any | None

    def _call(self, entry: str, **kwargs: Any) -> Any:
        if self.datamodule is not None:
            kwargs["datamodule"] = self.datamodule
        return getattr(self.trainer, entry)(self.model, **kwargs)

    def fit(self, **kwargs: Any) -> Trace:
        self._call("fit", **kwargs)
        return self.trace

    def evaluate(self, stage: str, **kwargs: Any) -> Trace:
        """``stage`` is ``"validate"``, ``"test"`` or ``"predict"``."""
        self._call(stage, **kwargs)
        return self.trace


def recorded_run(
    target: Target,
    root_dir: str | os.PathLike[str],
    *,
    callbacks: Iterable[str] = ("plain",),
    batches: Mapping[str, tuple[int, ...]] | None = None,
    validation: bool = True,
    datamodule: bool = False,
    datamodule_batch_transfer: bool = False,
    model_kwargs: Mapping[str, Any] | None = None,
    **trainer_flags: Any,
) -> RecordedRun:
    """Build (not run) a recorded run: callbacks ``CB0, CB1...`` of the given kinds
    (``"plain"`` or ``"monitoring"``), module ``M``, DataModule ``DM`` when ``datamodule``."""
    trace = Trace()
    callback_objects = []
    for index, kind in enumerate(callbacks):
        base, init = (None, {})
        if kind == "monitoring":
            found = monitoring_callback_base(target)
            if found is None:
                raise LookupError(f"target {target.spec!r} has no EarlyStopping callback")
            base, init = found
        callback_objects.append(recording_callback(target, trace, f"CB{index}", base, **init))
    batches = dict(batches or {})
    model_cls = hook_model_class(target, validation=validation, dataloaders=not datamodule)
    model = recording_module(target, model_cls, trace)(batches=batches, **(model_kwargs or {}))
    dm = None
    if datamodule:
        dm_base = hook_datamodule_class(target, validation=validation)
        transfer = datamodule_batch_transfer
        dm = recording_datamodule(target, dm_base, trace, batch_transfer=transfer)(batches=batches)
    trainer = target.trainer(root_dir, callbacks=callback_objects, **trainer_flags)
    return RecordedRun(trace, trainer, model, dm)


def record(target: Target, config: Any) -> Trace:
    """Run a spec configuration (``FitConfig`` or ``EvalConfig``) on recording copies of the
    workload, in a fresh temporary directory, and return its trace."""
    with tempfile.TemporaryDirectory(prefix="trainspec-hooks-") as root:
        run = recorded_run(target, root, **config.run_arguments())
        stage = getattr(config, "stage", "fit")
        return run.fit() if stage == "fit" else run.evaluate(stage)


def record_checkpoint_round_trip(target: Target, config: Any) -> tuple[Trace, Trace]:
    """Record a save and a resume: ``config`` is a ``FitConfig`` with ``resumed_from_epochs=E``.

    Fits the same configuration for ``E`` epochs, saves with ``trainer.save_checkpoint`` (traced
    alone), then fits a fresh recorded run of ``config`` with ``fit(ckpt_path=...)``. Returns the
    save's trace and the resumed fit's trace.
    """
    arguments = config.run_arguments()
    with tempfile.TemporaryDirectory(prefix="trainspec-hooks-") as root:
        first_arguments = {**arguments, "max_epochs": config.resumed_from_epochs}
        first = recorded_run(target, os.path.join(root, "first"), **first_arguments)
        first.fit()
        first.trace.clear()
        path = os.path.join(root, "saved.ckpt")
        first.trainer.save_checkpoint(path)
        second = recorded_run(target, os.path.join(root, "second"), **arguments)
        return first.trace, second.fit(ckpt_path=path)
