"""``LearningRateMonitor``: the same runs under the reference and under Lightning log the same
names, values and steps to the loggers (and the same ``metrics.csv``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import reference

Configure = Callable[[Any], Any]


def sgd_with_epoch_scheduler(model: Any) -> Any:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)]


def adam_groups_with_named_step_scheduler(model: Any) -> Any:
    groups = [{"params": model.a.parameters()}, {"params": model.b.parameters(), "lr": 0.01}]
    optimizer = torch.optim.Adam(groups, lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.9)
    return {
        "optimizer": optimizer,
        "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "my"},
    }


def adam_with_a_named_group(model: Any) -> Any:
    groups = [{"params": model.a.parameters(), "name": "enc"}, {"params": model.b.parameters()}]
    return torch.optim.Adam(groups, lr=0.1)


def three_optimizers(model: Any) -> Any:  # manual optimization
    return [
        torch.optim.SGD(model.a.parameters(), lr=0.1),
        torch.optim.SGD(model.b.parameters(), lr=0.2),
        torch.optim.Adam(model.b.parameters(), lr=0.3),
    ]


def two_schedulers_and_a_named_one(model: Any) -> Any:  # manual optimization
    optimizers = [torch.optim.SGD(model.a.parameters(), lr=lr) for lr in (0.1, 0.2, 0.3)]
    schedulers = [
        torch.optim.lr_scheduler.StepLR(optimizers[0], step_size=1, gamma=0.5),
        {
            "scheduler": torch.optim.lr_scheduler.StepLR(optimizers[1], 1, 0.5),
            "interval": "step",
        },
        {"scheduler": torch.optim.lr_scheduler.StepLR(optimizers[2], 1, 0.5), "name": "x"},
    ]
    return optimizers, schedulers


def fit_and_record(
    framework: Any, configure: Configure, tmp_path: Path, manual: bool = False, **flags: Any
) -> tuple[list[tuple[int, dict[str, float]]], dict[str, list[float]], list[str]]:
    """Fit 2 layers on 4 batches; return what the logger received, the monitor's ``lrs`` and
    the ``callback_metrics`` names. ``monitor={...}`` configures the monitor; ``quiet=False``
    lets warnings through."""
    monitor_flags = flags.pop("monitor", {})
    quiet = flags.pop("quiet", True)

    class Recorder(framework.loggers.Logger):
        def __init__(self) -> None:
            self.calls: list[tuple[int, dict[str, float]]] = []

        @property
        def name(self) -> str:
            return "recorder"

        @property
        def version(self) -> int:
            return 0

        def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
            self.calls.append((step, {k: round(float(v), 7) for k, v in metrics.items()}))

        def log_hyperparams(self, *args: Any, **kwargs: Any) -> None:
            pass

    class Model(framework.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Linear(2, 1)
            self.b = torch.nn.Linear(2, 1)
            self.automatic_optimization = not manual

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = (self.a(batch[0]) + self.b(batch[0])).pow(2).mean()
            if not manual:
                return loss
            for optimizer in self.optimizers():
                optimizer.zero_grad()
                self.manual_backward(loss, retain_graph=True)
                optimizer.step()
            return None

        def configure_optimizers(self) -> Any:
            return configure(self)

    torch.manual_seed(0)
    recorder = Recorder()
    monitor = framework.callbacks.LearningRateMonitor(**monitor_flags)
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        trainer = framework.Trainer(
            logger=recorder,
            callbacks=[monitor],
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            default_root_dir=tmp_path,
            accelerator="cpu",
            devices=1,
            **flags,
        )
        trainer.fit(Model(), DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=2))
    return recorder.calls, monitor.lrs, sorted(trainer.callback_metrics)


CASES = {
    "epoch-scheduler": (sgd_with_epoch_scheduler, {"max_epochs": 3, "log_every_n_steps": 2}),
    "with-momentum-and-decay": (
        sgd_with_epoch_scheduler,
        {"max_epochs": 2, "monitor": {"log_momentum": True, "log_weight_decay": True}},
    ),
    "interval-step": (
        sgd_with_epoch_scheduler,
        {"max_epochs": 2, "log_every_n_steps": 3, "monitor": {"logging_interval": "step"}},
    ),
    "interval-epoch": (
        sgd_with_epoch_scheduler,
        {"max_epochs": 2, "log_every_n_steps": 1, "monitor": {"logging_interval": "epoch"}},
    ),
    "param-groups": (
        adam_groups_with_named_step_scheduler,
        {"max_epochs": 1, "log_every_n_steps": 1, "monitor": {"log_momentum": True}},
    ),
    "named-group": (adam_with_a_named_group, {"max_epochs": 1, "log_every_n_steps": 2}),
    "accumulation": (
        sgd_with_epoch_scheduler,
        {"max_epochs": 1, "log_every_n_steps": 1, "accumulate_grad_batches": 2},
    ),
}
MANUAL_CASES = {
    "same-class": (three_optimizers, {"max_epochs": 1, "log_every_n_steps": 2}),
    "scheduler-names": (two_schedulers_and_a_named_one, {"max_epochs": 2, "log_every_n_steps": 2}),
}


@pytest.mark.parametrize("case", list(CASES) + list(MANUAL_CASES))
def test_same_names_values_and_steps_as_lightning(case: str, tmp_path: Path) -> None:
    lightning = pytest.importorskip("pytorch_lightning")
    manual = case in MANUAL_CASES
    configure, flags = {**CASES, **MANUAL_CASES}[case]
    ours = fit_and_record(reference, configure, tmp_path / "ref", manual, **dict(flags))
    theirs = fit_and_record(lightning, configure, tmp_path / "pl", manual, **dict(flags))
    assert ours[0], "nothing was logged"
    assert ours == theirs


def test_names_and_timing(ns: Any, tmp_path: Path) -> None:
    """Per-scheduler intervals: the epoch scheduler at each epoch start, at the stepped-batch
    axis; the step scheduler's groups every ``log_every_n_steps`` batches."""
    calls, lrs, metric_names = fit_and_record(
        ns.module, sgd_with_epoch_scheduler, tmp_path, max_epochs=3, log_every_n_steps=2
    )
    assert calls == [(0, {"lr-SGD": 0.1}), (4, {"lr-SGD": 0.05}), (8, {"lr-SGD": 0.025})]
    assert lrs == {"lr-SGD": [0.1, 0.05, 0.025]}
    assert metric_names == ["lr-SGD"]

    calls, lrs, _ = fit_and_record(
        ns.module,
        adam_groups_with_named_step_scheduler,
        tmp_path,
        max_epochs=1,
        log_every_n_steps=2,
    )
    assert calls == [
        (1, {"my/pg1": 0.09, "my/pg2": 0.009}),
        (3, {"my/pg1": 0.0729, "my/pg2": 0.00729}),
    ]
    assert list(lrs) == ["my/pg1", "my/pg2"]


