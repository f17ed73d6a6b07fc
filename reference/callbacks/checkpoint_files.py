"""``ModelCheckpoint``'s arguments, file names and folders: templates, the default folder,
``last*.ckpt``."""

from __future__ import annotations

import os
import re
from typing import Any

import torch

from reference.loggers.logger import version_folder
from reference.utilities.exceptions import MisconfigurationException

JOIN_CHAR = "-"
EQUALS_CHAR = "="
EXTENSION = ".ckpt"


def render_filename(template: str | None, metrics: dict[str, Any], insert_names: bool) -> str:
    """``"{epoch}-{val_loss:.2f}"`` with ``metrics`` → ``"epoch=3-val_loss=0.12"`` (no extension).

    ``insert_names=False`` renders ``"3-0.12"``; a metric that is missing renders as 0.
    """
    template = template or "{epoch}" + JOIN_CHAR + "{step}"
    metrics = dict(metrics)
    # longest names first: "{epoch_loss}" must not be taken for "{epoch}" + "_loss}"
    groups = sorted(set(re.findall(r"(\{.*?)[:\}]", template)), key=len, reverse=True)
    for group in groups:
        name = group[1:]
        if insert_names:
            template = template.replace(group, name + EQUALS_CHAR + "{" + name)
        template = template.replace(group, f"{{0[{name}]")  # names may contain dots
        metrics.setdefault(name, torch.tensor(0))
    return template.format(metrics)


def default_dirpath(trainer: Any) -> str:
    """``<save_dir>/<name>/version_<n>/checkpoints`` of the first logger, else
    ``<default_root_dir>/checkpoints``."""
    if not trainer.loggers:
        return os.path.join(trainer.default_root_dir, "checkpoints")
    logger = trainer.loggers[0]
    save_dir = logger.save_dir if logger.save_dir is not None else trainer.default_root_dir
    directory = os.path.join(save_dir, str(logger.name), version_folder(logger.version))
    return os.path.expanduser(os.path.join(directory, "checkpoints"))  # a logger's "~/logs"


def last_checkpoints(directory: str, last_name: str = "last") -> set[str]:
    """The ``last*.ckpt`` files directly in ``directory`` (``last.ckpt``, ``last-v1.ckpt``...)."""
    if not os.path.isdir(directory):
        return set()
    pattern = re.compile(rf"^{re.escape(last_name)}(-(\d+))?")
    return {
        os.path.normpath(os.path.join(directory, name))
        for name in os.listdir(directory)
        if name.endswith(EXTENSION) and pattern.match(name[: -len(EXTENSION)])
    }


def is_inside(directory: str, path: str) -> bool:
    directory, path = os.path.abspath(directory), os.path.abspath(path)
    return os.path.commonpath([directory, path]) == directory


def symlink(target: str, link: str) -> None:
    """``link`` → ``target`` (relative), replacing whatever ``link`` was."""
    if os.path.abspath(target) == os.path.abspath(link):
        return
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.relpath(target, os.path.dirname(link)), link)


def check_arguments(
    mode: str, save_last: Any, monitor: str | None, save_top_k: int, every_n_train_steps: int,
    every_n_epochs: int, train_time_interval: Any,
) -> None:  # fmt: skip
    """Clear errors for ModelCheckpoint arguments that are invalid or cannot work together."""
    if mode not in ("min", "max"):
        raise MisconfigurationException(f"`mode` can be min, max but got {mode}")
    if save_last not in (None, True, False, "link"):
        raise ValueError(f"`save_last` must be a bool, None or 'link', got {save_last!r}")
    if save_top_k < -1:
        raise MisconfigurationException(f"Invalid value for save_top_k={save_top_k}. Must be >= -1")
    for name, value in (
        ("every_n_train_steps", every_n_train_steps),
        ("every_n_epochs", every_n_epochs),
    ):
        if value < 0:
            raise MisconfigurationException(f"Invalid value for {name}={value}. Must be >= 0")
    if (every_n_train_steps >= 1) + (every_n_epochs >= 1) + (train_time_interval is not None) > 1:
        raise MisconfigurationException(
            f"Combination of parameters every_n_train_steps={every_n_train_steps},"
            f" every_n_epochs={every_n_epochs} and train_time_interval={train_time_interval}"
            " should be mutually exclusive."
        )
    if monitor is None and save_top_k not in (-1, 0, 1):
        raise MisconfigurationException(
            f"ModelCheckpoint(save_top_k={save_top_k}, monitor=None) is not a valid"
            " configuration. No quantity for top_k to track."
        )
