"""EarlyStopping, the progress bar, the model summary and callback ordering."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from reference_models import BoringModel

import reference as L
from reference.callbacks import Callback, EarlyStopping, ModelSummary, TQDMProgressBar
from reference.callbacks.checkpoint import Checkpoint
from reference.utilities.exceptions import MisconfigurationException


def scripted(ns: Any, scores: list[float], key: str = "val_loss", where: str = "validation") -> Any:
    """A model logging ``scores[epoch]`` under ``key`` at each validation (or train epoch end)."""

    class Model(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if where == "train":
                self.log(key, scores[self.current_epoch], on_step=False, on_epoch=True)
            return self.layer(batch).sum()

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            if where == "validation":
                self.log(key, scores[self.current_epoch])

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.0)

        def train_dataloader(self) -> Any:
            return torch.utils.data.DataLoader(torch.ones(2, 2))

        def val_dataloader(self) -> Any:
            return torch.utils.data.DataLoader(torch.ones(2, 2))

    return Model()


def early_stopping(ns: Any, **kwargs: Any) -> Any:
    return ns.module.callbacks.EarlyStopping(**kwargs)


@pytest.mark.parametrize(
    "scores, kwargs, stopped_after",
    [
        ([5, 4, 4, 4, 4, 4, 4, 4], {"patience": 2}, 4),  # best at epoch 1, two bad epochs
        ([5, 4, 3.99, 3.98, 3.97, 3, 2, 1], {"patience": 1, "min_delta": 0.1}, 3),
        ([1, 2, 3, 3, 3, 3, 3, 3], {"patience": 1, "mode": "max"}, 4),
        ([5, 4, 3, 2, 1, 0, 0, 0], {"stopping_threshold": 2.5}, 4),
        ([1, 2, 10, 1, 1, 1, 1, 1], {"divergence_threshold": 5.0}, 3),
        ([1, float("nan"), 1, 1, 1, 1, 1, 1], {}, 2),
        ([5, 4, 3, 2, 1, 0, -1, -2], {"patience": 1}, 8),  # always improving: never stops
    ],
)
def test_early_stopping_rules(ns: Any, scores: list, kwargs: dict, stopped_after: int) -> None:
    trainer = ns.trainer(max_epochs=8, callbacks=[early_stopping(ns, monitor="val_loss", **kwargs)])
    trainer.fit(scripted(ns, scores))
    assert trainer.current_epoch == stopped_after


def test_early_stopping_on_train_metric_checks_at_train_epoch_end(ns: Any) -> None:
    es = early_stopping(ns, monitor="train_metric", patience=1)
    trainer = ns.trainer(max_epochs=8, limit_val_batches=0, callbacks=[es])
    trainer.fit(scripted(ns, [3, 2, 2, 2, 2, 2, 2, 2], key="train_metric", where="train"))
    assert trainer.current_epoch == 3 and es.stopped_epoch == 2


def test_early_stopping_after_each_validation_when_validating_mid_epoch(ns: Any) -> None:
    calls: list[int] = []

    class Spy(ns.module.callbacks.EarlyStopping):
        def _run_early_stopping_check(self, trainer: Any) -> None:
            calls.append(trainer.global_step)
            super()._run_early_stopping_check(trainer)

    model = scripted(ns, [1.0] * 4)
    model.train_dataloader = lambda: torch.utils.data.DataLoader(torch.ones(4, 2))
    trainer = ns.trainer(max_epochs=1, val_check_interval=2, callbacks=[Spy(monitor="val_loss")])
    trainer.fit(model)
    assert calls == [2, 4]


def test_early_stopping_missing_metric(ns: Any) -> None:
    trainer = ns.trainer(max_epochs=2, callbacks=[early_stopping(ns, monitor="nope")])
    with pytest.raises(RuntimeError, match="conditioned on metric `nope` which is not available"):
        trainer.fit(scripted(ns, [1, 1]))
    relaxed = ns.trainer(max_epochs=2, callbacks=[early_stopping(ns, monitor="nope", strict=False)])
    relaxed.fit(scripted(ns, [1, 1]))
    assert relaxed.current_epoch == 2


def test_early_stopping_state_dict_round_trip() -> None:
    es = EarlyStopping(monitor="m", patience=3)
    es.wait_count, es.stopped_epoch, es.best_score = 2, 5, torch.tensor(0.5)
    state = es.state_dict()
    other = EarlyStopping(monitor="m")
    other.load_state_dict(state)
    assert (other.wait_count, other.stopped_epoch, float(other.best_score), other.patience) == (
        2,
        5,
        0.5,
        3,
    )
    assert es.state_key == "EarlyStopping{'monitor': 'm', 'mode': 'min'}"


def test_early_stopping_bad_mode() -> None:
    with pytest.raises(MisconfigurationException, match="`mode` can be min, max"):
        EarlyStopping(monitor="m", mode="up")


def test_early_stopping_respects_min_epochs(ns: Any) -> None:
    trainer = ns.trainer(
        max_epochs=8, min_epochs=5, callbacks=[early_stopping(ns, monitor="val_loss", patience=1)]
    )
    trainer.fit(scripted(ns, [1.0] * 8))
    assert trainer.current_epoch == 5


# ------------------------------------------------------------------------- progress bar
def test_progress_bar_shows_epochs_and_metrics(tmp_path: Any, capsys: Any) -> None:
    class Logged(BoringModel):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.loss(batch)
            self.log("shown", 0.25, prog_bar=True)
            return loss

    trainer = L.Trainer(
        max_epochs=2, logger=False, enable_model_summary=False, default_root_dir=tmp_path
    )
    assert isinstance(trainer.progress_bar_callback, TQDMProgressBar)
    trainer.fit(Logged())
    out = capsys.readouterr().out
    assert "Epoch 0" in out and "Epoch 1" in out and "shown=0.25" in out
    assert "4/4" in out


def test_progress_bar_init_hooks_customise_the_bars(tmp_path: Any, capsys: Any) -> None:
    # Lightning's documented way to customise a bar: override TQDMProgressBar.init_*_tqdm
    made: list[str] = []

    class Custom(TQDMProgressBar):
        def init_train_tqdm(self) -> Any:
            made.append("train")
            return super().init_train_tqdm()

        def init_validation_tqdm(self) -> Any:
            made.append("validation")
            bar = super().init_validation_tqdm()
            bar.set_description("running validation...")
            return bar

    trainer = L.Trainer(
        max_epochs=2, logger=False, enable_model_summary=False, default_root_dir=tmp_path,
        num_sanity_val_steps=0, callbacks=[Custom()],
    )  # fmt: skip
    trainer.fit(BoringModel())
    assert made == ["train", "validation", "validation"]
    assert trainer.progress_bar_callback.total_val_batches == sum(trainer.num_val_batches) > 0
    assert "running validation...:" in capsys.readouterr().out


def test_progress_bar_off(tmp_path: Any, capsys: Any) -> None:
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    assert trainer.progress_bar_callback is None
    trainer.fit(BoringModel())
    captured = capsys.readouterr()
    assert "Epoch" not in captured.out + captured.err


def test_progress_bar_flag_conflicts() -> None:
    with pytest.raises(MisconfigurationException, match="enable_progress_bar=False` but found"):
        L.Trainer(enable_progress_bar=False, callbacks=[TQDMProgressBar()])
    with pytest.raises(MisconfigurationException, match="multiple progress bar"):
        L.Trainer(callbacks=[TQDMProgressBar(), TQDMProgressBar()])


def test_module_print_goes_through_the_bar(tmp_path: Any, capsys: Any) -> None:
    class Printing(BoringModel):
        def on_train_epoch_end(self) -> None:
            self.print("hello from epoch", self.current_epoch)

    L.Trainer(
        max_epochs=1, logger=False, enable_model_summary=False, default_root_dir=tmp_path
    ).fit(Printing())
    assert "hello from epoch 0" in capsys.readouterr().out


# ------------------------------------------------------------------------- model summary
def test_model_summary_prints_layers_and_params(tmp_path: Any, capsys: Any) -> None:
    trainer = L.Trainer(
        max_epochs=1, logger=False, enable_progress_bar=False, default_root_dir=tmp_path
    )
    assert any(isinstance(c, ModelSummary) for c in trainer.callbacks)
    trainer.fit(BoringModel())
    out = capsys.readouterr().out
    assert "layer" in out and "Linear" in out and "66" in out and "Trainable params" in out


def test_model_summary_off(make_trainer: Any, capsys: Any) -> None:
    make_trainer(max_epochs=1).fit(BoringModel())
    assert "Trainable params" not in capsys.readouterr().out


# ---------------------------------------------------------------------- callback order
class First(Callback):
    pass


class Second(Callback):
    pass


class MyCheckpoint(Checkpoint):
    pass


def test_checkpoint_callbacks_go_last_and_model_callbacks_replace_same_type(
    make_trainer: Any,
) -> None:
    replacement = First()

    class WithCallbacks(BoringModel):
        def configure_callbacks(self) -> Any:
            return [replacement]

    trainer = make_trainer(
        max_epochs=1, enable_checkpointing=True, callbacks=[MyCheckpoint(), First(), Second()]
    )
    assert [type(c) for c in trainer.callbacks] == [First, Second, MyCheckpoint]
    trainer.fit(WithCallbacks())
    assert [type(c) for c in trainer.callbacks] == [Second, First, MyCheckpoint]
    assert trainer.callbacks[1] is replacement
    assert trainer.checkpoint_callback is trainer.callbacks[2]


def test_stateful_callbacks_need_unique_state_keys(make_trainer: Any) -> None:
    class Stateful(Callback):
        def state_dict(self) -> dict:
            return {"x": 1}

    with pytest.raises(RuntimeError, match="more than one stateful callback of type `Stateful`"):
        make_trainer(max_epochs=1, callbacks=[Stateful(), Stateful()]).fit(BoringModel())


def test_monitoring_callbacks_see_what_the_module_logs_at_train_epoch_end(
    make_trainer: Any,
) -> None:
    order: list[str] = []

    class Plain(Callback):
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            order.append("plain")

    class Monitor(EarlyStopping):
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            order.append(f"monitor sees {float(trainer.callback_metrics['late'])}")

    class Late(BoringModel):
        def on_train_epoch_end(self) -> None:
            order.append("module")
            self.log("late", 3.0)

    make_trainer(max_epochs=1, callbacks=[Monitor(monitor="late"), Plain()]).fit(Late())
    assert order == ["plain", "module", "monitor sees 3.0"]
