"""Checkpoint files: atomic writes, the safe loader's errors, RNG states in a checkpoint."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
import torch

from reference.utilities import rng
from reference.utilities.checkpoint_io import (
    CheckpointError,
    UnsafeCheckpointError,
    atomic_save,
    load_checkpoint,
)

RAN: list[str] = []


def _ran(token: str) -> str:
    RAN.append(token)
    return token


class Payload:
    def __reduce__(self) -> Any:
        return (_ran, ("payload",))


class Unpicklable:
    def __reduce__(self) -> Any:
        raise RuntimeError("cannot pickle this")


def checkpoint(value: float = 1.0) -> dict[str, Any]:
    return {"state_dict": {"w": torch.full((64,), value)}, "epoch": 0}


def test_atomic_save_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "model.ckpt"
    atomic_save(checkpoint(1.0), path)
    atomic_save(checkpoint(2.0), path)
    assert os.listdir(path.parent) == ["model.ckpt"]
    assert torch.equal(load_checkpoint(path)["state_dict"]["w"], torch.full((64,), 2.0))


def test_a_failed_save_keeps_the_previous_file_and_removes_its_temporary(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    atomic_save(checkpoint(1.0), path)
    before = path.read_bytes()
    broken = {**checkpoint(2.0), "bad": Unpicklable()}
    with pytest.raises(RuntimeError, match="cannot pickle this"):
        atomic_save(broken, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.ckpt"]


def test_a_path_under_home_is_expanded(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    atomic_save(checkpoint(3.0), "~/runs/model.ckpt")
    assert (tmp_path / "home" / "runs" / "model.ckpt").is_file()
    assert not (tmp_path / "~").exists()
    assert load_checkpoint("~/runs/model.ckpt")["state_dict"]["w"][0] == 3.0


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Checkpoint file not found: .*gone.ckpt"):
        load_checkpoint(tmp_path / "gone.ckpt")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.ckpt is empty \\(0 bytes\\)"):
        load_checkpoint(tmp_path / "empty.ckpt")


def test_a_directory_is_not_called_missing(tmp_path: Path) -> None:
    atomic_save(checkpoint(), tmp_path / "epoch=0-step=4.ckpt")
    with pytest.raises(IsADirectoryError, match="is a directory.*'epoch=0-step=4.ckpt'"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_truncated_files(tmp_path: Path, zip_format: bool) -> None:
    whole = tmp_path / "whole.ckpt"
    torch.save(checkpoint(), whole, _use_new_zipfile_serialization=zip_format)
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cut.ckpt is truncated or corrupt"):
        load_checkpoint(cut)


def test_a_large_cut_zip_checkpoint_is_called_truncated(tmp_path: Path) -> None:
    # large enough that torch reports the cut as a bare "OSError: [Errno 22]", not a reader error
    whole = tmp_path / "whole.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(20_000)}}, whole)
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cut.ckpt is truncated or corrupt"):
        load_checkpoint(cut)


def test_files_that_are_not_checkpoints(tmp_path: Path) -> None:
    text = tmp_path / "notes.ckpt"
    text.write_text("epoch: 3\n")
    with pytest.raises(CheckpointError, match="notes.ckpt is not a valid checkpoint"):
        load_checkpoint(text)
    listed = tmp_path / "list.ckpt"
    torch.save([1, 2], listed)
    with pytest.raises(CheckpointError, match="list.ckpt is not a checkpoint: .* holds a list"):
        load_checkpoint(listed)
    bare = tmp_path / "bare.ckpt"
    torch.save({"weights": torch.zeros(1)}, bare)
    with pytest.raises(CheckpointError, match="'state_dict' entry is missing .*weights"):
        load_checkpoint(bare)


def test_arbitrary_objects_are_refused_unless_trusted(tmp_path: Path) -> None:
    path = tmp_path / "unsafe.ckpt"
    torch.save({**checkpoint(), "payload": Payload()}, path)
    RAN.clear()
    with pytest.raises(UnsafeCheckpointError) as refused:
        load_checkpoint(path)
    assert RAN == []
    message = str(refused.value)
    assert "unsafe.ckpt" in message and f"{__name__}._ran" in message
    assert "weights_only=False" in message
    assert load_checkpoint(path, weights_only=False)["payload"] == "payload"
    assert RAN == ["payload"]


def test_file_objects_are_named_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "list.ckpt"
    torch.save([1], path)
    with open(path, "rb") as file, pytest.raises(CheckpointError, match="list.ckpt is not a"):
        load_checkpoint(file)


def test_rng_states_round_trip_through_the_safe_loader(tmp_path: Path) -> None:
    numpy = pytest.importorskip("numpy")
    torch.manual_seed(3)
    random.seed(3)
    numpy.random.seed(3)
    numpy.random.normal()  # leaves a cached gaussian in NumPy's state
    states = rng.capture()
    expected = (torch.rand(3), random.random(), numpy.random.normal(), numpy.random.rand())
    atomic_save({"state_dict": {}, "rng": states}, tmp_path / "rng.ckpt")
    loaded = load_checkpoint(tmp_path / "rng.ckpt")["rng"]  # weights_only=True
    torch.manual_seed(99)
    random.seed(99)
    numpy.random.seed(99)
    rng.restore(loaded)
    again = (torch.rand(3), random.random(), numpy.random.normal(), numpy.random.rand())
    assert torch.equal(expected[0], again[0]) and expected[1:] == again[1:]


def test_capturing_draws_nothing() -> None:
    torch.manual_seed(5)
    rng.capture()
    first = torch.rand(2)
    torch.manual_seed(5)
    assert torch.equal(first, torch.rand(2))
