"""``Checkpoint``: the base class the trainer recognises as a checkpointing callback.

Checkpointing callbacks are ordered last in ``trainer.callbacks`` and, like EarlyStopping, get
``on_train_epoch_end`` after the LightningModule. ``ModelCheckpoint`` derives from it.
"""

from reference.callbacks.callback import Callback


class Checkpoint(Callback):
    """Base class for callbacks that save checkpoints."""
