"""``trainspec certify`` end to end: the harness's own clauses (fixtures/harness/suite) run
against stand-in targets, each clause's status, message and matrix, the certificate's schema,
JUnit, the table and the exit code."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import torch

from conformance.certificate import validate

SUITE = ["--suite", "fixtures.harness.suite"]
TARGETS = "fixtures.harness.targets"
STUB = f"{TARGETS}.stub"

EXPECTED = {
    "HX-PASS-001": "passed",
    "HX-FAIL-001": "failed",
    "HX-ERROR-001": "errored",
    "HX-RAISES-001": "failed",
    "HX-SKIP-001": "not_run",
    "HX-SETUP-001": "errored",
    "HX-MATRIX-001": "failed",
    "HX-HYPO-001": "passed",
    "HX-HYPO-002": "failed",
    "HX-PROFILE-001": "passed",
    "HX-STATE-001": "passed",
    "HX-STATE-002": "passed",
    "HX-LIGHTNING-001": "not_run",  # the stub is not Lightning-like
    "HX-ZEROGRAD-001": "not_run",
}


@pytest.fixture(scope="module")
def junit_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("junit") / "results.xml"


@pytest.fixture(scope="module")
def stub_run(certify: Any, junit_path: Path) -> Any:
    return certify("--target", STUB, *SUITE, "-n", "0", "--junit", str(junit_path))


def test_every_clause_gets_its_status(stub_run: Any) -> None:
    assert stub_run.statuses() == EXPECTED, stub_run.output


def test_the_certificate_matches_the_schema_and_describes_the_run(stub_run: Any) -> None:
    certificate = stub_run.certificate
    validate(certificate)
    assert certificate["target"] == {
        "name": "harness-stub",
        "spec": STUB,
        "version": "1.2.3",
        "profile": "2.x",
        "declared": {"devices": ["cpu"], "precisions": ["32-true", "16-mixed"], "strategies": None},
    }
    assert certificate["environment"]["torch"] == torch.__version__
    assert certificate["environment"]["devices"]["cpu"] == 1
    assert certificate["hypothesis"]["profile"] == "trainspec-certify"
    assert certificate["hypothesis"]["derandomize"] is True
    counts = {s: list(EXPECTED.values()).count(s) for s in set(EXPECTED.values())}
    assert certificate["summary"] == {
        "passed": counts["passed"],
        "failed": counts["failed"],
        "errored": counts["errored"],
        "deviation": 0,
        "not_run": counts["not_run"],
        "total": len(EXPECTED),
    }
    assert certificate["conforms"] is False


def test_messages_say_what_went_wrong(stub_run: Any) -> None:
    message = {cid: stub_run.clause(cid)["message"] for cid in EXPECTED}
    assert message["HX-PASS-001"] == ""
    assert message["HX-FAIL-001"] == "expected max_epochs 5 by default, saw 1"
    assert message["HX-ERROR-001"] == (
        "NotImplementedError: this stand-in trainer has no validate()"
    )
    assert message["HX-RAISES-001"] == "DID NOT RAISE ValueError"
    assert message["HX-SKIP-001"] == "no xla device on this machine"
    assert message["HX-SETUP-001"] == "error in setup: RuntimeError: the fixture itself broke"
    assert message["HX-HYPO-002"].startswith("expected fewer than 3 batches, drew 3 [Failing")
    assert "n=3" in message["HX-HYPO-002"]


def test_a_parametrized_clause_keeps_one_result_per_cell_and_a_matrix(stub_run: Any) -> None:
    matrix_clause = stub_run.clause("HX-MATRIX-001")
    assert matrix_clause["matrix"] == {
        "cpu-16-mixed": "failed",
        "cpu-32-true": "passed",
        "cuda-32-true": "not_run",
    }
    cells = {cell["param_id"]: cell for cell in matrix_clause["results"]}
    assert cells["cpu-16-mixed"]["params"] == {"device": "cpu", "precision": "16-mixed"}
    assert cells["cpu-16-mixed"]["message"] == "precision 16-mixed breaks this check"
    assert matrix_clause["message"] == "[cpu-16-mixed] precision 16-mixed breaks this check"
    assert stub_run.clause("HX-PASS-001")["matrix"] is None


def test_the_report_is_a_table_per_family_then_the_failures(stub_run: Any) -> None:
    output = stub_run.output
    assert stub_run.returncode == 1
    header = next(line for line in output.splitlines() if line.startswith("family"))
    assert header.split() == ["family", "passed", "failed", "errored", "deviation", "not", "run"]
    row = next(line for line in output.splitlines() if line.startswith("HX-MATRIX "))
    assert row.split() == ["HX-MATRIX", "0", "1", "0", "0", "0"]
    assert "FAILED   HX-FAIL-001: max_epochs defaults to 5" in output
    assert "ERRORED  HX-SETUP-001: a clause whose fixture errors" in output
    assert "DOES NOT CONFORM: 4 failed, 2 errored" in output


def test_junit_carries_clause_ids_levels_and_statuses(stub_run: Any, junit_path: Path) -> None:
    cases = ET.parse(junit_path).getroot().iter("testcase")
    properties = [{p.get("name"): p.get("value") for p in case.iter("property")} for case in cases]
    assert len(properties) == 16  # 14 clauses, one of them with 3 cells
    by_cell = {(p["trainspec_clause"], p["trainspec_status"]) for p in properties}
    assert ("HX-MATRIX-001", "failed") in by_cell and ("HX-MATRIX-001", "not_run") in by_cell
    assert all(p["trainspec_level"] in ("core", "de-facto", "extended") for p in properties)
    suite = ET.parse(junit_path).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "5" and suite.get("errors") == "1"


DEVIATIONS = """
[[deviation]]
clause = "HX-FAIL-001"
reason = "the stub trains one epoch by default"

