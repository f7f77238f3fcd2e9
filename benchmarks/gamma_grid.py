"""The γ × seed grid in one compiled call against one call per γ.

    python benchmarks/gamma_grid.py --problem robo --method qbc --preset smoke
    python benchmarks/gamma_grid.py --problem robo --method gsx --preset paper --steps 2

Times, in one process: (a) the whole grid as one compiled call
(`jdal.parallel.GridRunner`), (b) every γ as its own (`device/gamma_grid.py`'s
`separate_call`, the device suite's measure); compile and run apart. Also
compares what they compute: the largest relative MSE difference and how many runs
and steps picked the same batches (float rounding differs between batch shapes and
can flip a near-tied pick, after which that run differs). Results go to
benchmarks/results/gamma_grid_<problem>_<method>_<preset>_<lanes>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np
from device.gamma_grid import compare_grid, separate_call

import jdal
from jdal import config as jconfig
from jdal import results
from jdal.parallel import GridRunner


def timed(fn):
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="robo", choices=jdal.problems.names())
    parser.add_argument("--method", default="qbc")
    parser.add_argument("--preset", default="smoke", choices=list(jconfig.PRESETS))
    parser.add_argument("--gammas", default=",".join(map(str, jconfig.GAMMAS)))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None, help="default: preset's")
    parser.add_argument(
        "--lanes",
        default="auto",
        choices=("auto", "vmap", "map"),
        help="see jdal.parallel",
    )
    parser.add_argument("--out", default=None)
    jdal.compile_cache.add_flag(parser)
    args = parser.parse_args(argv)
    compile_cache = jdal.compile_cache.enable(args.compilation_cache)
    gammas = [int(g) for g in args.gammas.split(",")]
    cfg = jconfig.preset(args.preset, problem=args.problem, method=args.method)
    if args.steps is not None:
        cfg = cfg.replace(steps=args.steps)
    keys = jdal.seed_keys(range(args.seeds))

    # The grid first: each γ alone is then compared with the grid's runs of it, by
    # the device suite's own measure (device/gamma_grid.py).
    grid = GridRunner(cfg, gammas, lanes=args.lanes)
    _, grid_compile = timed(lambda: grid.compile(keys))
    out, grid_run = timed(lambda: grid(keys))
    grid_mse = np.asarray(out.mse)
    grid_picks = np.sort(np.asarray(out.picked_x), axis=3)
    entry = {
        "gammas": gammas,
        "seeds": args.seeds,
        "grid": {"compile_s": grid_compile, "run_s": grid_run},
        "separate": [
            separate_call(cfg, gamma, keys, args.lanes, grid_mse[i], grid_picks[i])
            for i, gamma in enumerate(gammas)
        ],
    }
    comparison = compare_grid(entry)
    separate = {
        "compile_s": comparison["separate_compile_s"],
        "run_s": comparison["separate_run_s"],
    }

    report = dict(
        compilation_cache=None if compile_cache is None else str(compile_cache),
        problem=args.problem,
        method=args.method,
        preset=args.preset,
        gammas=gammas,
        seeds=args.seeds,
        steps=cfg.steps,
        lanes=grid.lanes,
        separate=separate,
        grid=dict(
            compile_s=grid_compile,
            run_s=grid_run,
            chunk_size=grid.chunk_size,
            program_bytes=grid.program_bytes,
        ),
        compile_ratio_grid_over_separate=comparison["compile_ratio_grid_over_separate"],
        run_ratio_grid_over_separate=comparison["run_ratio_grid_over_separate"],
        total_ratio_grid_over_separate=comparison["total_ratio_grid_over_separate"],
        max_relative_mse_difference=comparison["max_relative_mse_difference"],
        fraction_of_steps_with_same_picks=comparison[
            "fraction_of_steps_with_same_picks"
        ],
        runs_with_all_picks_the_same=comparison["runs_with_all_picks_the_same"],
        runs=comparison["runs_compared"],
        per_gamma=entry["separate"],
        device_kind=jax.devices()[0].device_kind,
        n_devices=jax.device_count(),
        host=platform.node(),
        cpu_count=os.cpu_count(),
        jax=jax.__version__,
    )
    out_path = Path(
        args.out
        or f"benchmarks/results/gamma_grid_{args.problem}_{args.method}_"
        f"{args.preset}_{grid.lanes}.json"
    )
    results.write_json(out_path, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
