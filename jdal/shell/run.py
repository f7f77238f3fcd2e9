"""Runs every method on one problem at one pool ratio and compares them with random.

    python experiments/run.py --problem robo --gamma 16 --preset smoke
    python experiments/run.py --problem sine --gamma 4 --methods qbc,gsx --seeds 3

Each method is one compiled call for all seeds (`--lanes`). Cells are saved under
<out>/<problem>/<method>/gamma_<γ>/ (jdal.results) and reused when their config hash
and seeds match, so re-running is instant. Random always runs: it is the baseline of
nAUC and nDiv. The `mse` oracle reference is shown apart, marked "(reference)".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from jdal import acquisitions, metrics, parallel, problems, results

from . import cells, flags, plots, text, timing
from .names import method_label, method_order


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Run DAL methods on one problem and pool ratio; print a table "
        "against random sampling and plot the MSE curves.",
    )
    parser.add_argument(
        "--problem",
        required=True,
        type=flags.problem_name,
        help="benchmark problem: one of "
        f"{','.join(problems.names())}; a measured data set: "
        f"{','.join(problems.measured_names())}; a PDE problem: "
        f"{','.join(problems.pde_names())}; or your own: a data file (data.csv, "
        "data.csv:target=4,5, data.npz) or an import path (package.module:attribute, "
        "path/to/file.py:attribute)",
    )
    parser.add_argument(
        "--gamma",
        type=flags.positive_int,
        required=True,
        help="pool ratio γ = pool size / k (integer >= 1)",
    )
    parser.add_argument(
        "--methods",
        type=flags.name_list("method", acquisitions.names),
        default=None,
        help="comma-separated methods (default: every registered one; "
        f"now {','.join(acquisitions.names())})",
    )
    flags.add_config_flags(parser, default_out="results/run")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    flags.enable_compilation_cache(args)
    start = time.perf_counter()
    requested = args.methods or [
        m for m in acquisitions.names() if flags.method_applies(args.problem, m)
    ]
    note = flags.left_out_note(args.problem)
    if note and not args.methods:
        print(note)
    methods = method_order(set(requested) | {"random"})
    configs = {
        method: flags.make_config(parser, args, args.problem, method, args.gamma)
        for method in methods
    }
    seeds = list(range(args.seeds))
    outcomes = {}
    try:
        with tqdm(methods, desc=f"{args.problem} γ={args.gamma}", unit="method") as bar:
            for method in bar:
                bar.set_postfix_str(method)
                outcomes[method] = cells.ensure_cell(
                    args.out,
                    configs[method],
                    seeds,
                    tqdm.write,
                    args.lanes,
                )
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; {len(outcomes)} of {len(methods)} cells kept under "
            f"{args.out}, run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    except (cells.NonFiniteLabelsError, parallel.RunTooLargeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    baseline = outcomes["random"].cell
    cfg = configs["random"]
    print(
        f"\n{args.problem}, γ = {args.gamma}, preset {args.preset}: "
        f"{len(seeds)} seeds, N0 = {cfg.n_initial}, k = {cfg.k}, T = {cfg.steps} "
        f"(n = {cfg.n_initial}..{cfg.n_final}), {cfg.train_steps} gradient steps\n"
        f"devices: {results.describe_device()}"
    )
    rows, reference_rows = [], []
    random_step_s = timing.seconds_per_step(baseline)
    for method in methods:
        outcome = outcomes[method]
        scored = metrics.score(outcome.cell, baseline)
        low, high = scored.nauc_per_seed.min(), scored.nauc_per_seed.max()
        step_s = timing.seconds_per_step(outcome.cell)
        mean, std = scored.final_mse_mean, scored.final_mse_std
        row = [
            method_label(method, scored.reference),
            f"{text.fmt(mean)} ± {text.fmt(std)}",
            f"{scored.nauc:.3f} [{low:.3f}, {high:.3f}]",
            f"{scored.ndiv:.3f}",
            f"{outcome.cell.meta.get('timing', {}).get('compile_s', float('nan')):.1f}",
            f"{step_s:.3f}",
            f"{step_s - random_step_s:+.3f}",
            "computed" if outcome.ran else "reused",
        ]
        (reference_rows if scored.reference else rows).append(row)
    headers = [
        "method",
        "final test MSE (mean ± std)",
        "nAUC [per-seed min, max]",
        "nDiv",
        "compile s",
        "s/AL step",
        "vs random",
        "cell",
    ]
    table_rows = rows + ([None, *reference_rows] if reference_rows else [])
    print(text.format_table(headers, table_rows))
    print(
        "nAUC: area under the seed-mean MSE curve / random's (< 1 beats random); "
        "nDiv: batch diversity / random's (well below 1: mode collapse); "
        "s/AL step: compiled run time / T, all seeds together, and its difference "
        "from random's (cells computed on another machine or under load differ)."
    )

    (plot,) = plots.curves_figure(
        [outcome.cell for outcome in outcomes.values()],
        f"{args.problem}, pool ratio γ = {args.gamma} ({args.preset} preset)",
        Path(args.out) / f"{args.problem}_gamma{args.gamma}_mse",
        size=(6.4, 4.4),
    )
    ran = sum(outcome.ran for outcome in outcomes.values())
    print(
        f"cells: {ran} computed, {len(outcomes) - ran} reused, under {args.out}; "
        f"plot: {plot}; wall time {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
