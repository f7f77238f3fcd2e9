"""What each method costs per AL step on top of random sampling, on one machine.

    python benchmarks/method_overhead.py --problem robo --gamma 4 --preset quick
    python benchmarks/method_overhead.py --problem sine --gamma 64 --methods qbc,bald

Every method's whole compiled run (seeds vmapped) is compiled first, then timed in
rounds: random, every method once, random again (the two random timings show the
drift of the machine during the round; random gets one untimed warm-up call first).
The best of `--rounds` is kept. Per AL step
means the run's wall time / T; "extra" is that minus random's, "ratio" the quotient.
Results go to benchmarks/results/overhead_<problem>_gamma<γ>_<preset>.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_al  # noqa: E402

import jdal  # noqa: E402
from jdal import config as jconfig  # noqa: E402
from jdal import results  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="robo", choices=jdal.problems.names())
    parser.add_argument("--gamma", type=int, default=16)
    parser.add_argument("--preset", default="quick", choices=list(jconfig.PRESETS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None, help="default: preset's")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--methods",
        default=None,
        help="comma-separated (default every registered method); random is added",
    )
    parser.add_argument("--out", default=None)
    jdal.compile_cache.add_flag(parser)
    args = parser.parse_args(argv)
    compile_cache = jdal.compile_cache.enable(args.compilation_cache)
    methods = args.methods.split(",") if args.methods else jdal.acquisitions.names()
    for method in methods:
        jdal.acquisitions.get(method)  # clear error for an unknown name
    methods = ["random"] + [m for m in methods if m != "random"]

    configs = {}
    for method in methods:
        cfg = jconfig.preset(
            args.preset, problem=args.problem, method=method, gamma=args.gamma
        )
        if args.steps is not None:
            cfg = cfg.replace(steps=args.steps)
        configs[method] = cfg.validate()
    steps = configs["random"].steps

    compiled, compile_s = {}, {}
    for method in methods:
        fn, keys, seconds = bench_al.compile_run(configs[method], args.seeds)
        compiled[method], compile_s[method] = (fn, keys), seconds
        print(f"compiled {method} in {seconds:.1f} s", file=sys.stderr, flush=True)

    walls = {method: [] for method in methods}
    random_drift = []
    bench_al.time_call(*compiled["random"])  # warm-up: first-call costs, untimed
    for _ in range(args.rounds):
        first_random = bench_al.time_call(*compiled["random"])
        walls["random"].append(first_random)
        for method in methods[1:]:
            walls[method].append(bench_al.time_call(*compiled[method]))
            print(f"timed {method}: {walls[method][-1]:.1f} s", file=sys.stderr)
        last_random = bench_al.time_call(*compiled["random"])
        walls["random"].append(last_random)
        random_drift.append(last_random / first_random)

    random_step = min(walls["random"]) / steps
    rows = {}
    for method in methods:
        step = min(walls[method]) / steps
        rows[method] = dict(
            compile_s=compile_s[method],
            wall_s=min(walls[method]),
            all_wall_s=walls[method],
            seconds_per_al_step=step,
            extra_seconds_per_al_step=step - random_step,
            ratio_to_random=step / random_step,
        )
    report = dict(
        compilation_cache=None if compile_cache is None else str(compile_cache),
        problem=args.problem,
        gamma=args.gamma,
        preset=args.preset,
        seeds=args.seeds,
        steps=steps,
        rounds=args.rounds,
        random_drift_last_over_first=random_drift,
        device=str(jax.devices()[0]),
        device_kind=jax.devices()[0].device_kind,
        host=platform.node(),
        cpu_count=os.cpu_count(),
        jax=jax.__version__,
        note="per AL step = run wall time / T, all seeds vmapped in one call",
        methods=rows,
    )
    out = Path(
        args.out
        or f"benchmarks/results/overhead_{args.problem}_gamma{args.gamma}_"
        f"{args.preset}.json"
    )
    results.write_json(out, report)

    print(
        f"{args.problem}, γ = {args.gamma}, {args.preset} preset, {args.seeds} seeds "
        f"vmapped, T = {steps}; {jax.devices()[0].device_kind}, "
        f"{os.cpu_count()} cores"
    )
    header = ("method", "compile s", "s/AL step", "extra s", "ratio")
    print("{:<12} {:>9} {:>9} {:>8} {:>6}".format(*header))
    for method, row in rows.items():
        print(
            f"{method:<12} {row['compile_s']:>9.1f} {row['seconds_per_al_step']:>9.3f} "
            f"{row['extra_seconds_per_al_step']:>+8.3f} {row['ratio_to_random']:>6.2f}"
        )
    print(f"random drift over the round (last / first): {random_drift}; json: {out}")


if __name__ == "__main__":
    main()
