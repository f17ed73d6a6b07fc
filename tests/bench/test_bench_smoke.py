"""The benchmark scripts run in a tiny configuration and produce well-formed results.

Never timing assertions: only that every loop was measured, numbers are positive and finite,
ratios are consistent with the per-step times, and bad input is refused clearly.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from bench import import_time, memory, step_time
from bench.workload import FRAMEWORKS, VARIANTS, VARIANTS_BY_NAME, import_framework

REPO = Path(__file__).resolve().parents[2]
INSTALLED = [name for name in FRAMEWORKS if import_framework(name) is not None]


def positive(value: float) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def test_step_time_measures_every_loop_and_variant():
    threads = torch.get_num_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leaked "ignore" filter would let this pass silently
        results = step_time.run(steps=3, rounds=2, frameworks=FRAMEWORKS)
        assert warnings.filters[0][0] == "error", "benchmark_settings leaked a warnings filter"
    assert torch.get_num_threads() == threads, "the thread setting must be restored"

    config = results["config"]
    assert config["frameworks"] == INSTALLED
    assert config["threads"] == 1
    assert set(config["variants"]) == {v.name for v in VARIANTS}
    raw = results["raw"]
    assert raw["samples"] == 2 * len(VARIANTS)  # once per variant per round
    assert all(positive(raw["us_per_step"][m]) for m in step_time.MEASURES)
    closure = results["raw_closure"]
    assert closure["samples"] == 2  # once per round
    for measure in step_time.MEASURES:
        expected = closure["us_per_step"][measure] / raw["us_per_step"][measure]
        assert closure["ratio_to_raw"][measure] == pytest.approx(expected)

    pairs = {(row["variant"], row["framework"]) for row in results["results"]}
    assert pairs == {(v.name, f) for v in VARIANTS for f in INSTALLED}
    for row in results["results"]:
        assert row["samples"] == 2
        for measure in step_time.MEASURES:
            assert positive(row["us_per_step"][measure])
            expected = row["us_per_step"][measure] / raw["us_per_step"][measure]
            assert row["ratio_to_raw"][measure] == pytest.approx(expected)
        # the batch loop is part of the fit call
        assert row["us_per_step"]["loop_wall"] <= row["us_per_step"]["fit_wall"]

    table = step_time.format_results(results)
    # the separator, the two raw rows, one row per measured loop
    assert table.count("\n| ") == 3 + len(results["results"])
    assert "| — | raw, closure form |" in table
    assert "| — | raw |" in table


def test_step_time_lists_frameworks_that_are_not_installed():
    results = step_time.run(
        steps=2, rounds=1, frameworks=["reference", "no_such_trainer_xyz"], variants=VARIANTS[:1]
    )
    assert results["config"]["missing_frameworks"] == ["no_such_trainer_xyz"]
    assert [row["framework"] for row in results["results"]] == ["reference"]
    assert "not installed, not measured: no_such_trainer_xyz" in step_time.format_results(results)


def test_step_time_refuses_bad_input(capsys):
    with pytest.raises(ValueError, match="steps and rounds must be >= 1"):
        step_time.run(steps=0, rounds=1)
    with pytest.raises(SystemExit):
        step_time.parse_args(["--variants", "plain,nonsense"])
    assert "unknown variant(s) ['nonsense']" in capsys.readouterr().err


def test_step_time_script_writes_json(tmp_path):
    """Run as ``python bench/step_time.py`` (the documented command), not as a module."""
    out = tmp_path / "step.json"
    completed = subprocess.run(
        [
            sys.executable,
            "bench/step_time.py",
            "--steps=2",
            "--rounds=1",
            "--frameworks=reference",
            "--variants=plain,log",
            f"--json={out}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "| plain | reference |" in completed.stdout
    results = json.loads(out.read_text())
    assert results["benchmark"] == "step_time"
    assert {row["variant"] for row in results["results"]} == {"plain", "log"}
    assert results["machine"]["nproc"] >= 1
    assert results["machine"]["torch"] == torch.__version__


def test_import_time_measures_fresh_interpreters():
    results = import_time.run(repeats=2, modules=["reference", "no_such_module_xyz"])
    assert results["config"]["modules"] == ["reference"]
    assert results["config"]["missing_modules"] == ["no_such_module_xyz"]
    assert positive(results["torch_ms"])
    (row,) = results["results"]
    assert row["module"] == "reference" and row["samples"] == 2
    for key in ("over_torch_ms", "over_torch_ms_min", "over_torch_cpu_ms", "torch_ms"):
        assert positive(row[key])
    assert row["over_torch_ms_min"] <= row["over_torch_ms"]
    assert "`import reference`" in import_time.format_results(results)


def test_import_time_breakdown_lists_the_modules_imported_after_torch():
    rows = import_time.breakdown("reference", top=5)
    assert 0 < len(rows) <= 5
    names = [name.strip() for _, _, name in rows]
    assert "reference" in names  # the package itself has the largest cumulative time
    assert all(cumulative >= own >= 0 for own, cumulative, _ in rows)
    assert [row[1] for row in rows] == sorted((row[1] for row in rows), reverse=True)


def test_import_time_reports_a_failing_import():
    with pytest.raises(import_time.ChildFailed, match="no_such_module_xyz"):
        import_time.time_one_import("no_such_module_xyz")


def test_memory_measures_each_loop_in_its_own_process():
    results = memory.run(steps=3, repeats=1, frameworks=["reference"], variants=["plain"])
    raw = results["raw"]["bytes"]
    assert raw["fit_peak_rss"] > 0 and raw["python_peak"] > 0
    assert 0 <= raw["fit_rss_growth"] < raw["fit_peak_rss"]
    (row,) = results["results"]
    assert (row["variant"], row["framework"]) == ("plain", "reference")
    assert row["bytes"]["fit_peak_rss"] > 0
    assert row["ratio_to_raw"]["fit_peak_rss"] == pytest.approx(
        row["bytes"]["fit_peak_rss"] / raw["fit_peak_rss"]
    )
    assert "| plain | reference |" in memory.format_results(results)


def test_variants_are_the_documented_ones():
    assert VARIANTS_BY_NAME["plain"].log is False and VARIANTS_BY_NAME["plain"].csv_logger is False
    assert VARIANTS_BY_NAME["log"].log and VARIANTS_BY_NAME["log"].csv_logger
    assert (
        VARIANTS_BY_NAME["log_no_logger"].log and not VARIANTS_BY_NAME["log_no_logger"].csv_logger
    )
