"""CKPT-ATOMIC (extended): a process SIGKILLed during a save leaves the previous checkpoint intact.

Each clause runs :mod:`conformance.kit.crash_child` in a real subprocess, waits until the child
is serialising a checkpoint (a hook-added object blocks while being pickled and signals the
parent), kills it with SIGKILL and inspects the files: the files that existed before the save
must be byte-for-byte unchanged and load with the safe loader, and no partially written
``*.ckpt`` may be left behind. Every wait is bounded and the child is always killed.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from conformance.kit import crash_child
from conformance.kit.checkpoints import error_text, model_checkpoint_class, read_checkpoint
from conformance.kit.subprocess_run import child_process
from conformance.registry import clause, facts

SIGNAL_TIMEOUT = 120.0  # the child imports torch and the target, then trains a few batches
ATOMIC_SOURCE = facts(
    "§3.1", "trainer.save_checkpoint ... writes via CheckpointIO (atomic for non-distributed)"
)


def _kill_mid_save(target: Any, workdir: Path, scenario: str) -> dict[str, str]:
    """Run the scenario, SIGKILL the child mid-save; return {file: sha256 before the save}."""
    args = ["-m", "conformance.kit.crash_child", target.spec, scenario, str(workdir)]
    with child_process(args, workdir / "child.log") as child:
        child.wait_for_file(workdir / crash_child.SIGNAL_NAME, timeout=SIGNAL_TIMEOUT)
        code = child.kill()
    assert code == -signal.SIGKILL, (
        f"expected the child to die from SIGKILL mid-save, observed exit code {code}; "
        f"output:\n{child.log_tail()}"
    )
    return json.loads((workdir / crash_child.PROTECTED_NAME).read_text())


def _check_survivors(workdir: Path, before: dict[str, str], expected: list[str]) -> None:
    assert sorted(before) == sorted(expected), (
        f"expected {expected} to exist when the save began, observed {sorted(before)}"
    )
    for name, digest in before.items():
        path = workdir / name
        assert path.is_file(), f"{name}: expected the earlier checkpoint to survive, it is gone"
        after = crash_child.sha256_of(path)
        assert after == digest, (
            f"{name}: expected its bytes unchanged by the killed save, observed a different "
            f"file of {path.stat().st_size} bytes"
        )
        try:
            saved = read_checkpoint(path)
        except Exception as exc:
            pytest.fail(f"{name}: expected the earlier checkpoint to load: {error_text(exc)}")
        assert saved.get("global_step") == crash_child.BATCHES, (
            f"{name}: expected the epoch-0 state (global_step {crash_child.BATCHES}), "
            f"observed {saved.get('global_step')!r}"
        )
    for path in sorted(workdir.rglob("*.ckpt")):
        try:
            read_checkpoint(path)
        except Exception as exc:  # a partial file is exactly what this clause forbids
            pytest.fail(
                f"{path.relative_to(workdir)}: a file left by the killed save does not load: "
                f"{error_text(exc)[:300]}"
            )


@pytest.mark.timeout(SIGNAL_TIMEOUT + 60)
@clause(
    "CKPT-ATOMIC-001",
    "SIGKILL during save_checkpoint over an existing file leaves that file intact and loadable",
    level="extended",
    source=ATOMIC_SOURCE,
)
def test_kill_during_overwrite(target: Any, tmp_path: Path) -> None:
    before = _kill_mid_save(target, tmp_path, "overwrite")
    _check_survivors(tmp_path, before, ["model.ckpt"])


@pytest.mark.timeout(SIGNAL_TIMEOUT + 60)
@clause(
    "CKPT-ATOMIC-002",
    "SIGKILL during a ModelCheckpoint save keeps last.ckpt and earlier files intact, no partials",
    level="extended",
    source=ATOMIC_SOURCE,
)
def test_kill_during_model_checkpoint(target: Any, tmp_path: Path) -> None:
    model_checkpoint_class(target)  # not_run (skip) here, not a crash in the child
    before = _kill_mid_save(target, tmp_path, "last")
    expected = ["ckpts/last.ckpt", f"ckpts/epoch=0-step={crash_child.BATCHES}.ckpt"]
    _check_survivors(tmp_path, before, expected)
