"""Never hang: the timer that interrupts a hanging clause, the watchdog that ends the process when
nothing can, and an exit that threads a target left running cannot hold up (hook implementations
exposed through :mod:`conformance.plugin`).

pytest-timeout's signal method raises ``pytest.fail``'s exception from its SIGALRM handler.
Hypothesis treats that exception as a falsifying example: it shrinks and replays it, and with the
alarm spent the replay hangs for good. For clause tests the plugin therefore sets the alarm itself
and raises :class:`~conformance.outcomes.ClauseTimeout`, which no hypothesis test (nor a target's
``except Exception``) catches. Other tests keep pytest-timeout's own timer.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from conformance.outcomes import ClauseTimeout
from conformance.registry import clause_of

HARD_EXIT_CODE = 70
LEFTOVER_THREADS_GRACE_S = 5.0  # how long a finished run waits for threads a target left behind
_EXIT_STATUS = pytest.StashKey[int]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@contextmanager
def time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Raise :class:`ClauseTimeout` ("<what> took longer than N s") if the block outlives
    ``seconds`` (SIGALRM, main thread only; otherwise no limit)."""
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not seconds or not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise ClauseTimeout(f"{what} took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """Arm the clause's alarm (signal method, main thread); ``None`` leaves it to pytest-timeout."""
    if clause_of(item) is None or settings.method != "signal":
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    seconds = settings.timeout

    def on_alarm(signum: int, frame: Any) -> None:
        raise ClauseTimeout(f"Timeout (>{seconds}s) from pytest-timeout.")

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # pytest-timeout's cancel hook calls it
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator:
    """End the process if a clause outlives its timeout by far: never hang for good.

    The alarm cannot interrupt a hang inside native code. Under xdist, ending the worker makes the
    controller report the clause as crashed (``errored``) and carry on with a fresh worker;
    without xdist the run ends after writing the certificate as it stands.
    """
    marker = item.get_closest_marker("timeout")
    seconds = None
    if marker is not None:
        seconds = marker.args[0] if marker.args else marker.kwargs.get("timeout")
    if clause_of(item) is None or not seconds:
        yield
        return
    limit = float(seconds) * 2 + 5

    def hard_exit() -> None:
        sys.stderr.write(
            f"\ntrainspec: {item.nodeid} is stuck {limit:g} s after it started (its timeout could "
            "not interrupt it); ending this test process\n"
        )
        sys.stderr.flush()
        if not _is_worker(item.config):
            _last_certificate(item, limit)
        os._exit(HARD_EXIT_CODE)

    watchdog = threading.Timer(limit, hard_exit)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()


def _last_certificate(item: pytest.Item, limit: float) -> None:
    """Without xdist, write what is known before the process ends: the stuck clause errored,
    those that never ran errored ("no result"), the others as they were."""
    collector = item.config.pluginmanager.get_plugin("trainspec-collector")
    path = item.config.getoption("trainspec_json")
    if collector is None or not path:
        return
    try:
        from conformance import certificate

        message = f"hung past {limit:g} s where its timeout could not interrupt it; run ended"
        phase = {"status": "errored", "message": message, "when": "call", "duration": limit}
        collector.state.results.setdefault(item.nodeid, []).append(phase)
        certificate.write(collector.build(), path)
    except Exception as exc:  # the process ends anyway; say why there is no certificate
        sys.stderr.write(f"trainspec: could not write the certificate: {exc!r}\n")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Do not let threads a target left running keep a finished clause session alive.

    Python joins non-daemon threads at exit, so a thread the target started and never stopped
    (a logger's flusher, a prefetcher) made the process, and ``trainspec certify``, wait forever
    after the certificate was written. They get a short grace, then the process ends with
    pytest's exit status. xdist workers are left to xdist.
    """
    collector = config.pluginmanager.get_plugin("trainspec-collector")
    in_clause_session = collector is not None and collector.state.target is not None
    if _is_worker(config) or not in_clause_session or _EXIT_STATUS not in config.stash:
        return
    deadline = time.monotonic() + LEFTOVER_THREADS_GRACE_S
    for thread in _leftover_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    left = _leftover_threads()
    if not left:
        return
    names = ", ".join(thread.name for thread in left)
    plural = "s" if len(left) > 1 else ""
    sys.stdout.flush()
    sys.stderr.write(
        f"trainspec: the target left {len(left)} thread{plural} running ({names}); ending the "
        "process without waiting for them\n"
    )
    sys.stderr.flush()
    os._exit(config.stash[_EXIT_STATUS])


def _leftover_threads() -> list[threading.Thread]:
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]