[[deviation]]
clause = "HX-PASS-001"
reason = "declared, yet it passes"

[[deviation]]
clause = "HX-MATRIX-001"
reason = "half precision is not supported"
[deviation.when]
precision = "16-mixed"
torch = ">=1.0"

[[deviation]]
clause = "HX-ERROR-001"
reason = "only on ancient torch"
[deviation.when]
torch = "<1.0"

[[deviation]]
clause = "HX-RAISES-001"
reason = "no argument validation in this version"
link = "https://example.invalid/issue/1"
[deviation.when]
target_version = ">=1.0"
"""


@pytest.fixture(scope="module")
def deviation_run(certify: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("deviations") / "stub.toml"
    path.write_text(DEVIATIONS)
    clauses = "HX-FAIL,HX-PASS,HX-MATRIX,HX-ERROR,HX-RAISES"
    return certify("--target", STUB, *SUITE, "-n", "0", "--deviations", str(path),
                   "--clauses", clauses)  # fmt: skip


def test_declared_clauses_are_deviations_and_others_keep_their_status(deviation_run: Any) -> None:
    validate(deviation_run.certificate)
    assert deviation_run.statuses() == {
        "HX-FAIL-001": "deviation",
        "HX-PASS-001": "passed",
        "HX-MATRIX-001": "deviation",
        "HX-ERROR-001": "errored",  # declared only for torch < 1.0
        "HX-RAISES-001": "deviation",  # declared for target versions >= 1.0 (the stub is 1.2.3)
    }
    failed = deviation_run.clause("HX-FAIL-001")["results"][0]
    assert failed["underlying"] == "failed"
    assert failed["deviation"] == {"reason": "the stub trains one epoch by default", "link": None}
    assert deviation_run.clause("HX-MATRIX-001")["matrix"] == {
        "cpu-16-mixed": "deviation",
        "cpu-32-true": "passed",
        "cuda-32-true": "not_run",
    }
    link = deviation_run.clause("HX-RAISES-001")["results"][0]["deviation"]["link"]
    assert link == "https://example.invalid/issue/1"


def test_a_declared_clause_that_passes_is_a_stale_deviation_not_a_failure(
    deviation_run: Any,
) -> None:
    assert deviation_run.certificate["stale_deviations"] == [
        {"clause": "HX-PASS-001", "param_id": None, "reason": "declared, yet it passes"}
    ]
    assert deviation_run.clause("HX-PASS-001")["results"][0]["stale_deviation"] is True
    assert "Warning: stale deviations" in deviation_run.output
    # the only undeclared breach is HX-ERROR-001
    assert deviation_run.returncode == 1
    assert "DOES NOT CONFORM: 1 errored" in deviation_run.output


def test_exit_code_is_zero_iff_nothing_fails_undeclared_and_the_file_is_sound(
    certify: Any, tmp_path: Path
) -> None:
    path = tmp_path / "dev.toml"
    path.write_text('[[deviation]]\nclause = "HX-FAIL-001"\nreason = "one epoch"\n')
    conforming = certify("--target", STUB, *SUITE, "-n", "0", "--deviations", str(path),
                         "--clauses", "HX-FAIL,HX-PASS,HX-SKIP")  # fmt: skip
    assert conforming.returncode == 0, conforming.output
    assert conforming.certificate["conforms"] is True
    assert "CONFORMS: 1 passed, 1 declared deviations, 1 not run" in conforming.output

    path.write_text(path.read_text() + '[[deviation]]\nclause = "HX-NOPE-001"\nreason = "x"\n')
    unsound = certify("--target", STUB, *SUITE, "-n", "0", "--deviations", str(path),
                      "--clauses", "HX-FAIL,HX-PASS")  # fmt: skip
    assert unsound.returncode == 1
    assert unsound.certificate["deviations_file"]["problems"] == [
        f"{path} entry 2 (HX-NOPE-001): no registered clause has ID 'HX-NOPE-001'"
    ]
    assert "Deviations file problems:" in unsound.output


def test_selection_keeps_only_the_prefixed_clauses(certify: Any) -> None:
    run = certify("--target", STUB, *SUITE, "-n", "0", "--clauses", "hx-matrix,HX-PASS-001")
    assert set(run.statuses()) == {"HX-MATRIX-001", "HX-PASS-001"}
    assert run.certificate["selection"]["prefixes"] == ["HX-MATRIX", "HX-PASS-001"]
    assert "deselected" in run.output


def test_a_prefix_matching_nothing_cannot_certify(certify: Any) -> None:
    run = certify("--target", STUB, *SUITE, "-n", "0", "--clauses", "HX-PASS,HX-NOPE")
    assert run.returncode == 2
    assert "clause prefix(es) HX-NOPE match no clause" in run.output


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (f"{TARGETS}.import_error", "cannot import target 'fixtures.harness.targets.import_error'"
         ": RuntimeError: this trainer cannot be imported (deliberately)"),
        (f"{TARGETS}.no_callback", "does not expose Callback"),
    ],
)  # fmt: skip
def test_an_unusable_target_is_one_clear_error(certify: Any, target: str, message: str) -> None:
    run = certify("--target", target, *SUITE, "-n", "2")
    assert run.returncode == 2
    assert run.certificate is None
    assert run.output.count(message) == 1, run.output
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output
    assert "FAILED" not in run.output


def test_a_malformed_deviations_file_is_one_clear_error(certify: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[deviation]]\nclause = "HX-PASS-001"\n')
    run = certify("--target", STUB, *SUITE, "-n", "0", "--deviations", str(path))
    assert run.returncode == 2
    assert f"{path} entry 1: HX-PASS-001: 'reason' is mandatory" in run.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "-2"], "argument -n: must be 0 or more, not -2"),
        (["--timeout", "-1"], "argument --timeout: must be 0 or more, not -1"),
        (["--clauses", ","], "argument --clauses: ',' names no clause ID prefix"),
    ],
)
def test_bad_numbers_and_empty_selections_are_refused(
    certify: Any, args: list[str], message: str
) -> None:
    run = certify("--target", STUB, *SUITE, *args)
    assert run.returncode == 2
    assert message in run.output, run.output
    assert run.certificate is None


@pytest.mark.parametrize("flag", ["--json", "--junit"])
@pytest.mark.parametrize("where", ["a directory", "unwritable"])
def test_an_output_path_that_cannot_be_written_is_refused_before_the_run(
    certify: Any, tmp_path: Path, flag: str, where: str
) -> None:
    # Before: a directory was a traceback; an unwritable file failed only after the whole run.
    if where == "a directory":
        path, why = tmp_path, "is a directory"
    else:
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("")
        path, why = blocker / "out.file", "cannot be written"
    run = certify("--target", STUB, *SUITE, "-n", "0", flag, str(path), json_out=flag != "--json")
    assert run.returncode == 2, run.output
    assert f"trainspec certify: {flag} {path} {why}" in run.output, run.output
    assert "Traceback" not in run.output
    assert "collected" not in run.output  # refused before pytest started


def test_a_conformance_package_in_the_working_directory_is_named_up_front(tmp_path: Path) -> None:
    # The child and its xdist workers put the working directory first on sys.path, so a project
    # package named `conformance` shadowed trainspec's: "No module named 'conformance.plugin'".
    script = Path(sys.executable).with_name("trainspec")
    if not script.exists():
        pytest.skip("the trainspec console script is not installed next to this interpreter")
    (tmp_path / "conformance").mkdir()
    (tmp_path / "conformance" / "__init__.py").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TRAINSPEC_"))}
    command = [str(script), "certify", "--plain", "--target", STUB, *SUITE, "-n", "0"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240, check=False)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"trainspec certify: {tmp_path / 'conformance'} would be imported instead of trainspec's "
        "own 'conformance' package; run trainspec certify from another directory"
    ) in done.stderr, done.stdout + done.stderr
    assert "collected" not in done.stdout


def test_an_unknown_suite_cannot_certify(certify: Any) -> None:
    run = certify("--target", STUB, "--suite", "no_such_suite_pkg")
    assert run.returncode == 2
    assert "cannot find the clause suite 'no_such_suite_pkg': no such package" in run.output


def test_a_hanging_target_times_out_and_the_run_goes_on(certify: Any) -> None:
    run = certify("--target", f"{TARGETS}.hangs", *SUITE, "-n", "0", "--timeout", "1",
                  "--clauses", "HX-PASS,HX-FAIL")  # fmt: skip
    assert run.statuses() == {"HX-PASS-001": "errored", "HX-FAIL-001": "failed"}
    assert run.clause("HX-PASS-001")["message"].startswith("timed out: Timeout (>1.0s)")


def test_a_hang_in_a_property_clause_times_out_and_the_run_goes_on(certify: Any) -> None:
    # Hypothesis catches pytest's Failed (pytest-timeout's exception) as a falsifying example and
    # replays it; the replay must not hang until the watchdog ends the whole run.
    run = certify("--target", f"{TARGETS}.hangs", *SUITE, "-n", "0", "--timeout", "1",
                  "--clauses", "HX-HYPO")  # fmt: skip
    assert run.statuses() == {"HX-HYPO-001": "errored", "HX-HYPO-002": "failed"}, run.output
    assert run.clause("HX-HYPO-001")["message"].startswith("timed out: Timeout (>1.0s)")


def test_a_target_crashing_the_process_only_loses_its_worker(certify: Any) -> None:
    run = certify("--target", f"{TARGETS}.crashes", *SUITE, "-n", "1",
                  "--clauses", "HX-PASS,HX-FAIL,HX-HYPO-001,HX-SKIP")  # fmt: skip
    validate(run.certificate)
    assert run.statuses() == {
        "HX-PASS-001": "errored",
        "HX-HYPO-001": "errored",
        "HX-FAIL-001": "failed",
        "HX-SKIP-001": "not_run",
    }
    message = run.clause("HX-PASS-001")["message"]
    assert message.startswith("the test process died while running this clause"), message


def test_a_crash_without_xdist_says_how_to_certify_anyway(certify: Any) -> None:
    run = certify("--target", f"{TARGETS}.crashes", *SUITE, "-n", "0", "--clauses", "HX-PASS")
    assert run.returncode == 2
    assert run.certificate is None
    assert (
        "trainspec certify: pytest exited with code 13 and wrote no certificate; if the target "
        "crashed the test process, certify with -n 1 or more"
    ) in run.output, run.output


@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_hang_in_native_code_is_ended_by_the_watchdog(certify: Any, workers: str) -> None:
    run = certify("--target", f"{TARGETS}.hangs_in_native", *SUITE, "-n", workers,
                  "--timeout", "0.5", "--clauses", "HX-PASS,HX-FAIL", timeout=120)  # fmt: skip
    validate(run.certificate)
    message = run.clause("HX-PASS-001")["message"]
    assert run.clause("HX-PASS-001")["status"] == "errored"
    if workers == "0":  # the process ends, after writing what it knows
        assert message == "hung past 6 s where its timeout could not interrupt it; run ended"
        assert run.clause("HX-FAIL-001")["message"].startswith("no result")
    else:  # only the worker ends; a fresh one runs the rest
        assert message.startswith("the test process died while running this clause")
        assert run.clause("HX-FAIL-001")["status"] == "failed"


def test_state_a_target_leaks_does_not_reach_the_next_clause(certify: Any) -> None:
    run = certify("--target", f"{TARGETS}.leaks_state", *SUITE, "-n", "0", "--clauses", "HX-STATE")
    assert run.statuses() == {"HX-STATE-001": "passed", "HX-STATE-002": "passed"}, run.output
    restored = run.clause("HX-STATE-001")["results"][0]["restored_state"]
    assert set(restored) >= {
        "grad mode",
        "inference mode",
        "default dtype",
        "working directory",
        "env PL_GLOBAL_SEED",
        "env PL_SEED_WORKERS",
    }


def test_the_explore_profile_is_random(certify: Any) -> None:
    run = certify("--target", STUB, *SUITE, "-n", "0", "--clauses", "HX-PROFILE",
                  "--hypothesis-profile", "trainspec-explore")  # fmt: skip
    assert run.statuses() == {"HX-PROFILE-001": "failed"}
    assert run.clause("HX-PROFILE-001")["message"] == (
        "the hypothesis profile in force is not derandomized"
    )
    assert run.certificate["hypothesis"]["profile"] == "trainspec-explore"
    assert run.certificate["hypothesis"]["max_examples"] == 200


def test_when_xdist_gives_up_the_tests_that_never_ran_are_errored(certify: Any) -> None:
    clauses = "HX-PASS,HX-FAIL,HX-MATRIX"
    run = certify("--target", f"{TARGETS}.crashes", *SUITE, "-n", "1", "--clauses", clauses,
                  "--", "--max-worker-restart", "0")  # fmt: skip
    validate(run.certificate)
    assert run.statuses() == {
        "HX-PASS-001": "errored",
        "HX-FAIL-001": "errored",
        "HX-MATRIX-001": "errored",
    }
    assert run.clause("HX-FAIL-001")["message"] == (
        "no result: the session ended before this test ran"
    )
    assert len(run.clause("HX-MATRIX-001")["results"]) == 3
