"""Configurations the executable spec understands, and the numbers a trainer derives from them.

A configuration describes both the ``Trainer`` flags and the workload (how many batches each
dataloader yields, which callbacks are attached, automatic or manual optimization, the LR
scheduler). :meth:`FitConfig.trainer_flags` is what a run passes to the trainer, so a spec trace
and a recorded trace always describe the same run.

Derived numbers follow Lightning 2.x (facts §2.1, §2.4, §2.5, §2.10): limits are parsed per
dataloader (int = count, float = fraction, floored), ``val_check_interval`` becomes a batch count,
and configurations Lightning rejects raise :class:`InvalidConfig` instead of producing a trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# Callback kinds: "plain" is a bare Callback; "monitoring" is the target's EarlyStopping (a
# callback that monitors a metric, whose on_train_epoch_end Lightning runs after the module's).
CallbackKind = Literal["plain", "monitoring"]
Scheduler = Literal["epoch", "step"]
EvalStage = Literal["validate", "test", "predict"]
Limit = int | float | None


class InvalidConfig(ValueError):
    """A configuration that Lightning 2.x refuses (so there is no expected trace)."""


def parse_limit(limit: Limit, name: str) -> int | float:
    """``limit_*_batches`` / a fraction flag as Lightning stores it: None → 1.0, 3.0 → 3."""
    if limit is None:
        return 1.0
    if isinstance(limit, bool) or not isinstance(limit, int | float):
        raise InvalidConfig(f"{name} must be an int or a float, not {limit!r}")
    if 0 <= limit <= 1:
        return limit
    if limit > 1 and float(limit).is_integer():
        return int(limit)
    raise InvalidConfig(f"{name}={limit!r}: must be in [0.0, 1.0] or a whole number")


def limited_batches(length: int, limit: int | float, name: str) -> int:
    """How many batches of a ``length``-batch dataloader run under ``limit`` (facts §2.10)."""
    if length == 0:
        return 0
    count = min(length, limit) if isinstance(limit, int) else int(length * limit)
    if count == 0 and isinstance(limit, float) and limit > 0:
        raise InvalidConfig(f"{name}={limit} of {length} batches is less than one batch")
    return int(count)


@dataclass(frozen=True)
class FitConfig:
    """One ``trainer.fit(model)`` run: trainer flags plus the shape of the workload."""

    max_epochs: int = 1
    max_steps: int = -1
    train_batches: int = 2
    # one entry per validation dataloader; () means the model has no validation_step/val_dataloader
    val_batches: tuple[int, ...] = (2,)
    limit_train_batches: Limit = None
    limit_val_batches: Limit = None
    val_check_interval: Limit = None
    check_val_every_n_epoch: int | None = 1
    num_sanity_val_steps: int | None = None
    accumulate_grad_batches: int = 1
    callbacks: tuple[CallbackKind, ...] = ("plain",)
    automatic_optimization: bool = True
    scheduler: Scheduler | None = "epoch"
    scheduler_frequency: int = 1
    datamodule: bool = False
    # whether the DataModule (when present) defines the three batch-transfer hooks
    datamodule_batch_transfer: bool = False
    # > 0: fit(ckpt_path=...) from a checkpoint that trainer.save_checkpoint wrote after a
    # finished fit of this many epochs with the same configuration
    resumed_from_epochs: int = 0

    # ---- what a run passes to the trainer --------------------------------------------------
    def trainer_flags(self) -> dict[str, Any]:
        return {
            "max_epochs": self.max_epochs,
            "max_steps": self.max_steps,
            "limit_train_batches": self.limit_train_batches,
            "limit_val_batches": self.limit_val_batches,
            "val_check_interval": self.val_check_interval,
            "check_val_every_n_epoch": self.check_val_every_n_epoch,
            "num_sanity_val_steps": self.num_sanity_val_steps,
            "accumulate_grad_batches": self.accumulate_grad_batches,
        }

    def run_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``conformance.kit.hook_workload.recorded_run`` for this run."""
        return {
            "callbacks": self.callbacks,
            "batches": {"train": (self.train_batches,), "val": self.val_batches},
            "validation": bool(self.val_batches),
            "datamodule": self.datamodule,
            "datamodule_batch_transfer": self.datamodule_batch_transfer,
            "model_kwargs": {
                "automatic_optimization": self.automatic_optimization,
                "scheduler": self.scheduler,
                "scheduler_frequency": self.scheduler_frequency,
            },
            **self.trainer_flags(),
        }

    # ---- derived numbers ----------------------------------------------------------------------
    @property
    def train_limit(self) -> int | float:
        return parse_limit(self.limit_train_batches, "limit_train_batches")

    @property
    def val_limit(self) -> int | float:
        return parse_limit(self.limit_val_batches, "limit_val_batches")

    @property
    def num_training_batches(self) -> int:
        return limited_batches(self.train_batches, self.train_limit, "limit_train_batches")

    @property
    def val_loader_batches(self) -> list[int]:
        return [limited_batches(n, self.val_limit, "limit_val_batches") for n in self.val_batches]

    @property
    def validation_enabled(self) -> bool:
        """Lightning's gate: a val dataloader, ``validation_step`` and ``limit_val_batches > 0``."""
        return bool(self.val_batches) and self.val_limit > 0

    @property
    def sanity_steps(self) -> int | float:
        steps = 2 if self.num_sanity_val_steps is None else self.num_sanity_val_steps
        return float("inf") if steps == -1 else steps

    @property
    def val_check_batch(self) -> int:
        """Validation follows batch ``i`` when ``(i + 1) % val_check_batch == 0`` (facts §2.4)."""
        interval = 1.0 if self.val_check_interval is None else self.val_check_interval
        if isinstance(interval, int):
            return interval
        return max(1, int(self.num_training_batches * interval))

    def check(self) -> None:
        """Raise :class:`InvalidConfig` for configurations Lightning refuses before training."""
        if self.max_epochs < -1 or self.max_steps < -1:
            raise InvalidConfig("max_epochs and max_steps must be >= -1")
        if self.max_epochs == -1 and self.max_steps == -1:
            raise InvalidConfig("max_epochs=-1 with max_steps=-1 would train forever")
        if self.train_batches < 1 or any(n < 1 for n in self.val_batches):
            raise InvalidConfig("every dataloader must yield at least one batch")
        if self.accumulate_grad_batches < 1 or self.scheduler_frequency < 1:
            raise InvalidConfig("accumulate_grad_batches and scheduler_frequency must be >= 1")
        if not self.automatic_optimization and self.accumulate_grad_batches != 1:
            raise InvalidConfig("manual optimization does not support accumulate_grad_batches")
        if self.num_sanity_val_steps is not None and self.num_sanity_val_steps < -1:
            raise InvalidConfig("num_sanity_val_steps must be >= -1")
        if self.check_val_every_n_epoch is not None and self.check_val_every_n_epoch < 1:
            raise InvalidConfig("check_val_every_n_epoch must be >= 1 or None")
        if self.check_val_every_n_epoch is None and isinstance(self.val_check_interval, float):
            raise InvalidConfig("check_val_every_n_epoch=None needs an int val_check_interval")
        interval = self.val_check_interval
        if interval is not None and (interval <= 0 or isinstance(interval, float) and interval > 1):
            raise InvalidConfig("val_check_interval must be an int >= 1 or a float in (0, 1]")
        if any(kind not in ("plain", "monitoring") for kind in self.callbacks):
            raise InvalidConfig(f"unknown callback kind in {self.callbacks!r}")
        if self.datamodule_batch_transfer and not self.datamodule:
            raise InvalidConfig("datamodule_batch_transfer needs datamodule=True")
        if self.resumed_from_epochs and not (
            0 < self.resumed_from_epochs < self.max_epochs and self.max_steps == -1
        ):
            # a step-limited resume restarts mid-epoch (facts §2.5, §3.5): not modelled here
            raise InvalidConfig("resumed_from_epochs needs 0 < it < max_epochs and max_steps=-1")
        # these raise InvalidConfig themselves when a float limit leaves less than one batch
        train_batches = self.num_training_batches if self.train_limit != 0 else 0
        if self.val_limit != 0:
            self.val_loader_batches  # noqa: B018 - evaluated for its check
        # Lightning checks the interval against the epoch length once the train loader is set up
        if (
            train_batches > 0
            and isinstance(interval, int)
            and interval > train_batches
            and self.check_val_every_n_epoch is not None
            and self.val_limit > 0
        ):
            raise InvalidConfig(
                f"val_check_interval={interval} exceeds the {train_batches} training batches"
            )


