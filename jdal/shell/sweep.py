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

Many workers (GPUs, hosts, a job array) split one sweep with `--shard I/N` (1-based):
each runs the same command with its own I into one shared folder, and report.py
reads the union. The split deals whole (problem, method) groups and depends on the
flags only (`shell.shards`); the atomic cell protocol keeps workers that share a
folder from ever reading or pairing a partial cell. `--dry-run` lists every cell
with its status, shard and estimated work, and computes nothing.

    python experiments/sweep.py --preset paper --shard 2/4 --out /shared/paper
    python experiments/sweep.py --preset paper --shard 2/4 --dry-run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict

import jax
from tqdm import tqdm

from jdal import acquisitions, config, parallel, problems, results

from . import cells, flags, shards, text
from .names import method_order


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep.py",
        description="Run every (problem, method, γ) cell; skips finished cells.",
    )
    parser.add_argument(
        "--problems",
        type=flags.problem_list,
        default=None,
        help="comma-separated problems (default the study's eight: "
        f"{','.join(problems.STUDY)}); the measured data sets by name "
        f"({','.join(problems.MEASURED)}) and the PDE problems "
        f"({','.join(problems.PDE)}) by name; your own too: a data file or an import "
        "path, as run.py --problem takes (methods that synthesise points are left "
        "out on a data file)",
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
    parser.add_argument(
        "--shard",
        type=shards.parse_shard,
        default=None,
        metavar="I/N",
        help="compute only worker I's share of N (1-based, 1 <= I <= N): whole "
        "(problem, method) groups, dealt by estimated work; every worker gets the "
        "same flags and --out (default: everything)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list every cell with its status, shard and estimated work; compute "
        "nothing",
    )
    flags.add_config_flags(parser, default_out="results/sweep")
    return parser


def plan(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> list[config.Config]:
    """Every cell config; gamma-free methods once per problem (validated up front)."""
    methods = method_order(set(args.methods or acquisitions.names()) | {"random"})
    cfgs = []
    for problem in args.problems or problems.STUDY:
        for method in methods:
            if not flags.method_applies(problem, method):
                continue
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


def _recorded_seconds(out, cfg: config.Config) -> float | None:
    """total_s of a finished cell's meta.json, or None."""
    path = results.cell_folder(out, cfg) / results.META_FILE
    try:
        return float(json.loads(path.read_text())["timing"]["total_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def dry_run(args, cfgs: list[config.Config], seeds: list[int], owner: dict) -> int:
    """Prints every cell (status, shard, work, estimated seconds) and one line per
    shard; computes nothing. A finished cell shows its recorded total_s; one to
    compute, the mean recorded total_s of finished cells of the same (problem,
    method), else of the same problem (cells of one problem do the same training
    work), else n/a, scaled to the seeds it runs (a saved cell with some of the
    seeds runs only those it lacks: status "+N seeds")."""
    index, count = args.shard or (1, 1)
    found = [results.inspect_cell(args.out, cfg, seeds).status for cfg in cfgs]
    recorded = [
        _recorded_seconds(args.out, cfg) if status == "done" else None
        for cfg, status in zip(cfgs, found, strict=True)
    ]
    known: dict = {}
    for cfg, seconds in zip(cfgs, recorded, strict=True):
        if seconds is not None:
            known.setdefault(shards.group_key(cfg), []).append(seconds)
            known.setdefault(cfg.problem, []).append(seconds)

    rows = []
    shard_rows = {
        shard: {"groups": set(), "cells": 0, "todo": 0, "tflop": 0.0, "s": 0.0,
                "unknown": 0}
        for shard in range(1, count + 1)
    }  # fmt: skip
    for cfg, status, seconds in zip(cfgs, found, recorded, strict=True):
        shard = owner[shards.group_key(cfg)]
        n_run = len(seeds)
        if status != "done":
            # A saved cell with some of the seeds runs only the ones it lacks.
            n_run = len(cells.seeds_to_run(args.out, cfg, seeds))
            if n_run < len(seeds):
                status = f"+{n_run} seeds"
            same = known.get(shards.group_key(cfg)) or known.get(cfg.problem)
            seconds = statistics.mean(same) * n_run / len(seeds) if same else None
        work = shards.cell_work(cfg, n_run)
        rows.append(
            [
                cfg.problem,
                cfg.method,
                "any" if cfg.gamma is None else str(cfg.gamma),
                status,
                f"{shard}/{count}",
                f"{n_run} x {cfg.steps + 1}",
                text.fmt(work.tflop),
                "n/a" if seconds is None else f"{seconds:.1f}",
            ]
        )
        total = shard_rows[shard]
        total["groups"].add(shards.group_key(cfg))
        total["cells"] += 1
        if status != "done":
            total["todo"] += 1
            total["tflop"] += work.tflop
            total["s"] += seconds or 0.0
            total["unknown"] += seconds is None
    print(
        f"dry run: {len(cfgs)} cells under {args.out}, {len(seeds)} seeds, preset "
        f"{args.preset}, {count} shard(s); nothing is computed"
    )
    headers = ["problem", "method", "γ", "status", "shard", "seeds x trainings"]
    headers += ["useful TFLOP", "est. s"]
    print(text.format_table(headers, rows))
    print()
    summary = []
    for shard, total in shard_rows.items():
        seconds = f"{total['s']:.1f}"
        if total["unknown"] == total["todo"]:
            seconds = "n/a" if total["todo"] else "0"
        elif total["unknown"]:
            seconds += f" + {total['unknown']} cells unknown"
        this = " (this worker)" if args.shard is not None and shard == index else ""
        summary.append(
            [
                f"{shard}/{count}{this}",
                str(len(total["groups"])),
                str(total["cells"]),
                str(total["todo"]),
                text.fmt(total["tflop"]),
                seconds,
            ]
        )
    headers = ["shard", "(problem, method) groups", "cells", "to compute"]
    headers += ["useful TFLOP to compute", "est. s to compute"]
    print(text.format_table(headers, summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    flags.enable_compilation_cache(args)  # before anything compiles
    start = time.perf_counter()
    cfgs = plan(parser, args)
    seeds = list(range(args.seeds))
    owner = None
    if args.shard is not None or args.dry_run:
        index, count = args.shard or (1, 1)
        owner = shards.assign(cfgs, count, len(seeds))
    if args.dry_run:
        return dry_run(args, cfgs, seeds, owner)
    if args.shard is not None:
        mine = [cfg for cfg in cfgs if owner[shards.group_key(cfg)] == index]
        print(
            f"shard {index}/{count}: {len(mine)} of {len(cfgs)} cells "
            f"({len(set(map(shards.group_key, mine)))} of {len(owner)} "
            "(problem, method) groups)"
        )
        cfgs = mine
    found = [results.inspect_cell(args.out, cfg, seeds) for cfg in cfgs]
    todo = [cfg for cfg, f in zip(cfgs, found, strict=True) if f.status != "done"]
    counts = {s: sum(f.status == s for f in found) for s in results.STATUSES}
    print(
        f"{len(cfgs)} cells under {args.out}: {counts['done']} done (skipped), "
        f"{counts['missing']} missing, {counts['stale']} stale (config changed), "
        f"{counts['corrupt']} corrupt"
    )
    for cfg, f in zip(cfgs, found, strict=True):
        if f.status == "corrupt":
            print(f"  corrupt, will recompute: {f.detail}")
        elif f.status == "stale":
            missing = cells.seeds_to_run(args.out, cfg, seeds)
            if len(missing) < len(seeds):
                print(f"  fewer seeds, will add seeds {missing}: {f.detail}")
            else:
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
                # Cells saved with some of the seeds run only the seeds they lack;
                # the γ of a group that lack the same seeds run in one call.
                by_missing = defaultdict(list)
                for cfg in pending:
                    missing = cells.seeds_to_run(args.out, cfg, seeds)
                    by_missing[tuple(missing)].append(cfg)
                for missing, part in by_missing.items():
                    computed = cells.compute_cells(part, list(missing), args.lanes)
                    for cfg, (arrays, meta) in zip(part, computed, strict=True):
                        if len(missing) < len(seeds):
                            arrays, meta = cells.merge_seeds(
                                args.out, cfg, seeds, arrays, meta
                            )
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
