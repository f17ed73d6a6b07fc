"""The evaluation loops: seed 002's ``val_loop()``, and ``validate`` / ``test`` / ``predict``.

Seed 002, "Hooks"::

    def val_loop():
        on_validation_model_eval()  # calls `model.eval()`
        torch.set_grad_enabled(False)
        on_validation_start()
        on_validation_epoch_start()
        for batch_idx, batch in enumerate(val_dataloader()):
            on_validation_batch_start(batch, batch_idx)
            batch = on_before_batch_transfer(batch)
            batch = transfer_batch_to_device(batch)
            batch = on_after_batch_transfer(batch)
            out = validation_step(batch, batch_idx)
            on_validation_batch_end(out, batch, batch_idx)
        on_validation_epoch_end()
        on_validation_end()
        on_validation_model_train()  # calls `model.train()`

Where Lightning 2.6 departs from that text (each marked ``DEPARTS`` below):

1. the batch-transfer hooks run *before* ``on_validation_batch_start`` (facts §1.13.1);
2. ``on_validation_model_train`` is only called when overridden (facts §1.12); the recorder
   overrides it, so it is expected here;
3. the dataloader is requested once, before ``on_validation_model_eval``, not inside the loop;
4. several dataloaders run one after the other, inside *one* ``on_validation_epoch_start/end``
   pair, with ``batch_idx`` restarting at 0 and ``dataloader_idx`` passed to the batch hooks;
5. when no batch would run, none of the loop's hooks are called (the dataloader still is).

``predict`` has the same shape with ``predict`` names, minus ``on_predict_model_train`` (Lightning
restores the modes itself; there is no such hook in 2.x, facts §1.9).
"""

from __future__ import annotations

from collections.abc import Sequence

from conformance.spec.calls import Calls
from conformance.spec.config import EvalConfig, parse_limit


def evaluation_loop(calls: Calls, noun: str, loader_batches: Sequence[int]) -> None:
    """One run of the validation/test/predict loop over already-requested dataloaders."""
    if sum(loader_batches) == 0:  # DEPARTS 5
        return
    calls.module(f"on_{noun}_model_eval")
    calls.hook(f"on_{noun}_start")
    calls.hook(f"on_{noun}_epoch_start")
    for dataloader_idx, batches in enumerate(loader_batches):  # DEPARTS 4
        for batch_idx in range(batches):
            calls.batch_transfer(dataloader_idx)  # DEPARTS 1
            at = {"batch_idx": batch_idx, "dataloader_idx": dataloader_idx}
            calls.hook(f"on_{noun}_batch_start", **at)
            calls.module(f"{noun}_step", **at)
            calls.hook(f"on_{noun}_batch_end", **at)
    calls.hook(f"on_{noun}_epoch_end")
    calls.hook(f"on_{noun}_end")
    if noun != "predict":
        calls.module(f"on_{noun}_model_train")  # DEPARTS 2


def evaluate(config: EvalConfig) -> list[str]:
    """The expected entry-order trace of ``trainer.validate/test/predict(model)``.

    The docs give no pseudocode for these entry points; the shape below is ``fit``'s without the
    optimizers and the training loop (facts §1.8, §1.9).
    """
    config.check()
    calls = Calls(
        config.callbacks,
        datamodule=config.datamodule,
        datamodule_batch_transfer=config.datamodule_batch_transfer,
    )
    stage = config.stage
    calls.module("configure_callbacks")
    calls.prepare_data()
    calls.setup(stage)
    calls.module("configure_model")
    # limit_*_batches=0 skips the loop before its dataloader is even requested (facts §1.8)
    if parse_limit(config.limit_batches, config.limit_flag) != 0:
        calls.dataloader(config.dataloader_hook)  # DEPARTS 3
        evaluation_loop(calls, config.noun, config.loader_batches)
    calls.teardown(stage)
    return calls.events