@dataclass(frozen=True)
class EvalConfig:
    """One ``trainer.validate`` / ``test`` / ``predict`` run."""

    stage: EvalStage = "validate"
    batches: tuple[int, ...] = (2,)  # one entry per dataloader
    limit_batches: Limit = None
    callbacks: tuple[CallbackKind, ...] = ("plain",)
    datamodule: bool = False
    datamodule_batch_transfer: bool = False

    @property
    def noun(self) -> str:
        """The hook-name stem: ``on_<noun>_start``, ``<noun>_step``."""
        return {"validate": "validation", "test": "test", "predict": "predict"}[self.stage]

    @property
    def dataloader_hook(self) -> str:
        return {"validate": "val", "test": "test", "predict": "predict"}[self.stage] + "_dataloader"

    @property
    def limit_flag(self) -> str:
        return f"limit_{self.dataloader_hook.removesuffix('_dataloader')}_batches"

    def trainer_flags(self) -> dict[str, Any]:
        return {self.limit_flag: self.limit_batches}

    def run_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``conformance.kit.hook_workload.recorded_run`` for this run."""
        stage = self.dataloader_hook.removesuffix("_dataloader")
        return {
            "callbacks": self.callbacks,
            "batches": {stage: self.batches},
            "datamodule": self.datamodule,
            "datamodule_batch_transfer": self.datamodule_batch_transfer,
            **self.trainer_flags(),
        }

    @property
    def loader_batches(self) -> list[int]:
        limit = parse_limit(self.limit_batches, self.limit_flag)
        return [limited_batches(n, limit, self.limit_flag) for n in self.batches]

    def check(self) -> None:
        if self.stage not in ("validate", "test", "predict"):
            raise InvalidConfig(f"unknown stage {self.stage!r}")
        if not self.batches or any(n < 1 for n in self.batches):
            raise InvalidConfig("an evaluation needs dataloaders that yield at least one batch")
        if self.datamodule_batch_transfer and not self.datamodule:
            raise InvalidConfig("datamodule_batch_transfer needs datamodule=True")
        if parse_limit(self.limit_batches, self.limit_flag) != 0:
            self.loader_batches  # noqa: B018 - evaluated for its check
