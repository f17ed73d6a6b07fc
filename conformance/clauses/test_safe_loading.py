"""CKPT-SAFE (extended): loading is safe by default and bad files get a clear error.

* A checkpoint the target writes must load with ``torch.load(weights_only=True)``.
* By default, loading a file that carries an arbitrary pickled object is refused before that
  object's code runs, with an error naming the object and the opt-in (``weights_only``);
  ``weights_only=False`` is the explicit opt-in for trusted files.
* Truncated, empty, non-checkpoint and wrong-model files raise an error (never a hang, never a
  silent start from scratch) whose message names the file and says what is wrong -- it contains
  one of the words listed per case below (case-insensitive).

Each bad file is offered to both ``Module.load_from_checkpoint(path)`` and
``Trainer.fit(module, ckpt_path=path)``; the module must not have trained.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from conformance.kit.checkpoints import (
    PAYLOAD_GLOBAL,
    UNPICKLED,
    Payload,
    assert_same,
    error_text,
    optional_target_class,
    read_checkpoint,
    weights_of,
)
from conformance.kit.ckpt_models import (
    counting_callback_class,
    tiny_datamodule_class,
    tiny_module_class,
)
from conformance.registry import clause, facts

SAFE_SOURCE = facts(
    "§3.7",
    "Plain Lightning checkpoints ... load with weights_only=True; "
    "arbitrary objects need weights_only=False",
)
BAD_FILE_SOURCE = facts("§3.3", "a missing file -> FileNotFoundError (bad files: no rule)")
TRUNCATED_WORDS = ("truncat", "corrupt", "incomplete", "damaged", "unexpected end")
EMPTY_WORDS = ("empty", "0 bytes", "zero bytes")
NOT_CHECKPOINT_WORDS = ("not a checkpoint", "not a valid checkpoint", "missing", "expected")
WRONG_MODEL_WORDS = ("missing", "unexpected", "mismatch", "shape")


def _saved(target: Any, root: Path, **fit_kwargs: Any) -> tuple[Any, Path]:
    """Fit the tiny module (width 4) for one epoch and save; return (module, path)."""
    model = tiny_module_class(target)(batches=2)
    callbacks = [counting_callback_class(target)()]
    checkpoint_cls = optional_target_class(target, "callbacks", "ModelCheckpoint")
    if checkpoint_cls is not None:
        callbacks.append(checkpoint_cls(dirpath=str(root / "mc")))
    trainer = target.trainer(
        root,
        max_epochs=1,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        callbacks=callbacks,
        enable_checkpointing=checkpoint_cls is not None,
    )
    trainer.fit(model, **fit_kwargs)
    path = root / "trained.ckpt"
    trainer.save_checkpoint(path)
    return model, path


def _entry_points(target: Any, root: Path, path: Path) -> dict[str, Callable[[], Any]]:
    cls = tiny_module_class(target)
    fresh = cls(batches=2)

    def fit() -> Any:
        target.trainer(root / "fit", max_epochs=2, limit_val_batches=0).fit(
            fresh, ckpt_path=str(path)
        )
        return fresh

    return {"load_from_checkpoint": lambda: cls.load_from_checkpoint(str(path)), "fit": fit}


def _unclear_errors(
    target: Any,
    root: Path,
    path: Path,
    words: tuple[str, ...],
    case: str,
    calls: dict[str, Callable[[], Any]] | None = None,
) -> list[str]:
    """Why each entry point's reaction to a bad file is not a clear error ([] when all are)."""
    problems = []
    for name, call in (calls or _entry_points(target, root, path)).items():
        try:
            call()
        except Exception as exc:  # the clause is about the message of whatever is raised
            text = error_text(exc)
            if path.name not in text:
                problems.append(f"{name}: the error does not name {path.name}: {text[:300]!r}")
            elif not any(word in text.lower() for word in words):
                problems.append(
                    f"{name}: the error does not say what is wrong (none of {list(words)}): "
                    f"{text[:300]!r}"
                )
        else:
            problems.append(f"{name}: expected an error for {case}, but the call succeeded")
    return [f"{path.name}, {problem}" for problem in problems]


def _expect_clear_error(
    target: Any,
    root: Path,
    path: Path,
    words: tuple[str, ...],
    case: str,
    calls: dict[str, Callable[[], Any]] | None = None,
) -> None:
    problems = _unclear_errors(target, root, path, words, case, calls)
    assert not problems, f"{case}:\n  " + "\n  ".join(problems)


@clause(
    "CKPT-SAFE-001",
    "a checkpoint the target writes (hparams, datamodule, callbacks) loads with weights_only=True",
    level="extended",
    source=facts("§3.1", "A default-settings checkpoint loads with torch.load(weights_only=True)"),
)
def test_written_checkpoints_are_safe(target: Any, tmp_path: Path) -> None:
    datamodule = tiny_datamodule_class(target)(batches=2)
    _, path = _saved(target, tmp_path, datamodule=datamodule)
    for file in [path, *sorted((tmp_path / "mc").glob("*.ckpt"))]:
        try:
            torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:
            pytest.fail(
                f"expected {file.name} to load with torch.load(weights_only=True), "
                f"observed {error_text(exc)[:400]}"
            )


