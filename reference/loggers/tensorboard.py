"""``TensorBoardLogger``: event files in ``<save_dir>/<name>/version_<N>/`` (needs
``tensorboard``).
"""

from __future__ import annotations

import os
from argparse import Namespace
from typing import Any

from torch import Tensor

from reference.loggers.logger import FileLogger, add_prefix, params_to_dict, save_hparams_to_yaml

HPARAMS_FILE_NAME = "hparams.yaml"


def tensorboard_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLogger(FileLogger):
    """Log to TensorBoard through ``torch.utils.tensorboard.SummaryWriter`` (created lazily)."""

    def __init__(
        self,
        save_dir: str | os.PathLike[str],
        name: str | None = "lightning_logs",
        version: int | str | None = None,
        log_graph: bool = False,
        default_hp_metric: bool = True,
        prefix: str = "",
        sub_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(save_dir, name, version, prefix)
        self._log_graph = log_graph
        self._default_hp_metric = default_hp_metric
        self._sub_dir = None if sub_dir is None else os.fspath(sub_dir)
        self._kwargs = kwargs
        self._experiment: Any = None
        self.hparams: dict[str, Any] = {}

    @property
    def log_dir(self) -> str:
        log_dir = super().log_dir
        if self._sub_dir is not None:
            log_dir = os.path.join(log_dir, self._sub_dir)
        return os.path.expanduser(os.path.expandvars(log_dir))

    @property
    def sub_dir(self) -> str | None:
        return self._sub_dir

    @property
    def experiment(self) -> Any:
        """The ``SummaryWriter`` (imported on first use: TensorBoard is slow to import)."""
        if self._experiment is None:
            if not tensorboard_available():
                raise ModuleNotFoundError(
                    "TensorBoardLogger needs the `tensorboard` package: pip install tensorboard"
                    " (or use CSVLogger)"
                )
            from torch.utils.tensorboard import SummaryWriter

            os.makedirs(self.log_dir, exist_ok=True)
            self._experiment = SummaryWriter(log_dir=self.log_dir, **self._kwargs)
        return self._experiment

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        metrics = add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR)
        for key, value in metrics.items():
            if isinstance(value, Tensor):
                value = value.item()
            if isinstance(value, dict):
                self.experiment.add_scalars(key, value, step)
            else:
                try:
                    self.experiment.add_scalar(key, value, step)
                except Exception as exc:  # name the metric: the writer's own message does not
                    raise ValueError(
                        f"\n you tried to log {value} which is currently not supported. Try a dict"
                        " or a scalar/tensor."
                    ) from exc

    def log_hyperparams(
        self,
        params: dict[str, Any] | Namespace | None = None,
        metrics: dict[str, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        params = params_to_dict(params)
        self.hparams.update(params)
        if metrics is None and self._default_hp_metric:
            metrics = {"hp_metric": -1}
        from torch.utils.tensorboard.summary import hparams

        simple = {
            k: v if isinstance(v, (int, float, str, bool, Tensor)) else str(v)
            for k, v in params.items()
        }
        exp, ssi, sei = hparams(simple, metrics or {})
        writer = self.experiment._get_file_writer()
        for summary in (exp, ssi, sei):
            writer.add_summary(summary)
        if metrics:
            self.log_metrics(metrics, 0)

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        if not self._log_graph:
            return
        input_array = (
            getattr(model, "example_input_array", None) if input_array is None else input_array
        )
        if input_array is None:
            import warnings

            warnings.warn(
                "Could not log computational graph to TensorBoard: `model.example_input_array` is"
                " not set",
                stacklevel=2,
            )
            return
        self.experiment.add_graph(model, input_array)

    def save(self) -> None:
        if self._experiment is None:
            return
        self._experiment.flush()
        if self.hparams and os.path.isdir(self.log_dir):
            path = os.path.join(self.log_dir, HPARAMS_FILE_NAME)
            if not os.path.isfile(path):
                save_hparams_to_yaml(path, self.hparams)

    def finalize(self, status: str) -> None:
        if self._experiment is not None:
            self.save()
            self._experiment.close()
