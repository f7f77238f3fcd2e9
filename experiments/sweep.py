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
`jdal.parallel.make_gamma_grid_batch`): one compile instead of one per γ. Its cells
are saved together when the call returns, so an interruption loses at most that
group's work. `off` computes cell by cell.
"""

from __future__ import annotations

import argparse
import sys
import time

import _common
import jax
from tqdm import tqdm

from jdal import config, parallel, results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep.py",
        description="Run every (problem, method, γ) cell; skips finished cells.",
    )
    parser.add_argument(
        "--problems",
        type=_common.name_list("problem", _common.problem_names),
        default=None,
        help="comma-separated problems (default all: "
        f"{','.join(_common.problem_names())})",
    )
    parser.add_argument(
        "--methods",
        type=_common.name_list("method", _common.method_names),
        default=None,
        help="comma-separated methods (default every registered one; random is "
        "always added)",
    )
    parser.add_argument(
        "--gammas",
        type=_common.int_list,
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
    _common.add_config_flags(parser, default_out="results/sweep")
    return parser


def plan(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> list[config.Config]:
    """Every cell config; gamma-free methods once per problem (validated up front)."""
    problems = args.problems or _common.problem_names()
    methods = _common.method_order(
        set(args.methods or _common.method_names()) | {"random"}
    )
    cells: dict[tuple, config.Config] = {}
    for problem in problems:
        for method in methods:
            gammas = args.gammas if results.uses_pool(method) else args.gammas[:1]
            for gamma in gammas:
                cfg = _common.make_config(parser, args, problem, method, gamma)
                cells[(problem, method, cfg.gamma)] = cfg
    return list(cells.values())


def use_gamma_grid(choice: str, lanes: str) -> bool:
    """--gamma-grid: auto is on, except with vectorised lanes on a CPU. On the 2-core
    CPU (quick robo qbc, γ = 2..64, benchmarks/gamma_grid.py) the grid took 0.84x the
    time of one call per γ with map lanes, but 1.16x with vmap lanes."""
    if choice != "auto":
        return choice == "on"
    resolved = parallel.resolve_lanes(lanes, jax.local_device_count())
    return not (jax.default_backend() == "cpu" and resolved == "vmap")


def groups(cells: list[config.Config], gamma_grid: bool) -> list[list[config.Config]]:
    """Cells computed together: with `gamma_grid`, every γ of a (problem, method)
    that uses the pool in one compiled call; otherwise one cell at a time."""
    if not gamma_grid:
        return [[cfg] for cfg in cells]
    grouped: dict[tuple, list[config.Config]] = {}
    for cfg in cells:
        if results.uses_pool(cfg.method):
            grouped.setdefault((cfg.problem, cfg.method), []).append(cfg)
        else:
            grouped[(cfg.problem, cfg.method, cfg.gamma)] = [cfg]
    return list(grouped.values())


def cell_name(cfg: config.Config) -> str:
    gamma = f"γ={cfg.gamma}" if results.uses_pool(cfg.method) else "γ any"
    return f"{cfg.problem}/{cfg.method}/{gamma}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    cells = plan(parser, args)
    seeds = list(range(args.seeds))
    found = [results.inspect_cell(args.out, cfg, seeds) for cfg in cells]
    todo = [cfg for cfg, f in zip(cells, found, strict=True) if f.status != "done"]
    counts = {s: sum(f.status == s for f in found) for s in results.STATUSES}
    print(
        f"{len(cells)} cells under {args.out}: {counts['done']} done (skipped), "
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
            total=len(cells), initial=counts["done"], desc="cells", unit="cell"
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
                if len(pending) > 1:
                    first = pending[0]
                    gammas = ",".join(str(cfg.gamma) for cfg in pending)
                    bar.set_postfix_str(f"{first.problem}/{first.method}/γ={gammas}")
                    computed = _common.run_gamma_grid(pending, seeds, args.lanes)
                elif pending:
                    bar.set_postfix_str(cell_name(pending[0]))
                    computed = [_common.run_cell(pending[0], seeds, args.lanes)]
                else:
                    computed = []
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
    except _common.NonFiniteLabelsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - start
    print(
        f"ran {ran} cells, skipped {skipped} (already done) of {len(cells)} "
        f"in {wall:.1f} s; results in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
