"""Checkpoint files on disk: crash-safe writes and safe, clearly failing reads.

Writing (:func:`atomic_save`): the checkpoint goes to a temporary file in the *same directory*,
is flushed and fsync'ed, then renamed over the destination. A rename within one file system is
atomic, so a process killed at any moment leaves either the old file or the new one -- never a
partial ``.ckpt`` (Lightning writes its temporary file in the system temp directory and moves it,
without fsync, which is not atomic across file systems).

Reading (:func:`load_checkpoint`): ``torch.load(weights_only=True)`` unless the caller opts out,
so a file carrying an arbitrary pickled object is refused before that object's code can run.
Every way a file can be unusable -- missing, empty, truncated, not written by ``torch.save``,
not a checkpoint dict -- raises an error that names the file and says what is wrong.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from typing import IO, Any

import torch

_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_END = b"PK\x05\x06"  # end-of-central-directory record: the last thing a zip holds
_ZIP_TAIL = 65536 + 22  # that record (22 bytes) plus the longest archive comment
_UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


class CheckpointError(ValueError):
    """A file cannot be used as a checkpoint (the message names the file and the problem)."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """The file holds an object that only full unpickling (which can run code) would restore."""


def atomic_save(checkpoint: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``checkpoint`` to ``path`` so that a crash never leaves a partial file there."""
    path = os.path.expanduser(os.fspath(path))  # "~/model.ckpt" is in the home directory
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # the temporary name does not end in .ckpt: nothing looking for checkpoints mistakes it
    handle, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(checkpoint, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(directory)  # make the rename itself durable


def _fsync_directory(directory: str) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened; the rename is still atomic
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _default_map_location(storage: Any, location: str) -> Any:
    """Tensors saved on a device this machine lacks come back on the CPU; others stay put."""
    if location.startswith("cuda") and not torch.cuda.is_available():
        return storage.cpu()
    if location.startswith("mps") and not torch.backends.mps.is_available():
        return storage.cpu()
    return None


def describe(source: str | os.PathLike[str] | IO[bytes]) -> str:
    """How a checkpoint source is named in messages."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", f"<{type(source).__name__}>"))


def load_checkpoint(
    source: str | os.PathLike[str] | IO[bytes],
    map_location: Any = None,
    weights_only: bool | None = None,
) -> dict[str, Any]:
    """Read a checkpoint dict; ``weights_only`` is True unless the caller passes False."""
    if isinstance(source, (str, os.PathLike)):
        source = os.path.expanduser(os.fspath(source))
    name = describe(source)
    if isinstance(source, (str, os.PathLike)):
        if os.path.isdir(source):
            found = sorted(entry for entry in os.listdir(source) if entry.endswith(".ckpt"))
            raise IsADirectoryError(
                f"{name} is a directory, not a checkpoint file; pass the path of one of its"
                f" files (.ckpt files in it: {found[:5] or 'none'})"
            )
        if not os.path.isfile(source):
            raise FileNotFoundError(f"Checkpoint file not found: {name}")
        if os.path.getsize(source) == 0:
            raise CheckpointError(
                f"Checkpoint file {name} is empty (0 bytes): it is not a checkpoint"
            )
    safe = weights_only is not False
    try:
        loaded = torch.load(
            source,
            map_location=map_location if map_location is not None else _default_map_location,
            weights_only=safe,
        )
    except Exception as exc:
        raise _explain(exc, name, source) from exc
    return check_is_checkpoint(loaded, name)


def check_is_checkpoint(loaded: Any, name: str) -> dict[str, Any]:
    """``loaded`` if it is a checkpoint dict (it has a ``state_dict``), else a clear error."""
    if not isinstance(loaded, dict):
        raise CheckpointError(
            f"{name} is not a checkpoint: expected a dict with a 'state_dict' entry, the file holds"
            f" a {type(loaded).__name__}"
        )
    if "state_dict" not in loaded:
        raise CheckpointError(
            f"{name} is not a checkpoint: the 'state_dict' entry is missing (it has"
            f" {sorted(map(str, loaded))[:10]})"
        )
    return loaded


def _explain(exc: Exception, name: str, source: Any) -> Exception:
    """The clear error for what ``torch.load`` raised on ``name``."""
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) and "Weights only load failed" in text:
        found = _UNSAFE_GLOBAL.search(text)
        what = f"the object `{found.group(1)}`" if found else "an object the safe loader refuses"
        return UnsafeCheckpointError(
            f"Refusing to load {name}: it contains {what}, which only full unpickling could"
            " restore, and unpickling can run arbitrary code. Checkpoints are loaded with"
            " torch.load(weights_only=True) by default; if you trust this file, pass"
            " weights_only=False."
        )
    if (
        isinstance(exc, EOFError)
        or "truncated" in text
        or "PytorchStreamReader" in text
        or _zip_lacks_its_end(source)
    ):
        return CheckpointError(
            f"Checkpoint file {name} is truncated or corrupt (its data ends unexpectedly or its"
            f" archive is damaged; was the save interrupted?): {type(exc).__name__}: {text[:200]}"
        )
    if _starts_like_zip(source):
        return CheckpointError(
            f"Checkpoint file {name} is corrupt: torch.load failed with"
            f" {type(exc).__name__}: {text[:200]}"
        )
    return CheckpointError(
        f"{name} is not a valid checkpoint (it was not written by torch.save):"
        f" {type(exc).__name__}: {text[:200]}"
    )


def _zip_lacks_its_end(source: Any) -> bool:
    """A zip archive whose end-of-central-directory record is gone was cut short.

    torch reports such a file in several ways depending on where the cut falls (a
    ``PytorchStreamReader`` error, or a bare ``OSError: [Errno 22]`` for larger files), so the
    file itself is checked: the record sits within the last 64 KiB + 22 bytes of a whole archive.
    """
    if not _starts_like_zip(source):
        return False
    try:
        with open(source, "rb") as file:
            file.seek(max(0, os.path.getsize(source) - _ZIP_TAIL), os.SEEK_SET)
            return _ZIP_END not in file.read()
    except OSError:
        return False


def _starts_like_zip(source: Any) -> bool:
    if not isinstance(source, (str, os.PathLike)):
        return False
    try:
        with open(source, "rb") as file:
            return file.read(4) == _ZIP_MAGIC
    except OSError:
        return False