def test_no_logger_is_an_error_at_fit_start(ns: Any) -> None:
    class Model(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            return self.layer(batch[0]).sum()

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    trainer = ns.trainer(max_epochs=1, callbacks=[ns.module.callbacks.LearningRateMonitor()])
    with pytest.raises(ns.module.utilities.exceptions.MisconfigurationException, match="no logger"):
        trainer.fit(Model(), DataLoader(TensorDataset(torch.randn(4, 2)), batch_size=2))


def test_bad_logging_interval(ns: Any) -> None:
    with pytest.raises(ns.module.utilities.exceptions.MisconfigurationException, match="`step`"):
        ns.module.callbacks.LearningRateMonitor(logging_interval="batch")


def test_duplicate_group_names_are_refused(ns: Any, tmp_path: Path) -> None:
    def same_names(model: Any) -> Any:
        groups = [{"params": model.a.parameters(), "name": "x"}]
        return torch.optim.SGD([*groups, {"params": model.b.parameters(), "name": "x"}], lr=0.1)

    with pytest.raises(ns.module.utilities.exceptions.MisconfigurationException, match="'x'"):
        fit_and_record(ns.module, same_names, tmp_path, max_epochs=1)


def test_momentum_of_an_optimizer_without_one_is_zero_with_a_warning(
    ns: Any, tmp_path: Path
) -> None:
    def adagrad(model: Any) -> Any:
        return torch.optim.Adagrad(model.parameters(), lr=0.1)

    with pytest.warns(RuntimeWarning, match="do not have momentum"):
        calls, _, _ = fit_and_record(
            ns.module, adagrad, tmp_path, max_epochs=1, monitor={"log_momentum": True}, quiet=False
        )
    assert calls[0] == (0, {"lr-Adagrad": 0.1, "lr-Adagrad-momentum": 0.0})


def test_csv_file_matches_lightning_when_param_groups_grow(tmp_path: Path) -> None:
    """A group added after the first epoch turns ``lr-SGD`` into ``lr-SGD/pg1`` (history kept)."""
    lightning = pytest.importorskip("pytorch_lightning")

    def run(framework: Any, root: Path) -> tuple[str, dict[str, list[float]]]:
        class Model(framework.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.layer = torch.nn.Linear(2, 1)

            def training_step(self, batch: Any, batch_idx: int) -> Any:
                loss = self.layer(batch[0]).pow(2).mean()
                self.log("loss", loss, on_epoch=True)
                return loss

            def on_train_epoch_end(self) -> None:
                if self.current_epoch == 0:
                    extra = torch.nn.Parameter(torch.zeros(1))
                    self.trainer.optimizers[0].add_param_group({"params": [extra], "lr": 0.5})

            def configure_optimizers(self) -> Any:
                return torch.optim.SGD(self.parameters(), lr=0.1)

        torch.manual_seed(0)
        monitor = framework.callbacks.LearningRateMonitor()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = framework.Trainer(
                logger=framework.loggers.CSVLogger(root),
                callbacks=[monitor],
                log_every_n_steps=2,
                max_epochs=2,
                enable_progress_bar=False,
                enable_model_summary=False,
                enable_checkpointing=False,
                accelerator="cpu",
                devices=1,
            )
            trainer.fit(Model(), DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=2))
        return (root / "lightning_logs/version_0/metrics.csv").read_text(), monitor.lrs

    ours = run(reference, tmp_path / "ref")
    assert ours[1] == {"lr-SGD/pg1": [0.1] * 6, "lr-SGD/pg2": [0.5] * 3}
    assert ours == run(lightning, tmp_path / "pl")
