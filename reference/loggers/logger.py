"""The ``Logger`` interface, and the folder layout and helpers the file-based loggers share."""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from reference.utilities import hparams_yaml


class Logger(ABC):
    """What the trainer needs from a logger (the same methods as Lightning's ``Logger``)."""

    @property
    @abstractmethod
    def name(self) -> str | None:
        """The experiment name."""

    @property
    @abstractmethod
    def version(self) -> int | str | None:
        """The experiment version."""

    @property
    def root_dir(self) -> str | None:
        return None

    @property
    def log_dir(self) -> str | None:
        return None

    @property
    def save_dir(self) -> str | None:
        return None

    @property
    def group_separator(self) -> str:
        return "/"

    @abstractmethod
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Record metrics (already Python numbers) at ``step``."""
        return None

    @abstractmethod
    def log_hyperparams(
        self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        """Record hyperparameters."""
        return None

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Record the model graph (optional)."""
        return None

    def save(self) -> None:
        """Flush what was recorded so far."""
        return None

    def finalize(self, status: str) -> None:
        """Called once at the end of a run with ``"success"`` or ``"failed"``."""
        self.save()

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Called after a checkpoint was written."""
        return None


class DummyLogger(Logger):
    """Logs nothing; stands in for the real loggers under ``fast_dev_run``."""

    @property
    def experiment(self) -> Any:
        return None

    @property
    def name(self) -> str:
        return ""

    @property
    def version(self) -> str:
        return ""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass


class FileLogger(Logger):
    """A logger writing under ``<save_dir>/<name>/version_<N>/`` (CSV and TensorBoard).

    ``version=None`` takes the next free ``version_<N>`` on first use; a string version names the
    folder itself.
    """

    LOGGER_JOIN_CHAR = "-"  # between ``prefix`` and a metric name

    def __init__(
        self,
        save_dir: str | os.PathLike[str],
        name: str | None,
        version: int | str | None,
        prefix: str,
    ) -> None:
        super().__init__()
        self._save_dir = os.fspath(save_dir)
        self._name = name or ""
        self._version = version
        self._prefix = prefix

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int | str:
        if self._version is None:
            self._version = next_version(self.root_dir)
        return self._version

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def root_dir(self) -> str:
        return os.path.join(self._save_dir, self._name)

    @property
    def log_dir(self) -> str:
        return os.path.join(self.root_dir, version_folder(self.version))


def version_folder(version: int | str | None) -> str:
    """The folder of one experiment version: ``version_<N>``, or a string version as it is."""
    return version if isinstance(version, str) else f"version_{version}"


def next_version(root_dir: str) -> int:
    """One more than the highest ``version_N`` folder in ``root_dir`` (0 when there is none)."""
    root_dir = os.path.expanduser(root_dir)  # "~/logs" is the home directory's, as in Lightning
    if not os.path.isdir(root_dir):
        return 0
    versions = [
        int(match.group(1))
        for entry in os.listdir(root_dir)
        if (match := re.fullmatch(r"version_(\d+)", entry))
        and os.path.isdir(os.path.join(root_dir, entry))
    ]
    return max(versions) + 1 if versions else 0


def add_prefix(metrics: Mapping[str, Any], prefix: str, separator: str) -> dict[str, Any]:
    if not prefix:
        return dict(metrics)
    return {f"{prefix}{separator}{k}": v for k, v in metrics.items()}


def params_to_dict(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if isinstance(params, Namespace):
        return vars(params).copy()
    return dict(params)


def save_hparams_to_yaml(path: str, hparams: Mapping[str, Any]) -> None:
    """Write hyperparameters as YAML; values YAML cannot represent are skipped with a warning."""
    import warnings

    import yaml  # imported here: only needed when hyperparameters are logged

    clean: dict[str, Any] = {}
    for key, value in hparams.items():
        value = hparams_yaml.plain(value)
        try:
            hparams_yaml.dump(value)
        except yaml.YAMLError:
            warnings.warn(
                f"Skipping '{key}' parameter because it is not possible to safely dump to YAML.",
                stacklevel=2,
            )
            continue
        clean[key] = value
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", newline="") as file:
        hparams_yaml.dump(clean, file)
