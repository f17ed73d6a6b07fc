"""Hypothesis strategies over spec configurations (tiny runs: at most a few batches and epochs).

Every drawn configuration is one Lightning accepts (:meth:`FitConfig.check` passes); values are
drawn from small menus that include the interesting edges (int vs float limits and intervals, 0,
-1 for "all", ``None`` for "every batch across epochs"), so that a derandomized run of a few dozen
examples still covers each dimension.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from conformance.spec.config import EvalConfig, FitConfig, InvalidConfig


def _valid(config: FitConfig | EvalConfig) -> bool:
    try:
        config.check()
    except InvalidConfig:
        return False
    return True


def _menu(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


@st.composite
def _fit_config(
    draw: st.DrawFn,
    monitoring: bool,
    datamodule: bool,
    manual: bool,
    validation: bool,
    validating: bool,
    resumed: bool,
) -> FitConfig:
    # Menus list the common case first: hypothesis starts from (and shrinks towards) the first
    # entry. With ``validating`` every menu is restricted to values that keep the validation loop
    # running during training (at least one epoch, no step cap, positive limits).
    steps_capped = not (validating or resumed) and draw(st.booleans())
    if resumed:  # a finished fit of E epochs, resumed to train at least one more
        max_epochs = draw(_menu(2, 3))
        resumed_from = draw(st.integers(1, max_epochs - 1))
    else:
        max_epochs = draw(_menu(2, 1, 3) if validating else _menu(2, 1, 3, 0, -1))
        resumed_from = 0
    max_steps = draw(st.integers(1, 6)) if steps_capped or max_epochs == -1 else -1
    automatic = not (manual and draw(st.booleans()))
    kinds = ["plain", "monitoring"] if monitoring else ["plain"]
    has_datamodule = datamodule and draw(st.booleans())
    loaders = draw(_menu(1, 2) if validating else _menu(1, 2, 0)) if validation else 0
    positive = _menu(None, 2, 0.5, 1, 1.0)
    return FitConfig(
        max_epochs=max_epochs,
        max_steps=max_steps,
        train_batches=draw(st.integers(2, 5)),
        val_batches=tuple(draw(st.integers(1, 3)) for _ in range(loaders)),
        limit_train_batches=draw(positive if validating else _menu(None, 3, 0.5, 1, 1.0, 0)),
        limit_val_batches=draw(positive if validating else _menu(None, 2, 0.5, 1, 1.0, 0)),
        val_check_interval=draw(_menu(None, 2, 0.5, 1, 3, 0.25, 1.0)),
        check_val_every_n_epoch=draw(_menu(1, 2, None)),
        num_sanity_val_steps=draw(_menu(None, 1, 0, -1)),
        accumulate_grad_batches=draw(_menu(1, 2, 3)) if automatic else 1,
        callbacks=tuple(draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=3))),
        automatic_optimization=automatic,
        scheduler=draw(_menu("epoch", "step", None)),
        scheduler_frequency=draw(_menu(1, 2)),
        datamodule=has_datamodule,
        datamodule_batch_transfer=has_datamodule and draw(st.booleans()),
        resumed_from_epochs=resumed_from,
    )


def fit_configs(
    *,
    monitoring: bool = True,
    datamodule: bool = True,
    manual: bool = True,
    validation: bool = True,
    validating: bool = False,
    resumed: bool = False,
) -> st.SearchStrategy[FitConfig]:
    """Valid :class:`FitConfig` values.

    Switch a dimension off when the target cannot take part in it: ``monitoring`` (no
    EarlyStopping), ``datamodule`` (no LightningDataModule), ``manual`` (only automatic
    optimization), ``validation`` (no validation loop at all). ``validating=True`` draws only
    runs whose validation loop is enabled and that train at least one full epoch (the validation
    placement rules need many such examples to be exercised). ``resumed=True`` draws runs
    resumed from a checkpoint of a finished shorter fit (``resumed_from_epochs > 0``).
    """
    strategy = _fit_config(monitoring, datamodule, manual, validation, validating, resumed)
    return strategy.filter(_valid)


def eval_configs(
    stages: tuple[str, ...] = ("validate", "test", "predict"),
    *,
    monitoring: bool = True,
    datamodule: bool = True,
) -> st.SearchStrategy[EvalConfig]:
    """Valid :class:`EvalConfig` values: one or several dataloaders, limits, callbacks."""
    kinds = ["plain", "monitoring"] if monitoring else ["plain"]

    @st.composite
    def build(draw: st.DrawFn) -> EvalConfig:
        has_datamodule = datamodule and draw(st.booleans())
        return EvalConfig(
            stage=draw(st.sampled_from(stages)),
            batches=tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))),
            limit_batches=draw(_menu(None, 2, 0.5, 1, 1.0, 0)),
            callbacks=tuple(draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=3))),
            datamodule=has_datamodule,
            datamodule_batch_transfer=has_datamodule and draw(st.booleans()),
        )

    return build().filter(_valid)
