"""The executable spec equals real Lightning's recorded traces over many drawn configurations.

This is what makes the spec trustworthy: the HOOK-SPEC clauses compare a target against the spec,
and this test compares the spec against PyTorch Lightning 2.6 itself, with more examples than a
certification run uses. Skipped where ``pytorch_lightning`` is not installed.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from conformance.hypothesis_profiles import property_settings
from conformance.kit.hook_workload import record, record_checkpoint_round_trip
from conformance.kit.recording import trace_diff
from conformance.spec import Calls, EvalConfig, FitConfig, expected_trace
from conformance.spec.strategies import eval_configs, fit_configs
from conformance.target import Target, load_target

pytest.importorskip("pytorch_lightning")

LIGHTNING: Target = load_target("pytorch_lightning")


def assert_lightning_matches(config: FitConfig | EvalConfig) -> None:
    actual = record(LIGHTNING, config).events
    expected = expected_trace(config)
    assert actual == expected, f"{config}\n{trace_diff(expected, actual, actual_name='lightning')}"


@property_settings(fallback=120)
@given(fit_configs())
def test_fit(config: FitConfig) -> None:
    assert_lightning_matches(config)


@property_settings(fallback=120)
@given(fit_configs(validating=True))
def test_validating_fit(config: FitConfig) -> None:
    assert_lightning_matches(config)


@property_settings(fallback=80)
@given(eval_configs())
def test_validate_test_predict(config: EvalConfig) -> None:
    assert_lightning_matches(config)


@property_settings(fallback=50)
@given(fit_configs(resumed=True))
def test_save_and_resume(config: FitConfig) -> None:
    saved, resumed = record_checkpoint_round_trip(LIGHTNING, config)
    calls = Calls(config.callbacks, datamodule=config.datamodule)
    calls.save_checkpoint()
    assert saved.events == calls.events, trace_diff(calls.events, saved.events)
    expected = expected_trace(config)
    assert resumed.events == expected, f"{config}\n{trace_diff(expected, resumed.events)}"
