"""Per-step time of the reference and Lightning, as ratios to a raw PyTorch loop in the same run.

Method (see docs/benchmarks.md): one thread; the workload of :mod:`bench.workload`; a warm-up
run of every loop, then ``rounds`` interleaved rounds — for each variant the raw loop, then each
framework — so that drift on the machine hits every loop alike; medians over rounds; ratios of
medians against the raw loop's median. Progress bar, checkpointing and model summary are off.

    python bench/step_time.py [--rounds 11] [--steps 2000] [--json results.json]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench.machine import machine_info  # noqa: E402
from bench.report import markdown_table, median, write_json  # noqa: E402
from bench.workload import (  # noqa: E402
    BATCH,
    FRAMEWORKS,
    STEPS,
    VARIANTS,
    VARIANTS_BY_NAME,
    Timing,
    Variant,
    benchmark_settings,
    import_framework,
    make_loader,
    time_framework_loop,
    time_raw_closure_loop,
    time_raw_loop,
)

MEASURES = ("fit_cpu", "fit_wall", "loop_cpu", "loop_wall")
WARMUP_STEPS = 200


def run(
    steps: int = STEPS,
    rounds: int = 11,
    frameworks: Sequence[str] = FRAMEWORKS,
    variants: Sequence[Variant] = VARIANTS,
    warmup: bool = True,
    on_round: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Measure, and return the results (medians per step in µs, ratios to the raw loop)."""
    if steps < 1 or rounds < 1:
        raise ValueError(f"steps and rounds must be >= 1, got steps={steps}, rounds={rounds}")
    with benchmark_settings():
        return _measure(steps, rounds, frameworks, variants, warmup, on_round)


def _measure(
    steps: int,
    rounds: int,
    frameworks: Sequence[str],
    variants: Sequence[Variant],
    warmup: bool,
    on_round: Callable[[int], None] | None,
) -> dict[str, Any]:
    loaded = [(name, module) for name in frameworks if (module := import_framework(name))]
    missing = [name for name in frameworks if name not in dict(loaded)]
    loader = make_loader(steps)

    if warmup:  # lazy imports, first allocations and bytecode compilation stay out of the rounds
        warm_loader = make_loader(min(steps, WARMUP_STEPS))
        time_raw_loop(warm_loader)
        time_raw_closure_loop(warm_loader)
        for variant in variants:
            for _, module in loaded:
                time_framework_loop(module, variant, warm_loader)

    raw: list[Timing] = []
    raw_closure: list[Timing] = []
    framework_samples: dict[tuple[str, str], list[Timing]] = {}
    for index in range(rounds):
        for position, variant in enumerate(variants):
            raw.append(time_raw_loop(loader))
            if position == 0:
                raw_closure.append(time_raw_closure_loop(loader))
            for name, module in loaded:
                sample = time_framework_loop(module, variant, loader)
                framework_samples.setdefault((variant.name, name), []).append(sample)
        if on_round is not None:
            on_round(index)

    raw_us = per_step_medians(raw, steps)
    closure_us = per_step_medians(raw_closure, steps)
    results = []
    for (variant_name, name), samples in framework_samples.items():
        us = per_step_medians(samples, steps)
        results.append(
            {
                "variant": variant_name,
                "framework": name,
                "samples": len(samples),
                "us_per_step": us,
                "ratio_to_raw": {m: us[m] / raw_us[m] for m in MEASURES},
            }
        )
    return {
        "benchmark": "step_time",
        "config": {
            "steps": steps,
            "batch": BATCH,
            "rounds": rounds,
            "threads": torch.get_num_threads(),
            "frameworks": [name for name, _ in loaded],
            "missing_frameworks": missing,
            "variants": {variant.name: variant.description for variant in variants},
        },
        "machine": machine_info(),
        "raw": {"samples": len(raw), "us_per_step": raw_us},
        "raw_closure": {
            "samples": len(raw_closure),
            "us_per_step": closure_us,
            "ratio_to_raw": {m: closure_us[m] / raw_us[m] for m in MEASURES},
        },
        "results": results,
    }


def per_step_medians(samples: Sequence[Timing], steps: int) -> dict[str, float]:
    """Median over runs of each measure, in µs per step."""
    return {m: median([getattr(s, m) for s in samples]) / steps * 1e6 for m in MEASURES}


def format_results(results: dict[str, Any]) -> str:
    header = [
        "variant",
        "loop",
        "fit µs/step",
        "fit × raw",
        "batch loop µs/step",
        "batch loop × raw",
        "fit × raw (wall)",
        "batch loop × raw (wall)",
    ]
    raw = results["raw"]["us_per_step"]
    one = "1.00×"
    rows: list[list[Any]] = [
        ["—", "raw", f"{raw['fit_cpu']:.1f}", one, f"{raw['loop_cpu']:.1f}", one, one, one]
    ]
    closure = results["raw_closure"]
    rows.append(
        ["—", "raw, closure form"]
        + [
            f"{closure['us_per_step']['fit_cpu']:.1f}",
            f"{closure['ratio_to_raw']['fit_cpu']:.2f}×",
            f"{closure['us_per_step']['loop_cpu']:.1f}",
            f"{closure['ratio_to_raw']['loop_cpu']:.2f}×",
            f"{closure['ratio_to_raw']['fit_wall']:.2f}×",
            f"{closure['ratio_to_raw']['loop_wall']:.2f}×",
        ]
    )
    for row in results["results"]:
        us, ratio = row["us_per_step"], row["ratio_to_raw"]
        rows.append(
            [
                row["variant"],
                row["framework"],
                f"{us['fit_cpu']:.1f}",
                f"{ratio['fit_cpu']:.2f}×",
                f"{us['loop_cpu']:.1f}",
                f"{ratio['loop_cpu']:.2f}×",
                f"{ratio['fit_wall']:.2f}×",
                f"{ratio['loop_wall']:.2f}×",
            ]
        )
    config = results["config"]
    notes = [
        f"{config['steps']} steps of batch {config['batch']}, {config['rounds']} interleaved"
        f" rounds, {config['threads']} thread; medians; µs are process CPU time per step",
    ]
    notes += [f"- {name}: {text}" for name, text in config["variants"].items()]
    if config["missing_frameworks"]:
        notes.append(f"not installed, not measured: {', '.join(config['missing_frameworks'])}")
    return markdown_table(header, rows) + "\n\n" + "\n".join(notes)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="optimizer steps per run")
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds (medians)")
    parser.add_argument(
        "--frameworks",
        default=",".join(FRAMEWORKS),
        help="comma-separated import names compared with the raw loop",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS_BY_NAME),
        help=f"comma-separated subset of {', '.join(VARIANTS_BY_NAME)}",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS_BY_NAME]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS_BY_NAME)}")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    results = run(
        steps=args.steps,
        rounds=args.rounds,
        frameworks=[f for f in args.frameworks.split(",") if f],
        variants=[VARIANTS_BY_NAME[v] for v in args.variants.split(",")],
        on_round=lambda i: print(f"round {i + 1}/{args.rounds} done", file=sys.stderr),
    )
    print(format_results(results))
    if args.json:
        write_json(results, args.json)
    return results


if __name__ == "__main__":
    main()
