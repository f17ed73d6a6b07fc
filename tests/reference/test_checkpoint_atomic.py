"""A process SIGKILLed while ``Trainer.save_checkpoint`` overwrites a file leaves the old file.

The child trains a tiny model, saves ``model.ckpt``, then saves again over it with an object in
the checkpoint whose pickling signals the parent and blocks; the parent kills the child at that
moment. The earlier file must be byte-for-byte intact and load; no other ``.ckpt`` may exist.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reference.utilities.checkpoint_io import load_checkpoint

REPO = Path(__file__).resolve().parents[2]
CHILD = textwrap.dedent(
    """
    import os, sys, time
    import torch
    sys.path.insert(0, os.path.join({repo!r}, "tests", "reference"))
    import reference as L
    from reference_models import BoringModel

    workdir = sys.argv[1]

    class Block:
        def __reduce__(self):
            open(os.path.join(workdir, "saving.signal"), "w").close()
            time.sleep(120)  # killed long before

    class Model(BoringModel):
        block = False

        def on_save_checkpoint(self, checkpoint):
            if self.block:
                checkpoint["block"] = Block()

    model = Model()
    trainer = L.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, default_root_dir=workdir,
    )
    trainer.fit(model)
    path = os.path.join(workdir, "model.ckpt")
    trainer.save_checkpoint(path)
    open(os.path.join(workdir, "first.done"), "w").close()
    model.block = True
    trainer.save_checkpoint(path)
    """
)


def _wait_for(path: Path, child: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if child.poll() is not None:
            raise AssertionError(f"the child exited ({child.returncode}) before {path.name}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout}s")
        time.sleep(0.05)


@pytest.mark.timeout(240)
def test_sigkill_during_an_overwrite_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(repo=str(REPO)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(tmp_path / "first.done", child)
        digest = hashlib.sha256((tmp_path / "model.ckpt").read_bytes()).hexdigest()
        _wait_for(tmp_path / "saving.signal", child)
        os.killpg(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    assert hashlib.sha256((tmp_path / "model.ckpt").read_bytes()).hexdigest() == digest
    assert load_checkpoint(tmp_path / "model.ckpt")["global_step"] == 4
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["model.ckpt"]
