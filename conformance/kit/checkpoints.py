"""Helpers for the checkpoint clauses: optional target classes, reading files, comparing state.

The suite reads every checkpoint file with ``torch.load(weights_only=True)``: a checkpoint that
needs arbitrary unpickling is itself a finding (clause CKPT-SAFE-001), so no helper here ever
opts out of the safe loader.
"""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch

from conformance.target import Target


def optional_target_class(target: Target, package: str, name: str) -> type | None:
    """``target.namespace.<package>.<name>`` (e.g. ``callbacks.ModelCheckpoint``), or None."""
    holder = getattr(target.namespace, package, None)
    if holder is None and hasattr(target.namespace, "__name__"):
        # a module namespace may not import its subpackages eagerly
        try:
            holder = importlib.import_module(f"{target.namespace.__name__}.{package}")
        except ImportError:
            holder = None
    return getattr(holder, name, None) if holder is not None else None


def target_class(target: Target, package: str, name: str) -> type:
    """``target.namespace.<package>.<name>``, or skip the clause.

    A target without the class cannot be checked for the clause: it is reported ``not_run``
    (a pytest skip with the reason), never passed.
    """
    cls = optional_target_class(target, package, name)
    if cls is None:
        pytest.skip(f"target {target.describe()} has no {package}.{name}")
    return cls


def model_checkpoint_class(target: Target) -> type:
    """The target's ``ModelCheckpoint`` callback class (skip as not_run if it has none)."""
    return target_class(target, "callbacks", "ModelCheckpoint")


def csv_logger_class(target: Target) -> type:
    """The target's ``CSVLogger`` (skip as not_run if it has none)."""
    return target_class(target, "loggers", "CSVLogger")


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint dict in ``path``, read with the safe loader (``weights_only=True``)."""
    path = Path(path)
    assert path.is_file(), f"expected a checkpoint file at {path}, observed none"
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    assert isinstance(loaded, dict), (
        f"{path}: expected a checkpoint dict, observed {type(loaded).__name__}"
    )
    return loaded


def ckpt_names(dirpath: str | os.PathLike[str]) -> list[str]:
    """Sorted names of the ``*.ckpt`` files directly in ``dirpath`` ([] if it does not exist)."""
    path = Path(dirpath)
    if not path.is_dir():
        return []
    return sorted(p.name for p in path.iterdir() if p.name.endswith(".ckpt"))


def all_ckpt_files(root: str | os.PathLike[str]) -> list[str]:
    """Every ``*.ckpt`` file under ``root``, as sorted paths relative to it."""
    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.ckpt"))


def weights_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Detached copies of a module's ``state_dict``."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def tensor_mismatches(
    expected: Mapping[str, Any], observed: Mapping[str, Any], prefix: str = ""
) -> list[str]:
    """Where two nested structures of tensors/containers/scalars differ (exact comparison).

    Returns human-readable lines ("key: expected ..., observed ..."); [] when equal.
    """
    problems: list[str] = []

    def walk(exp: Any, obs: Any, where: str) -> None:
        if isinstance(exp, torch.Tensor) or isinstance(obs, torch.Tensor):
            if not (isinstance(exp, torch.Tensor) and isinstance(obs, torch.Tensor)):
                problems.append(f"{where}: expected {exp!r}, observed {obs!r}")
            elif exp.shape != obs.shape or exp.dtype != obs.dtype:
                problems.append(
                    f"{where}: expected {tuple(exp.shape)} {exp.dtype}, "
                    f"observed {tuple(obs.shape)} {obs.dtype}"
                )
            elif not torch.equal(exp.cpu(), obs.cpu()):
                diff = (exp.double().cpu() - obs.double().cpu()).abs().max().item()
                problems.append(f"{where}: tensors differ (max abs difference {diff:.3g})")
        elif isinstance(exp, Mapping) and isinstance(obs, Mapping):
            if set(exp) != set(obs):
                problems.append(
                    f"{where}: expected keys {sorted(map(str, exp))}, "
                    f"observed {sorted(map(str, obs))}"
                )
            for key in exp:
                if key in obs:
                    walk(exp[key], obs[key], f"{where}.{key}" if where else str(key))
        elif isinstance(exp, (list, tuple)) and isinstance(obs, (list, tuple)):
            if len(exp) != len(obs):
                problems.append(f"{where}: expected {len(exp)} items, observed {len(obs)}")
            for i, (a, b) in enumerate(zip(exp, obs)):
                walk(a, b, f"{where}[{i}]")
        elif exp != obs:
            problems.append(f"{where}: expected {exp!r}, observed {obs!r}")

    walk(expected, observed, prefix)
    return problems


def assert_same(expected: Mapping[str, Any], observed: Mapping[str, Any], what: str) -> None:
    """Fail with every difference listed when two tensor structures are not exactly equal."""
    problems = tensor_mismatches(expected, observed)
    assert not problems, f"{what}: expected exact equality, observed differences:\n  " + (
        "\n  ".join(problems[:12])
    )


def error_text(exc: BaseException) -> str:
    """What a user sees of an exception: its type, message and notes (not the traceback)."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


# --- payloads for the safe-loading clauses --------------------------------------------------

UNPICKLED: list[str] = []


def _record_unpickle(token: str) -> str:
    """Runs only when a :class:`Payload` is unpickled: proof that the loader executed code."""
    UNPICKLED.append(token)
    return token


class Payload:
    """An arbitrary object whose unpickling calls a function (as a malicious pickle would)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_record_unpickle, (self.token,))


PAYLOAD_GLOBAL = f"{__name__}._record_unpickle"
