"""Shared helpers for trainspec's own tests: running ``trainspec`` and pytest in a child process.

Harness tests run the real command line in a subprocess (the way users and CI run it), from a
temporary working directory, with the repository on ``PYTHONPATH`` so that the ``fixtures``
package (stand-in targets, broken fixtures, the harness's own clause suite) is importable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
HARNESS_SUITE = "fixtures.harness.suite"
STUB = "fixtures.harness.targets.stub"


@dataclass
class Run:
    """A finished child process: its exit code, combined output and certificate (if written)."""

    returncode: int
    output: str
    certificate: dict[str, Any] | None

    def clause(self, clause_id: str) -> dict[str, Any]:
        assert self.certificate is not None, f"no certificate was written:\n{self.output}"
        for entry in self.certificate["clauses"]:
            if entry["id"] == clause_id:
                return entry
        ids = [c["id"] for c in self.certificate["clauses"]]
        raise AssertionError(f"{clause_id} is not in the certificate (it has {ids})")

    def statuses(self) -> dict[str, str]:
        assert self.certificate is not None, f"no certificate was written:\n{self.output}"
        return {c["id"]: c["status"] for c in self.certificate["clauses"]}


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TRAINSPEC_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def run_child(
    args: list[str], cwd: Path, *, timeout: float = 240, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def certify(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``certify(*args)`` runs ``trainspec certify --plain ARGS --json ...`` in a child process
    (in a fresh temporary directory) and returns a :class:`Run` with the certificate read back.
    Session-scoped, so module-scoped fixtures can share one expensive run among tests."""

    def run(*args: str, json_out: bool = True, timeout: float = 240) -> Run:
        cwd = tmp_path_factory.mktemp("certify")
        path = cwd / "certificate.json"
        own = list(args)
        extra = own[own.index("--") :] if "--" in own else []  # pytest's own arguments go last
        own = own[: len(own) - len(extra)]
        if json_out:
            own += ["--json", str(path)]
        command = [sys.executable, "-m", "conformance.cli", "certify", "--plain", *own, *extra]
        done = run_child(command, cwd, timeout=timeout)
        certificate = json.loads(path.read_text()) if json_out and path.exists() else None
        return Run(done.returncode, done.stdout + done.stderr, certificate)

    return run


@pytest.fixture(scope="session")
def run_pytest(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``run_pytest(*args)`` runs ``python -m pytest -p no:cacheprovider ARGS`` in a child
    process, in a fresh temporary directory."""

    def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
        return run_child(command, tmp_path_factory.mktemp("pytest"), timeout=timeout)

    return run


class CertifyServer:
    """Client of ``tests/fixtures/certify_server.py``: one server process per test worker."""

    SCRIPT = REPO / "tests" / "fixtures" / "certify_server.py"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.stderr = open(workdir / "server.stderr", "w")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            [sys.executable, str(self.SCRIPT)],
            cwd=workdir,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self._expect_reply(timeout=300)  # {"ready": true} once the imports are done
        self.count = 0

    def _expect_reply(self, timeout: float) -> dict[str, Any]:
        import select

        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            log = (self.workdir / "server.stderr").read_text()[-3000:]
            raise RuntimeError(f"the certify server stopped answering; its stderr ends:\n{log}")
        return json.loads(line)

    def certify(self, target: str, suite: str, clauses: str, timeout: float) -> Run:
        assert self.process.stdin is not None
        self.count += 1
        workdir = self.workdir / f"run{self.count}"
        request = {
            "target": target,
            "suite": suite,
            "clauses": clauses,
            "workdir": str(workdir),
            "timeout": timeout,
        }
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = self._expect_reply(timeout=timeout + 60)
        path = reply["certificate"]
        certificate = json.loads(Path(path).read_text()) if path else None
        return Run(reply["returncode"], reply["output"], certificate)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.stderr.close()


@pytest.fixture(scope="session")
def certify_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Certifies many targets fast: each in a child forked from a server that has already
    imported torch, the reference and the clause modules (see certify_server.py)."""
    server = CertifyServer(tmp_path_factory.mktemp("certify-server"))
    yield server
    server.close()
