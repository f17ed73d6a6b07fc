"""Batch limits, validation points, sanity check, stopping rules and counters (facts §2.2-§2.5).

Each test runs on the reference and on real Lightning (``ns``) with the expected values the
facts file records for Lightning 2.6.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset


def counting_model(ns: Any, train_batches: int = 10, val_batches: int = 3, **hooks: Any) -> Any:
    """Records (epoch, batch_idx) of each validation run and of each training batch."""

    class Model(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)
            self.validations: list[tuple[int, int]] = []
            self.train_batches: list[tuple[int, int]] = []
            self.val_batches = 0
            self.sanity_batches = 0

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.train_batches.append((self.current_epoch, batch_idx))
            return self.layer(batch).sum()

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            if self.trainer.sanity_checking:
                self.sanity_batches += 1
            else:
                self.val_batches += 1

        def on_validation_start(self) -> None:
            if not self.trainer.sanity_checking:
                self.validations.append(
                    (self.current_epoch, self.trainer.fit_loop.epoch_loop.batch_idx)
                )

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.0)

        def train_dataloader(self) -> DataLoader:
            return DataLoader(torch.ones(train_batches, 2))

        def val_dataloader(self) -> DataLoader:
            return DataLoader(torch.ones(val_batches, 2))

    for name, fn in hooks.items():
        setattr(Model, name, fn)
    return Model()


@pytest.mark.parametrize(
    "interval, expected",
    [
        (1.0, [(0, 9), (1, 9)]),
        (0.3, [(0, 2), (0, 5), (0, 8), (1, 2), (1, 5), (1, 8)]),  # no validation at epoch end
        (0.25, [(0, 1), (0, 3), (0, 5), (0, 7), (0, 9), (1, 1), (1, 3), (1, 5), (1, 7), (1, 9)]),
        (3, [(0, 2), (0, 5), (0, 8), (1, 2), (1, 5), (1, 8)]),
    ],
)
def test_val_check_interval(ns: Any, interval: float, expected: list) -> None:
    model = counting_model(ns)
    ns.trainer(max_epochs=2, val_check_interval=interval, num_sanity_val_steps=0).fit(model)
    assert model.validations == expected


def test_check_val_every_n_epoch_has_no_forced_last_validation(ns: Any) -> None:
    model = counting_model(ns, train_batches=2)
    ns.trainer(max_epochs=5, check_val_every_n_epoch=2, num_sanity_val_steps=0).fit(model)
    assert model.validations == [(1, 1), (3, 1)]


def test_float_interval_with_every_n_epochs(ns: Any) -> None:
    model = counting_model(ns)
    ns.trainer(
        max_epochs=2, val_check_interval=0.5, check_val_every_n_epoch=2, num_sanity_val_steps=0
    ).fit(model)
    assert model.validations == [(1, 4), (1, 9)]


def test_int_interval_across_epochs_counts_batches(ns: Any) -> None:
    model = counting_model(ns, train_batches=4)
    ns.trainer(
        max_epochs=3,
        val_check_interval=3,
        check_val_every_n_epoch=None,
        accumulate_grad_batches=2,
        num_sanity_val_steps=0,
    ).fit(model)
    # total batches 3, 6, 9, 12 → (epoch, index in epoch)
    assert model.validations == [(0, 2), (1, 1), (2, 0), (2, 3)]


def test_no_epoch_gate_with_the_default_interval(ns: Any) -> None:
    model = counting_model(ns, train_batches=4)
    ns.trainer(max_epochs=2, check_val_every_n_epoch=None, num_sanity_val_steps=0).fit(model)
    assert model.validations == [(0, 3), (1, 3)]


def test_int_interval_longer_than_the_epoch_is_an_error(ns: Any) -> None:
    with pytest.raises(
        ValueError, match="must be less than or equal to the number of the training"
    ):
        ns.trainer(max_epochs=1, val_check_interval=11).fit(counting_model(ns))


@pytest.mark.parametrize(
    "flags, train, val",
    [
        ({"limit_train_batches": 3, "limit_val_batches": 2}, 3, 2),
        ({"limit_train_batches": 0.5, "limit_val_batches": 0.34}, 5, 1),  # int() floors
        ({"limit_train_batches": 1.0, "limit_val_batches": 1}, 10, 1),
        ({"limit_val_batches": 0}, 10, 0),
    ],
)
def test_batch_limits(ns: Any, flags: dict, train: int, val: int) -> None:
    model = counting_model(ns)
    trainer = ns.trainer(max_epochs=1, num_sanity_val_steps=0, **flags)
    trainer.fit(model)
    assert len(model.train_batches) == trainer.num_training_batches == train
    assert model.val_batches == val


def test_limit_train_batches_zero_trains_nothing(ns: Any) -> None:
    model = counting_model(ns)
    trainer = ns.trainer(max_epochs=3, limit_train_batches=0)
    trainer.fit(model)
    assert model.train_batches == [] and trainer.global_step == 0


def test_float_limit_producing_zero_batches_is_an_error(ns: Any) -> None:
    with pytest.raises(Exception, match=r"0.05 \* 10 < 1"):
        ns.trainer(max_epochs=1, limit_train_batches=0.05).fit(counting_model(ns))


@pytest.mark.parametrize("steps, expected", [(2, 2), (-1, 3), (0, 0)])
def test_sanity_check_runs_num_sanity_val_steps_per_loader(
    ns: Any, steps: int, expected: int
) -> None:
    model = counting_model(ns, val_batches=3)
    ns.trainer(max_epochs=1, num_sanity_val_steps=steps, limit_train_batches=1).fit(model)
    assert model.sanity_batches == expected


def test_sanity_check_does_not_disturb_the_rng(ns: Any) -> None:
    def draws(steps: int) -> torch.Tensor:
        seen: list[torch.Tensor] = []

        def on_train_start(self: Any) -> None:
            seen.append(torch.rand(3))

        def validation_step(self: Any, batch: Any, batch_idx: int) -> None:
            torch.rand(100)

        torch.manual_seed(7)
        model = counting_model(ns, on_train_start=on_train_start, validation_step=validation_step)
        torch.manual_seed(7)
        ns.trainer(max_epochs=1, limit_train_batches=1, num_sanity_val_steps=steps).fit(model)
        return seen[0]

    assert torch.equal(draws(0), draws(2))


@pytest.mark.parametrize(
    "flags, epochs, steps",
    [
        ({"max_epochs": 2}, 2, 20),
        # stopping part-way through an epoch still ends (and counts) that epoch
        ({"max_steps": 13}, 2, 13),
        ({"max_epochs": 5, "max_steps": 25}, 3, 25),
        ({"max_epochs": 2, "accumulate_grad_batches": 4}, 2, 6),  # 10 batches: 3 steps/epoch
        ({"max_epochs": 0}, 0, 0),
    ],
)
def test_max_epochs_and_steps(ns: Any, flags: dict, epochs: int, steps: int) -> None:
    trainer = ns.trainer(limit_val_batches=0, **flags)
    trainer.fit(counting_model(ns))
    assert (trainer.current_epoch, trainer.global_step) == (epochs, steps)


def test_should_stop_mid_epoch_validates_then_ends(ns: Any) -> None:
    def on_train_batch_end(self: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if batch_idx == 4:
            self.trainer.should_stop = True

    model = counting_model(ns, on_train_batch_end=on_train_batch_end)
    trainer = ns.trainer(max_epochs=3, num_sanity_val_steps=0)
    trainer.fit(model)
    assert trainer.global_step == 5
    assert model.validations == [(0, 4)]
    assert trainer.current_epoch == 1


def test_should_stop_waits_for_min_epochs(ns: Any) -> None:
    def on_train_batch_end(self: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.trainer.should_stop = True

    trainer = ns.trainer(max_epochs=5, min_epochs=3, limit_val_batches=0)
    trainer.fit(counting_model(ns, train_batches=2, on_train_batch_end=on_train_batch_end))
    assert trainer.current_epoch == 3


def test_on_train_batch_start_minus_one_skips_the_rest_of_each_epoch(ns: Any) -> None:
    def on_train_batch_start(self: Any, batch: Any, batch_idx: int) -> Any:
        return -1 if batch_idx == 3 else None

    model = counting_model(ns, on_train_batch_start=on_train_batch_start)
    trainer = ns.trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(model)
    assert trainer.global_step == 6 and trainer.current_epoch == 2
    assert model.train_batches == [(e, i) for e in range(2) for i in range(3)]


def test_estimated_stepping_batches(ns: Any) -> None:
    trainer = ns.trainer(max_epochs=3, accumulate_grad_batches=4)
    model = counting_model(ns)
    trainer.fit(model)  # 10 batches → ceil(10 / 4) = 3 steps per epoch
    assert trainer.estimated_stepping_batches == 9
    capped = ns.trainer(max_epochs=3, max_steps=5)
    capped.fit(counting_model(ns))
    assert capped.estimated_stepping_batches == 5


def test_estimated_stepping_batches_in_configure_optimizers(ns: Any) -> None:
    seen: list[Any] = []

    def configure_optimizers(self: Any) -> Any:
        seen.append(self.trainer.estimated_stepping_batches)
        return torch.optim.SGD(self.parameters(), lr=0.0)

    ns.trainer(max_epochs=2, limit_val_batches=0).fit(
        counting_model(ns, configure_optimizers=configure_optimizers)
    )
    assert seen == [20]


def test_fast_dev_run(ns: Any) -> None:
    model = counting_model(ns)
    trainer = ns.trainer(fast_dev_run=2, max_epochs=10)
    trainer.fit(model)
    assert trainer.global_step == 2 and model.sanity_batches == 0
    assert model.validations == [(0, 1)] and model.val_batches == 2


class Stream(IterableDataset):
    def __iter__(self) -> Any:
        return iter(torch.ones(6, 2))


def test_unsized_loader_validates_at_its_end(ns: Any) -> None:
    model = counting_model(ns)
    model.train_dataloader = lambda: DataLoader(Stream())
    trainer = ns.trainer(max_epochs=2, num_sanity_val_steps=0)
    trainer.fit(model)
    assert math.isinf(trainer.num_training_batches)
    assert model.validations == [(0, 5), (1, 5)]
    assert trainer.global_step == 12


def test_unsized_loader_rejects_float_limits(ns: Any) -> None:
    model = counting_model(ns)
    model.train_dataloader = lambda: DataLoader(Stream())
    with pytest.raises(Exception, match="must be `1.0` or an int"):
        ns.trainer(max_epochs=1, limit_train_batches=0.5).fit(model)


def test_fitting_again_continues_from_the_loop_state(ns: Any) -> None:
    model = counting_model(ns, train_batches=2)
    trainer = ns.trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(model)
    trainer.fit(model)  # max_epochs already reached: nothing more happens
    assert (trainer.current_epoch, trainer.global_step) == (2, 4)
    trainer.fit_loop.max_epochs = 4
    trainer.fit(model)
    assert (trainer.current_epoch, trainer.global_step) == (4, 8)
    assert [epoch for epoch, _ in model.train_batches] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_should_stop_before_training_skips_every_epoch(ns: Any) -> None:
    def on_fit_start(self: Any) -> None:
        self.trainer.should_stop = True

    model = counting_model(ns, on_fit_start=on_fit_start)
    trainer = ns.trainer(max_epochs=3, num_sanity_val_steps=0)
    trainer.fit(model)
    assert model.train_batches == [] and trainer.current_epoch == 0


@pytest.mark.parametrize("kind", ["dict", "list"])
def test_several_train_loaders_are_zipped_cycling_the_shorter(ns: Any, kind: str) -> None:
    seen: list[Any] = []

    def training_step(self: Any, batch: Any, batch_idx: int) -> Any:
        parts = batch.values() if isinstance(batch, dict) else batch
        seen.append([int(part[0, 0]) for part in parts])
        return self.layer(next(iter(parts))).sum()

    model = counting_model(ns, training_step=training_step)
    long, short = DataLoader(torch.arange(8.0).view(4, 2)), DataLoader(torch.arange(4.0).view(2, 2))
    loaders = {"a": long, "b": short} if kind == "dict" else [long, short]
    trainer = ns.trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model, train_dataloaders=loaders)
    assert trainer.num_training_batches == 4
    assert seen == [[0, 0], [2, 2], [4, 0], [6, 2]]


def test_nested_loader_collections_keep_their_shape(ns: Any) -> None:
    # Lightning's CombinedLoader takes any nesting of dicts/lists/tuples; a batch mirrors it
    seen: list[Any] = []
    evaluated: list[tuple[int, int]] = []

    def training_step(self: Any, batch: Any, batch_idx: int) -> Any:
        (first,), pair = batch["a"]["x"], batch["b"]
        seen.append((int(first[0, 0]), [int(part[0, 0]) for part in pair]))
        return self.layer(first).sum()

    def validation_step(self: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        evaluated.append((dataloader_idx, int(batch[0, 0])))

    def rows(start: float, count: int) -> DataLoader:
        return DataLoader(
            torch.arange(start, start + 2 * count, dtype=torch.float32).view(count, 2)
        )

    model = counting_model(ns, training_step=training_step, validation_step=validation_step)
    train = {"a": {"x": [rows(0, 2)]}, "b": (rows(10, 2), rows(20, 1))}
    trainer = ns.trainer(max_epochs=1, num_sanity_val_steps=0)
    trainer.fit(model, train_dataloaders=train, val_dataloaders=[[rows(30, 1)], {"k": rows(40, 1)}])
    assert seen == [(0, [10, 20]), (2, [12, 20])]
    assert evaluated == [(0, 30), (1, 40)]


def test_loop_progress_state_round_trips(make_trainer: Any) -> None:
    """The checkpointing seam: every loop counter survives state_dict → load_state_dict."""
    import reference as L

    class NS:
        LightningModule = L.LightningModule

    trainer = make_trainer(max_epochs=2, val_check_interval=5, accumulate_grad_batches=3)
    trainer.fit(counting_model(NS))
    state = {
        "fit": trainer.fit_loop.state_dict(),
        "validate": trainer.validate_loop.state_dict(),
        "predict": trainer.predict_loop.state_dict(),
    }
    other = make_trainer(max_epochs=2)
    other.fit_loop.load_state_dict(state["fit"])
    other.validate_loop.load_state_dict(state["validate"])
    other.predict_loop.load_state_dict(state["predict"])
    assert (
        (other.current_epoch, other.global_step)
        == (trainer.current_epoch, trainer.global_step)
        == (2, 8)
    )
    assert other.fit_loop.epoch_loop._batches_that_stepped == 8
    assert other.fit_loop.state_dict() == state["fit"]
    assert state["fit"]["epoch_loop"]["batch_progress"]["total"]["completed"] == 20
