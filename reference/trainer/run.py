"""The run pipeline every entry point hands over to: the docs' ``fit()`` pseudocode (seed 002,
"Hooks")::

    configure_callbacks()
    prepare_data()                    # only if overridden; datamodule first
    setup("fit")                      # datamodule → callbacks → module
    configure_model()                 # only if overridden
    <module, datamodule, callback state restored from ckpt_path>
    configure_optimizers()            # inside strategy.setup, after the model is moved
    on_fit_start()
    <optimizer, scheduler, loop state restored from ckpt_path>
    <sanity check>                    # a short validation, RNG state preserved
    fit_loop.run()                    # on_train_start ... epochs ... on_train_end
    on_fit_end()
    teardown("fit")

``validate``/``test``/``predict`` run the same pipeline without ``configure_optimizers``, the
``on_fit_*`` hooks and the sanity check; their stage is the evaluation or the prediction loop.
"""

from __future__ import annotations

from typing import Any

import torch

from reference.trainer import call, configuration, flags
from reference.trainer.states import TrainerFn, TrainerStatus
from reference.utilities.seed import isolate_rng


class RunPipeline:
    """The :class:`~reference.trainer.trainer.Trainer`'s run of one entry point, once the model
    is connected and the loops know their data."""

    def _run(self, model: Any) -> Any:
        """The pipeline above for ``model``; returns what the stage's loop returned (None for
        fit)."""
        if self.state.fn == TrainerFn.FITTING:
            fit = self.fit_loop
            fit.min_epochs, fit.max_epochs = flags.loop_limits(
                fit.epoch_loop.min_steps, fit.max_steps, fit.min_epochs, fit.max_epochs
            )
        hooks = self._hooks
        hooks.reset()
        configuration.attach_model_callbacks(self)
        configuration.check_state_keys(self.callbacks)
        hooks.bind(warn=True)
        configuration.verify_loop_configuration(self)
        self.strategy.setup_environment()
        configuration.prepare_data(self)
        call.setup(self)
        call.configure_model(self)
        self._restore_modules_and_callbacks()
        for loop in (
            self.fit_loop.epoch_loop,
            self.fit_loop.epoch_loop.val_loop,
            self.validate_loop,
            self.test_loop,
        ):
            loop._results.reset()  # a previous run may have ended mid-epoch (an exception)
        self._logger_connector.reset_metrics()
        hooks.bind()  # setup/configure_model may have changed hooks or layers
        self.strategy.setup(self)  # converts and moves the model; configure_optimizers when fitting
        if self.state.fn == TrainerFn.FITTING:
            hooks.event("on_fit_start")
        configuration.log_hyperparams(self)
        self._restore_training_state()
        results = self._run_stage()
        self._teardown()
        if self.state.fn == TrainerFn.FITTING:
            hooks.event("on_fit_end")
        call.teardown(self)
        self.state.status = TrainerStatus.FINISHED
        self.state.stage = None
        return results

    def _restore_modules_and_callbacks(self) -> None:
        """Module, datamodule and callback state from ``ckpt_path`` (see checkpointing.py)."""
        self._checkpoint_connector.restore_modules_and_callbacks()

    def _restore_training_state(self) -> None:
        """Precision, loop, optimizer and scheduler state from ``ckpt_path``."""
        self._checkpoint_connector.restore_training_state()

    def _run_stage(self) -> Any:
        """Gradients zeroed, then the stage's loop (for fit: the sanity check, then the epochs)."""
        self.strategy.barrier("run-stage")
        self._hooks.module("zero_grad")
        if self.evaluating:
            return self._evaluation_loop.run()
        if self.predicting:
            return self.predict_loop.run()
        with isolate_rng():
            self._run_sanity_check()
        with torch.autograd.set_detect_anomaly(self._detect_anomaly):
            self.fit_loop.run()
        return None

    def _run_sanity_check(self) -> None:
        """A short validation before training, to fail fast on validation bugs (facts §2.5)."""
        val_loop = self.fit_loop.epoch_loop.val_loop
        if not (self.enable_validation and self.num_sanity_val_steps > 0):
            return
        resume = self.fit_loop._resume  # continuing mid-way: no new check, as in Lightning
        if resume is not None and (resume.in_epoch or self.fit_loop.max_steps != -1):
            return
        stage = self.state.stage
        self.sanity_checking = True
        self._logger_connector.reset_results()
        self._logger_connector.reset_metrics()
        self._hooks.callbacks("on_sanity_check_start")
        val_loop.run()
        self._hooks.callbacks("on_sanity_check_end")
        self._logger_connector.reset_results()
        self._logger_connector.reset_metrics()
        val_loop.batch_progress.reset()
        self.state.stage = stage

    def _teardown(self) -> None:
        """After a run, also one that failed: the model handed back (on the CPU), data workers
        stopped, the last batch let go."""
        self.strategy.teardown()
        self.fit_loop.teardown()
        for loop in (self.fit_loop.epoch_loop.val_loop, self.validate_loop, self.test_loop):
            loop._results.batch = None
