"""``trainer.fit``: seed 002's ``fit()`` and ``fit_loop()`` pseudocode, made precise.

Read it side by side with seed 002, "Hooks"::

    def fit(self):                            def fit_loop():
        configure_callbacks()                     torch.set_grad_enabled(True)
        if local_rank == 0:                       on_train_epoch_start()
            prepare_data()                        for batch_idx, batch in enumerate(
        setup("fit")                                      train_dataloader()):
        configure_model()                             on_train_batch_start()
        configure_optimizers()                        on_before_batch_transfer()
        on_fit_start()                                transfer_batch_to_device()
        # the sanity check runs here                  on_after_batch_transfer()
        on_train_start()                              out = training_step()
        for epoch in epochs:                          on_before_zero_grad()
            fit_loop()                                optimizer_zero_grad()
        on_train_end()                                on_before_backward()
        on_fit_end()                                  backward()
        teardown("fit")                               on_after_backward()
                                                      on_before_optimizer_step()
                                                      configure_gradient_clipping()
                                                      optimizer_step()
                                                      on_train_batch_end(out, batch, batch_idx)
                                                      if should_check_val:
                                                          val_loop()
                                                  on_train_epoch_end()

Every place Lightning 2.6 does something the text does not say is marked ``DEPARTS`` with the
facts-file section that records it. Event arguments (``batch_idx``, ``epoch``, ``dataloader_idx``,
``stage``) are those the hooks receive.
"""

from __future__ import annotations

from conformance.spec.calls import Calls
from conformance.spec.config import FitConfig
from conformance.spec.evaluation import evaluation_loop


def fit(config: FitConfig) -> list[str]:
    """The expected entry-order hook trace of ``trainer.fit(model)`` for ``config``."""
    config.check()
    return _Fit(config).run()


