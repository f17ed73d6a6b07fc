"""``configure_optimizers``: every accepted return form, scheduler stepping, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from reference_models import BoringModel

from reference.utilities.exceptions import MisconfigurationException


class ConfiguredModel(BoringModel):
    """``configure_optimizers`` returns whatever ``make(params)`` builds."""

    def __init__(self, make: Any, batches: int = 4, **kwargs: Any) -> None:
        super().__init__(batches=batches, **kwargs)
        self.make = make

    def configure_optimizers(self) -> Any:
        return self.make(self.parameters())


def sgd(params: Any, lr: float = 0.1) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr)


def step_lr(optimizer: torch.optim.Optimizer) -> Any:
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)


def fit(make_trainer: Any, make: Any, batches: int = 4, **flags: Any) -> tuple[Any, Any]:
    model = ConfiguredModel(make, batches=batches)
    trainer = make_trainer(limit_val_batches=0, **{"max_epochs": 2, **flags})
    trainer.fit(model)
    return trainer, model


@pytest.mark.parametrize(
    "form",
    [
        lambda p: sgd(p),
        lambda p: [sgd(p)],
        lambda p: (sgd(p),),
        lambda p: {"optimizer": sgd(p)},
        lambda p: [{"optimizer": sgd(p)}],
    ],
    ids=["optimizer", "list", "tuple", "dict", "list-of-dicts"],
)
def test_single_optimizer_forms_train(make_trainer: Any, form: Any) -> None:
    trainer, model = fit(make_trainer, form)
    assert trainer.global_step == 8
    assert len(trainer.optimizers) == 1 and isinstance(trainer.optimizers[0], torch.optim.SGD)
    assert trainer.lr_scheduler_configs == []
    assert model.lr_schedulers() is None


def _lr(trainer: Any) -> float:
    return trainer.optimizers[0].param_groups[0]["lr"]


def test_tuple_of_lists_with_epoch_scheduler_steps_once_per_epoch(make_trainer: Any) -> None:
    def make(params: Any) -> Any:
        opt = sgd(params)
        return [opt], [step_lr(opt)]

    trainer, model = fit(make_trainer, make, max_epochs=3)
    assert _lr(trainer) == pytest.approx(0.1 * 0.5**3)
    config = trainer.lr_scheduler_configs[0]
    assert (config.interval, config.frequency, config.reduce_on_plateau) == ("epoch", 1, False)
    assert model.lr_schedulers() is config.scheduler


def test_dict_with_step_interval_and_frequency(make_trainer: Any) -> None:
    def make(params: Any) -> Any:
        opt = sgd(params)
        return {
            "optimizer": opt,
            "lr_scheduler": {
                "scheduler": step_lr(opt),
                "interval": "step",
                "frequency": 2,
                "name": "my-lr",
            },
        }

    trainer, _ = fit(make_trainer, make, batches=4, max_epochs=1)
    # batches 1 and 3 (0-based) are due: (batch_idx + 1) % 2 == 0
    assert _lr(trainer) == pytest.approx(0.1 * 0.5**2)
    assert trainer.lr_scheduler_configs[0].name == "my-lr"


def test_step_interval_follows_optimizer_steps_under_accumulation(make_trainer: Any) -> None:
    def make(params: Any) -> Any:
        opt = sgd(params)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": step_lr(opt), "interval": "step"}}

    trainer, _ = fit(make_trainer, make, batches=5, max_epochs=1, accumulate_grad_batches=2)
    assert trainer.global_step == 3  # windows [0,1] [2,3] [4]: the last batch always steps
    assert _lr(trainer) == pytest.approx(0.1 * 0.5**3)


def test_reduce_on_plateau_reads_the_monitored_metric(make_trainer: Any) -> None:
    seen: list[Any] = []

    class Plateau(ConfiguredModel):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", torch.tensor(1.0))  # never improves

        def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
            seen.append(metric)
            super().lr_scheduler_step(scheduler, metric)

    def make(params: Any) -> Any:
        opt = sgd(params)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
        return {"optimizer": opt, "lr_scheduler": plateau, "monitor": "val_loss"}

    model = Plateau(make)
    trainer = make_trainer(max_epochs=3, num_sanity_val_steps=0)
    trainer.fit(model)
    assert [float(m) for m in seen] == [1.0, 1.0, 1.0]
    assert _lr(trainer) == pytest.approx(0.1 * 0.5**2)  # first value sets the best score


def test_reduce_on_plateau_missing_metric(make_trainer: Any) -> None:
    def make(strict: bool) -> Any:
        def build(params: Any) -> Any:
            opt = sgd(params)
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": plateau, "monitor": "missing", "strict": strict},
            }

        return build

    with pytest.raises(MisconfigurationException, match="conditioned on metric missing"):
        fit(make_trainer, make(True), max_epochs=1)
    with pytest.warns(RuntimeWarning, match="Skipping learning rate update"):
        fit(make_trainer, make(False), max_epochs=1)


def test_reduce_on_plateau_needs_monitor(make_trainer: Any) -> None:
    def make(params: Any) -> Any:
        opt = sgd(params)
        return [opt], [torch.optim.lr_scheduler.ReduceLROnPlateau(opt)]

    with pytest.raises(MisconfigurationException, match="must include a monitor"):
        fit(make_trainer, make)


def test_none_warns_and_trains_with_a_no_op_optimizer(make_trainer: Any) -> None:
    model = ConfiguredModel(lambda params: None)
    before = [p.detach().clone() for p in model.parameters()]
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    with pytest.warns(UserWarning, match="returned `None`"):
        trainer.fit(model)
    assert trainer.global_step == 4
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_two_optimizers_need_manual_optimization(make_trainer: Any) -> None:
    with pytest.raises(RuntimeError, match="only supported with manual optimization"):
        fit(make_trainer, lambda p: (lambda ps: [sgd(ps[:1]), sgd(ps[1:])])(list(p)))


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda p: "adam", "Unknown configuration for model optimizers.*str"),
        (lambda p: 3, "Unknown configuration.*int"),
        (lambda p: {"lr_scheduler": None}, "without the key 'optimizer'"),
        (lambda p: [], "Unknown configuration"),
    ],
)
def test_unknown_returns_name_what_was_returned(make_trainer: Any, bad: Any, message: str) -> None:
    with pytest.raises(MisconfigurationException, match=message):
        fit(make_trainer, bad)


def test_bad_scheduler_configs(make_trainer: Any) -> None:
    def with_config(**config: Any) -> Any:
        def build(params: Any) -> Any:
            opt = sgd(params)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": step_lr(opt), **config}}

        return build

    with pytest.raises(
        MisconfigurationException, match='"interval" key .* must be "step" or "epoch"'
    ):
        fit(make_trainer, with_config(interval="batch"))
    with pytest.raises(MisconfigurationException, match='must have the key "scheduler"'):
        fit(make_trainer, lambda p: {"optimizer": sgd(p), "lr_scheduler": {"interval": "step"}})
    with pytest.raises(MisconfigurationException, match="wasn't returned"):
        fit(
            make_trainer,
            lambda p: (lambda ps: {"optimizer": sgd(ps), "lr_scheduler": step_lr(sgd(ps))})(
                list(p)
            ),
        )
    # not a scheduler at all: named as such, not as "attached to another optimizer"
    for not_a_scheduler, shown in (("step", "str 'step'"), ([0], r"list \[0\]")):
        with pytest.raises(MisconfigurationException, match=f"returned {shown} as an lr sched"):
            fit(make_trainer, lambda p, s=not_a_scheduler: {"optimizer": sgd(p), "lr_scheduler": s})


def test_gradient_clipping_by_norm_and_value(make_trainer: Any) -> None:
    norms: list[float] = []

    class Spy(BoringModel):
        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.0)

        def on_before_optimizer_step(self, optimizer: Any) -> None:
            self.grads_before = [p.grad.clone() for p in self.parameters()]

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            norms.append(float(torch.norm(torch.stack([p.grad.norm() for p in self.parameters()]))))

        def loss(self, batch: torch.Tensor) -> torch.Tensor:
            return 100 * super().loss(batch)

    make_trainer(max_epochs=1, limit_val_batches=0, gradient_clip_val=0.5).fit(Spy())
    assert norms and all(n == pytest.approx(0.5, rel=1e-4) for n in norms)

    model = Spy()
    make_trainer(
        max_epochs=1, limit_val_batches=0, gradient_clip_val=0.01, gradient_clip_algorithm="value"
    ).fit(model)
    assert all(p.grad.abs().max() <= 0.01 + 1e-7 for p in model.parameters())
    assert any(g.abs().max() > 0.01 for g in model.grads_before)
