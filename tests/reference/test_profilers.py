"""``trainer.profiler``: a pass-through profiler by default, as in Lightning; profilers that
would record are refused with an error that says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import reference as L
from reference.profilers import PassThroughProfiler, Profiler


def test_default_profiler_passes_through(ns: Any) -> None:
    trainer = ns.trainer()
    profiler = trainer.profiler
    assert type(profiler).__name__ == "PassThroughProfiler"
    with profiler.profile("my action") as name:
        assert name == "my action"
    profiler.start("x")
    profiler.stop("x")
    assert profiler.summary() == ""
    profiler.describe()  # nothing to report, nothing raised


def test_profiler_is_usable_from_hooks_during_fit(ns: Any) -> None:
    used: list[str] = []

    class Model(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            with self.trainer.profiler.profile("my_forward") as action:
                loss = self.layer(batch[0]).sum()
            used.append(action)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    ns.trainer(max_epochs=1).fit(
        Model(), DataLoader(TensorDataset(torch.randn(4, 2)), batch_size=2)
    )
    assert used == ["my_forward", "my_forward"]


def test_unknown_profiler_name_is_a_misconfiguration(ns: Any) -> None:
    with pytest.raises(ns.module.utilities.exceptions.MisconfigurationException, match="simple"):
        ns.trainer(profiler="fastest")


def test_barebones_refuses_a_profiler(ns: Any) -> None:
    with pytest.raises(ValueError, match="barebones=True, profiler="):
        ns.module.Trainer(barebones=True, profiler="simple")


def test_a_pass_through_profiler_instance_is_kept(make_trainer: Any) -> None:
    profiler = PassThroughProfiler()
    assert make_trainer(profiler=profiler).profiler is profiler
    assert make_trainer(profiler=None).profiler is not None


@pytest.mark.parametrize("value", ["simple", "Advanced", "pytorch", "xla"])
def test_recording_profilers_are_refused_clearly(value: str, make_trainer: Any) -> None:
    with pytest.raises(NotImplementedError, match="profiling is not supported by the reference"):
        make_trainer(profiler=value)


def test_a_custom_profiler_is_refused_rather_than_left_empty(make_trainer: Any) -> None:
    class Recording(Profiler):
        def start(self, action_name: str) -> None:
            pass

        def stop(self, action_name: str) -> None:
            pass

    with pytest.raises(NotImplementedError, match="profiler=.*Recording"):
        make_trainer(profiler=Recording())


def test_describe_writes_a_subclass_summary(tmp_path: Path) -> None:
    class Counting(Profiler):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.counts: dict[str, int] = {}

        def start(self, action_name: str) -> None:
            self.counts[action_name] = self.counts.get(action_name, 0) + 1

        def stop(self, action_name: str) -> None:
            pass

        def summary(self) -> str:
            return "\n".join(f"{name}: {count}" for name, count in self.counts.items())

    profiler = Counting(dirpath=tmp_path, filename="report")
    profiler.setup(stage="fit")
    with pytest.raises(RuntimeError):
        with profiler.profile("step"):
            raise RuntimeError("the block failed")
    with profiler.profile("step"):
        pass
    profiler.describe()
    assert (tmp_path / "fit-report.txt").read_text() == "step: 2"
    assert L.profilers.PassThroughProfiler is PassThroughProfiler
