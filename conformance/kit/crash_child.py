"""The child process of the crash-safety clauses: it gets SIGKILLed in the middle of a save.

Run as ``python -m conformance.kit.crash_child <target spec> <scenario> <workdir>``.

To make the kill land mid-save every time, the module's ``on_save_checkpoint`` adds a
:class:`Blocker` to the checkpoint dict once the scenario's trigger is reached; pickling that
object creates ``saving.signal`` and sleeps. Before the fatal save starts, the child records the
SHA-256 of the files that must survive in ``protected.json``. The parent waits for the signal
file and kills the child: at that moment the trainer is serialising a checkpoint.

Scenarios:

* ``overwrite`` -- fit one epoch, ``trainer.save_checkpoint(model.ckpt)``, then save again to the
  same path with the blocker: ``model.ckpt`` must survive unchanged.
* ``last`` -- fit with ``ModelCheckpoint(dirpath=ckpts, save_last=True, save_top_k=-1)``; the
  epoch-1 save blocks: ``ckpts/last.ckpt`` and ``ckpts/epoch=0-*.ckpt`` must survive unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BLOCK_SECONDS = 120.0  # the parent kills long before; bounded in case the parent died
BATCHES = 3
SIGNAL_NAME = "saving.signal"
PROTECTED_NAME = "protected.json"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_protected(workdir: Path, protected: list[str]) -> None:
    """Write ``{name: sha256}`` of the files that must survive, before the fatal save starts."""
    state = {name: sha256_of(workdir / name) for name in protected if (workdir / name).is_file()}
    (workdir / PROTECTED_NAME).write_text(json.dumps(state))


def _hold_the_save(workdir: str) -> None:
    """Runs while the checkpoint is being pickled: signal the parent, then block."""
    root = Path(workdir)
    tmp = root / (SIGNAL_NAME + ".tmp")
    tmp.write_text(str(os.getpid()))
    os.replace(tmp, root / SIGNAL_NAME)
    time.sleep(BLOCK_SECONDS)
    raise RuntimeError("crash_child: the parent did not kill this process in time")


class Blocker:
    """Pickling this object blocks the save (see the module docstring)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = str(workdir)

    def __reduce__(self) -> Any:
        _hold_the_save(self.workdir)  # blocks until killed; never returns


def _blocking_module(target: Any, workdir: Path) -> Any:
    from conformance.kit.ckpt_models import tiny_module_class

    class BlockingModule(tiny_module_class(target)):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(batches=BATCHES)
            self.block_from_epoch: int | None = None
            self.protected: list[str] = []

        def on_train_epoch_start(self) -> None:
            if self.current_epoch == self.block_from_epoch:
                record_protected(workdir, self.protected)  # before any save of this epoch

        def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
            super().on_save_checkpoint(checkpoint)
            trigger = self.block_from_epoch
            if trigger is not None and self.current_epoch >= trigger:
                checkpoint["blocker"] = Blocker(workdir)

    return BlockingModule()


def run(spec: str, scenario: str, workdir: Path) -> None:
    from conformance.target import load_target

    target = load_target(spec)
    model = _blocking_module(target, workdir)
    flags: dict[str, Any] = {"limit_val_batches": 0, "num_sanity_val_steps": 0}
    if scenario == "overwrite":
        trainer = target.trainer(workdir / "root", max_epochs=1, **flags)
        trainer.fit(model)
        trainer.save_checkpoint(workdir / "model.ckpt")
        record_protected(workdir, ["model.ckpt"])
        model.block_from_epoch = 0
        trainer.save_checkpoint(workdir / "model.ckpt")
    elif scenario == "last":
        from conformance.kit.checkpoints import model_checkpoint_class

        callback = model_checkpoint_class(target)(
            dirpath=str(workdir / "ckpts"), save_last=True, save_top_k=-1
        )
        model.protected = ["ckpts/last.ckpt", f"ckpts/epoch=0-step={BATCHES}.ckpt"]
        model.block_from_epoch = 1
        trainer = target.trainer(
            workdir / "root", max_epochs=2, enable_checkpointing=True, callbacks=[callback], **flags
        )
        trainer.fit(model)
    else:
        raise SystemExit(f"crash_child: unknown scenario {scenario!r}")
    raise SystemExit("crash_child: the save completed without pickling the blocker")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: python -m conformance.kit.crash_child SPEC SCENARIO WORKDIR")
    run(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
