"""Runs the benchmark grid problem x method x γ, resumably.

    python experiments/sweep.py --preset quick --problems sine,robo --gammas 2,8,32
    python experiments/report.py results/sweep

Methods that ignore γ (random, query synthesis) run once per problem. Random always
runs: every metric is relative to it. A cell whose results are on disk with the same
config hash and seeds is skipped; a stale one (config changed) or corrupt one is
recomputed. Cells are written atomically, so a sweep killed at any moment (Ctrl-C,
kill -9) resumes with every finished cell intact: run the same command again.

With `--gamma-grid on` (the default, except with vmap lanes on a CPU) every γ of a
(problem, method) is computed in one compiled call (the γ × seed grid,
`jdal.parallel.GridRunner`): one compile instead of one per γ. Its cells
are saved together when the call returns, so an interruption loses at most that
group's work. `off` computes cell by cell.
"""

from __future__ import annotations

import argparse
import sys
import time

import jax
from shell import cells, flags, tables
from tqdm import tqdm

from jdal import acquisitions, config, parallel, problems, results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep.py",
        description="Run every (problem, method, γ) cell; skips finished cells.",
    )
    parser.add_argument(
        "--problems",
        type=flags.name_list("problem", problems.names),
        default=None,
        help=f"comma-separated problems (default all: {','.join(problems.names())})",
    )
    parser.add_argument(
        "--methods",
        type=flags.name_list("method", acquisitions.names),
        default=None,
        help="comma-separated methods (default every registered one; random is "
        "always added)",
    )
    parser.add_argument(
        "--gammas",
        type=flags.int_list,
        default=list(config.GAMMAS),
        help="comma-separated pool ratios, integers >= 1 (default "
        f"{','.join(map(str, config.GAMMAS))})",
    )
    parser.add_argument(
        "--gamma-grid",
        choices=("auto", "on", "off"),
        default="auto",
        help="compute all γ of a (problem, method) in one compiled call (on) or "
        "one call per γ (off); auto (default): on, except with vmap lanes on a "
        "CPU, where the padded grid measured slower",
    )
    flags.add_config_flags(parser, default_out="results/sweep")
    return parser


def plan(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> list[config.Config]:
    """Every cell config; gamma-free methods once per problem (validated up front)."""
    methods = tables.method_order(
        set(args.methods or acquisitions.names()) | {"random"}
    )
    cfgs = []
    for problem in args.problems or problems.names():
        for method in methods:
            uses_pool = acquisitions.get(method).uses_pool
            for gamma in args.gammas if uses_pool else [None]:
                cfgs.append(flags.make_config(parser, args, problem, method, gamma))
    return cfgs


def use_gamma_grid(choice: str, lanes: str) -> bool:
    """--gamma-grid: auto is on, except with vectorised lanes on a CPU, where the
    padded grid measured slower than one call per γ (README, Benchmarks)."""
    if choice != "auto":
        return choice == "on"
    resolved = parallel.resolve_lanes(lanes, jax.local_device_count())
    return not (jax.default_backend() == "cpu" and resolved == "vmap")


def groups(cfgs: list[config.Config], gamma_grid: bool) -> list[list[config.Config]]:
    """Cells computed together: with `gamma_grid`, every γ of a (problem, method) in
    one compiled call (a method that ignores γ has one cell); else one by one."""
    if not gamma_grid:
        return [[cfg] for cfg in cfgs]
    grouped: dict[tuple, list[config.Config]] = {}
    for cfg in cfgs:
        grouped.setdefault((cfg.problem, cfg.method), []).append(cfg)
    return list(grouped.values())


def group_name(group: list[config.Config]) -> str:
    """`problem/method/γ=2,8`, or `γ any` for a method that ignores γ."""
    first = group[0]
    gammas = ",".join(str(cfg.gamma) for cfg in group)
    gammas = "γ any" if first.gamma is None else f"γ={gammas}"
    return f"{first.problem}/{first.method}/{gammas}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    flags.enable_compilation_cache(args)
    start = time.perf_counter()
    cfgs = plan(parser, args)
    seeds = list(range(args.seeds))
    found = [results.inspect_cell(args.out, cfg, seeds) for cfg in cfgs]
    todo = [cfg for cfg, f in zip(cfgs, found, strict=True) if f.status != "done"]
    counts = {s: sum(f.status == s for f in found) for s in results.STATUSES}
    print(
        f"{len(cfgs)} cells under {args.out}: {counts['done']} done (skipped), "
        f"{counts['missing']} missing, {counts['stale']} stale (config changed), "
        f"{counts['corrupt']} corrupt"
    )
    for f in found:
        if f.status == "corrupt":
            print(f"  corrupt, will recompute: {f.detail}")
        elif f.status == "stale":
            print(f"  stale, will recompute: {f.detail}")

    ran, skipped = 0, counts["done"]
    try:
        with tqdm(
            total=len(cfgs), initial=counts["done"], desc="cells", unit="cell"
        ) as bar:
            grid = use_gamma_grid(args.gamma_grid, args.lanes)
            for group in groups(todo, grid):
                # Another sweep on the same folder may have finished some meanwhile.
                pending = [
                    cfg
                    for cfg in group
                    if results.inspect_cell(args.out, cfg, seeds).status != "done"
                ]
                skipped += len(group) - len(pending)
                bar.update(len(group) - len(pending))
                if not pending:
                    continue
                bar.set_postfix_str(group_name(pending))
                computed = cells.compute_cells(pending, seeds, args.lanes)
                for cfg, (arrays, meta) in zip(pending, computed, strict=True):
                    results.save_cell(args.out, cfg, arrays, meta)
                    ran += 1
                    bar.update(1)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: {ran} cells finished and saved this time; run the same "
            "command again to resume",
            file=sys.stderr,
        )
        return 130
    except (cells.NonFiniteLabelsError, parallel.RunTooLargeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - start
    print(
        f"ran {ran} cells, skipped {skipped} (already done) of {len(cfgs)} "
        f"in {wall:.1f} s; results in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
