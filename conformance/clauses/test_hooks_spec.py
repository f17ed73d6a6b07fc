"""HOOK-SPEC: the whole recorded trace equals the executable spec's, for drawn configurations.

The focused HOOK-* clauses each check one rule on one configuration; these properties check every
hook event, in order, over configurations hypothesis draws across all dimensions the spec models
(epochs, batch limits, validation interval and frequency, sanity steps, accumulation, max_steps,
several val dataloaders, callbacks incl. monitoring ones, manual optimization, schedulers,
DataModules, resumed fits). Example counts follow the active hypothesis profile.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conformance.hypothesis_profiles import property_settings
from conformance.kit.hook_workload import record, record_checkpoint_round_trip
from conformance.kit.recording import monitoring_callback_base, trace_diff
from conformance.registry import clause, facts, seed
from conformance.spec import Calls, EvalConfig, FitConfig, expected_trace
from conformance.spec.strategies import eval_configs, fit_configs
from conformance.target import Target

FIT_PSEUDOCODE = seed(
    "002", "Hooks", "def fit(self): ... def fit_loop(): ... def val_loop(): ... (pseudocode)"
)
OBSERVED = facts("§1.3", "trainer.fit — ENTRY (call) order, OBSERVED (2.6.6)")


def dimensions(target: Target) -> dict[str, bool]:
    """What the target can take part in: monitoring callbacks, DataModules."""
    return {
        "monitoring": monitoring_callback_base(target) is not None,
        "datamodule": target.LightningDataModule is not None,
    }


def assert_matches_spec(target: Target, config: FitConfig | EvalConfig) -> None:
    actual = record(target, config).events
    expected = expected_trace(config)
    assert actual == expected, f"{config}\n{trace_diff(expected, actual)}"


@clause(
    "HOOK-SPEC-001",
    "for drawn fit configurations, the recorded hook trace equals the executable spec's",
    level="de-facto",
    source=(OBSERVED, facts("§2.4", "when validation runs during fit")),
    docs_say=FIT_PSEUDOCODE,
)
@property_settings(scale=1.6, fallback=40)
@given(data=st.data())
def test_fit_trace_matches_spec(target: Target, data: st.DataObject) -> None:
    assert_matches_spec(target, data.draw(fit_configs(**dimensions(target)), label="config"))


@clause(
    "HOOK-SPEC-002",
    "for drawn fit configurations that validate during training, the recorded hook trace equals "
    "the executable spec's",
    level="de-facto",
    source=(OBSERVED, facts("§2.4", "when validation runs during fit"), facts("§2.5")),
    docs_say=FIT_PSEUDOCODE,
)
@property_settings(scale=1.6, fallback=40)
@given(data=st.data())
def test_validating_fit_trace_matches_spec(target: Target, data: st.DataObject) -> None:
    strategy = fit_configs(validating=True, **dimensions(target))
    assert_matches_spec(target, data.draw(strategy, label="config"))


@clause(
    "HOOK-SPEC-003",
    "for drawn validate/test/predict configurations, the recorded hook trace equals the "
    "executable spec's",
    level="de-facto",
    source=(facts("§1.8"), facts("§1.9")),
    docs_say=seed("002", "Hooks", "def val_loop(): ... (pseudocode)"),
)
@property_settings(scale=1.2, fallback=30)
@given(data=st.data())
def test_eval_trace_matches_spec(target: Target, data: st.DataObject) -> None:
    assert_matches_spec(target, data.draw(eval_configs(**dimensions(target)), label="config"))


@clause(
    "HOOK-SPEC-004",
    "for drawn fit configurations saved after E epochs and resumed, the save's and the resumed "
    "fit's hook traces equal the executable spec's",
    level="de-facto",
    source=(facts("§3.4"), facts("§3.5", "End-of-epoch checkpoint")),
    docs_say=FIT_PSEUDOCODE,
)
@property_settings(scale=0.8, fallback=20)
@given(data=st.data())
def test_resumed_fit_trace_matches_spec(target: Target, data: st.DataObject) -> None:
    config = data.draw(fit_configs(resumed=True, **dimensions(target)), label="config")
    saved, resumed = record_checkpoint_round_trip(target, config)
    calls = Calls(config.callbacks, datamodule=config.datamodule)
    calls.save_checkpoint()
    assert saved.events == calls.events, f"save: {config}\n{trace_diff(calls.events, saved.events)}"
    expected = expected_trace(config)
    assert resumed.events == expected, f"resume: {config}\n{trace_diff(expected, resumed.events)}"
