"""The benchmarked workload: a tiny MLP trained by a raw PyTorch loop or by a framework's Trainer.

The model (32→32→1), the data (batches of 8) and the optimizer (SGD) are the same for every loop,
so the difference in time per step is the framework's own overhead. Each timed run returns
:class:`Timing`: process CPU time and wall time, for the whole ``trainer.fit`` call and for the
batch loop alone (``on_train_epoch_start`` → ``on_train_epoch_end``, recorded by the model).
"""

from __future__ import annotations

import gc
import importlib
import logging
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

STEPS, BATCH, FEATURES = 2000, 8, 32
LEARNING_RATE = 0.01
# the frameworks compared with the raw loop, by import name
FRAMEWORKS = ("reference", "pytorch_lightning")


@dataclass(frozen=True)
class Variant:
    """One way of running the framework loops (the raw loop is always the same)."""

    name: str
    log: bool  # the model calls self.log("loss", loss) in every training_step
    csv_logger: bool  # CSVLogger(save_dir=tmp) instead of logger=False
    description: str


VARIANTS = (
    Variant("plain", log=False, csv_logger=False, description="no `self.log`; `logger=False`"),
    Variant(
        "log",
        log=True,
        csv_logger=True,
        description='`self.log("loss", loss)` every step (on_step, the training default);'
        " `CSVLogger`, default `log_every_n_steps=50`",
    ),
    Variant(
        "log_no_logger",
        log=True,
        csv_logger=False,
        description='`self.log("loss", loss)` every step; `logger=False` (values reach'
        " `callback_metrics` only)",
    ),
)
VARIANTS_BY_NAME = {variant.name: variant for variant in VARIANTS}


@dataclass(frozen=True)
class Timing:
    """Seconds spent by one run, by clock (``cpu``: process time; ``wall``: perf_counter)."""

    fit_cpu: float
    fit_wall: float
    loop_cpu: float
    loop_wall: float

    def as_dict(self) -> dict[str, float]:
        return {
            "fit_cpu": self.fit_cpu,
            "fit_wall": self.fit_wall,
            "loop_cpu": self.loop_cpu,
            "loop_wall": self.loop_wall,
        }


@contextmanager
def benchmark_settings() -> Iterator[None]:
    """One intra-op thread, and both frameworks silenced alike (their warnings and info logs are
    not what is measured); everything is restored on exit, so that a test process is unchanged.
    """
    threads = torch.get_num_threads()
    logging_disabled = logging.root.manager.disable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.set_num_threads(1)
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging_disabled)
            torch.set_num_threads(threads)


def now() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def make_loader(steps: int = STEPS) -> DataLoader:
    """``steps`` batches of ``BATCH`` random samples (the same data on every call)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(steps * BATCH, FEATURES, generator=generator)
    y = torch.randn(steps * BATCH, 1, generator=generator)
    return DataLoader(TensorDataset(x, y), batch_size=BATCH)


def make_mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
    )


def time_raw_loop(loader: DataLoader) -> Timing:
    """The hand-written loop every framework is compared with."""
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    gc.collect()
    cpu0, wall0 = now()
    for x, y in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    cpu1, wall1 = now()
    return Timing(cpu1 - cpu0, wall1 - wall0, cpu1 - cpu0, wall1 - wall0)


def time_raw_closure_loop(loader: DataLoader) -> Timing:
    """The raw loop shaped like Lightning's automatic optimization: ``optimizer.step(closure)``
    with forward, ``zero_grad`` and backward inside the closure. Not a baseline, a reference
    point: what the closure form alone costs (the optimizer enters ``torch.enable_grad`` for it).
    """
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    gc.collect()
    cpu0, wall0 = now()
    for x, y in loader:

        def closure(x: torch.Tensor = x, y: torch.Tensor = y) -> torch.Tensor:
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            return loss

        optimizer.step(closure)
    cpu1, wall1 = now()
    return Timing(cpu1 - cpu0, wall1 - wall0, cpu1 - cpu0, wall1 - wall0)


def import_framework(name: str) -> ModuleType | None:
    """The framework's top-level module, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_MODEL_CLASSES: dict[tuple[str, bool], type] = {}


def model_class(framework: ModuleType, log: bool) -> type:
    """A LightningModule subclass of ``framework`` training the MLP (built once per framework)."""
    key = (framework.__name__, log)
    if key in _MODEL_CLASSES:
        return _MODEL_CLASSES[key]

    class Model(framework.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()
            self.marks: list[tuple[float, float]] = []

        def on_train_epoch_start(self) -> None:
            self.marks.append(now())

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return torch.nn.functional.mse_loss(self.net(x), y)

        def on_train_epoch_end(self) -> None:
            self.marks.append(now())

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=LEARNING_RATE)

    class LoggingModel(Model):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("loss", loss)
            return loss

    _MODEL_CLASSES[key] = LoggingModel if log else Model
    return _MODEL_CLASSES[key]


def make_trainer(framework: ModuleType, variant: Variant, root: str) -> Any:
    """The same quiet flags for every framework: one CPU device, one epoch, no progress bar, no
    checkpointing, no model summary; a CSV logger only in the variants that ask for one.
    """
    logger: Any = False
    if variant.csv_logger:
        loggers = importlib.import_module(f"{framework.__name__}.loggers")
        logger = loggers.CSVLogger(save_dir=root)
    return framework.Trainer(
        max_epochs=1,
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        default_root_dir=root,
    )


def time_framework_loop(framework: ModuleType, variant: Variant, loader: DataLoader) -> Timing:
    """One ``trainer.fit`` of a fresh model and trainer (their construction is not timed)."""
    with tempfile.TemporaryDirectory(prefix="trainspec-bench-") as root:
        trainer = make_trainer(framework, variant, root)
        model = model_class(framework, variant.log)()
        gc.collect()
        cpu0, wall0 = now()
        trainer.fit(model, train_dataloaders=loader)
        cpu1, wall1 = now()
    if len(model.marks) != 2:
        raise RuntimeError(
            f"{framework.__name__}: expected one training epoch, the model saw"
            f" {len(model.marks) // 2} (marks: {model.marks})"
        )
    (loop_cpu0, loop_wall0), (loop_cpu1, loop_wall1) = model.marks
    return Timing(cpu1 - cpu0, wall1 - wall0, loop_cpu1 - loop_cpu0, loop_wall1 - loop_wall0)
