"""Global state a clause leaves changed is put back (in-process check of the snapshot itself;
test_certify_runs.py checks the same through the plugin with a leaking target)."""

from __future__ import annotations

import os
import random

import numpy
import torch

from conformance.isolation import GlobalState


def test_everything_a_training_loop_can_change_is_restored(tmp_path: object) -> None:
    before_rng = torch.get_rng_state()
    state = GlobalState.capture()
    expected_python = random.random()
    random.setstate(state.python_rng)
    expected_numpy = numpy.random.rand()
    numpy.random.set_state(state.numpy_rng)
    expected_torch = torch.rand(1)
    torch.set_rng_state(before_rng)

    guard = torch.inference_mode()
    guard.__enter__()  # left entered, as a careless trainer would
    try:
        torch.set_default_dtype(torch.float64)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.set_anomaly_enabled(True)
        torch.manual_seed(123)
        random.seed(123)
        numpy.random.seed(123)
        os.environ["PL_GLOBAL_SEED"] = "123"
        os.chdir(str(tmp_path))

        changed = state.restore()

        assert set(changed) >= {
            "inference mode",
            "grad mode",
            "default dtype",
            "deterministic algorithms",
            "anomaly detection",
            "working directory",
            "env PL_GLOBAL_SEED",
        }
        assert not torch.is_inference_mode_enabled()
        assert torch.is_grad_enabled()
        assert torch.get_default_dtype() == torch.float32
        assert not torch.are_deterministic_algorithms_enabled()
        assert not torch.is_anomaly_enabled()
        assert os.getcwd() == state.cwd
        assert "PL_GLOBAL_SEED" not in os.environ
        assert random.random() == expected_python
        assert numpy.random.rand() == expected_numpy
        assert torch.equal(torch.rand(1), expected_torch)
        x = torch.ones(2, requires_grad=True)
        (x * 2).sum().backward()  # autograd works again
        assert x.grad is not None
    finally:
        guard.__exit__(None, None, None)


def test_nothing_is_reported_when_nothing_changed() -> None:
    state = GlobalState.capture()
    assert state.restore() == []
