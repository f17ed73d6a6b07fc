"""PRECVAL: the values ``Trainer(precision=...)`` accepts, what it reports, how it warns and fails.

Most clauses only construct a Trainer (cheap). Device-dependent ones follow the matrix convention
of :mod:`conformance.matrix`; the rest run on CPU.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest

from conformance import matrix
from conformance.kit.citations import docs_silent
from conformance.kit.dtype_probe import PHASES, probe
from conformance.registry import clause, facts, seed
from conformance.target import Target

VALUES = facts(
    "§5",
    "Accepted values: '16-true', '16-mixed', 'bf16-true', 'bf16-mixed', "
    "'32-true', '64-true', ints 64, 32, 16, strings '64', '32', '16', 'bf16'",
)
REPORTED = facts("§5", "The active value is trainer.precision (a string, e.g. '32-true')")
PRECISION_PROPERTY = seed(
    "002",
    "Properties: precision",
    'The type of precision used: if self.precision == "16-true": ...',
)
FLAG_SILENT = docs_silent("the Trainer's precision flag")
LEGACY = [
    (64, "64-true"),
    ("64", "64-true"),
    (32, "32-true"),
    ("32", "32-true"),
    (16, "16-mixed"),
    ("16", "16-mixed"),
    ("bf16", "bf16-mixed"),
]
DISCOURAGED = [(16, "16-mixed"), ("16", "16-mixed"), ("bf16", "bf16-mixed")]
INVALID = ["8", 8, "fp16", "16-MIXED", "double", "bf16-true-x"]
CPU_FALLBACK = {
    ("cpu", "16-mixed"): "cpu-16-mixed not run here: on CPU 16-mixed falls back to "
    "bf16-mixed, de facto (PRECVAL-006 checks the reported value and the warning)"
}


def _messages(build: Callable[[], Any]) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = build()
    return result, [str(w.message) for w in caught]


@clause(
    "PRECVAL-001",
    "trainer.precision reports the precision value the Trainer was given",
    level="de-facto",
    source=(VALUES, REPORTED),
    docs_say=FLAG_SILENT,
)
@matrix.parametrize()
def test_trainer_reports_precision(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision, exclude=CPU_FALLBACK)
    reported = make_trainer(**cell.trainer_flags()).precision
    assert reported == precision, f"trainer.precision is {reported!r}, given {precision!r}"


@clause(
    "PRECVAL-002",
    "Without a precision argument the Trainer runs 32-true",
    level="de-facto",
    source=facts("§2.1", "precision: None -> '32-true'"),
    docs_say=FLAG_SILENT,
)
def test_default_precision(make_trainer: Any) -> None:
    reported = make_trainer().precision
    assert reported == "32-true", f"trainer.precision is {reported!r} by default"


@clause(
    "PRECVAL-003",
    "The legacy values 64, '64', 32, '32', 16, '16' and 'bf16' map to 64-true, 32-true, "
    "16-mixed and bf16-mixed",
    level="de-facto",
    source=facts(
        "§5",
        "Legacy aliases map 64->'64-true', 32->'32-true', 16->'16-mixed', 'bf16'->'bf16-mixed'",
    ),
    docs_say=FLAG_SILENT,
)
@pytest.mark.parametrize(("alias", "canonical"), LEGACY, ids=[repr(a) for a, _ in LEGACY])
def test_legacy_aliases(target: Target, make_trainer: Any, alias: Any, canonical: str) -> None:
    matrix.require_cell(target, "cpu", canonical)
    expected = matrix.effective_precision("cpu", canonical)
    trainer, _ = _messages(lambda: make_trainer(precision=alias))
    assert trainer.precision == expected, (
        f"precision={alias!r} on CPU reports {trainer.precision!r}, expected {expected!r}"
    )


@clause(
    "PRECVAL-004",
    "The discouraged legacy values 16, '16' and 'bf16' warn, naming the value to use instead",
    level="de-facto",
    source=facts(
        "§5",
        "16/'16'/'bf16' additionally warn 'supported for historical reasons but "
        "its usage is discouraged'",
    ),
    docs_say=FLAG_SILENT,
)
@pytest.mark.parametrize(("alias", "canonical"), DISCOURAGED, ids=[repr(a) for a, _ in DISCOURAGED])
def test_legacy_aliases_warn(target: Target, make_trainer: Any, alias: Any, canonical: str) -> None:
    matrix.require_cell(target, "cpu", canonical)
    # Only the warnings the alias adds over its canonical value count (on CPU, 16-mixed itself
    # warns about the bf16 fallback).
    _, with_canonical = _messages(lambda: make_trainer(precision=canonical))
    _, with_alias = _messages(lambda: make_trainer(precision=alias))
    added = [m for m in with_alias if m not in with_canonical]
    assert any(canonical in m for m in added), (
        f"precision={alias!r} added the warnings {added}; expected one naming {canonical!r}"
    )


@clause(
    "PRECVAL-005",
    "An unknown precision value fails at Trainer construction with a ValueError naming it and "
    "listing the accepted values (those the target claims)",
    level="de-facto",
    source=facts("§5", "Anything else -> ValueError listing allowed values"),
    docs_say=FLAG_SILENT,
)
@pytest.mark.parametrize("value", INVALID, ids=[repr(v) for v in INVALID])
def test_invalid_precision(target: Target, make_trainer: Any, value: Any) -> None:
    with pytest.raises(ValueError) as raised:
        make_trainer(precision=value)
    message = str(raised.value)
    missing = [p for p in matrix.claimed_precisions(target) if p not in message]
    assert str(value) in message and not missing, (
        f"the error for precision={value!r} does not name it or omits {missing}: {message}"
    )


@clause(
    "PRECVAL-006",
    "16-mixed on CPU (named, or chosen by accelerator='auto') warns and falls back to bf16-mixed, "
    "and trainer.precision reports bf16-mixed",
    level="de-facto",
    source=facts(
        "§5",
        "'16-mixed' with accelerator='cpu' (also when 'auto' resolves to CPU) -> "
        "warning and falls back to 'bf16-mixed'; trainer.precision then reports "
        "'bf16-mixed'",
    ),
    docs_say=FLAG_SILENT,
)
@pytest.mark.parametrize("accelerator", ["cpu", "auto"])  # after the cell in the test id
@matrix.parametrize(devices=("cpu",), precisions=("16-mixed",))
def test_fp16_amp_on_cpu_falls_back(
    target: Target, make_trainer: Any, device: str, precision: str, accelerator: str
) -> None:
    matrix.require_cell(target, device, precision)
    if accelerator == "auto" and matrix.available_devices() != ("cpu",):
        pytest.skip(f"accelerator='auto' picks {matrix.available_devices()[-1]} here, not cpu")
    trainer, messages = _messages(
        lambda: make_trainer(accelerator=accelerator, devices=1, precision=precision)
    )
    assert trainer.precision == "bf16-mixed", f"trainer.precision is {trainer.precision!r}"
    assert any("bf16-mixed" in m for m in messages), (
        f"no warning names the bf16-mixed fallback; warnings: {messages}"
    )


@clause(
    "PRECVAL-007",
    "LightningModule.precision inside the steps equals the Trainer's precision value",
    level="core",
    source=PRECISION_PROPERTY,
)
@matrix.parametrize()
def test_module_precision_property(target: Target, device: str, precision: str) -> None:
    matrix.require_cell(target, device, precision)
    run = probe(target, device, precision)
    seen = {r.module_precision for phase in PHASES for r in run.steps.get(phase, [])}
    assert seen, "no step ran in the probe run"
    assert seen == {run.trainer_precision}, (
        f"self.precision in the steps was {sorted(map(str, seen))}, trainer.precision is "
        f"{run.trainer_precision!r}"
    )


@clause(
    "PRECVAL-008",
    "A float precision such as 16.0, 32.0 or 64.0 either behaves as its integer alias or fails "
    "with an error listing the accepted values",
    level="extended",
    source=facts("§5", "Anything else -> ValueError listing allowed values"),
)
@pytest.mark.parametrize("value", [16.0, 32.0, 64.0])
def test_float_precision_is_clear(target: Target, make_trainer: Any, value: float) -> None:
    alias = matrix.effective_precision("cpu", dict(LEGACY)[int(value)])
    try:
        trainer, _ = _messages(lambda: make_trainer(precision=value))
    except Exception as exc:  # any error type is fine if it says what is accepted
        missing = [p for p in matrix.claimed_precisions(target) if p not in str(exc)]
        assert not missing, (
            f"precision={value!r} failed with {type(exc).__name__}: {exc} (does not list {missing})"
        )
        return
    assert trainer.precision == alias, f"precision={value!r} reports {trainer.precision!r}"