def _with_payload(target: Any, root: Path, token: str) -> tuple[Any, Path]:
    """A real checkpoint of the target plus one arbitrary pickled object (a Payload)."""
    model, path = _saved(target, root)
    checkpoint = read_checkpoint(path)
    checkpoint["payload"] = Payload(token)
    unsafe = root / "unsafe.ckpt"
    torch.save(checkpoint, unsafe)
    return model, unsafe


@clause(
    "CKPT-SAFE-002",
    "by default a checkpoint carrying an arbitrary pickled object is refused before it runs",
    level="extended",
    source=SAFE_SOURCE,
)
def test_arbitrary_pickle_refused(target: Any, tmp_path: Path) -> None:
    token = f"refused-{tmp_path.name}"
    _, unsafe = _with_payload(target, tmp_path, token)
    function = PAYLOAD_GLOBAL.rsplit(".", 1)[1]
    for name, call in _entry_points(target, tmp_path, unsafe).items():
        with pytest.raises(Exception) as raised:
            call()
        assert token not in UNPICKLED, (
            f"{name}: expected the payload never to be unpickled, but its code ran"
        )
        text = error_text(raised.value)
        assert function in text and "weights_only" in text, (
            f"{name}: expected the refusal to name the object ({PAYLOAD_GLOBAL}) and the opt-in "
            f"(weights_only), observed {text[:500]!r}"
        )


@clause(
    "CKPT-SAFE-003",
    "weights_only=False is the explicit opt-in that loads (and resumes from) a trusted pickle",
    level="extended",
    source=SAFE_SOURCE,
)
def test_explicit_opt_in(target: Any, tmp_path: Path) -> None:
    token = f"trusted-{tmp_path.name}"
    trained, unsafe = _with_payload(target, tmp_path, token)
    cls = tiny_module_class(target)
    loaded = cls.load_from_checkpoint(str(unsafe), weights_only=False)
    assert token in UNPICKLED, "expected weights_only=False to unpickle the payload"
    assert_same(weights_of(trained), weights_of(loaded), "weights loaded with weights_only=False")
    UNPICKLED.remove(token)
    resumed = cls(batches=2)
    trainer = target.trainer(tmp_path / "fit", max_epochs=2, limit_val_batches=0)
    trainer.fit(resumed, ckpt_path=str(unsafe), weights_only=False)
    assert token in UNPICKLED, "expected fit(..., weights_only=False) to unpickle the payload"
    positions = [(epoch, index) for epoch, index, _ in resumed.trained]
    assert positions == [(1, 0), (1, 1)], (
        f"expected the opted-in resume to train epoch 1 only, observed {positions}"
    )


@clause(
    "CKPT-SAFE-004",
    "a truncated checkpoint gets an error naming the file and saying it is truncated/corrupt",
    level="extended",
    source=BAD_FILE_SOURCE,
)
def test_truncated_file(target: Any, tmp_path: Path) -> None:
    _, path = _saved(target, tmp_path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    _expect_clear_error(target, tmp_path, truncated, TRUNCATED_WORDS, "a truncated file")


@clause(
    "CKPT-SAFE-005",
    "an empty checkpoint file gets an error naming the file and saying it is empty",
    level="extended",
    source=BAD_FILE_SOURCE,
)
def test_empty_file(target: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    _expect_clear_error(target, tmp_path, empty, EMPTY_WORDS, "an empty file")


@clause(
    "CKPT-SAFE-006",
    "a file that is not a checkpoint (text, a saved list, a dict without state) gets a clear error",
    level="extended",
    source=BAD_FILE_SOURCE,
)
def test_not_a_checkpoint(target: Any, tmp_path: Path) -> None:
    text_file = tmp_path / "notes.ckpt"
    text_file.write_text("epoch: 3\nthis is not a checkpoint\n")
    a_list = tmp_path / "a_list.ckpt"
    torch.save([1, 2, 3], a_list)
    bare_dict = tmp_path / "bare_dict.ckpt"
    torch.save({"weights": torch.zeros(2)}, bare_dict)
    problems = [
        problem
        for path in (text_file, a_list, bare_dict)
        for problem in _unclear_errors(
            target, tmp_path, path, NOT_CHECKPOINT_WORDS, "a non-checkpoint file"
        )
    ]
    assert not problems, "non-checkpoint files:\n  " + "\n  ".join(problems)


@clause(
    "CKPT-SAFE-007",
    "a checkpoint of a different model gets an error naming the file and the mismatched weights",
    level="extended",
    source=BAD_FILE_SOURCE,
)
def test_wrong_model(target: Any, tmp_path: Path) -> None:
    _, path = _saved(target, tmp_path)

    class Other(tiny_module_class(target)):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.layer = torch.nn.Linear(4, 3)  # the checkpoint's layer is Linear(4, 2)

    fresh = Other(batches=2)

    def fit() -> Any:
        target.trainer(tmp_path / "fit", max_epochs=2, limit_val_batches=0).fit(
            fresh, ckpt_path=str(path)
        )

    calls = {"load_from_checkpoint": lambda: Other.load_from_checkpoint(str(path)), "fit": fit}
    _expect_clear_error(target, tmp_path, path, WRONG_MODEL_WORDS, "another model's file", calls)
    assert fresh.trained == [], f"expected no training after the failed resume: {fresh.trained}"