class _Fit:
    def __init__(self, config: FitConfig) -> None:
        self.config = config
        self.calls = Calls(
            config.callbacks,
            datamodule=config.datamodule,
            datamodule_batch_transfer=config.datamodule_batch_transfer,
        )
        # a resumed run continues the saved run's epoch and batch counters (facts §3.4)
        self.first_epoch = config.resumed_from_epochs
        self.total_batch_idx = self.first_epoch * config.num_training_batches - 1
        self.global_step = 0  # optimizer steps taken; only compared with max_steps (-1 on resume)
        self.val_dataloader_requested = False

    # ---- fit() ------------------------------------------------------------------------------
    def run(self) -> list[str]:
        calls = self.calls
        calls.module("configure_callbacks")
        calls.prepare_data()
        calls.setup("fit")  # DEPARTS: DataModule → Callbacks → module (facts §1.1)
        calls.module("configure_model")
        if self.config.resumed_from_epochs:
            # DEPARTS: fit(ckpt_path=...) restores the module, DataModule and callback states
            # here, before configure_optimizers (facts §3.4); the module goes first (§1.1)
            calls.restore_checkpoint()
        calls.module("configure_optimizers")
        calls.hook("on_fit_start")
        if self.sanity_check_runs():
            self.sanity_check()
        self.fit_loop_run()
        calls.hook("on_fit_end")
        calls.teardown("fit")
        return calls.events

    def sanity_check_runs(self) -> bool:
        # facts §2.5: only when validation is enabled; it ignores check_val_every_n_epoch
        return self.config.validation_enabled and self.config.sanity_steps > 0

    def sanity_check(self) -> None:
        """``# the sanity check runs here``: a short validation between two callback-only hooks."""
        steps = self.config.sanity_steps
        self.calls.callbacks("on_sanity_check_start")  # there is no module hook of that name
        self.val_loop([min(steps, n) for n in self.config.val_loader_batches])
        self.calls.callbacks("on_sanity_check_end")

    # ---- on_train_start(); for epoch in epochs: fit_loop(); on_train_end() -----------------
    def fit_loop_run(self) -> None:
        config, calls = self.config, self.calls
        if config.train_limit == 0:  # limit_train_batches=0: no training at all (facts §2.3)
            return
        # DEPARTS: the train dataloader is requested once per fit, after the sanity check and
        # before on_train_start -- even when no epoch will run (facts §2.11).
        calls.dataloader("train_dataloader")
        epoch = self.first_epoch
        if self.fit_done(epochs_done=epoch):
            return  # nothing to train: no on_train_start / on_train_end (facts §2.3)
        if self.validates_in_epoch(epoch) and not self.val_dataloader_requested:
            # DEPARTS: without a sanity check, the val dataloader is requested here (facts §2.4)
            self.request_val_dataloader()
        calls.hook("on_train_start")
        while not self.fit_done(epochs_done=epoch):
            self.fit_loop(epoch)
            epoch += 1
        calls.hook("on_train_end")

    def fit_done(self, epochs_done: int) -> bool:
        config = self.config
        steps_reached = config.max_steps != -1 and self.global_step >= config.max_steps
        epochs_reached = config.max_epochs != -1 and epochs_done >= config.max_epochs
        return config.num_training_batches == 0 or steps_reached or epochs_reached

    # ---- fit_loop() -------------------------------------------------------------------------
    def fit_loop(self, epoch: int) -> None:
        config, calls = self.config, self.calls
        calls.hook("on_train_epoch_start")
        batches = config.num_training_batches
        for batch_idx in range(batches):
            self.total_batch_idx += 1
            is_last = batch_idx == batches - 1
            stepped = self.training_batch(epoch, batch_idx, is_last)
            if self.should_check_val(epoch, batch_idx):
                if stepped:
                    # DEPARTS: grads are cleared before in-fit validation, unless the batch is
                    # mid-accumulation (facts §1.6)
                    calls.module("on_validation_model_zero_grad")
                self.val_loop(config.val_loader_batches)
            if config.max_steps != -1 and self.global_step >= config.max_steps:
                break  # the epoch ends early once max_steps is reached (facts §2.3)
        # DEPARTS: callbacks that monitor metrics (EarlyStopping, checkpoints) run after the
        # module, so they can see what it logs in on_train_epoch_end (facts §1.1, exception 1)
        calls.callbacks("on_train_epoch_end", monitoring=False)
        calls.module("on_train_epoch_end")
        calls.callbacks("on_train_epoch_end", monitoring=True)

    def training_batch(self, epoch: int, batch_idx: int, is_last: bool) -> bool:
        """One batch of ``fit_loop()``; returns whether the optimizer stepped."""
        config, calls = self.config, self.calls
        at = {"batch_idx": batch_idx}
        calls.batch_transfer()  # DEPARTS: before on_train_batch_start (facts §1.13.1)
        calls.hook("on_train_batch_start", **at)
        accumulate = config.accumulate_grad_batches
        # the optimizer steps at the end of each accumulation window, and always on the last batch
        steps = (batch_idx + 1) % accumulate == 0 or is_last
        if config.automatic_optimization:
            if steps:
                # DEPARTS: optimizer_step is *entered* first; training_step, zero_grad and
                # backward run inside the closure it passes to optimizer.step (facts §1.4)
                calls.module("optimizer_step", epoch=epoch, **at)
            calls.module("training_step", **at)
            if batch_idx % accumulate == 0:
                # DEPARTS: zero_grad only at the start of a window, after training_step (§1.6)
                calls.hook("on_before_zero_grad")
                calls.module("optimizer_zero_grad", epoch=epoch, **at)
            self.backward()
            if steps:
                calls.hook("on_before_optimizer_step")
                calls.module("configure_gradient_clipping")  # called even without clipping
        else:
            # Manual optimization: the workload's training_step calls
            # `self.manual_backward(loss)` then `optimizer.step()` (facts §1.5); Lightning calls
            # no optimizer_step / zero_grad / clipping / scheduler hooks of its own.
            calls.module("training_step", **at)
            self.backward()
            calls.hook("on_before_optimizer_step")
        if steps:
            self.global_step += 1
        self.lr_scheduler_steps(epoch, batch_idx, steps, is_last)
        calls.hook("on_train_batch_end", **at)
        return steps

    def backward(self) -> None:
        self.calls.hook("on_before_backward")
        self.calls.module("backward")
        self.calls.hook("on_after_backward")

    def lr_scheduler_steps(self, epoch: int, batch_idx: int, stepped: bool, is_last: bool) -> None:
        """DEPARTS (the page is silent): where ``lr_scheduler_step`` runs (facts §2.8).

        Both kinds step after the optimizer and *before* this batch's ``on_train_batch_end``: a
        ``"step"`` scheduler after every optimizer step, an ``"epoch"`` scheduler after the last
        batch of the epoch (so before the epoch-end validation), each every ``frequency`` batches
        or epochs. Manual optimization leaves schedulers to the user.
        """
        config = self.config
        if not config.automatic_optimization or config.scheduler is None:
            return
        frequency = config.scheduler_frequency
        if config.scheduler == "step" and stepped and (batch_idx + 1) % frequency == 0:
            self.calls.module("lr_scheduler_step")
        if config.scheduler == "epoch" and is_last and (epoch + 1) % frequency == 0:
            self.calls.module("lr_scheduler_step")

    # ---- if should_check_val: val_loop() ----------------------------------------------------
    def validates_in_epoch(self, epoch: int) -> bool:
        every = self.config.check_val_every_n_epoch
        return self.config.validation_enabled and (every is None or (epoch + 1) % every == 0)

    def should_check_val(self, epoch: int, batch_idx: int) -> bool:
        """DEPARTS (the page says only ``should_check_val``): facts §2.4.

        ``val_check_interval`` counts batches of the epoch -- or of the whole run when
        ``check_val_every_n_epoch`` is None. A float interval that does not divide the epoch
        replaces, rather than adds to, the end-of-epoch validation.
        """
        if not self.validates_in_epoch(epoch):
            return False
        every_n_epochs = self.config.check_val_every_n_epoch
        index = self.total_batch_idx if every_n_epochs is None else batch_idx
        return (index + 1) % self.config.val_check_batch == 0

    def request_val_dataloader(self) -> None:
        self.calls.dataloader("val_dataloader")
        self.val_dataloader_requested = True

    def val_loop(self, loader_batches: list[int]) -> None:
        if not self.val_dataloader_requested:
            self.request_val_dataloader()  # DEPARTS: once per fit, on first use
        evaluation_loop(self.calls, "validation", loader_batches)
