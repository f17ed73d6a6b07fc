"""``self.log``: defaults per hook, reductions, the metric views, where logging is forbidden.

Tests taking ``ns`` run on the reference and on real Lightning: the expected values are the
documented semantics, and Lightning must show them too.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

import reference as L
from reference.utilities.exceptions import MisconfigurationException


def logging_model(
    ns: Any, train: Any = None, val: Any = None, batches: int = 4, batch_size: int = 2, **hooks: Any
) -> Any:
    """A model whose training/validation steps call ``train(self, batch, i)``/``val(...)``."""

    class Model(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if train is not None:
                train(self, batch, batch_idx)
            return self.layer(batch).sum()

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            if val is not None:
                val(self, batch, batch_idx)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.0)

        def train_dataloader(self) -> DataLoader:
            return DataLoader(torch.ones(batches * batch_size, 4), batch_size=batch_size)

        def val_dataloader(self) -> DataLoader:
            return DataLoader(torch.ones(batches * batch_size, 4), batch_size=batch_size)

    for name, fn in hooks.items():
        setattr(Model, name, fn)
    return Model()


def values(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in metrics.items()}


def test_training_step_default_is_on_step(ns: Any) -> None:
    model = logging_model(ns, train=lambda m, b, i: m.log("a", float(i)))
    trainer = ns.trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model)
    assert values(trainer.callback_metrics) == {"a": 3.0}  # the last step's value
    assert values(trainer.logged_metrics) == {"a": 3.0}
    assert trainer.progress_bar_metrics == {}


def test_on_step_and_on_epoch_fork_the_names(ns: Any) -> None:
    model = logging_model(
        ns, train=lambda m, b, i: m.log("a", float(i), on_epoch=True, prog_bar=True)
    )
    trainer = ns.trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model)
    assert values(trainer.callback_metrics) == {"a": 1.5, "a_step": 3.0, "a_epoch": 1.5}
    assert values(trainer.logged_metrics) == {"a_step": 3.0, "a_epoch": 1.5}
    assert trainer.progress_bar_metrics == pytest.approx({"a_step": 3.0, "a_epoch": 1.5})


def test_validation_default_is_epoch_mean_weighted_by_batch_size(ns: Any) -> None:
    # batches of sizes 3, 3, 2 (8 samples); logged values 0, 1, 2
    def val(m: Any, batch: Any, i: int) -> None:
        m.log("v", float(i))

    model = logging_model(ns, val=val)
    model.val_dataloader = lambda: DataLoader(torch.ones(8, 4), batch_size=3)
    trainer = ns.trainer(max_epochs=1, num_sanity_val_steps=0)
    trainer.fit(model)
    expected = (0 * 3 + 1 * 3 + 2 * 2) / 8
    assert float(trainer.callback_metrics["v"]) == pytest.approx(expected)


@pytest.mark.parametrize(
    "reduce_fx, expected",
    [("sum", 6.0), ("max", 3.0), ("min", 0.0), ("mean", 1.5), (torch.max, 3.0)],
)
def test_epoch_reductions(ns: Any, reduce_fx: Any, expected: float) -> None:
    model = logging_model(
        ns,
        train=lambda m, b, i: m.log(
            "r", float(i), on_step=False, on_epoch=True, reduce_fx=reduce_fx
        ),
    )
    trainer = ns.trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model)
    assert float(trainer.callback_metrics["r"]) == pytest.approx(expected)


def test_explicit_batch_size_weights_the_mean(ns: Any) -> None:
    model = logging_model(
        ns,
        train=lambda m, b, i: m.log("w", float(i), on_step=False, on_epoch=True, batch_size=i + 1),
    )
    trainer = ns.trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model)
    expected = sum(i * (i + 1) for i in range(4)) / sum(i + 1 for i in range(4))
    assert float(trainer.callback_metrics["w"]) == pytest.approx(expected)


def test_epoch_mean_over_many_steps_is_exact(ns: Any) -> None:
    # more steps than the reference's pending-value buffer, with unequal batch sizes
    model = logging_model(
        ns,
        batches=150,
        batch_size=1,
        train=lambda m, b, i: m.log(
            "x", torch.tensor(float(i)), on_step=False, on_epoch=True, batch_size=1 + i % 3
        ),
    )
    trainer = ns.trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model)
    weights = [1 + i % 3 for i in range(150)]
    expected = sum(i * w for i, w in enumerate(weights)) / sum(weights)
    assert float(trainer.callback_metrics["x"]) == pytest.approx(expected, rel=1e-6)


def test_epoch_level_values_reset_every_epoch(ns: Any) -> None:
    seen: list[float] = []

    def on_train_epoch_end(self: Any) -> None:
        seen.append(float(self.trainer.callback_metrics["e"]))

    model = logging_model(
        ns,
        train=lambda m, b, i: m.log(
            "e", float(m.current_epoch * 10 + i), on_step=False, on_epoch=True
        ),
        on_train_epoch_end=on_train_epoch_end,
    )
    trainer = ns.trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(model)
    # in on_train_epoch_end the epoch loop has ended: the view shows the epoch's mean
    assert seen == [pytest.approx(1.5), pytest.approx(11.5)]
    assert float(trainer.callback_metrics["e"]) == pytest.approx(11.5)


def test_validate_returns_one_dict_of_floats_per_dataloader(ns: Any) -> None:
    class Model(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
            self.log("loss", float(dataloader_idx + 1))

        def on_validation_epoch_end(self) -> None:
            self.log("end", 7.0)

    trainer = ns.trainer()
    loaders = [DataLoader(torch.ones(2, 4)), DataLoader(torch.ones(3, 4))]
    results = trainer.validate(Model(), dataloaders=loaders, verbose=False)
    assert results == [
        {"loss/dataloader_idx_0": 1.0, "end": 7.0},
        {"loss/dataloader_idx_1": 2.0, "end": 7.0},
    ]
    assert all(isinstance(v, float) for r in results for v in r.values())


def test_log_dict_logs_every_key(ns: Any) -> None:
    model = logging_model(ns, train=lambda m, b, i: m.log_dict({"p": 1.0, "q": torch.tensor(2.0)}))
    trainer = ns.trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model)
    assert values(trainer.callback_metrics) == {"p": 1.0, "q": 2.0}


@pytest.mark.parametrize(
    "hook, args",
    [
        ("on_fit_start", ()),
        ("setup", ("fit",)),
        ("on_train_end", ()),
        ("on_validation_end", ()),
        ("configure_callbacks", ()),
        ("on_before_batch_transfer", ("batch", 0)),
    ],
)
def test_forbidden_hooks_raise(ns: Any, hook: str, args: tuple) -> None:
    def body(self: Any, *a: Any, **kw: Any) -> Any:
        self.log("nope", 1.0)
        return a[0] if hook == "on_before_batch_transfer" else None

    model = logging_model(ns, **{hook: body})
    with pytest.raises(
        MisconfigurationException if ns.name == "reference" else Exception,
        match=f"You can't `self.log\\(\\)` inside `{hook}`",
    ):
        ns.trainer(max_epochs=1).fit(model)


def test_epoch_hooks_refuse_on_step(ns: Any) -> None:
    def on_train_epoch_end(self: Any) -> None:
        self.log("x", 1.0, on_step=True)

    with pytest.raises(Exception, match="on_step=True"):
        ns.trainer(max_epochs=1, limit_val_batches=0).fit(
            logging_model(ns, on_train_epoch_end=on_train_epoch_end)
        )


@pytest.mark.parametrize(
    "value, message",
    [
        (torch.ones(2), "must have a single element"),
        ({"a": 1.0}, "nested dictionaries|cannot be logged"),
        ("text", "`str` values cannot be logged"),
    ],
)
def test_bad_values_are_named(ns: Any, value: Any, message: str) -> None:
    model = logging_model(ns, train=lambda m, b, i: m.log("bad", value))
    with pytest.raises(ValueError, match=message):
        ns.trainer(max_epochs=1, limit_val_batches=0).fit(model)


def test_a_name_that_is_not_a_str_is_named(make_trainer: Any) -> None:
    # Lightning fails with "argument of type 'int' is not iterable" from inside log
    model = logging_model(L, train=lambda m, b, i: m.log(3, 1.0))
    with pytest.raises(TypeError, match="`self.log` needs a str name, got int: 3"):
        make_trainer(max_epochs=1, limit_val_batches=0).fit(model)


def test_log_dict_of_something_else_is_named(make_trainer: Any) -> None:
    # Lightning fails with "'list' object has no attribute 'items'" from inside log_dict
    model = logging_model(L, train=lambda m, b, i: m.log_dict([("p", 1.0)]))
    with pytest.raises(TypeError, match="`self.log_dict` takes a dict .*got list"):
        make_trainer(max_epochs=1, limit_val_batches=0).fit(model)


def test_same_key_with_other_settings_is_an_error(ns: Any) -> None:
    def train(m: Any, b: Any, i: int) -> None:
        m.log("k", 1.0, prog_bar=bool(i % 2))

    with pytest.raises(Exception, match=r"twice in `training_step` with different arguments"):
        ns.trainer(max_epochs=1, limit_val_batches=0).fit(logging_model(ns, train=train))


def test_logging_without_trainer_warns_and_does_nothing() -> None:
    model = L.LightningModule()
    with pytest.warns(UserWarning, match="not registered on the model yet"):
        model.log("x", 1.0)


def test_integer_values_are_converted_with_a_warning(make_trainer: Any) -> None:
    model = logging_model(L, train=lambda m, b, i: m.log("n", torch.tensor(i), on_epoch=True))
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    with pytest.warns(UserWarning, match="needs to be floating"):
        trainer.fit(model)
    assert trainer.callback_metrics["n_epoch"].dtype == torch.float32


def test_logged_tensor_is_copied(make_trainer: Any) -> None:
    running = torch.zeros(())

    def train(m: Any, b: Any, i: int) -> None:
        running.fill_(float(i))
        m.log("r", running)

    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    seen = []

    class Spy(L.Callback):
        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            seen.append(float(trainer.callback_metrics["r"]))
            running.fill_(-1.0)  # the user's tensor changes after logging

    trainer.callbacks.append(Spy())
    trainer.fit(logging_model(L, train=train))
    assert seen == [0.0, 1.0, 2.0, 3.0]


def test_logging_a_torchmetrics_metric(ns: Any) -> None:
    torchmetrics = pytest.importorskip("torchmetrics")

    class Model(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)
            self.total = torchmetrics.SumMetric()
            self.epoch_sums: list[float] = []

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.total(torch.tensor(float(batch_idx)))  # forward: updates and caches this step
            self.log("total", self.total, on_step=True, on_epoch=True)
            return self.layer(batch).sum()

        def on_train_epoch_end(self) -> None:
            self.epoch_sums.append(float(self.trainer.callback_metrics["total_epoch"]))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.0)

        def train_dataloader(self) -> DataLoader:
            return DataLoader(torch.ones(4, 4))

    model = Model()
    trainer = ns.trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(model)
    assert model.epoch_sums == [6.0, 6.0]  # compute() per epoch, reset between epochs
    assert float(trainer.callback_metrics["total_step"]) == 3.0


def test_a_failed_run_leaves_no_values_in_the_next_epoch_mean(ns: Any) -> None:
    def train(m: Any, b: Any, i: int) -> None:
        m.log("x", 100.0 if m.fail else 1.0, on_step=False, on_epoch=True)
        if m.fail and i == 1:
            raise RuntimeError("stop here")

    model = logging_model(ns, train=train)
    model.fail = True
    trainer = ns.trainer(max_epochs=1, limit_val_batches=0)
    with pytest.raises(RuntimeError, match="stop here"):
        trainer.fit(model)
    model.fail = False
    trainer.fit(model)  # the same trainer: its loops resume the interrupted epoch
    assert float(trainer.callback_metrics["x"]) == 1.0
