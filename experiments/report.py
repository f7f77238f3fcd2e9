"""Figures and a Markdown summary from a results folder (run.py or sweep.py output).

    python experiments/report.py results/sweep --figures figures/

Writes, as PNG and PDF:
  mse_curves_<problem>     test MSE against labelled points, every method at one γ
  nauc_heatmap_<problem>   nAUC per method and γ (diverging colours, centred at 1)
  nauc_vs_ndiv             nAUC against nDiv for every cell, across problems
and summary.md (nAUC tables with bootstrap intervals, robust methods, best γ,
seconds per AL step) plus cells.csv (one row per seed of each cell the summary
scores: cells left out of the summary are left out of it too). The `mse` oracle is
labelled "(reference)". `score_cells` and `write_tables` give summary.md and
cells.csv without figures.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import warnings
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import _common
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import ticker
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.lines import Line2D

from jdal import metrics, results

NO_GAMMA = "no γ"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="report.py",
        description="Plot and summarise the results of run.py / sweep.py.",
    )
    parser.add_argument("out", help="results folder, e.g. results/sweep")
    parser.add_argument(
        "--figures",
        default="figures",
        help="folder for figures and summary.md (default figures/)",
    )
    parser.add_argument(
        "--gamma",
        type=_common.positive_int,
        default=None,
        help="γ of the MSE-curve figures (default: the middle γ available)",
    )
    parser.add_argument(
        "--formats",
        type=figure_formats,
        default=["png", "pdf"],
        help="figure formats (default png,pdf)",
    )
    return parser


def figure_formats(text: str) -> list[str]:
    """argparse type: comma-separated file formats matplotlib can write."""
    supported = FigureCanvasBase.get_supported_filetypes()
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in supported]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"unsupported format {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(supported))}"
        )
    return formats


def problem_order(names) -> list[str]:
    known = [p for p in _common.problem_names() if p in names]
    return known + sorted(set(names) - set(known))


def gamma_key(gamma: int | None) -> str:
    return NO_GAMMA if gamma is None else f"γ={gamma}"


# ---------------------------------------------------------------------------
# Figures.


def curves_figure(problem, cells, gamma, formats, folder) -> list[Path]:
    chosen = [c for c in cells if c.gamma in (gamma, None)]
    where = "methods that ignore γ" if gamma is None else f"pool ratio γ = {gamma}"
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    _common.plot_mse_curves(ax, chosen, f"{problem}: test MSE, {where}")
    return _common.save_figure(fig, folder / f"mse_curves_{problem}", formats)


def heatmap_figure(problem, scores, gammas, formats, folder) -> list[Path]:
    methods = _common.method_order({s.method for s in scores})
    columns = [gamma_key(g) for g in gammas]
    if any(s.gamma is None for s in scores):
        columns.append(NO_GAMMA)
    values = np.full((len(methods), len(columns)), np.nan)
    for s in scores:
        values[methods.index(s.method), columns.index(gamma_key(s.gamma))] = s.nauc
    finite = values[np.isfinite(values)]
    spread = max(float(np.max(np.abs(np.log(finite)))), np.log(1.05))
    norm = mcolors.TwoSlopeNorm(vmin=np.exp(-spread), vcenter=1.0, vmax=np.exp(spread))
    fig, ax = plt.subplots(
        figsize=(1.2 + 0.9 * len(columns), 1.4 + 0.42 * len(methods))
    )
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.92")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="auto")
    for (row, col), value in np.ndenumerate(values):
        if np.isfinite(value):
            strong = abs(np.log(value)) > 0.6 * spread
            ax.text(
                col,
                row,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if strong else "black",
            )
    reference = {s.method: s.reference for s in scores}
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(
        range(len(methods)), [_common.method_label(m, reference[m]) for m in methods]
    )
    n_competitors = sum(not reference[m] for m in methods)
    if 0 < n_competitors < len(methods):
        ax.axhline(n_competitors - 0.5, color="black", linewidth=1.2)
    ax.set_xlabel("pool ratio γ = pool size / k")
    ax.set_title(f"{problem}: nAUC of test MSE vs random\n(blue < 1: beats random)")
    bar = fig.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label("nAUC = AUC(method) / AUC(random)")
    return _common.save_figure(fig, folder / f"nauc_heatmap_{problem}", formats)


def scatter_figure(scores_by_problem, formats, folder) -> list[Path]:
    fig, ax = plt.subplots(figsize=(7.2, 5.2))
    problem_colors = plt.get_cmap("tab10").colors
    problems = list(scores_by_problem)
    methods = _common.method_order(
        {s.method for scores in scores_by_problem.values() for s in scores}
    )
    reference = {}
    for p_index, problem in enumerate(problems):
        for s in scores_by_problem[problem]:
            reference[s.method] = s.reference
            ax.scatter(
                s.ndiv,
                s.nauc,
                marker=_common.method_style(s.method, s.reference)["marker"],
                color=problem_colors[p_index % len(problem_colors)],
                s=36,
                alpha=0.85,
                linewidths=1.0,
            )
    ax.axhline(1.0, color="0.3", linestyle=":", linewidth=1)
    ax.axvline(1.0, color="0.3", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("nDiv = Div(method) / Div(random)  (well below 1: mode collapse)")
    ax.set_ylabel("nAUC = AUC(method) / AUC(random)  (below 1: beats random)")
    ax.set_title("nAUC against nDiv; one point per (problem, method, γ) cell")
    method_handles = [
        Line2D(
            [],
            [],
            linestyle="",
            color="0.25",
            marker=_common.method_style(m, reference[m])["marker"],
            label=_common.method_label(m, reference[m]),
        )
        for m in methods
    ]
    problem_handles = [
        Line2D(
            [],
            [],
            linestyle="",
            marker="s",
            color=problem_colors[i % len(problem_colors)],
            label=problem,
        )
        for i, problem in enumerate(problems)
    ]
    # Figure legends (not axes artists) so the tight bounding box keeps both.
    fig.legend(
        handles=method_handles,
        title="method",
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        bbox_transform=ax.transAxes,
    )
    fig.legend(
        handles=problem_handles,
        title="problem",
        fontsize=7,
        loc="lower left",
        bbox_to_anchor=(1.01, 0.0),
        bbox_transform=ax.transAxes,
    )
    ax.grid(True, which="both", alpha=0.2)
    label_ratio_axis(ax.xaxis, ax.get_xlim())
    label_ratio_axis(ax.yaxis, ax.get_ylim())
    return _common.save_figure(fig, folder / "nauc_vs_ndiv", formats)


def label_ratio_axis(axis, limits) -> None:
    """Plain numbers (0.5, 1, 2) on a log ratio axis; evenly spaced within a decade."""
    low, high = limits
    if high / low <= 10:
        axis.set_major_locator(ticker.MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10]))
        axis.set_minor_formatter(ticker.NullFormatter())
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:.3g}"))


# ---------------------------------------------------------------------------
# Markdown summary.


def markdown_table(headers, rows) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def nauc_text(score) -> str:
    if score.nauc_per_seed.size < 2:
        return f"{score.nauc:.3f}"
    low, high = score.nauc_interval
    return f"{score.nauc:.3f} [{low:.2f}, {high:.2f}]"


def step_seconds(cell, step: int) -> tuple[float | None, float | None]:
    """(train s, acquire s) of AL step `step` in a cell's meta.json, None if untimed.

    Older cells timed only step 0 (`step_train_s`, `step_acquire_s`) or nothing.
    """
    timing = cell.meta.get("timing", {})
    steps = timing.get("steps")
    if steps is not None:
        if step not in steps["step"]:
            return None, None
        index = steps["step"].index(step)
        return steps["train_s"][index], steps["acquire_s"][index]
    if step == 0:
        return timing.get("step_train_s"), timing.get("step_acquire_s")
    return None, None


def timing_text(cells, steps: list[int]) -> str:
    """`train / acquire` at each of `steps` (median over the cells), joined by →."""

    def median(values):
        values = [v for v in values if v is not None]
        return _common.fmt(statistics.median(values)) if values else "n/a"

    texts = []
    for step in steps:
        train, acquire = zip(*(step_seconds(c, step) for c in cells), strict=True)
        texts.append(f"{median(train)} / {median(acquire)}")
    return " → ".join(texts)


def summary_lines(out, cells_by_problem, scores_by_problem, skipped) -> list[str]:
    level = round(100 * _common.BOOTSTRAP_LEVEL)
    lines = [
        "# jdal results summary",
        "",
        f"Results folder: `{out}`.",
        "",
        "- **nAUC** = trapezoidal area under the seed-mean test-MSE curve over the "
        "number of labelled points, divided by that of random sampling on the same "
        "problem and seeds. Below 1 beats random.",
        f"- Brackets: {level} % bootstrap interval of the mean of the paired per-seed "
        "nAUC (each seed against the same seed's random run).",
        "- **nDiv** = mean distance of each newly labelled point to its nearest "
        "labelled neighbour, divided by random's; well below 1 signals mode collapse.",
        "- **Robust** on a problem: nAUC < 1 at every γ (methods that ignore γ: "
        "at their one value).",
    ]
    references = sorted(
        {
            s.method
            for scores in scores_by_problem.values()
            for s in scores
            if s.reference
        }
    )
    if references:
        lines.append(
            f"- {', '.join(f'`{m} (reference)`' for m in references)}: an oracle "
            "reference that sees the true error on the whole pool; an upper "
            "reference, never a competitor."
        )
    lines += [
        "",
    ]
    robust_by_problem: dict[str, set[str]] = {}
    best_rows: dict[str, dict[str, str]] = defaultdict(dict)
    for problem, scores in scores_by_problem.items():
        baseline = next(c for c in cells_by_problem[problem] if c.method == "random")
        cfg = baseline.config
        gammas = sorted({s.gamma for s in scores if s.gamma is not None})
        columns = [gamma_key(g) for g in gammas]
        if any(s.gamma is None for s in scores):
            columns.append(NO_GAMMA)
        methods = _common.method_order({s.method for s in scores})
        by_key = {(s.method, gamma_key(s.gamma)): s for s in scores}
        lines += [
            f"## {problem}",
            "",
            f"N0 = {cfg['n_initial']}, k = {cfg['k']}, T = {cfg['steps']} "
            f"(n = {cfg['n_initial']}..{cfg['n_initial'] + cfg['steps'] * cfg['k']}), "
            f"{cfg['train_steps']} gradient steps per AL step, "
            f"{cfg['n_test']} test points, seeds {baseline.seeds}.",
            "",
            "nAUC (method x pool ratio γ):",
            "",
        ]
        rows = []
        for method in methods:
            reference = by_key[next(k for k in by_key if k[0] == method)].reference
            row = [_common.method_label(method, reference)]
            row += [
                nauc_text(by_key[(method, c)]) if (method, c) in by_key else ""
                for c in columns
            ]
            rows.append(row)
        lines += markdown_table(["method", *columns], rows) + ["", "nDiv:", ""]
        rows = []
        for method in methods:
            reference = by_key[next(k for k in by_key if k[0] == method)].reference
            row = [_common.method_label(method, reference)]
            row += [
                f"{by_key[(method, c)].ndiv:.3f}" if (method, c) in by_key else ""
                for c in columns
            ]
            rows.append(row)
        lines += markdown_table(["method", *columns], rows) + [""]

        robust, robust_reference = set(), set()
        for method in methods:
            by_gamma = {s.gamma: s.nauc for s in scores if s.method == method}
            is_ref = any(s.reference for s in scores if s.method == method)
            if metrics.is_robust(by_gamma):
                (robust_reference if is_ref else robust).add(method)
            if None in by_gamma:
                best_rows[method][problem] = f"ignores γ ({by_gamma[None]:.3f})"
            else:
                best = metrics.best_gamma(by_gamma)
                best_rows[method][problem] = f"γ={best} ({by_gamma[best]:.3f})"
        robust_by_problem[problem] = robust
        ordered = [m for m in methods if m in robust]
        lines.append(
            "Robust methods (nAUC < 1 at every γ): "
            + (", ".join(ordered) if ordered else "none")
            + (
                f"; reference: {', '.join(sorted(robust_reference))} (reference)"
                if robust_reference
                else ""
            )
        )
        timed = _common.timed_steps(cfg["steps"])
        shown = sorted({timed[0], timed[-1]})
        timing_rows = [
            [
                _common.method_label(m),
                timing_text(
                    [c for c in cells_by_problem[problem] if c.method == m], shown
                ),
            ]
            for m in ["random", *methods]
        ]
        where = " → ".join(
            f"step {t} (n = {cfg['n_initial'] + t * cfg['k']})" for t in shown
        )
        lines += [
            "",
            "Seconds per AL step, all seeds vmapped (median over γ), training / "
            f"acquisition at {where}; each part jitted, compiled ahead and timed "
            "over one call (meta.json also has the middle step):",
            "",
            *markdown_table(["method", "train s / acquire s"], timing_rows),
            "",
        ]

    lines += ["## All problems", ""]
    competitors = _common.method_order(
        {
            s.method
            for scores in scores_by_problem.values()
            for s in scores
            if not s.reference
        }
    )
    overall = [
        m
        for m in competitors
        if all(m in robust for robust in robust_by_problem.values())
    ]
    lines.append(
        f"Robust on every problem ({', '.join(scores_by_problem)}): "
        + (", ".join(overall) if overall else "none")
    )
    lines += ["", "Best γ (lowest nAUC) per method and problem:", ""]
    problems = list(scores_by_problem)
    rows = [
        [_common.method_label(m)] + [best_rows[m].get(p, "") for p in problems]
        for m in _common.method_order(best_rows)
    ]
    lines += markdown_table(["method", *problems], rows)
    if skipped:
        lines += ["", "Cells left out:", ""] + [f"- {reason}" for reason in skipped]
    return lines + [""]


def write_csv(path: Path, cells) -> Path:
    rows = results.to_table(cells)
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(
            file,
            fieldnames=list(rows[0])
            if rows
            else ["problem", "method", "gamma", "seed"],
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


class Scored(NamedTuple):
    """The cells a summary scores and why others were left out.

    cells: random and every cell scored against it, in load order (cells.csv).
    usable_by_problem: those cells per problem, random first.
    scores_by_problem: the scores of all but random, per problem.
    skipped: one reason per cell or problem left out.
    """

    cells: list[results.Cell]
    usable_by_problem: dict[str, list[results.Cell]]
    scores_by_problem: dict[str, list[_common.Score]]
    skipped: list[str]


def score_cells(cells) -> Scored:
    """Scores every cell against random on its problem; leaves out incompatible
    cells and problems without random or without another method."""
    cells_by_problem = defaultdict(list)
    for cell in cells:
        cells_by_problem[cell.problem].append(cell)
    usable_by_problem, scores_by_problem, skipped = {}, {}, []
    for problem in problem_order(cells_by_problem):
        problem_cells = cells_by_problem[problem]
        baseline = next((c for c in problem_cells if c.method == "random"), None)
        if baseline is None:
            skipped.append(f"{problem}: no random cell, so no nAUC / nDiv")
            continue
        usable, scores = [baseline], []
        for cell in problem_cells:
            if cell is baseline:
                continue
            reason = _common.incompatibility(cell, baseline)
            if reason is not None:
                skipped.append(f"{cell.folder}: {reason}")
                continue
            usable.append(cell)
            scores.append(_common.score(cell, baseline))
        if not scores:
            skipped.append(f"{problem}: only random, nothing to compare")
            continue
        usable_by_problem[problem] = usable
        scores_by_problem[problem] = scores
    used = {id(c) for usable in usable_by_problem.values() for c in usable}
    return Scored(
        [c for c in cells if id(c) in used],
        usable_by_problem,
        scores_by_problem,
        skipped,
    )


def write_tables(out, folder: Path, scored: Scored) -> list[Path]:
    """Writes summary.md and cells.csv of `scored` into `folder`; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = folder / "summary.md"
    summary.write_text(
        "\n".join(
            summary_lines(
                out,
                scored.usable_by_problem,
                scored.scores_by_problem,
                scored.skipped,
            )
        )
    )
    return [summary, write_csv(folder / "cells.csv", scored.cells)]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out, folder = Path(args.out), Path(args.figures)
    if not out.is_dir():
        parser.error(f"argument out: {out} is not a folder")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cells = results.load(out)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    if not cells:
        print(f"error: no completed result cells under {out}", file=sys.stderr)
        return 1

    scored = score_cells(cells)
    for reason in scored.skipped:
        print(f"note: left out {reason}", file=sys.stderr)
    if not scored.scores_by_problem:
        print("error: no problem has both random and another method", file=sys.stderr)
        return 1
    written = []
    for problem, scores in scored.scores_by_problem.items():
        usable = scored.usable_by_problem[problem]
        gammas = sorted({c.gamma for c in usable if c.gamma is not None})
        gamma = None
        if gammas:
            gamma = args.gamma if args.gamma in gammas else gammas[len(gammas) // 2]
            if args.gamma is not None and args.gamma != gamma:
                print(f"note: {problem} has no γ={args.gamma}; curves at γ={gamma}")
        written += curves_figure(problem, usable, gamma, args.formats, folder)
        written += heatmap_figure(problem, scores, gammas, args.formats, folder)
    written += scatter_figure(scored.scores_by_problem, args.formats, folder)
    written += write_tables(out, folder, scored)
    print(
        f"{len(cells)} cells from {out}, {len(scored.cells)} scored; "
        f"wrote {len(written)} files to {folder}:"
    )
    for path in written:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
