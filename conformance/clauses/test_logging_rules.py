"""LOG (rules): what validate()/test() return, where self.log is forbidden, per-hook defaults.

Companion of ``test_logging.py`` (the reductions of training-time values).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from conformance.kit.citations import docs_silent
from conformance.kit.data import RandomDataset
from conformance.kit.models import boring_model_class
from conformance.registry import clause, facts
from conformance.target import Target

N_BATCHES = 4


def _number(value: Any) -> float | None:
    if value is None:
        return None
    return float(value.item() if isinstance(value, torch.Tensor) else value)


def _fit(make_trainer: Any, model: Any, **flags: Any) -> Any:
    flags = {"max_epochs": 2, "limit_val_batches": 0, "num_sanity_val_steps": 0, **flags}
    trainer = make_trainer(**flags)
    trainer.fit(model)
    return trainer


def _eval_logger(target: Target, n_loaders: int) -> Any:
    base = boring_model_class(target)
    lengths = [3, 2][:n_loaders]

    class EvalLogger(base):  # type: ignore[misc,valid-type]
        def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            self.log("metric", float(batch_idx + 10 * dataloader_idx))

        def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            self.log("metric", float(batch_idx + 10 * dataloader_idx))

        def _loaders(self) -> Any:
            loaders = [DataLoader(RandomDataset(32, n)) for n in lengths]
            return loaders[0] if n_loaders == 1 else loaders

        def val_dataloader(self) -> Any:
            return self._loaders()

        def test_dataloader(self) -> Any:
            return self._loaders()

    return EvalLogger(), [sum(range(n)) / n + 10 * i for i, n in enumerate(lengths)]


@clause(
    "LOG-008",
    "validate() and test() return one dict of epoch-level metrics (Python floats) per dataloader",
    level="de-facto",
    source=facts(
        "§8",
        "validate/test return a list (one dict per dataloader) of epoch-level "
        "metrics with tensors converted to Python scalars",
    ),
    docs_say=docs_silent("the return value of validate() and test()", "Validation, Testing"),
)
@pytest.mark.parametrize("n_loaders", [1, 2])
@pytest.mark.parametrize("stage", ["validate", "test"])
def test_eval_return_value(target: Target, make_trainer: Any, stage: str, n_loaders: int) -> None:
    model, means = _eval_logger(target, n_loaders)
    result = getattr(make_trainer(), stage)(model)
    if n_loaders == 1:
        expected = [{"metric": means[0]}]
    else:
        expected = [{f"metric/dataloader_idx_{i}": mean} for i, mean in enumerate(means)]
    assert result == expected, f"{stage}: expected {expected}, observed {result}"
    types = [type(v).__name__ for d in result for v in d.values()]
    assert all(t == "float" for t in types), f"{stage}: expected Python floats, observed {types}"


FORBIDDEN = (
    "setup",
    "configure_optimizers",
    "on_fit_start",
    "on_train_end",
    "on_fit_end",
    "on_validation_end",
    "teardown",
)


@clause(
    "LOG-009",
    "self.log in a hook where logging is not allowed is an error naming the hook",
    level="de-facto",
    source=facts(
        "§8",
        "Not allowed (MisconfigurationException \"You can't self.log() inside "
        '...") in setup, teardown, configure_optimizers, on_fit_*, on_train_end, '
        "on_validation_end",
    ),
    docs_say=docs_silent("where self.log may be called", "Methods > log"),
)
@pytest.mark.parametrize("hook", FORBIDDEN)
def test_forbidden_hooks(target: Target, make_trainer: Any, hook: str) -> None:
    base = boring_model_class(target)

    def logging_hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.log("x", 1.0)
        if hook == "configure_optimizers":
            return torch.optim.SGD(self.parameters(), lr=0.1)
        return None

    model = type("ForbiddenLogger", (base,), {hook: logging_hook})(batches=2)
    with pytest.raises(Exception) as raised:
        _fit(make_trainer, model, max_epochs=1, limit_val_batches=1)
    assert hook in str(raised.value), (
        f"self.log in {hook}: expected an error naming {hook}, observed "
        f"{type(raised.value).__name__}: {raised.value}"
    )


@clause(
    "LOG-010",
    "self.log defaults: per step in training_step and on_train_batch_end, per epoch (mean) in "
    "validation_step and epoch hooks",
    level="de-facto",
    source=facts(
        "§8",
        "in training_step / on_train_batch_* ... on_step=True, on_epoch=False; in "
        "validation_step ... on_step=False, on_epoch=True",
    ),
    docs_say=docs_silent("self.log's default on_step/on_epoch per hook", "Methods > log"),
)
def test_defaults_per_hook(target: Target, make_trainer: Any) -> None:
    base = boring_model_class(target)
    val_batches = 3

    class Defaults(base):  # type: ignore[misc,valid-type]
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.log("in_step", float(batch_idx))
            return super().training_step(batch, batch_idx)

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            self.log("in_batch_end", float(batch_idx))

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            self.log("in_val", float(batch_idx))

        def on_train_epoch_end(self) -> None:
            self.log("in_epoch_end", 5.0)

    trainer = _fit(
        make_trainer,
        Defaults(batches=N_BATCHES),
        max_epochs=1,
        limit_val_batches=val_batches,
    )
    logged = {k: _number(v) for k, v in trainer.logged_metrics.items()}
    expected = {
        "in_step": float(N_BATCHES - 1),  # last step's value, not the epoch mean
        "in_batch_end": float(N_BATCHES - 1),
        "in_val": sum(range(val_batches)) / val_batches,
        "in_epoch_end": 5.0,
    }
    assert logged == expected, (
        f"expected logged_metrics {expected} (step values for training_step/on_train_batch_end, "
        f"means for validation_step), observed {logged}"
    )
