"""SANITY: the validation sanity check that fit runs before training.

The probe records an event list ``(what, sanity_checking, dataloader_idx)`` from the validation
step, the training step and the stage hooks, and draws random numbers inside validation to show
whether the sanity check leaks RNG consumption into training.
"""

from __future__ import annotations

import random
from typing import Any

import numpy
import pytest
import torch
from torch.utils.data import DataLoader

from conformance.kit.citations import docs_silent
from conformance.kit.data import RandomDataset
from conformance.kit.models import boring_model_class
from conformance.registry import clause, facts, seed
from conformance.target import Target

SANITY_HERE = seed(
    "002", "Hooks", "on_fit_start() / # the sanity check runs here / on_train_start()"
)
SANITY_SILENT = docs_silent("what the sanity check runs and what it may change", "Hooks")
VAL_LENGTHS = (3, 1)


def _sanity_probe(target: Target, *, draw: bool = False, with_validation: bool = True) -> Any:
    base = boring_model_class(target)

    class SanityProbe(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__(batches=2)
            self.events: list[tuple[str, bool, int]] = []
            self.draws: list[tuple[float, float, float]] = []
            self.at_train_start: dict[str, Any] = {}

        def _sanity(self) -> bool:
            return bool(self.trainer.sanity_checking)

        def on_fit_start(self) -> None:
            self.events.append(("on_fit_start", self._sanity(), -1))

        def on_train_start(self) -> None:
            self.events.append(("on_train_start", self._sanity(), -1))
            self.at_train_start = {
                "global_step": self.trainer.global_step,
                "current_epoch": self.trainer.current_epoch,
                "callback_metrics": sorted(self.trainer.callback_metrics),
                "logged_metrics": sorted(self.trainer.logged_metrics),
            }
            self._draw()

        def _draw(self) -> None:
            self.draws.append((torch.rand(1).item(), random.random(), float(numpy.random.rand())))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.events.append(("training_step", self._sanity(), -1))
            if batch_idx == 0:
                self._draw()
            return super().training_step(batch, batch_idx)

        def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            self.events.append(("validation_step", self._sanity(), dataloader_idx))
            self.log("sanity_metric", 1.0)
            if draw:
                torch.rand(5)
                random.random()
                numpy.random.rand(5)
            return None

        def val_dataloader(self) -> Any:
            return [DataLoader(RandomDataset(32, n)) for n in VAL_LENGTHS]

    if not with_validation:
        # fall back to the target's own (not overridden) validation_step: validation disabled
        SanityProbe.validation_step = target.LightningModule.validation_step  # type: ignore[method-assign]
    return SanityProbe()


def _fit(make_trainer: Any, model: Any, **flags: Any) -> Any:
    flags = {"max_epochs": 1, "num_sanity_val_steps": 2, "limit_val_batches": 1.0, **flags}
    trainer = make_trainer(**flags)
    trainer.fit(model)
    return trainer


def _sanity_batches(model: Any) -> list[int]:
    return [idx for what, sanity, idx in model.events if what == "validation_step" and sanity]


@clause(
    "SANITY-001",
    "fit runs sanity-check validation batches after on_fit_start and before any training",
    level="core",
    source=SANITY_HERE,
)
def test_sanity_before_training(target: Target, make_trainer: Any) -> None:
    model = _sanity_probe(target)
    _fit(make_trainer, model)
    names = [what for what, _, _ in model.events]
    first_val = names.index("validation_step") if "validation_step" in names else None
    assert first_val is not None, f"expected sanity-check validation, observed events {names}"
    assert names.index("on_fit_start") < first_val < names.index("on_train_start"), (
        f"expected on_fit_start < first validation_step < on_train_start, observed {names}"
    )
    assert first_val < names.index("training_step"), (
        f"expected validation before the first training_step, observed {names}"
    )


@clause(
    "SANITY-002",
    "the sanity check runs min(num_sanity_val_steps, len) batches of every val dataloader",
    level="de-facto",
    source=facts(
        "§2.5",
        "Runs min(num_sanity_val_steps, max_batches) batches of each val "
        "dataloader; default 2; -1 = all",
    ),
    docs_say=SANITY_SILENT,
)
@pytest.mark.parametrize("steps", [1, 2, 5, -1])
def test_sanity_batch_count(target: Target, make_trainer: Any, steps: int) -> None:
    model = _sanity_probe(target)
    _fit(make_trainer, model, num_sanity_val_steps=steps)
    per_loader = [n if steps == -1 else min(steps, n) for n in VAL_LENGTHS]
    expected = [i for i, count in enumerate(per_loader) for _ in range(count)]
    assert _sanity_batches(model) == expected, (
        f"num_sanity_val_steps={steps}, val dataloaders of {list(VAL_LENGTHS)} batches: expected "
        f"sanity batches per dataloader_idx {expected}, observed {_sanity_batches(model)}"
    )


@clause(
    "SANITY-003",
    "trainer.sanity_checking is True only during the sanity check",
    level="de-facto",
    source=facts("§2.5", "trainer.sanity_checking is True throughout"),
    docs_say=SANITY_SILENT,
)
def test_sanity_flag(target: Target, make_trainer: Any) -> None:
    model = _sanity_probe(target)
    _fit(make_trainer, model, num_sanity_val_steps=1)
    flags = [(what, sanity) for what, sanity, _ in model.events]
    n_sanity = len(VAL_LENGTHS)  # one batch per dataloader
    expected = [("on_fit_start", False)] + [("validation_step", True)] * n_sanity
    assert flags[: n_sanity + 1] == expected, (
        f"expected {expected} at the start of fit, observed {flags[: n_sanity + 1]}"
    )
    rest = flags[n_sanity + 1 :]
    assert rest and not any(sanity for _, sanity in rest), (
        f"expected sanity_checking False after the sanity check, observed {rest}"
    )
    assert any(what == "validation_step" for what, _ in rest), (
        f"expected an ordinary validation run after training, observed {rest}"
    )


def _seeded_draws(target: Target, make_trainer: Any, steps: int) -> list:
    torch.manual_seed(1234)
    random.seed(1234)
    numpy.random.seed(1234)
    model = _sanity_probe(target, draw=True)
    _fit(make_trainer, model, num_sanity_val_steps=steps)
    return model.draws


@clause(
    "SANITY-004",
    "the sanity check leaves the global torch, random and numpy RNG states untouched",
    level="de-facto",
    source=facts("§2.5", "Wrapped in isolate_rng() so it does not perturb global RNG"),
    docs_say=SANITY_SILENT,
)
def test_sanity_isolates_rng(target: Target, make_trainer: Any) -> None:
    without = _seeded_draws(target, make_trainer, 0)
    with_check = _seeded_draws(target, make_trainer, 2)
    assert len(without) == len(with_check) == 2, (
        f"expected draws at on_train_start and the first training_step, observed {with_check}"
    )
    assert with_check == without, (
        "validation consumed torch/random/numpy randomness during the sanity check: expected the "
        f"same (torch, random, numpy) draws as without it {without}, observed {with_check}"
    )


@clause(
    "SANITY-005",
    "after the sanity check global_step and current_epoch are 0 and its logged metrics are gone",
    level="de-facto",
    source=facts("§2.5", "metrics logged are reset afterwards and val progress counters reset"),
    docs_say=SANITY_SILENT,
)
def test_sanity_leaves_counters(target: Target, make_trainer: Any) -> None:
    model = _sanity_probe(target)
    _fit(make_trainer, model, num_sanity_val_steps=2)
    assert _sanity_batches(model), "expected a sanity check to run, observed no sanity batch"
    expected = {"global_step": 0, "current_epoch": 0, "callback_metrics": [], "logged_metrics": []}
    assert model.at_train_start == expected, (
        f"at on_train_start after the sanity check: expected {expected}, "
        f"observed {model.at_train_start}"
    )


@clause(
    "SANITY-006",
    "no sanity check with num_sanity_val_steps=0, limit_val_batches=0 or no validation_step",
    level="de-facto",
    source=facts("§2.5", "if validation is enabled AND num_sanity_val_steps > 0"),
    docs_say=SANITY_SILENT,
)
@pytest.mark.parametrize("case", ["num_sanity_val_steps=0", "limit_val_batches=0", "no_step"])
def test_sanity_skipped(target: Target, make_trainer: Any, case: str) -> None:
    model = _sanity_probe(target, with_validation=case != "no_step")
    flags: dict[str, Any] = {
        "num_sanity_val_steps=0": {"num_sanity_val_steps": 0},
        "limit_val_batches=0": {"limit_val_batches": 0},
        "no_step": {},
    }[case]
    _fit(make_trainer, model, **flags)
    names = [what for what, _, _ in model.events]
    assert "training_step" in names, f"{case}: expected training to run, observed {names}"
    assert not _sanity_batches(model), (
        f"{case}: expected no sanity-check batch, observed {len(_sanity_batches(model))}"
    )
