"""Trainer.save_checkpoint and restoring: what the file holds, and the trainer-level rules."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

import reference as L
from reference.precision import Precision
from reference.trainer.checkpointing import EXACT_RESUME_KEY, REFERENCE_VERSION_KEY
from reference.utilities.checkpoint_io import load_checkpoint
from reference.utilities.exceptions import MisconfigurationException


def boring(ns: Any) -> Any:
    from reference_models import RandomDataset
    from torch.utils.data import DataLoader

    class Boring(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(32, 2)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            out = self.layer(batch)
            return torch.nn.functional.mse_loss(out, torch.ones_like(out))

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            pass

        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 1)]

        def train_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(4))

        def val_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(2, seed=1))

    return Boring()


class SaveAt:
    """Saves through ``trainer.save_checkpoint`` at one global step (on_train_batch_end)."""

    @staticmethod
    def callback(ns: Any, path: Path, step: int) -> Any:
        class Save(ns.Callback):
            def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
                if trainer.global_step == step:
                    trainer.save_checkpoint(path)

        return Save()


def saved_loops(ns: Any, root: Path, step: int | None) -> dict[str, Any]:
    path = root / f"{ns.name}-{step}.ckpt"
    callbacks = [SaveAt.callback(ns, path, step)] if step else []
    trainer = ns.trainer(max_epochs=2, limit_val_batches=1, callbacks=callbacks)
    trainer.fit(boring(ns))
    if step is None:
        trainer.save_checkpoint(path)
    return torch.load(path, weights_only=True)["loops"]


def framework_ns(framework: Any, root: Path) -> Any:
    """The reference or Lightning, with quiet trainers rooted in ``root``."""

    class Namespace:
        name = framework.__name__
        LightningModule, Callback = framework.LightningModule, framework.Callback

        @staticmethod
        def trainer(**flags: Any) -> Any:
            quiet = {
                "logger": False, "enable_progress_bar": False, "enable_model_summary": False,
                "enable_checkpointing": False, "default_root_dir": root,
                "accelerator": "cpu", "devices": 1,
            }  # fmt: skip
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return framework.Trainer(**quiet, **flags)

    return Namespace


@pytest.mark.parametrize("step", [None, 2, 4, 6], ids=["after-fit", "mid", "last-batch", "mid2"])
def test_loop_counters_are_lightnings(step: int | None, tmp_path: Path) -> None:
    """The ``loops`` entry has Lightning's keys and, after the same run, its exact counters."""
    pl = pytest.importorskip("pytorch_lightning")
    expected = saved_loops(framework_ns(pl, tmp_path / "pl"), tmp_path, step)
    assert saved_loops(framework_ns(L, tmp_path / "ref"), tmp_path, step) == expected


def test_save_needs_a_model(make_trainer: Any, tmp_path: Path) -> None:
    with pytest.raises(AttributeError, match="only possible if a model is attached"):
        make_trainer().save_checkpoint(tmp_path / "x.ckpt")


def test_reference_keys_and_weights_only(make_trainer: Any, tmp_path: Path) -> None:
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(boring(L))
    trainer.save_checkpoint(tmp_path / "full.ckpt")
    trainer.save_checkpoint(tmp_path / "weights.ckpt", weights_only=True)
    full = load_checkpoint(tmp_path / "full.ckpt")
    assert full["pytorch-lightning_version"] == "2.6.0"
    assert full[REFERENCE_VERSION_KEY] == L.__version__
    assert set(full[EXACT_RESUME_KEY]) == {"rng_states", "epoch_rng_states"}
    weights = load_checkpoint(tmp_path / "weights.ckpt")
    absent = {"optimizer_states", "lr_schedulers", "callbacks", EXACT_RESUME_KEY} & set(weights)
    assert not absent


def test_precision_state_is_saved_and_restored(make_trainer: Any, tmp_path: Path) -> None:
    class Scaled(Precision):
        def __init__(self) -> None:
            super().__init__()
            self.scale = 1.0

        def state_dict(self) -> dict[str, Any]:
            return {"scale": self.scale}

        def load_state_dict(self, state_dict: dict[str, Any]) -> None:
            self.scale = state_dict["scale"]

    first = Scaled()
    first.scale = 64.0
    trainer = make_trainer(max_epochs=1, limit_val_batches=0, plugins=[first])
    trainer.fit(boring(L))
    trainer.save_checkpoint(tmp_path / "p.ckpt")
    assert load_checkpoint(tmp_path / "p.ckpt")[Scaled.__qualname__] == {"scale": 64.0}
    second = Scaled()
    make_trainer(max_epochs=2, limit_val_batches=0, plugins=[second]).fit(
        boring(L), ckpt_path=tmp_path / "p.ckpt"
    )
    assert second.scale == 64.0


