"""``CSVLogger``: metrics in ``<save_dir>/<name>/version_<N>/metrics.csv``, one row per log call."""

from __future__ import annotations

import csv
import os
import warnings
from argparse import Namespace
from typing import Any

from torch import Tensor

from reference.loggers.logger import FileLogger, add_prefix, params_to_dict, save_hparams_to_yaml


class _MetricsWriter:
    """Buffers rows and appends them to the CSV; rewrites the file when new columns appear."""

    FILE_NAME = "metrics.csv"
    HPARAMS_FILE_NAME = "hparams.yaml"

    def __init__(self, log_dir: str) -> None:
        log_dir = os.path.expanduser(log_dir)  # Lightning's file system expands "~" too
        self.log_dir = log_dir
        self.metrics_file_path = os.path.join(log_dir, self.FILE_NAME)
        self.rows: list[dict[str, Any]] = []
        self.columns: list[str] = []
        self.hparams: dict[str, Any] = {}
        if os.path.isdir(log_dir) and os.listdir(log_dir):
            warnings.warn(
                f"Experiment logs directory {log_dir} exists and is not empty. Previous log files"
                " in this directory will be deleted when the new ones are saved!",
                stacklevel=4,
            )
            if os.path.isfile(self.metrics_file_path):
                os.remove(self.metrics_file_path)
        os.makedirs(log_dir, exist_ok=True)

    def log_metrics(self, metrics: dict[str, Any], step: int | None) -> None:
        row = {k: (v.item() if isinstance(v, Tensor) else v) for k, v in metrics.items()}
        row["step"] = len(self.rows) if step is None else step
        self.rows.append(row)

    def log_hparams(self, params: dict[str, Any]) -> None:
        self.hparams.update(params)
        save_hparams_to_yaml(os.path.join(self.log_dir, self.HPARAMS_FILE_NAME), self.hparams)

    def save(self) -> None:
        if not self.rows:
            return
        seen = set(self.columns)
        new_columns = {key for row in self.rows for key in row} - seen
        exists = os.path.isfile(self.metrics_file_path)
        if new_columns:
            self.columns = sorted(seen | new_columns)
            if exists:
                self._rewrite_with_header()
        with open(self.metrics_file_path, "a" if exists else "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.columns)
            if not exists:
                writer.writeheader()
            writer.writerows(self.rows)
        self.rows = []

    def _rewrite_with_header(self) -> None:
        with open(self.metrics_file_path, newline="") as file:
            old_rows = list(csv.DictReader(file))
        with open(self.metrics_file_path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(old_rows)


class CSVLogger(FileLogger):
    """Log metrics (and hyperparameters as ``hparams.yaml``) to local CSV files."""

    def __init__(
        self,
        save_dir: str | os.PathLike[str],
        name: str | None = "lightning_logs",
        version: int | str | None = None,
        prefix: str = "",
        flush_logs_every_n_steps: int = 100,
    ) -> None:
        super().__init__(save_dir, name, version, prefix)
        self._flush_logs_every_n_steps = flush_logs_every_n_steps
        self._experiment: _MetricsWriter | None = None

    @property
    def experiment(self) -> _MetricsWriter:
        """The writer; created (with its folder) on first use."""
        if self._experiment is None:
            self._experiment = _MetricsWriter(self.log_dir)
        return self._experiment

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        metrics = add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR)
        self.experiment.log_metrics(metrics, step)
        if step is not None and (step + 1) % self._flush_logs_every_n_steps == 0:
            self.save()

    def log_hyperparams(
        self, params: dict[str, Any] | Namespace | None = None, *args: Any, **kwargs: Any
    ) -> None:
        self.experiment.log_hparams(params_to_dict(params))

    def save(self) -> None:
        if self._experiment is not None:
            self._experiment.save()

    def finalize(self, status: str) -> None:
        if self._experiment is None:
            return  # nothing was ever logged: do not create an empty version folder
        self.save()
