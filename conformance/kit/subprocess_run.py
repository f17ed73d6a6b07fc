"""Run a child Python process that a clause can wait on and SIGKILL, with every wait bounded.

Used by the crash-safety clauses: the child signals (by creating a file) that it reached the
moment to interrupt, the parent kills it with SIGKILL and inspects what it left on disk. The
child is always killed and reaped when the ``with`` block ends, whatever happened inside it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.05
REAP_SECONDS = 10.0


@dataclass
class Child:
    """A running child process and the file its stdout/stderr go to."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"<no log: {exc}>"

    def wait_for_file(self, path: Path, timeout: float) -> None:
        """Block until ``path`` exists; fail clearly if the child exits or time runs out."""
        deadline = time.monotonic() + timeout
        while not path.exists():
            code = self.process.poll()
            if code is not None:
                raise AssertionError(
                    f"the child exited with code {code} before creating {path.name}; "
                    f"its output ends with:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{path.name} did not appear within {timeout:.0f}s; "
                    f"the child's output ends with:\n{self.log_tail()}"
                )
            time.sleep(POLL_SECONDS)

    def kill(self) -> int:
        """SIGKILL the child (and its process group, which it leads) and reap it."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.process.wait(timeout=REAP_SECONDS)


def python_path_env() -> dict[str, str]:
    """The environment for a child that must import exactly what this process imports."""
    entries = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(entries), "PYTHONUNBUFFERED": "1"}


@contextmanager
def child_process(args: Sequence[str], log_path: Path) -> Iterator[Child]:
    """Start ``python <args>`` in its own process group; always kill and reap it on exit."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=python_path_env(),
            start_new_session=True,  # its own group: a kill cannot reach anything else
        )
    child = Child(process, log_path)
    try:
        yield child
    finally:
        child.kill()
