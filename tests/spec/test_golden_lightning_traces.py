"""Hook traces recorded from real Lightning (``fixtures/golden/``) are the ground truth that the
executable spec and the reference must reproduce, with or without Lightning installed."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

from conformance.kit.hook_workload import record
from conformance.spec import expected_trace
from conformance.spec.trace import trace_diff
from conformance.target import load_target
from fixtures.golden.generate import CONFIGS, golden_files, read, record_lightning

FILES = golden_files()
IDS = [path.stem for path in FILES]


def test_every_named_configuration_has_a_golden_file() -> None:
    assert sorted(IDS) == sorted(CONFIGS), "run python fixtures/golden/generate.py"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_the_spec_reproduces_lightnings_trace(path: Path) -> None:
    config, events, _ = read(path)
    assert config == CONFIGS[path.stem], "the golden file's configuration drifted from CONFIGS"
    spec = expected_trace(config)
    assert spec == events, trace_diff(events, spec, expected_name="Lightning", actual_name="spec")


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_the_reference_reproduces_lightnings_trace(path: Path) -> None:
    config, events, _ = read(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recorded = list(record(load_target("reference"), config).events)
    assert recorded == events, trace_diff(
        events, recorded, expected_name="Lightning", actual_name="reference"
    )


@pytest.mark.skipif(
    importlib.util.find_spec("pytorch_lightning") is None, reason="pytorch_lightning absent"
)
@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_live_lightning_still_produces_the_golden_trace(path: Path) -> None:
    config, events, document = read(path)
    live, version = record_lightning(config)
    recorded_with = document["recorded_with"]["pytorch_lightning"]
    assert live == events, (
        f"pytorch_lightning {version} no longer produces the trace recorded with {recorded_with}"
        " (re-record with python fixtures/golden/generate.py if that is intended)\n"
        + trace_diff(events, live, expected_name=f"golden ({recorded_with})", actual_name=version)
    )
