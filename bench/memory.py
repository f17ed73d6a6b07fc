"""Memory of the raw loop, the reference and Lightning while training, as ratios to the raw loop.

Each sample is a fresh process (``python -m bench.memory --child ...``) that imports torch and
the framework, trains a 5-step warm-up run (lazy imports such as ``torch._dynamo``, which the
first optimizer pulls in, stay out of the numbers), builds the data, then trains once; it reports

- ``fit_peak_rss``: the highest resident set size while that run trains (sampled every
  millisecond by a thread; the process's own ``ru_maxrss`` is no use here, as it is reached while
  torch's libraries load and is the same for every loop);
- ``fit_rss_growth``: ``fit_peak_rss`` minus the RSS just before the run;
- ``python_peak``: the peak of Python-level allocations during the run (``tracemalloc``; tensor
  storage is not counted, so this is the loop's own bookkeeping).

Medians over ``--repeats`` processes.

    python bench/memory.py [--repeats 3] [--steps 2000] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import REPO, machine_info  # noqa: E402
from bench.report import markdown_table, median, write_json  # noqa: E402
from bench.workload import (  # noqa: E402
    FRAMEWORKS,
    STEPS,
    VARIANTS_BY_NAME,
    benchmark_settings,
    import_framework,
    make_loader,
    time_framework_loop,
    time_raw_loop,
)

MEASURES = ("fit_peak_rss", "fit_rss_growth", "python_peak")
VARIANTS = ("plain", "log")
WARMUP_STEPS = 5


def current_rss() -> int:
    """Resident set size now, in bytes (Linux; 0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def child(loop: str, variant_name: str, steps: int) -> dict[str, int]:
    """Runs in the measured process: train once, report the three measures in bytes."""
    with benchmark_settings():
        return _child(loop, variant_name, steps)


def _child(loop: str, variant_name: str, steps: int) -> dict[str, int]:
    framework = None if loop == "raw" else import_framework(loop)
    if loop != "raw" and framework is None:
        raise SystemExit(f"{loop} is not installed")
    variant = VARIANTS_BY_NAME[variant_name]

    def train(loader: Any) -> None:
        if framework is None:
            time_raw_loop(loader)
        else:
            time_framework_loop(framework, variant, loader)

    # lazy imports (the first optimizer imports torch._dynamo: ~100 MiB) stay out of the numbers
    train(make_loader(WARMUP_STEPS))
    loader = make_loader(steps)  # the data is the same for every loop: not counted either
    before = current_rss()
    sampler = RssSampler()
    tracemalloc.start()
    sampler.start()
    try:
        train(loader)
    finally:
        peak = sampler.finish()
        _, python_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "fit_peak_rss": peak,
        "fit_rss_growth": max(peak - before, 0),
        "python_peak": python_peak,
    }


class RssSampler(threading.Thread):
    """Polls the process's RSS every ``interval`` seconds and keeps the highest value."""

    def __init__(self, interval: float = 0.001) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = current_rss()
        self._stop_requested = threading.Event()

    def run(self) -> None:
        while not self._stop_requested.wait(self.interval):
            self.peak = max(self.peak, current_rss())

    def finish(self) -> int:
        self._stop_requested.set()
        self.join()
        return max(self.peak, current_rss())


def measure(loop: str, variant: str, steps: int) -> dict[str, int]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--child", loop, variant, str(steps)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if completed.returncode:
        raise RuntimeError(f"{loop}/{variant} failed:\n{completed.stderr.strip()[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run(
    steps: int = STEPS,
    repeats: int = 3,
    frameworks: Sequence[str] = FRAMEWORKS,
    variants: Sequence[str] = VARIANTS,
) -> dict[str, Any]:
    if steps < 1 or repeats < 1:
        raise ValueError(f"steps and repeats must be >= 1, got {steps}, {repeats}")
    present = [name for name in frameworks if import_framework(name) is not None]
    raw: list[dict[str, int]] = []
    samples: dict[tuple[str, str], list[dict[str, int]]] = {}
    for _ in range(repeats):
        raw.append(measure("raw", "plain", steps))
        for variant in variants:
            for name in present:
                samples.setdefault((variant, name), []).append(measure(name, variant, steps))
    raw_median = {m: median([s[m] for s in raw]) for m in MEASURES}
    results = []
    for (variant, name), runs in samples.items():
        values = {m: median([s[m] for s in runs]) for m in MEASURES}
        results.append(
            {
                "variant": variant,
                "framework": name,
                "samples": len(runs),
                "bytes": values,
                "ratio_to_raw": {
                    m: values[m] / raw_median[m] if raw_median[m] else None for m in MEASURES
                },
            }
        )
    return {
        "benchmark": "memory",
        "config": {
            "steps": steps,
            "repeats": repeats,
            "frameworks": present,
            "missing_frameworks": [f for f in frameworks if f not in present],
            "variants": list(variants),
        },
        "machine": machine_info(),
        "raw": {"samples": len(raw), "bytes": raw_median},
        "results": results,
    }


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def format_results(results: dict[str, Any]) -> str:
    mib, kib = 1024 * 1024, 1024

    def cells(values: dict[str, float], ratio: dict[str, float | None] | None) -> list[str]:
        ratio = ratio or {m: 1.0 for m in MEASURES}
        return [
            f"{values['fit_peak_rss'] / mib:.0f}",
            _ratio(ratio["fit_peak_rss"]),
            f"{values['fit_rss_growth'] / mib:.1f}",
            f"{values['python_peak'] / kib:.0f}",
            _ratio(ratio["python_peak"]),
        ]

    rows = [["—", "raw", *cells(results["raw"]["bytes"], None)]]
    for row in results["results"]:
        rows.append([row["variant"], row["framework"], *cells(row["bytes"], row["ratio_to_raw"])])
    header = [
        "variant",
        "loop",
        "peak RSS in fit, MiB",
        "× raw",
        "RSS growth in fit, MiB",
        "Python peak in fit, KiB",
        "× raw",
    ]
    config = results["config"]
    notes = f"{config['steps']} steps, medians of {config['repeats']} fresh processes"
    return markdown_table(header, rows) + "\n\n" + notes


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--child", nargs=3, metavar=("LOOP", "VARIANT", "STEPS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        loop, variant, steps = args.child
        print(json.dumps(child(loop, variant, int(steps))))
        return None
    results = run(args.steps, args.repeats, [f for f in args.frameworks.split(",") if f])
    print(format_results(results))
    if args.json:
        write_json(results, args.json)
    return results


if __name__ == "__main__":
    main()
