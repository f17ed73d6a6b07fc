"""The plugin in plain pytest runs: the header, selection, the summary, xdist, and staying out of
the way of sessions that run no clause."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

STUB = "fixtures.harness.targets.stub"
SUITE = ["--pyargs", "fixtures.harness.suite"]


def test_the_header_names_target_version_torch_and_devices(run_pytest: Any) -> None:
    done = run_pytest(*SUITE, "--trainspec-target", STUB, "--trainspec-clauses", "HX-PASS")
    header = done.stdout.split("collected")[0]
    assert f"trainspec target: harness-stub 1.2.3 ({STUB}), profile 2.x" in header
    assert f"torch {torch.__version__}" in header
    assert "devices found: cpu×1" in header
    assert "hypothesis profile: trainspec-certify" in header


def test_selection_deselects_and_the_summary_follows_the_tests(run_pytest: Any) -> None:
    done = run_pytest(*SUITE, "--trainspec-target", STUB, "--trainspec-clauses", "HX-PASS,HX-FAIL")
    assert done.returncode == 1
    assert "1 failed, 1 passed, 14 deselected" in done.stdout
    assert " trainspec certificate " in done.stdout  # the terminal summary section
    assert "DOES NOT CONFORM: 1 failed" in done.stdout


def test_xdist_workers_report_the_same_statuses_as_one_process(
    run_pytest: Any, tmp_path: Path
) -> None:
    clauses = "HX-PASS,HX-FAIL,HX-MATRIX,HX-SKIP,HX-SETUP,HX-HYPO"
    results = {}
    for workers in ("0", "2"):
        path = tmp_path / f"certificate-{workers}.json"
        run_pytest(*SUITE, "--trainspec-target", STUB, "--trainspec-clauses", clauses,
                   "-n", workers, "--trainspec-json", str(path))  # fmt: skip
        certificate = json.loads(path.read_text())
        results[workers] = {
            c["id"]: (c["status"], c["message"], c["matrix"]) for c in certificate["clauses"]
        }
    assert results["2"] == results["0"]
    assert len(results["0"]) == 7


def test_a_session_without_clauses_is_left_alone(run_pytest: Any, tmp_path: Path) -> None:
    test_file = tmp_path / "test_plain.py"
    test_file.write_text(
        "import os, sys\n"
        "def test_plain():\n"
        "    os.environ['LEFT_BEHIND'] = '1'\n"
        "    assert 'torch' not in sys.modules, 'the plugin imported torch'\n"
        "def test_env_not_restored_for_plain_tests():\n"
        "    assert os.environ.get('LEFT_BEHIND') == '1'\n"
    )
    done = run_pytest(str(test_file))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trainspec target" not in done.stdout and "trainspec certificate" not in done.stdout
    assert "2 passed" in done.stdout


def test_a_bad_target_under_xdist_is_one_usage_error(run_pytest: Any) -> None:
    done = run_pytest(*SUITE, "--trainspec-target", "fixtures.harness.targets.no_callback",
                      "-n", "2")  # fmt: skip
    assert done.returncode == 4
    output = done.stdout + done.stderr
    assert output.count("does not expose Callback") == 1, output
    assert "INTERNALERROR" not in output


def test_trainspec_target_in_the_environment_leaves_unrelated_sessions_alone(
    tmp_path: Path,
) -> None:
    # $TRAINSPEC_TARGET names the target for clause sessions; exported for certification (e.g. in
    # CI), it must not load a target, import torch, switch the hypothesis profile or turn a typo
    # into a usage error in a project's own pytest runs.
    (tmp_path / "test_plain.py").write_text(
        "import sys\n"
        "from hypothesis import settings\n"
        "def test_plain():\n"
        "    assert 'torch' not in sys.modules, 'the plugin imported torch'\n"
        "    assert settings._current_profile != 'trainspec-certify'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TRAINSPEC_"))}
    env["TRAINSPEC_TARGET"] = "no_such_trainer_module"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_plain.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "trainspec target" not in done.stdout


def test_collect_only_gives_no_verdict_and_no_certificate(run_pytest: Any, tmp_path: Path) -> None:
    path = tmp_path / "certificate.json"
    done = run_pytest(*SUITE, "--trainspec-target", STUB, "--collect-only", "-q",
                      "--trainspec-json", str(path))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tests collected" in done.stdout
    assert "CONFORM" not in done.stdout and "no result" not in done.stdout, done.stdout
    assert not path.exists(), "a run that ran nothing wrote a certificate"


def test_a_negative_timeout_is_a_usage_error(run_pytest: Any) -> None:
    # It disabled pytest-timeout but armed the watchdog at 2 * -1 + 5 = 3 s for every clause.
    done = run_pytest(*SUITE, "--trainspec-target", STUB, "--trainspec-clauses", "HX-PASS",
                      "--trainspec-timeout", "-1")  # fmt: skip
    assert done.returncode == 4
    assert "--trainspec-timeout must be 0 (no timeout) or more, not -1" in done.stderr, done.stderr


def test_a_certificate_path_that_is_a_directory_is_a_usage_error(
    run_pytest: Any, tmp_path: Path
) -> None:
    done = run_pytest(*SUITE, "--trainspec-target", STUB, "--trainspec-clauses", "HX-PASS",
                      "--trainspec-json", str(tmp_path))  # fmt: skip
    assert done.returncode == 4, done.stdout + done.stderr
    assert f"--trainspec-json {tmp_path} is a directory" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_target_whose_import_hangs_is_stopped_by_the_timeout(
    run_pytest: Any, tmp_path: Path
) -> None:
    (tmp_path / "trainspec_test_hangs_at_import.py").write_text(
        "import time\nwhile True:\n    time.sleep(0.05)\n"
    )
    done = run_pytest(*SUITE, "--trainspec-target", "trainspec_test_hangs_at_import",
                      "--trainspec-timeout", "1", "-o", f"pythonpath={tmp_path}",
                      timeout=60)  # fmt: skip
    assert done.returncode == 4, done.stdout + done.stderr
    assert (
        "trainspec: importing target 'trainspec_test_hangs_at_import' took longer than 1 s"
    ) in done.stderr


def test_threads_a_target_leaves_running_do_not_keep_the_run_alive(
    run_pytest: Any, tmp_path: Path
) -> None:
    # A non-daemon thread left by fit() (a logger's flusher, say) kept the process from exiting
    # after the certificate was written: `trainspec certify -n 0` never returned.
    (tmp_path / "trainspec_test_leaves_thread.py").write_text(
        "import threading, time\n"
        f"from {STUB} import Callback, LightningModule\n"
        f"from {STUB} import Trainer as _Trainer\n"
        "class Trainer(_Trainer):\n"
        "    def fit(self, model):\n"
        "        threading.Thread(target=time.sleep, args=(3600,), name='leaky-flusher').start()\n"
        "        return super().fit(model)\n"
    )
    path = tmp_path / "certificate.json"
    done = run_pytest(*SUITE, "--trainspec-target", "trainspec_test_leaves_thread",
                      "--trainspec-clauses", "HX-PASS", "--trainspec-json", str(path),
                      "-o", f"pythonpath={tmp_path}", timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "left 1 thread running (leaky-flusher)" in done.stderr, done.stderr
    assert json.loads(path.read_text())["conforms"] is True
