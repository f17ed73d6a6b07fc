"""OPTCFG: the return forms of configure_optimizers, and the invalid ones.

A form is accepted when the optimizer it returns is the one that steps the parameters (observed
through :class:`~conformance.kit.optim.RecordingSGD`) and the scheduler it returns is stepped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from conformance.kit.citations import docs_silent
from conformance.kit.optim import RecordingSGD
from conformance.kit.probe_models import linear_probe_class, make_batches
from conformance.registry import clause, facts, seed
from conformance.target import Target

SINGLE_OPTIMIZER = seed(
    "002",
    "Starter Example",
    "def configure_optimizers(self): return torch.optim.SGD(self.model.parameters(), lr=0.1)",
)
ONE_OPTIMIZER_ONLY = seed(
    "002",
    "Properties > automatic_optimization",
    "It is required when you are using 2+ optimizers because with automatic optimization, you "
    "can only use one optimizer.",
)
FORMS_SILENT = docs_silent("configure_optimizers return forms other than one optimizer", "Methods")
LR = 0.1
GAMMA = 0.5
N_BATCHES = 2
N_EPOCHS = 2

# name -> (form builder(optimizer, scheduler), scheduler interval or None)
Form = Callable[[Any, Any], Any]
ACCEPTED: dict[str, tuple[Form, str | None]] = {
    "list": (lambda o, s: [o], None),
    "tuple": (lambda o, s: (o,), None),
    "lists_pair": (lambda o, s: ([o], [s]), "epoch"),
    "dict_optimizer": (lambda o, s: {"optimizer": o}, None),
    "dict_with_scheduler": (lambda o, s: {"optimizer": o, "lr_scheduler": s}, "epoch"),
    "dict_with_scheduler_config": (
        lambda o, s: {"optimizer": o, "lr_scheduler": {"scheduler": s, "interval": "step"}},
        "step",
    ),
    "list_of_one_dict": (lambda o, s: [{"optimizer": o, "lr_scheduler": s}], "epoch"),
}


def _configured(target: Target, form: Form, *, manual: bool = False) -> Any:
    """A linear probe whose configure_optimizers returns ``form(optimizer, StepLR scheduler)``."""
    base = linear_probe_class(target)

    class Configured(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__(make_batches(N_BATCHES, seed=4), lr=LR)
            self.automatic_optimization = not manual
            self.trained = 0

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.trained += 1
            return super().training_step(batch, batch_idx)

        def configure_optimizers(self) -> Any:
            self.optimizer = RecordingSGD(self.layer.named_parameters(), lr=LR)
            scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, 1, gamma=GAMMA)
            return form(self.optimizer, scheduler)

    return Configured()


def _fit(make_trainer: Any, model: Any) -> None:
    make_trainer(max_epochs=N_EPOCHS, limit_val_batches=0).fit(model)


def _expected_lrs(interval: str | None) -> list[float]:
    steps = range(N_BATCHES * N_EPOCHS)
    if interval is None:
        return [LR for _ in steps]
    if interval == "epoch":
        return [LR * GAMMA ** (s // N_BATCHES) for s in steps]
    return [LR * GAMMA**s for s in steps]


@clause(
    "OPTCFG-001",
    "a single optimizer returned by configure_optimizers is the one that steps every batch",
    level="core",
    source=SINGLE_OPTIMIZER,
)
def test_single_optimizer(target: Target, make_trainer: Any) -> None:
    model = _configured(target, lambda o, s: o)
    before = model.layer.weight.detach().clone()
    _fit(make_trainer, model)
    steps = model.optimizer.applied
    assert len(steps) == N_BATCHES * N_EPOCHS, (
        f"expected the returned optimizer to step {N_BATCHES * N_EPOCHS} times, observed "
        f"{len(steps)}"
    )
    assert torch.equal(steps[-1].after["weight"], model.layer.weight.detach()), (
        "expected the module's final weights to be those the returned optimizer produced "
        f"({steps[-1].after['weight'].flatten().tolist()}), observed "
        f"{model.layer.weight.flatten().tolist()}"
    )
    assert not torch.equal(before, model.layer.weight.detach()), (
        "expected the weights to change, observed them unchanged"
    )


@clause(
    "OPTCFG-002",
    "every documented return form trains with its optimizer and steps its scheduler",
    level="de-facto",
    source=facts(
        "§2.8",
        "configure_optimizers accepted returns: single optimizer; list/tuple of "
        "optimizers; ([opts], [scheds]); dict; list of such dicts",
    ),
    docs_say=FORMS_SILENT,
)
@pytest.mark.parametrize("name", list(ACCEPTED))
def test_accepted_forms(target: Target, make_trainer: Any, name: str) -> None:
    form, interval = ACCEPTED[name]
    model = _configured(target, form)
    _fit(make_trainer, model)
    lrs = [round(step.lrs[0], 10) for step in model.optimizer.applied]
    expected = [round(lr, 10) for lr in _expected_lrs(interval)]
    assert lrs == expected, (
        f"form {name!r} ({interval or 'no'} scheduler): expected the returned optimizer to step "
        f"with learning rates {expected}, observed {lrs}"
    )


@clause(
    "OPTCFG-003",
    "configure_optimizers returning None trains without any parameter update, with a warning",
    level="de-facto",
    source=facts("§2.8", "None (runs with a mock optimizer + warning)"),
    docs_say=FORMS_SILENT,
)
def test_none_runs_without_updates(target: Target, make_trainer: Any) -> None:
    model = _configured(target, lambda o, s: None)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    with pytest.warns(Warning) as warned:
        _fit(make_trainer, model)
    assert model.trained == N_BATCHES * N_EPOCHS, (
        f"expected {N_BATCHES * N_EPOCHS} training steps, observed {model.trained}"
    )
    changed = [n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert not changed, f"expected no parameter update without an optimizer, {changed} changed"
    messages = [str(w.message) for w in warned]
    assert any("configure_optimizers" in m for m in messages), (
        f"expected a warning naming configure_optimizers, observed {messages}"
    )


@clause(
    "OPTCFG-004",
    "more than one optimizer in automatic optimization is an error, raised before training",
    level="core",
    source=ONE_OPTIMIZER_ONLY,
)
def test_two_optimizers_automatic(target: Target, make_trainer: Any) -> None:
    def two(optimizer: Any, scheduler: Any) -> Any:
        return [optimizer, torch.optim.SGD(optimizer.param_groups[0]["params"], lr=LR)]

    model = _configured(target, two)
    with pytest.raises(Exception) as raised:
        _fit(make_trainer, model)
    assert model.trained == 0, f"expected no training step before the error, saw {model.trained}"
    message = str(raised.value).lower()
    assert "manual" in message or "automatic" in message, (
        "expected the error to say multiple optimizers need manual optimization, observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )


INVALID: dict[str, Form] = {
    "string": lambda o, s: "sgd",
    "number": lambda o, s: 3,
    "three_lists": lambda o, s: ([o], [s], [s]),
    "schedulers_only": lambda o, s: [s],
    "dict_without_optimizer": lambda o, s: {"lr_scheduler": s},
}


@clause(
    "OPTCFG-005",
    "an invalid configure_optimizers return is an error naming the optimizer, raised before "
    "training",
    level="de-facto",
    source=facts("§2.8", "configure_optimizers accepted returns: ..."),
    docs_say=FORMS_SILENT,
)
@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_forms(target: Target, make_trainer: Any, name: str) -> None:
    model = _configured(target, INVALID[name])
    with pytest.raises(Exception) as raised:
        _fit(make_trainer, model)
    assert model.trained == 0, (
        f"{name}: expected no training step before the error, observed {model.trained}"
    )
    assert "optimizer" in str(raised.value).lower(), (
        f"{name}: expected the error to name the optimizer configuration, observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )


INVALID_SCHEDULERS: dict[str, tuple[Form, str]] = {
    "config_without_scheduler": (
        lambda o, s: {"optimizer": o, "lr_scheduler": {"interval": "step"}},
        "scheduler",
    ),
    "unknown_interval": (
        lambda o, s: {"optimizer": o, "lr_scheduler": {"scheduler": s, "interval": "batch"}},
        "interval",
    ),
    "plateau_without_monitor": (
        lambda o, s: {
            "optimizer": o,
            "lr_scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(o),
        },
        "monitor",
    ),
}


@clause(
    "OPTCFG-006",
    "an invalid scheduler configuration is an error naming the bad key, raised before training",
    level="de-facto",
    source=facts(
        "§2.8",
        "Config keys: scheduler (required), interval ('epoch' default | 'step') "
        "... ReduceLROnPlateau, which requires monitor",
    ),
    docs_say=FORMS_SILENT,
)
@pytest.mark.parametrize("name", list(INVALID_SCHEDULERS))
def test_invalid_scheduler_configs(target: Target, make_trainer: Any, name: str) -> None:
    form, key = INVALID_SCHEDULERS[name]
    model = _configured(target, form)
    with pytest.raises(Exception) as raised:
        _fit(make_trainer, model)
    assert model.trained == 0, (
        f"{name}: expected no training step before the error, observed {model.trained}"
    )
    assert key in str(raised.value), (
        f"{name}: expected the error to name {key!r}, observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )
