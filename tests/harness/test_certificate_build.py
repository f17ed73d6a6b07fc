"""Building a certificate from a catalogue and reported phases; its schema; the text report."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from conformance import certificate
from conformance.report import render_text

OK = {"status": "passed", "message": ""}


def _build(cells: dict[str, dict], results: dict[str, list[dict]], problems=()) -> dict[str, Any]:
    clauses = {
        entry["clause"]: {
            "title": f"title of {entry['clause']}",
            "level": "core",
            "family": entry["clause"].rsplit("-", 1)[0],
            "source": "a source",
            "docs_say": None,
        }
        for entry in cells.values()
    }
    return certificate.build(
        target={
            "name": "t",
            "spec": "t",
            "version": "1.0",
            "profile": "2.x",
            "declared": {"devices": None, "precisions": None, "strategies": None},
        },
        environment={"python": "3.11", "torch": "2.0", "platform": "x", "devices": {"cpu": 1}},
        hypothesis={"profile": "trainspec-certify", "seed": None},
        selection={"prefixes": [], "unmatched_prefixes": [], "timeout_s": 120.0},
        catalogue={"cells": cells, "clauses": clauses},
        results=results,
        deviations_file={"path": None, "entries": 0, "problems": list(problems)},
        duration_s=1.5,
        suite_version="0.1.0",
        started_at="2026-01-01T00:00:00+00:00",
    )


def _cell(clause: str, param_id: str | None = None, deviation: dict | None = None) -> dict:
    params = dict(zip(("device", "precision"), param_id.split("-", 1))) if param_id else {}
    return {"clause": clause, "params": params, "param_id": param_id, "deviation": deviation}


def test_cells_aggregate_per_clause_and_the_summary_counts_clauses() -> None:
    built = _build(
        {
            "a::t[cpu-32-true]": _cell("A-001", "cpu-32-true"),
            "a::t[cuda-32-true]": _cell("A-001", "cuda-32-true"),
            "b::t": _cell("B-001"),
            "c::t": _cell("C-001"),
        },
        {
            "a::t[cpu-32-true]": [OK, OK, OK],
            "a::t[cuda-32-true]": [{"status": "not_run", "message": "no cuda"}],
            "b::t": [OK, {"status": "failed", "message": "expected 1, saw 2"}, OK],
            "c::t": [{"status": "errored", "message": "the test process died", "when": "crash"}],
        },
    )
    certificate.validate(built)
    status = {c["id"]: c["status"] for c in built["clauses"]}
    assert status == {"A-001": "passed", "B-001": "failed", "C-001": "errored"}
    assert built["clauses"][0]["matrix"] == {"cpu-32-true": "passed", "cuda-32-true": "not_run"}
    assert built["summary"] == {
        "passed": 1, "failed": 1, "errored": 1, "deviation": 0, "not_run": 0, "total": 3,
    }  # fmt: skip
    assert built["conforms"] is False


def test_a_test_without_any_result_is_errored() -> None:
    built = _build({"a::t": _cell("A-001")}, {})
    assert built["clauses"][0]["status"] == "errored"
    assert "ended before this test ran" in built["clauses"][0]["message"]


def test_a_declared_clause_whose_process_died_is_still_a_deviation() -> None:
    declared = {"reason": "known", "link": None}
    crash = {"status": "errored", "message": "died", "when": "crash"}
    built = _build({"a::t": _cell("A-001", deviation=declared)}, {"a::t": [crash]})
    result = built["clauses"][0]["results"][0]
    assert (result["status"], result["underlying"]) == ("deviation", "errored")
    assert built["conforms"] is True


def test_deviations_file_problems_break_conformance() -> None:
    built = _build({"a::t": _cell("A-001")}, {"a::t": [OK]}, problems=["entry 1: unknown"])
    assert built["conforms"] is False
    assert "DOES NOT CONFORM: 1 deviations-file problems" in render_text(built)


def test_the_schema_rejects_what_is_not_a_certificate() -> None:
    good = _build({"a::t": _cell("A-001")}, {"a::t": [OK]})
    certificate.validate(good)
    for mutate in (
        lambda c: c["clauses"][0].update(status="ok"),
        lambda c: c["summary"].pop("not_run"),
        lambda c: c["target"].pop("version"),
        lambda c: c["clauses"][0].update(id="not an id"),
        lambda c: c.update(unexpected=1),
    ):
        bad = copy.deepcopy(good)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            certificate.validate(bad)
    jsonschema.Draft202012Validator.check_schema(certificate.schema())


def test_the_text_report_lists_families_failures_and_the_verdict() -> None:
    built = _build(
        {"b::t": _cell("B-001"), "b::u": _cell("B-002"), "x::t": _cell("XY-001")},
        {
            "b::t": [OK, {"status": "failed", "message": "expected 1, saw 2"}, OK],
            "b::u": [{"status": "not_run", "message": "no cuda device"}],
            "x::t": [OK, OK, OK],
        },
    )
    lines = render_text(built).splitlines()
    assert lines[0].startswith("trainspec 0.1.0 certificate for t 1.0 (t); torch 2.0; devices: cpu")
    rows = {line.split()[0]: line.split()[1:] for line in lines if line[:2] in ("B ", "XY", "to")}
    assert rows["B"] == ["0", "1", "0", "0", "1"]
    assert rows["XY"] == ["1", "0", "0", "0", "0"]
    assert rows["total"] == ["1", "1", "0", "0", "1"]
    text = "\n".join(lines)
    assert "  FAILED   B-001: title of B-001\n           expected 1, saw 2" in text
    assert "Not run (1 clauses):\n  1 × no cuda device" in text
    assert lines[-1] == "DOES NOT CONFORM: 1 failed"


def test_rich_draws_the_same_table_when_available(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("rich")
    from conformance import report

    built = _build(
        {"b::t": _cell("B-001"), "x::t": _cell("XY-001")},
        {"b::t": [OK, {"status": "errored", "message": "boom"}, OK], "x::t": [OK, OK, OK]},
    )
    assert report._print_rich(built)
    out = capsys.readouterr().out
    assert "B" in out and "XY" in out and "total" in out
    assert "ERRORED  B-001: title of B-001" in out
    assert "DOES NOT CONFORM: 1 errored" in out


def _result(device: str, precision: str, status: str, message: str = "") -> dict:
    return {
        "params": {"device": device, "precision": precision},
        "status": status,
        "message": message,
    }


def test_device_matrix_aggregates_cells_across_clauses() -> None:
    from conformance.certificate import device_matrix

    clauses = [
        {"results": [_result("cpu", "32-true", "passed"), _result("cpu", "16-true", "failed")]},
        {"results": [_result("cpu", "32-true", "passed"), _result("cpu", "16-true", "passed")]},
        {"results": [_result("cuda", "16-mixed", "not_run", "cuda not available")]},
        {"results": [{"params": {"accelerator": "auto"}, "status": "passed", "message": ""}]},
    ]
    matrix = device_matrix(clauses)
    cells = matrix["cells"]
    assert cells["cpu"]["32-true"]["status"] == "passed"
    assert cells["cpu"]["32-true"]["passed"] == 2
    # one failing clause result makes the whole cell fail, as it does a clause
    assert cells["cpu"]["16-true"]["status"] == "failed"
    assert (cells["cpu"]["16-true"]["failed"], cells["cpu"]["16-true"]["passed"]) == (1, 1)
    assert cells["cuda"]["16-mixed"] == {
        "passed": 0, "failed": 0, "errored": 0, "deviation": 0, "not_run": 1,
        "reasons": ["cuda not available"], "status": "not_run",
    }  # fmt: skip
    assert "auto" not in cells  # results without both parameters are not matrix cells
    assert matrix["devices"][:2] == ["cpu", "cuda"]


def test_the_text_report_shows_the_matrix() -> None:
    from conformance.certificate import device_matrix
    from conformance.report import matrix_lines

    certificate = {
        "matrix": device_matrix(
            [
                {
                    "results": [
                        _result("cpu", "32-true", "passed"),
                        _result("cpu", "64-true", "failed"),
                    ]
                }
            ]
        )
    }
    text = "\n".join(matrix_lines(certificate))
    cpu_row = next(line for line in text.splitlines() if line.startswith("cpu"))
    assert "pass 1" in cpu_row and "FAIL 1" in cpu_row
    cuda_row = next(line for line in text.splitlines() if line.startswith("cuda"))
    assert set(cuda_row.split()[1:]) == {"-"}


def test_matrix_columns_stay_apart_when_a_label_is_as_wide_as_the_column() -> None:
    from conformance.certificate import device_matrix
    from conformance.report import matrix_lines

    results = [_result("cpu", "64-true", "deviation")] * 21
    results += [_result("cpu", "32-true", "deviation")] * 35
    lines = matrix_lines({"matrix": device_matrix([{"results": results}])})
    cpu_row = next(line for line in lines if line.startswith("cpu"))
    assert cpu_row.split()[1:5] == ["deviation", "21", "deviation", "35"], cpu_row
