"""Who is called, in which order, for one event: the dispatch rules of Lightning 2.x.

Seed 002's pseudocode names only LightningModule hooks. Lightning also calls the Callbacks and the
DataModule, by these rules (facts §1.1, §1.10, §1.12 — observed behaviour, the page is silent):

* for an event both have, **every Callback first** (in ``trainer.callbacks`` order), **then the
  LightningModule** — except ``on_train_epoch_end``, where monitoring callbacks go last, and
  ``on_load_checkpoint``, where the module goes first (both spelled out where they are used);
* ``setup`` / ``teardown``: **DataModule → Callbacks → LightningModule**;
* ``prepare_data``: DataModule, then LightningModule;
* dataloaders come from the DataModule when one is attached, else from the LightningModule;
* batch-transfer hooks come from the DataModule when it defines them, else from the module.

:class:`Calls` collects the events; the loop modules (``fit.py``, ``evaluation.py``) read like
the pseudocode and call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.spec.config import CallbackKind
from conformance.spec.hooks import BATCH_TRANSFER_HOOKS, event

MODULE = "M"
DATAMODULE = "DM"


def callback_name(index: int) -> str:
    return f"CB{index}"


class Calls:
    """The expected trace of one run, built event by event."""

    def __init__(
        self,
        callbacks: Sequence[CallbackKind] = (),
        *,
        datamodule: bool = False,
        datamodule_batch_transfer: bool = False,
    ) -> None:
        self.events: list[str] = []
        self.callback_kinds = tuple(callbacks)
        self.datamodule_attached = datamodule
        self.datamodule_batch_transfer = datamodule and datamodule_batch_transfer

    # ---- single owners ------------------------------------------------------------------------
    def module(self, hook: str, **arguments: Any) -> None:
        self.events.append(event(MODULE, hook, **arguments))

    def datamodule(self, hook: str, **arguments: Any) -> None:
        if self.datamodule_attached:
            self.events.append(event(DATAMODULE, hook, **arguments))

    def callbacks(self, hook: str, *, monitoring: bool | None = None, **arguments: Any) -> None:
        """Every callback, in list order; ``monitoring`` selects only (non-)monitoring ones."""
        for index, kind in enumerate(self.callback_kinds):
            if monitoring is None or (kind == "monitoring") == monitoring:
                self.events.append(event(callback_name(index), hook, **arguments))

    # ---- dispatch rules -----------------------------------------------------------------------
    def hook(self, hook: str, **arguments: Any) -> None:
        """An event callbacks and module share: callbacks first, then the module."""
        self.callbacks(hook, **arguments)
        self.module(hook, **arguments)

    def setup(self, stage: str) -> None:
        self.datamodule("setup", stage=stage)
        self.hook("setup", stage=stage)

    def teardown(self, stage: str) -> None:
        self.datamodule("teardown", stage=stage)
        self.hook("teardown", stage=stage)

    def prepare_data(self) -> None:
        # docs: `if local_rank == 0: prepare_data()`; one process here, so it always runs
        self.datamodule("prepare_data")
        self.module("prepare_data")

    def dataloader(self, hook: str) -> None:
        """``train_dataloader()`` and friends, from the DataModule when one is attached."""
        if self.datamodule_attached:
            self.datamodule(hook)
        else:
            self.module(hook)

    def batch_transfer(self, dataloader_idx: int = 0) -> None:
        """The three batch-transfer hooks, from whichever object defines them."""
        owner = DATAMODULE if self.datamodule_batch_transfer else MODULE
        for hook in BATCH_TRANSFER_HOOKS:
            self.events.append(event(owner, hook, dataloader_idx=dataloader_idx))

    # ---- checkpoints (facts §1.1, §1.11, §3.4) ----------------------------------------------
    def save_checkpoint(self) -> None:
        """``trainer.save_checkpoint``: callback states, DataModule state, then the save hooks."""
        self.callbacks("state_dict")
        self.datamodule("state_dict")
        self.callbacks("on_save_checkpoint")
        self.module("on_save_checkpoint")

    def restore_checkpoint(self) -> None:
        """Restoring modules and callbacks: here the module goes *first* (exception 2)."""
        self.module("on_load_checkpoint")
        self.datamodule("load_state_dict")
        self.callbacks("on_load_checkpoint")
        self.callbacks("load_state_dict")  # every recording callback is stateful
