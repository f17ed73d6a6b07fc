"""trainspec's benchmarks: speed of the reference trainer, reported as ratios to a baseline
measured in the same run.

- ``python bench/step_time.py``: per-step time of a hand-written PyTorch loop, the reference and
  Lightning on a tiny MLP, in interleaved rounds (medians, ratios to the raw loop).
- ``python bench/import_time.py``: ``import reference`` / ``import pytorch_lightning`` over
  ``import torch``, each in a fresh interpreter.
- ``python bench/memory.py``: peak memory of each loop, as a ratio to the raw loop.
- ``python -m bench``: all three.

Method and measured numbers: ``docs/benchmarks.md``.
"""