def test_resume_rules(make_trainer: Any, tmp_path: Path) -> None:
    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(boring(L))
    trainer.save_checkpoint(tmp_path / "two.ckpt")
    trainer.save_checkpoint(tmp_path / "weights.ckpt", weights_only=True)
    with pytest.raises(MisconfigurationException, match="current_epoch=2.*max_epochs=1"):
        make_trainer(max_epochs=1, limit_val_batches=0).fit(
            boring(L), ckpt_path=tmp_path / "two.ckpt"
        )
    with pytest.raises(KeyError, match="weights.ckpt.*save_weights_only"):
        make_trainer(max_epochs=3, limit_val_batches=0).fit(
            boring(L), ckpt_path=tmp_path / "weights.ckpt"
        )
    # a finished checkpoint resumed with the same max_epochs trains nothing more
    model = boring(L)
    done = make_trainer(max_epochs=2, limit_val_batches=0)
    done.fit(model, ckpt_path=tmp_path / "two.ckpt")
    assert done.global_step == 8 and done.current_epoch == 2


def test_an_optimizer_state_that_does_not_fit_is_named(make_trainer: Any, tmp_path: Path) -> None:
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(boring(L))
    trainer.save_checkpoint(tmp_path / "sgd.ckpt")

    class TwoGroups(type(boring(L))):  # type: ignore[misc]
        def configure_optimizers(self) -> Any:
            weight, bias = self.layer.parameters()
            return torch.optim.Adam([{"params": [weight]}, {"params": [bias], "lr": 0.01}])

    with pytest.raises(ValueError, match="optimizer 0 in .*sgd.ckpt does not fit the Adam"):
        make_trainer(max_epochs=2, limit_val_batches=0).fit(
            TwoGroups(), ckpt_path=tmp_path / "sgd.ckpt"
        )


def test_callbacks_missing_from_the_resumed_trainer_are_named(
    make_trainer: Any, tmp_path: Path
) -> None:
    class Stateful(L.Callback):
        def state_dict(self) -> dict[str, Any]:
            return {"n": 1}

    trainer = make_trainer(max_epochs=1, limit_val_batches=0, callbacks=[Stateful()])
    trainer.fit(boring(L))
    trainer.save_checkpoint(tmp_path / "c.ckpt")
    with pytest.warns(UserWarning, match=r"add the following callbacks: \['.*Stateful'\]"):
        make_trainer(max_epochs=2, limit_val_batches=0).fit(
            boring(L), ckpt_path=tmp_path / "c.ckpt"
        )


def test_a_pinned_ckpt_path_is_used_until_a_run_names_another(
    make_trainer: Any, tmp_path: Path
) -> None:
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(boring(L))
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    trainer.save_checkpoint(tmp_path / "b.ckpt")
    trainer.ckpt_path = tmp_path / "a.ckpt"
    trainer.validate(boring(L))
    assert trainer.ckpt_path == str(tmp_path / "a.ckpt")
    with pytest.warns(UserWarning, match="The latter will be loaded"):
        trainer.validate(boring(L), ckpt_path=tmp_path / "b.ckpt")
    assert trainer.ckpt_path == str(tmp_path / "b.ckpt")
    trainer.validate(boring(L))  # no longer pinned: the model's own weights
    assert trainer.ckpt_path is None


def test_evaluation_loads_weights_but_not_the_optimizer(make_trainer: Any, tmp_path: Path) -> None:
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    trained = boring(L)
    trainer.fit(trained)
    trainer.save_checkpoint(tmp_path / "t.ckpt")
    fresh = boring(L)
    make_trainer(limit_val_batches=1).validate(fresh, ckpt_path=tmp_path / "t.ckpt")
    assert torch.equal(fresh.layer.weight, trained.layer.weight)


def test_a_resume_that_trains_nothing_does_not_leak_into_the_next_fit(
    make_trainer: Any, tmp_path: Path
) -> None:
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(boring(L))
    trainer.save_checkpoint(tmp_path / "one.ckpt")
    again = make_trainer(max_epochs=1, limit_val_batches=0)
    again.fit(boring(L), ckpt_path=tmp_path / "one.ckpt")  # already finished: no epoch runs
    assert again.fit_loop._resume is not None  # nothing consumed it
    again.fit(boring(L))  # no ckpt_path: the old resume point must not apply
    assert again.fit_loop._resume is None
    assert again.ckpt_path is None
