"""``trainspec report``: certificates rendered side by side as Markdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.certificate import device_matrix
from conformance.cli import main
from conformance.markdown import render


def _certificate(spec: str, statuses: dict[str, str], conforms: bool) -> dict[str, Any]:
    clauses = []
    for clause_id, status in statuses.items():
        deviation = {"reason": "known breach", "link": "https://example.invalid/1"}
        result = {
            "params": {"device": "cpu", "precision": "32-true"},
            "status": status,
            "message": "cuda absent" if status == "not_run" else "",
            "deviation": deviation if status == "deviation" else None,
        }
        clauses.append(
            {
                "id": clause_id,
                "family": clause_id.rsplit("-", 1)[0],
                "title": f"title of {clause_id}",
                "level": "core",
                "status": status,
                "message": "boom" if status == "failed" else result["message"],
                "results": [result],
            }
        )
    summary = {s: 0 for s in ("passed", "failed", "errored", "deviation", "not_run")}
    for status in statuses.values():
        summary[status] += 1
    summary["total"] = len(statuses)
    return {
        "target": {"spec": spec, "version": "1.0", "name": spec},
        "environment": {"torch": "2.x", "devices": {"cpu": 1, "cuda": 0}},
        "hypothesis": {"profile": "trainspec-certify"},
        "duration_s": 3.0,
        "summary": summary,
        "clauses": clauses,
        "matrix": device_matrix(clauses),
        "conforms": conforms,
    }


GOOD = _certificate("good", {"OPT-001": "passed", "OPT-002": "deviation"}, True)
BAD = _certificate("bad", {"OPT-001": "failed", "PREC-001": "not_run"}, False)


def test_render_compares_targets_per_family() -> None:
    text = render([GOOD, BAD])
    assert "| `good` 1.0 (cpu) | **conforms**" in text
    assert "| `bad` 1.0 (cpu) | **does not conform**" in text
    assert "| OPT | 1 pass · 1 dev | 1 FAIL |" in text
    assert "| PREC | — | 1 n/r |" in text  # a family one target lacks shows a dash


def test_render_lists_what_needs_attention() -> None:
    text = render([GOOD, BAD])
    assert "**OPT-002** (core) title of OPT-002 — known breach (https://example.invalid/1)" in text
    assert "**OPT-001** failed: boom" in text
    assert "- PREC-001: cuda absent" in text
    assert "| cpu | — | 1 pass · 1 dev | —" in text  # the good target's matrix row (64-true first)


def test_report_command_writes_markdown(tmp_path: Path) -> None:
    paths = []
    for cert in (GOOD, BAD):
        path = tmp_path / f"{cert['target']['spec']}.json"
        path.write_text(json.dumps(cert))
        paths.append(str(path))
    out = tmp_path / "results.md"
    assert main(["report", *paths, "-o", str(out), "--title", "Results"]) == 0
    assert out.read_text().startswith("# Results\n")


def test_report_command_refuses_an_unreadable_certificate(tmp_path: Path, capsys: Any) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["report", str(broken)]) == 2
    assert "cannot read a certificate" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('{"format": 1, "events": []}', "no target, environment"),  # e.g. a golden trace
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_report_command_refuses_a_json_file_that_is_no_certificate(
    tmp_path: Path, capsys: Any, content: str, why: str
) -> None:
    other = tmp_path / "other.json"
    other.write_text(content)
    assert main(["report", str(other)]) == 2
    err = capsys.readouterr().err
    assert f"trainspec report: {other} is not a trainspec certificate ({why}" in err, err


@pytest.mark.parametrize("command", [["report", "{cert}"], ["catalogue"]])
def test_an_output_that_is_a_directory_is_one_clear_error(
    tmp_path: Path, capsys: Any, command: list[str]
) -> None:
    cert = tmp_path / "cert.json"
    cert.write_text(json.dumps(GOOD))
    argv = [arg.format(cert=cert) for arg in command] + ["-o", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"trainspec {command[0]}: -o {tmp_path} is a directory; name a file" in err
