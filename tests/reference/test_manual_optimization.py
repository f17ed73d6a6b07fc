"""Manual optimization and gradient accumulation: what steps, when, and what is counted."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from reference_models import BoringModel, loader

import reference as L


class TwoOptimizers(BoringModel):
    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.other = torch.nn.Linear(32, 2)
        self.toggled: list[tuple[bool, bool]] = []

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        opt_a, opt_b = self.optimizers()
        sched_a, sched_b = self.lr_schedulers()
        for opt, net in ((opt_a, self.layer), (opt_b, self.other)):
            self.toggle_optimizer(opt)
            self.toggled.append((self.layer.weight.requires_grad, self.other.weight.requires_grad))
            loss = net(batch).pow(2).mean()
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()
            self.untoggle_optimizer(opt)
        if self.trainer.is_last_batch:
            sched_a.step()
            sched_b.step()
        return loss

    def configure_optimizers(self) -> Any:
        opt_a = torch.optim.SGD(self.layer.parameters(), lr=0.1)
        opt_b = torch.optim.SGD(self.other.parameters(), lr=0.1)
        return [opt_a, opt_b], [
            torch.optim.lr_scheduler.StepLR(opt, 1, 0.5) for opt in (opt_a, opt_b)
        ]


def test_two_optimizers_count_every_step(make_trainer: Any) -> None:
    model = TwoOptimizers()
    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(model)
    assert trainer.global_step == 2 * 4 * 2  # every opt.step() counts
    assert model.toggled[:2] == [(True, False), (False, True)]
    assert model.layer.weight.requires_grad and model.other.weight.requires_grad
    assert [opt.param_groups[0]["lr"] for opt in trainer.optimizers] == [0.025, 0.025]


def test_optimizers_are_wrapped_but_keep_their_type(make_trainer: Any) -> None:
    seen: list[Any] = []

    class Spy(TwoOptimizers):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            seen.append((self.optimizers(), self.optimizers(use_pl_optimizer=False)))
            return super().training_step(batch, batch_idx)

    make_trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0).fit(Spy())
    wrapped, raw = seen[0]
    assert all(isinstance(opt, torch.optim.SGD) for opt in wrapped)
    assert all(type(opt).__name__ == "LightningSGD" for opt in wrapped)
    assert [w.optimizer for w in wrapped] == raw


def test_manual_step_runs_before_optimizer_step_hook_and_closure(make_trainer: Any) -> None:
    events: list[str] = []

    class Closure(BoringModel):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch: Any, batch_idx: int) -> None:
            opt = self.optimizers()

            def closure() -> torch.Tensor:
                events.append("closure")
                loss = self.loss(batch)
                opt.zero_grad()
                self.manual_backward(loss)
                return loss

            opt.step(closure=closure)

        def on_before_optimizer_step(self, optimizer: Any) -> None:
            events.append("on_before_optimizer_step")

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            events.append(f"outputs={outputs}")

    make_trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0).fit(Closure())
    assert events == ["closure", "on_before_optimizer_step", "outputs={}"]


def test_manual_outputs_hold_the_detached_loss(make_trainer: Any) -> None:
    outputs: list[Any] = []

    class Manual(BoringModel):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.loss(batch)
            self.manual_backward(loss)
            return {"loss": loss, "extra": 1}

        def on_train_batch_end(self, out: Any, batch: Any, batch_idx: int) -> None:
            outputs.append(out)

    make_trainer(max_epochs=1, limit_val_batches=0).fit(Manual())
    assert all(not o["loss"].requires_grad and o["extra"] == 1 for o in outputs)


# ------------------------------------------------------------------------- accumulation
def test_accumulation_matches_one_big_batch(make_trainer: Any) -> None:
    """Accumulating 4 batches of 1 (loss divided by 4) is one SGD step on the batch of 4."""
    torch.manual_seed(0)
    model = BoringModel(batches=4, batch_size=1)
    reference_copy = BoringModel(batches=1, batch_size=4)
    reference_copy.load_state_dict(model.state_dict())
    make_trainer(max_epochs=1, limit_val_batches=0, accumulate_grad_batches=4).fit(model)
    big = next(iter(loader(4, batch_size=4)))
    optimizer = torch.optim.SGD(reference_copy.parameters(), lr=0.1)
    reference_copy.loss(big).backward()
    optimizer.step()
    for a, b in zip(model.parameters(), reference_copy.parameters()):
        torch.testing.assert_close(a, b)


def test_accumulation_outputs_and_zero_grad_points(make_trainer: Any) -> None:
    seen: list[tuple] = []

    class Spy(BoringModel):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.raw = self.loss(batch)
            return self.raw

        def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: Any) -> None:
            seen.append(("zero_grad", batch_idx))
            super().optimizer_zero_grad(epoch, batch_idx, optimizer)

        def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
            seen.append(("step", args[1]))
            super().optimizer_step(*args, **kwargs)

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            seen.append(("ratio", round(float(self.raw / outputs["loss"]), 4)))

    trainer = make_trainer(max_epochs=1, limit_val_batches=0, accumulate_grad_batches=2)
    trainer.fit(Spy(batches=5))
    assert trainer.global_step == 3
    steps = [e for e in seen if e[0] != "ratio"]
    # windows [0, 1] [2, 3] [4]: zero_grad opens a window (inside the closure, so after the
    # step hook is entered); the last batch of the epoch steps even though its window is short
    assert steps == [
        ("zero_grad", 0),
        ("step", 1),
        ("zero_grad", 2),
        ("step", 3),
        ("step", 4),
        ("zero_grad", 4),
    ]
    assert {e[1] for e in seen if e[0] == "ratio"} == {2.0}  # outputs hold loss / 2


def test_returning_none_still_steps(make_trainer: Any) -> None:
    class Skip(BoringModel):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            return None

    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    with pytest.warns(UserWarning, match="`training_step` returned `None`"):
        trainer.fit(Skip())
    assert trainer.global_step == 4


def test_toggled_optimizer_context(make_trainer: Any) -> None:
    model = TwoOptimizers()
    trainer = make_trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0)
    trainer.fit(model)
    with model.toggled_optimizer(trainer.optimizers[1]):
        assert not model.layer.weight.requires_grad and model.other.weight.requires_grad
    assert model.layer.weight.requires_grad


def test_lightning_optimizer_step_needs_callable_closure(make_trainer: Any) -> None:
    model = TwoOptimizers()
    make_trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0).fit(model)
    with pytest.raises(
        L.utilities.exceptions.MisconfigurationException, match="closure should be callable"
    ):
        model.optimizers()[0].step(closure=3)
