"""The ``Trainer``: flags in ``__init__``, then the entry points ``fit``/``validate``/``test``/
``predict``.

Each entry point checks its arguments, chooses and reads the checkpoint to restore
(``ckpt_path``), connects the model, points the loops at the data, and hands over to the run
pipeline (``run.py``, the docs' ``fit()`` pseudocode) through ``call.run_and_handle_interrupt``,
which tells callbacks about an exception and cleans up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reference.trainer import arguments, call, configuration, flags
from reference.trainer.checkpointing import CheckpointConnector
from reference.trainer.connector import build_strategy
from reference.trainer.evaluation_loop import EvaluationLoop
from reference.trainer.fit_loop import FitLoop
from reference.trainer.logger_connector import LoggerConnector, to_scalars
from reference.trainer.prediction_loop import PredictionLoop
from reference.trainer.properties import TrainerProperties
from reference.trainer.run import RunPipeline
from reference.trainer.states import RunningStage, TrainerFn, TrainerState, TrainerStatus


class Trainer(TrainerProperties, RunPipeline):
    def __init__(
        self,
        *,
        accelerator: str | Any = "auto",
        strategy: str | Any = "auto",
        devices: Any = "auto",
        num_nodes: int = 1,
        precision: Any = None,
        logger: Any = None,
        callbacks: Any = None,
        fast_dev_run: int | bool = False,
        max_epochs: int | None = None,
        min_epochs: int | None = None,
        max_steps: int = -1,
        min_steps: int | None = None,
        max_time: Any = None,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        overfit_batches: int | float = 0.0,
        val_check_interval: int | float | None = None,
        check_val_every_n_epoch: int | None = 1,
        num_sanity_val_steps: int | None = None,
        log_every_n_steps: int | None = None,
        enable_checkpointing: bool | None = None,
        enable_progress_bar: bool | None = None,
        enable_model_summary: bool | None = None,
        accumulate_grad_batches: int = 1,
        gradient_clip_val: int | float | None = None,
        gradient_clip_algorithm: str | None = None,
        deterministic: bool | str | None = None,
        benchmark: bool | None = None,
        inference_mode: bool = True,
        use_distributed_sampler: bool = True,
        profiler: Any = None,
        detect_anomaly: bool = False,
        barebones: bool = False,
        plugins: Any = None,
        sync_batchnorm: bool = False,
        reload_dataloaders_every_n_epochs: int = 0,
        default_root_dir: str | os.PathLike[str] | None = None,
        enable_autolog_hparams: bool = True,
        model_registry: str | None = None,
    ) -> None:
        flags.refuse_unsupported(
            max_time=max_time,
            overfit_batches=overfit_batches,
            model_registry=model_registry,
        )
        if barebones:  # everything that costs speed is off (and asking for it is an error)
            flags.check_barebones(
                logger=logger,
                enable_checkpointing=enable_checkpointing,
                enable_progress_bar=enable_progress_bar,
                enable_model_summary=enable_model_summary,
                num_sanity_val_steps=num_sanity_val_steps,
                profiler=profiler,
            )
            logger = enable_checkpointing = enable_progress_bar = enable_model_summary = False
            num_sanity_val_steps = 0
        self.barebones = barebones
        self.profiler = flags.profiler(profiler)
        self.strategy = build_strategy(
            accelerator, devices, strategy, precision, plugins, num_nodes
        )
        self.state = TrainerState()
        self.should_stop = False
        root = os.fspath(default_root_dir) if default_root_dir else os.getcwd()
        # "~/runs" is the home directory's, as in Lightning (not a folder named "~" here);
        # a URL ("s3://...") is left as it is
        self.default_root_dir = (
            root if "://" in root else os.path.normpath(os.path.expanduser(root))
        )

        # ---- loop flags (facts §2.1)
        self.fit_loop = FitLoop(self, max_epochs=flags.max_epochs(max_epochs))
        self.fit_loop.epoch_loop.max_steps = flags.max_steps(max_steps)
        self.fit_loop.epoch_loop.min_steps = flags.non_negative_int(
            min_steps, "min_steps", allow_none=True
        )
        self.fit_loop.min_epochs = flags.non_negative_int(min_epochs, "min_epochs", allow_none=True)
        self.validate_loop = EvaluationLoop(
            self,
            TrainerFn.VALIDATING,
            RunningStage.VALIDATING,
            inference_mode=flags.boolean(inference_mode, "inference_mode", True),
        )
        self.test_loop = EvaluationLoop(
            self,
            TrainerFn.TESTING,
            RunningStage.TESTING,
            inference_mode=self.validate_loop.inference_mode,
        )
        self.predict_loop = PredictionLoop(self, inference_mode=self.validate_loop.inference_mode)
        self.limit_train_batches = flags.batch_limit(limit_train_batches, "limit_train_batches")
        self.limit_val_batches = flags.batch_limit(limit_val_batches, "limit_val_batches")
        self.limit_test_batches = flags.batch_limit(limit_test_batches, "limit_test_batches")
        self.limit_predict_batches = flags.batch_limit(
            limit_predict_batches, "limit_predict_batches"
        )
        self.val_check_interval = flags.batch_limit(val_check_interval, "val_check_interval")
        self.check_val_every_n_epoch = flags.check_val_every_n_epoch(
            check_val_every_n_epoch,
            val_check_interval,  # the flag as given: None is not a float
        )
        self.val_check_batch: int | float = float("inf")
        self.num_sanity_val_steps = flags.num_sanity_val_steps(num_sanity_val_steps)
        self.log_every_n_steps = flags.non_negative_int(
            50 if log_every_n_steps is None else log_every_n_steps, "log_every_n_steps"
        )
        self.accumulate_grad_batches = flags.accumulate_grad_batches(accumulate_grad_batches)
        self.gradient_clip_val, self.gradient_clip_algorithm = flags.gradient_clipping(
            gradient_clip_val, gradient_clip_algorithm
        )
        self.reload_dataloaders_every_n_epochs = flags.non_negative_int(
            reload_dataloaders_every_n_epochs, "reload_dataloaders_every_n_epochs"
        )
        self._detect_anomaly = flags.boolean(detect_anomaly, "detect_anomaly", False)
        self._enable_autolog_hparams = enable_autolog_hparams
        self.use_distributed_sampler = use_distributed_sampler
        self.fast_dev_run = flags.fast_dev_run(fast_dev_run)

        # ---- callbacks and loggers
        enable_progress_bar = flags.boolean(enable_progress_bar, "enable_progress_bar", True)
        self.callbacks = configuration.configure_callbacks(
            callbacks,
            enable_progress_bar,
            flags.boolean(enable_model_summary, "enable_model_summary", True),
            flags.boolean(enable_checkpointing, "enable_checkpointing", True),
        )
        self.loggers = configuration.configure_loggers(logger, self.default_root_dir)
        if self.fast_dev_run:
            configuration.apply_fast_dev_run(self, int(self.fast_dev_run))
        configuration.set_torch_flags(flags.deterministic(deterministic), benchmark)

        self._logger_connector = LoggerConnector(self)
        self._hooks = call.Hooks(self)
        self._checkpoint_connector = CheckpointConnector(self)
        self.datamodule: Any = None
        self._active_dataloader_idx = 0

    # ------------------------------------------------------------------------ entry points
    def fit(
        self,
        model: Any,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        datamodule: Any = None,
        ckpt_path: str | os.PathLike[str] | None = None,
        weights_only: bool | None = None,
    ) -> None:
        """Train ``model`` on dataloaders passed here, from ``datamodule``, or from its own
        hooks.
        """
        arguments.check_model(model, "fit")
        self._checkpoint_connector.prepare(TrainerFn.FITTING, ckpt_path, weights_only, True, True)
        self.strategy.connect(model)
        self._start(TrainerFn.FITTING, RunningStage.TRAINING)
        self.should_stop = False
        train_dataloaders, val_dataloaders, datamodule = arguments.fit_data(
            train_dataloaders, val_dataloaders, datamodule
        )
        configuration.attach_data(
            self, model, train=train_dataloaders, val=val_dataloaders, datamodule=datamodule
        )
        call.run_and_handle_interrupt(self, self._run, model)
        self.training = False

    def validate(
        self,
        model: Any = None,
        dataloaders: Any = None,
        ckpt_path: Any = None,
        verbose: bool = True,
        datamodule: Any = None,
        weights_only: bool | None = None,
    ) -> list[dict[str, float]]:
        """Run one validation epoch; returns one dict of logged epoch metrics per dataloader."""
        return self._evaluate(
            TrainerFn.VALIDATING,
            RunningStage.VALIDATING,
            self.validate_loop,
            model,
            dataloaders,
            ckpt_path,
            verbose,
            datamodule,
            weights_only,
        )

    def test(
        self,
        model: Any = None,
        dataloaders: Any = None,
        ckpt_path: Any = None,
        verbose: bool = True,
        datamodule: Any = None,
        weights_only: bool | None = None,
    ) -> list[dict[str, float]]:
        """Run one test epoch; returns one dict of logged epoch metrics per dataloader."""
        return self._evaluate(
            TrainerFn.TESTING,
            RunningStage.TESTING,
            self.test_loop,
            model,
            dataloaders,
            ckpt_path,
            verbose,
            datamodule,
            weights_only,
        )

    def predict(
        self,
        model: Any = None,
        dataloaders: Any = None,
        datamodule: Any = None,
        return_predictions: bool | None = None,
        ckpt_path: Any = None,
        weights_only: bool | None = None,
    ) -> list[Any] | None:
        """Run ``predict_step`` on every batch; returns the outputs (a list per dataloader if
        several).
        """
        connected = self.lightning_module is not None
        checkpoint = (TrainerFn.PREDICTING, ckpt_path, weights_only, model is not None, connected)
        model = arguments.resolve_model(self, model, "predict")
        self._checkpoint_connector.prepare(*checkpoint)
        self._start(TrainerFn.PREDICTING, RunningStage.PREDICTING)
        self.predict_loop.return_predictions = (
            True if return_predictions is None else return_predictions
        )
        dataloaders, datamodule = arguments.eval_data(dataloaders, datamodule, "predict")
        configuration.attach_data(self, model, predict=dataloaders, datamodule=datamodule)
        results = call.run_and_handle_interrupt(self, self._run, model)
        self.predicting = False
        return results

    def _evaluate(
        self,
        fn: TrainerFn,
        stage: RunningStage,
        loop: EvaluationLoop,
        model: Any,
        dataloaders: Any,
        ckpt_path: Any,
        verbose: bool,
        datamodule: Any,
        weights_only: bool | None,
    ) -> list[dict[str, float]]:
        connected = self.lightning_module is not None
        checkpoint = (fn, ckpt_path, weights_only, model is not None, connected)
        model = arguments.resolve_model(self, model, str(fn))
        self._checkpoint_connector.prepare(*checkpoint)
        self._start(fn, stage)
        loop.verbose = verbose
        dataloaders, datamodule = arguments.eval_data(dataloaders, datamodule, str(fn))
        configuration.attach_data(
            self,
            model,
            val=dataloaders if fn == TrainerFn.VALIDATING else None,
            test=dataloaders if fn == TrainerFn.TESTING else None,
            datamodule=datamodule,
        )
        results = call.run_and_handle_interrupt(self, self._run, model)
        self._set_stage(stage, False)
        return [to_scalars(result) for result in results]

    def _start(self, fn: TrainerFn, stage: RunningStage) -> None:
        self.state.fn = fn
        self.state.status = TrainerStatus.RUNNING
        self.state.stage = stage

    @contextmanager
    def init_module(self, empty_init: bool | None = None) -> Iterator[None]:
        """Modules created in this block get the strategy's device and the precision's dtype."""
        with self.strategy.tensor_init_context(), self.precision_plugin.module_init_context():
            yield

    # ------------------------------------------------------------------------ checkpoints
    def save_checkpoint(
        self, filepath: Any, weights_only: bool = False, storage_options: Any = None
    ) -> None:
        """Write the training state to ``filepath`` (atomically); ``weights_only=True`` leaves out
        optimizer, scheduler and callback state."""
        self._checkpoint_connector.save(filepath, bool(weights_only))
