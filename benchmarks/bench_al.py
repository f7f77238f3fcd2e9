"""Benchmark of the compiled AL run: compile time, time per AL step, useful FLOP/s.

    python benchmarks/bench_al.py --problem robo --method qbc --preset quick
    python benchmarks/bench_al.py --problem stack --preset paper --steps 3 --seeds 5
    python benchmarks/bench_al.py --problem robo --preset smoke \
        --compare train_buckets=1 train_buckets=6

Useful FLOPs count only valid labelled rows: 6 x parameters x rows per gradient step
(forward + backward of a dense net), summed over members, gradient steps and AL
steps. A run of T steps performs T + 1 trainings. With --steps smaller than the
preset's, the time per AL step is measured on the first steps and the full run is
extrapolated by the useful-FLOP ratio (later steps train on more rows). Results go
to a JSON file (default benchmarks/results/<problem>_<method>_<preset>.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import jax

import jdal
from jdal import config as jconfig
from jdal import results
from jdal.cost import device_peak, useful_flops


def peak_memory_bytes() -> int | None:
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return int(stats["peak_bytes_in_use"])
    if jax.devices()[0].platform == "cpu":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return None


def compile_run(cfg: jconfig.Config, seeds: int):
    keys = jdal.seed_keys(range(seeds))
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(jdal.make_run(cfg))).lower(keys).compile()
    return compiled, keys, time.perf_counter() - start


def time_call(compiled, keys) -> float:
    start = time.perf_counter()
    jax.block_until_ready(compiled(keys))
    return time.perf_counter() - start


def measure(cfg: jconfig.Config, seeds: int, repeats: int) -> dict:
    """Compiles and times the run of `cfg` (seeds vmapped); returns the figures."""
    compiled, keys, compile_s = compile_run(cfg, seeds)
    wall = min(time_call(compiled, keys) for _ in range(repeats))
    flops = useful_flops(cfg, cfg.steps) * seeds
    peak = device_peak(cfg.precision)
    tflops = flops / wall / 1e12
    return dict(
        compile_s=compile_s,
        wall_s=wall,
        al_steps=cfg.steps + 1,
        seconds_per_al_step_per_run=wall / (cfg.steps + 1) / seeds,
        useful_tflop=flops / 1e12,
        useful_tflops_per_s=tflops,
        fraction_of_peak=None if peak is None else tflops / peak,
        peak_tflops=peak,
        peak_memory_bytes=peak_memory_bytes(),
    )


def parse_changes(items: list[str]) -> dict:
    """key=value strings -> Config changes, values parsed as Python literals."""
    import ast

    fields = jconfig.Config.__dataclass_fields__
    changes = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in fields:
            raise SystemExit(
                f"unknown Config field {key!r}; fields: {', '.join(fields)}"
            )
        try:
            changes[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            changes[key] = value
    return changes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="robo", choices=jdal.problems.names())
    parser.add_argument(
        "--method", default="qbc", choices=list(jdal.acquisitions.ACQUISITIONS)
    )
    parser.add_argument("--preset", default="quick", choices=list(jconfig.PRESETS))
    parser.add_argument("--gamma", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="AL steps to time (default: the preset's); extrapolated",
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="extra Config changes for the measured run",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar="CHANGES",
        default=None,
        help="two comma-separated FIELD=VALUE lists, timed alternately",
    )
    parser.add_argument("--out", default=None)
    jdal.compile_cache.add_flag(parser)
    args = parser.parse_args(argv)
    compile_cache = jdal.compile_cache.enable(args.compilation_cache)

    base = jconfig.preset(
        args.preset,
        problem=args.problem,
        method=args.method,
        gamma=args.gamma,
        **parse_changes(args.set),
    ).validate()
    full_steps = base.steps
    if args.steps is not None:
        base = base.replace(steps=args.steps).validate()

    report = dict(
        compilation_cache=None if compile_cache is None else str(compile_cache),
        problem=args.problem,
        method=args.method,
        preset=args.preset,
        gamma=args.gamma,
        seeds=args.seeds,
        config=base.to_dict(),
        device=str(jax.devices()[0]),
        device_kind=jax.devices()[0].device_kind,
        n_devices=jax.device_count(),
        host=platform.node(),
        cpu_count=os.cpu_count(),
        jax=jax.__version__,
    )
    if args.compare is None:
        figures = measure(base, args.seeds, args.repeats)
        full = useful_flops(base.replace(steps=full_steps), full_steps)
        measured = useful_flops(base, base.steps)
        figures["extrapolated_full_run_s"] = figures["wall_s"] * full / measured
        report.update(figures)
    else:
        variants = [
            base.replace(**parse_changes(c.split(","))).validate() for c in args.compare
        ]
        compiled = [compile_run(cfg, args.seeds) for cfg in variants]
        times = [[], []]
        for _ in range(args.repeats):
            for i, (fn, keys, _) in enumerate(compiled):
                times[i].append(time_call(fn, keys))
        best = [min(t) for t in times]
        report["compare"] = dict(
            variants=args.compare,
            compile_s=[c[2] for c in compiled],
            wall_s=best,
            all_wall_s=times,
            ratio_second_over_first=best[1] / best[0],
        )
    out = Path(
        args.out
        or f"benchmarks/results/{args.problem}_{args.method}_{args.preset}.json"
    )
    results.write_json(out, report)
    json.dump({k: v for k, v in report.items() if k != "config"}, sys.stdout, indent=2)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
