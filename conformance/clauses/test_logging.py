"""LOG: how ``self.log`` values are reduced into the trainer's metric dictionaries.

Each probe logs values it chooses (a function of epoch and batch index) and the clause compares
``trainer.callback_metrics`` / ``logged_metrics`` / ``progress_bar_metrics`` with the reduction it
computes itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from conformance.kit.citations import docs_silent
from conformance.kit.models import boring_model_class
from conformance.registry import clause, facts, seed
from conformance.target import Target

EPOCH_MEAN = seed(
    "002",
    "Training > Train Epoch-level Metrics",
    "logs metrics for each training_step, and the average across the epoch ... "
    "epoch_metric = torch.mean(torch.stack(outs))",
)
LOG_REDUCES = seed(
    "002",
    "Training > Train Epoch-level Metrics",
    "The log method automatically reduces the requested metrics across a complete epoch",
)
LOG_FLAGS_SILENT = docs_silent("self.log flags other than on_step/on_epoch/prog_bar", "Training")
N_BATCHES = 4


def _value(epoch: int, batch_idx: int) -> float:
    """A distinct, exactly representable value per (epoch, batch)."""
    return float(10 * epoch + batch_idx * batch_idx)


def _logging_probe(
    target: Target,
    train_log: Callable[[Any, int], None] | None = None,
    *,
    n_batches: int = N_BATCHES,
    at_batch_end: Callable[[Any, int], None] | None = None,
    at_epoch_end: Callable[[Any], None] | None = None,
) -> Any:
    base = boring_model_class(target)

    class LoggingProbe(base):  # type: ignore[misc,valid-type]
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if train_log is not None:
                train_log(self, batch_idx)
            return super().training_step(batch, batch_idx)

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            if at_batch_end is not None:
                at_batch_end(self, batch_idx)

        def on_train_epoch_end(self) -> None:
            if at_epoch_end is not None:
                at_epoch_end(self)

    return LoggingProbe(batches=n_batches)


def _fit(make_trainer: Any, model: Any, **flags: Any) -> Any:
    flags = {"max_epochs": 2, "limit_val_batches": 0, "num_sanity_val_steps": 0, **flags}
    trainer = make_trainer(**flags)
    trainer.fit(model)
    return trainer


def _number(value: Any) -> float | None:
    if value is None:
        return None
    return float(value.item() if isinstance(value, torch.Tensor) else value)


def _epoch_snapshots(key: str, where: str = "callback_metrics") -> tuple[list, Callable]:
    seen: list[float | None] = []

    def snapshot(module: Any) -> None:
        seen.append(_number(getattr(module.trainer, where).get(key)))

    return seen, snapshot


@clause(
    "LOG-001",
    "on_epoch=True in training_step reports the mean of the epoch's logged values at epoch end",
    level="core",
    source=EPOCH_MEAN,
)
def test_epoch_mean(target: Target, make_trainer: Any) -> None:
    seen, snapshot = _epoch_snapshots("m")
    model = _logging_probe(
        target,
        lambda m, b: m.log("m", _value(m.current_epoch, b), on_step=False, on_epoch=True),
        at_epoch_end=snapshot,
    )
    trainer = _fit(make_trainer, model)
    expected = [sum(_value(e, b) for b in range(N_BATCHES)) / N_BATCHES for e in range(2)]
    assert seen == expected, (
        f"expected callback_metrics['m'] at on_train_epoch_end = epoch means {expected}, "
        f"observed {seen}"
    )
    final = _number(trainer.callback_metrics.get("m"))
    assert final == expected[-1], f"after fit: expected m = {expected[-1]}, observed {final}"


@clause(
    "LOG-002",
    "an epoch mean is weighted by the batch_size passed to self.log",
    level="de-facto",
    source=facts(
        "§8",
        "observed 2.6.6; logger_connector/result.py accumulates value * batch_size "
        "and divides by the cumulated batch size",
    ),
    docs_say=LOG_REDUCES,
)
def test_weighted_mean(target: Target, make_trainer: Any) -> None:
    seen, snapshot = _epoch_snapshots("w")
    model = _logging_probe(
        target,
        lambda m, b: m.log("w", float(b), on_step=False, on_epoch=True, batch_size=b + 1),
        at_epoch_end=snapshot,
    )
    _fit(make_trainer, model, max_epochs=1)
    weights = [b + 1 for b in range(N_BATCHES)]
    expected = sum(b * w for b, w in zip(range(N_BATCHES), weights)) / sum(weights)
    assert seen and seen[0] is not None and abs(seen[0] - expected) < 1e-5, (
        f"values 0..{N_BATCHES - 1} logged with batch_size 1..{N_BATCHES}: expected the weighted "
        f"mean {expected:.6f}, observed {seen}"
    )


@clause(
    "LOG-003",
    "on_step=True makes the value logged in a step visible in callback_metrics and "
    "logged_metrics at that batch's end",
    level="de-facto",
    source=facts("§8", "trainer.callback_metrics holds the latest values for callbacks/monitors"),
    docs_say=EPOCH_MEAN,
)
def test_step_values(target: Target, make_trainer: Any) -> None:
    seen: list[tuple[float | None, float | None]] = []

    def snapshot(module: Any, batch_idx: int) -> None:
        trainer = module.trainer
        seen.append(
            (_number(trainer.callback_metrics.get("s")), _number(trainer.logged_metrics.get("s")))
        )

    model = _logging_probe(
        target,
        lambda m, b: m.log("s", _value(m.current_epoch, b), on_step=True, on_epoch=False),
        at_batch_end=snapshot,
    )
    _fit(make_trainer, model)
    expected = [(_value(e, b), _value(e, b)) for e in range(2) for b in range(N_BATCHES)]
    assert seen == expected, (
        "expected (callback_metrics['s'], logged_metrics['s']) at each on_train_batch_end "
        f"{expected}, observed {seen}"
    )


@clause(
    "LOG-004",
    "with on_step and on_epoch both set, the logger gets name_step per step and name_epoch per "
    "epoch",
    level="de-facto",
    source=facts(
        "§8",
        "observed 2.6.6: logged_metrics holds name_step and name_epoch, never the "
        "bare name, when both on_step and on_epoch are set",
    ),
    docs_say=EPOCH_MEAN,
)
def test_step_and_epoch_suffixes(target: Target, make_trainer: Any) -> None:
    model = _logging_probe(
        target,
        lambda m, b: m.log("both", _value(m.current_epoch, b), on_step=True, on_epoch=True),
    )
    trainer = _fit(make_trainer, model, max_epochs=1)
    logged = trainer.logged_metrics
    observed = {k: _number(logged.get(k)) for k in ("both", "both_step", "both_epoch")}
    mean = sum(_value(0, b) for b in range(N_BATCHES)) / N_BATCHES
    expected = {"both": None, "both_step": _value(0, N_BATCHES - 1), "both_epoch": mean}
    assert observed == expected, (
        f"after fit: expected logged_metrics {expected} (no bare name), observed {observed}"
    )


@clause(
    "LOG-005",
    "prog_bar=True puts the value in progress_bar_metrics; prog_bar=False keeps it out",
    level="core",
    source=seed(
        "002",
        "Training > Train Epoch-level Metrics",
        "self.log('train_loss', loss, on_step=True, on_epoch=True, prog_bar=True, logger=True) "
        "... to the progress bar and logger",
    ),
)
def test_prog_bar(target: Target, make_trainer: Any) -> None:
    def log(module: Any, batch_idx: int) -> None:
        module.log("shown", float(batch_idx), prog_bar=True)
        module.log("hidden", float(batch_idx), prog_bar=False)

    model = _logging_probe(target, log)
    trainer = _fit(make_trainer, model, max_epochs=1)
    bar = dict(trainer.progress_bar_metrics)
    assert _number(bar.get("shown")) == float(N_BATCHES - 1), (
        f"expected progress_bar_metrics['shown'] == {N_BATCHES - 1}, observed {bar}"
    )
    assert "hidden" not in bar, f"expected 'hidden' absent from progress_bar_metrics, got {bar}"


@clause(
    "LOG-006",
    "reduce_fx 'sum', 'max', 'min' and 'mean' reduce an epoch's values accordingly",
    level="de-facto",
    source=facts(
        "§8",
        "observed 2.6.6; logger_connector/result.py supports reduce_fx in {min, max, mean, sum}",
    ),
    docs_say=LOG_REDUCES,
)
@pytest.mark.parametrize("reduce_fx", ["sum", "max", "min", "mean"])
def test_reduce_fx(target: Target, make_trainer: Any, reduce_fx: str) -> None:
    values = [3.0, -1.0, 7.0, 2.0]
    seen, snapshot = _epoch_snapshots("r")
    model = _logging_probe(
        target,
        lambda m, b: m.log("r", values[b], on_step=False, on_epoch=True, reduce_fx=reduce_fx),
        at_epoch_end=snapshot,
    )
    _fit(make_trainer, model, max_epochs=1)
    expected = {"sum": sum(values), "max": max(values), "min": min(values)}.get(
        reduce_fx, sum(values) / len(values)
    )
    assert seen == [expected], (
        f"values {values} with reduce_fx={reduce_fx!r}: expected {expected}, observed {seen}"
    )


@clause(
    "LOG-007",
    "log_dict logs every entry as self.log would, with the same flags",
    level="core",
    source=seed(
        "002",
        "Inference > Inference in Production",
        "metrics = {'val_acc': acc, 'val_loss': loss} / self.log_dict(metrics)",
    ),
)
def test_log_dict(target: Target, make_trainer: Any) -> None:
    seen: list[dict[str, float | None]] = []

    def snapshot(module: Any) -> None:
        metrics = module.trainer.callback_metrics
        seen.append({k: _number(metrics.get(k)) for k in ("a", "b")})

    model = _logging_probe(
        target,
        lambda m, b: m.log_dict({"a": float(b), "b": 2.0 * b}, on_step=False, on_epoch=True),
        at_epoch_end=snapshot,
    )
    _fit(make_trainer, model, max_epochs=1)
    mean = sum(range(N_BATCHES)) / N_BATCHES
    expected = [{"a": mean, "b": 2 * mean}]
    assert seen == expected, f"expected epoch means {expected}, observed {seen}"


@clause(
    "LOG-011",
    "an unsupported reduce_fx is an error naming reduce_fx",
    level="de-facto",
    source=facts(
        "§8",
        "observed 2.6.6; logger_connector/result.py supports reduce_fx in "
        "{min, max, mean, sum} and rejects others",
    ),
    docs_say=LOG_FLAGS_SILENT,
)
def test_unknown_reduce_fx(target: Target, make_trainer: Any) -> None:
    model = _logging_probe(target, lambda m, b: m.log("r", 1.0, on_epoch=True, reduce_fx="median"))
    with pytest.raises(Exception) as raised:
        _fit(make_trainer, model, max_epochs=1)
    assert "reduce_fx" in str(raised.value), (
        f"expected an error naming reduce_fx, observed {type(raised.value).__name__}: "
        f"{raised.value}"
    )
