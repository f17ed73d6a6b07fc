"""Quick local speed check (not a test): per-step time of the reference vs a raw PyTorch loop.

Tiny MLP (32→32→1), batch 8, SGD, 2,000 steps, one thread, quiet Trainer flags. Times are
process CPU time, so that other work on a busy machine distorts them less. Run with
``python tests/reference/perf_check.py [--lightning]``. The project's real benchmark lives in
``bench/``; this script is for checking the hot path while working on it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings

import torch
from torch.utils.data import DataLoader, TensorDataset

STEPS, BATCH = 2000, 8


def data() -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(STEPS * BATCH, 32, generator=generator)
    y = torch.randn(STEPS * BATCH, 1, generator=generator)
    return DataLoader(TensorDataset(x, y), batch_size=BATCH)


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))


def raw_loop(loader: DataLoader) -> float:
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    start = time.process_time()
    for x, y in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return time.process_time() - start


def framework_loop(namespace, loader: DataLoader, log: bool) -> float:
    class Model(namespace.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp()

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            if log:
                self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    trainer = namespace.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        default_root_dir=tempfile.mkdtemp(),
    )
    model = Model()
    start = time.process_time()
    trainer.fit(model, loader)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lightning", action="store_true", help="also time pytorch_lightning")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)
    import reference

    targets = [("reference", reference)]
    if args.lightning:
        import pytorch_lightning

        targets.append(("lightning", pytorch_lightning))
    loader = data()
    raw_loop(loader)  # warm-up
    rows: dict[str, list[float]] = {"raw": []}
    for _ in range(args.repeats):
        rows["raw"].append(raw_loop(loader))
        for name, namespace in targets:
            for log in (False, True):
                key = f"{name}{' +log' if log else ''}"
                rows.setdefault(key, []).append(framework_loop(namespace, loader, log))
    base = statistics.median(rows["raw"])
    for key, times in rows.items():
        median = statistics.median(times)
        print(f"{key:18s} {median / STEPS * 1e6:8.1f} us/step  {median / base:5.2f}x raw")


if __name__ == "__main__":
    main()
