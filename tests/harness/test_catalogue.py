"""The clause catalogue, generated from the suite itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.catalogue import SuiteError, generate, load_suite

REPO = Path(__file__).resolve().parents[2]
HARNESS_SUITE = "fixtures.harness.suite"


def test_loading_a_suite_returns_its_clauses_sorted_and_only_its_own() -> None:
    clauses = load_suite(HARNESS_SUITE)
    ids = [info.id for info in clauses]
    assert ids == sorted(ids)
    assert {"HX-PASS-001", "HX-MATRIX-001", "HX-STATE-002", "HX-ZEROGRAD-001"} <= set(ids)
    assert all(info.nodeid_hint.startswith(f"{HARNESS_SUITE}.") for info in clauses)


def test_the_catalogue_has_a_table_per_family_with_docs_for_de_facto_clauses() -> None:
    text = generate(HARNESS_SUITE)
    assert text.startswith("# Clause catalogue\n")
    assert "## HX-MATRIX\n" in text and "## HX-STATE\n" in text
    assert "| ID | level | statement | source | docs say (de-facto) |" in text
    de_facto = next(line for line in text.splitlines() if line.startswith("| HX-HYPO-001 |"))
    cells = [cell.strip() for cell in de_facto.strip("|").split(" | ")]
    assert cells[:3] == ["HX-HYPO-001", "de-facto", "fit calls training_step for each of n batches"]
    assert cells[3].startswith("de facto: Lightning 2.6 behaviour") and "§2.2" in cells[3]
    assert cells[4].startswith("trainspec harness fixtures, statuses")
    core = next(line for line in text.splitlines() if line.startswith("| HX-PASS-001 |"))
    assert core.rstrip().endswith("|  |")  # no docs column for core clauses
    assert f"{len(load_suite(HARNESS_SUITE))} clauses in" in text


def test_an_unimportable_clause_module_is_named() -> None:
    with pytest.raises(SuiteError, match=r"test_broken_module: ImportError: this clause module"):
        load_suite("fixtures.harness.unimportable_suite")
    assert load_suite("fixtures.harness.unimportable_suite", strict=False) == []


def test_the_committed_catalogue_is_up_to_date() -> None:
    committed = (REPO / "docs" / "clauses.md").read_text(encoding="utf-8")
    assert committed == generate("conformance.clauses"), (
        "docs/clauses.md is out of date: run `trainspec catalogue -o docs/clauses.md`"
    )


def test_the_command_writes_the_catalogue(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "clauses.md"
    command = [sys.executable, "-m", "conformance.cli", "catalogue", "--suite", HARNESS_SUITE,
               "-o", str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == generate(HARNESS_SUITE)
    assert f"wrote {out} (" in done.stdout
    bad = [sys.executable, "-m", "conformance.cli", "catalogue", "--suite",
           "fixtures.harness.unimportable_suite"]  # fmt: skip
    done = subprocess.run(bad, capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 2
    assert "cannot import fixtures.harness.unimportable_suite.test_broken_module" in done.stderr
