"""Figures and a Markdown summary from a results folder (run.py or sweep.py output).

    python experiments/report.py results/sweep --figures figures/

Writes, as PNG and PDF:
  mse_curves_<problem>     test MSE against labelled points, every method at one γ
  nauc_heatmap_<problem>   nAUC per method and γ (diverging colours, centred at 1)
  nauc_vs_ndiv             nAUC against nDiv for every cell, across problems
  nauc_vs_dimension        worst nAUC over γ against d, per method, for problems
                           named <family>_d<d> (the PDE problems), when there are any
and summary.md (nAUC tables with bootstrap intervals, robust methods, best γ,
seconds per AL step) plus cells.csv (one row per seed of each cell the summary
scores: cells left out of the summary are left out of it too). The `mse` oracle is
labelled "(reference)". `jdal.scoring.score_cells` and `summary.write_tables`
give summary.md and cells.csv without figures.

    python experiments/report.py results/measured --beside figures/data/sweep_quick

sets another sweep's robustness table beside this one's in summary.md, with the
methods that beat random whatever γ on both (the measured data sets against the
oracles, issue 19).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from matplotlib.backend_bases import FigureCanvasBase

from jdal import results, scoring

from . import flags, plots, summary
from .cells import load_cells
from .text import comma_parts


def figure_formats(text: str) -> list[str]:
    """argparse type: comma-separated file formats matplotlib can write."""
    supported = FigureCanvasBase.get_supported_filetypes()
    formats = [part.lower() for part in comma_parts(text)]
    unknown = [f for f in formats if f not in supported]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"unsupported format {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(supported))}"
        )
    return formats


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="report.py",
        description="Plot and summarise the results of run.py / sweep.py.",
    )
    parser.add_argument("out", help="results folder, e.g. results/sweep")
    parser.add_argument(
        "--figures",
        default=None,
        help="folder for figures and summary.md (default: <out>/figures, beside "
        "the results, so the committed figures/ are only rewritten on request)",
    )
    parser.add_argument(
        "--gamma",
        type=flags.positive_int,
        default=None,
        help="γ of the MSE-curve figures (default: the middle γ available)",
    )
    parser.add_argument(
        "--beside",
        type=comma_parts,
        default=[],
        help="comma-separated results folders of other sweeps (e.g. the oracles' "
        "beside the measured data sets'): summary.md adds their robustness tables "
        "and which methods beat random whatever γ on both",
    )
    parser.add_argument(
        "--formats",
        type=figure_formats,
        default=["png", "pdf"],
        help="figure formats (default png,pdf)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Path(args.out)
    folder = Path(args.figures) if args.figures else out / "figures"
    if not out.is_dir():
        parser.error(f"argument out: {out} is not a folder")
    cells = load_cells(out)
    if not cells:
        print(f"error: no completed result cells under {out}", file=sys.stderr)
        return 1

    scored = scoring.score_cells(cells)
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
        where = "methods that ignore γ" if gamma is None else f"pool ratio γ = {gamma}"
        written += plots.curves_figure(
            [c for c in usable if c.gamma in (gamma, None)],
            f"{problem}: test MSE, {where}",
            folder / f"mse_curves_{problem}",
            args.formats,
        )
        written += plots.heatmap_figure(problem, scores, gammas, args.formats, folder)
    written += plots.scatter_figure(scored.scores_by_problem, args.formats, folder)
    families = summary.dimension_families(scored.scores_by_problem)
    if families:
        worst = {
            family: summary.worst_by_dimension(scored.scores_by_problem, by_dim)
            for family, by_dim in families.items()
        }
        references = summary.references(scored.scores_by_problem)
        written += plots.dimension_figure(worst, references, args.formats, folder)
    beside = []
    for other in args.beside:
        other_cells = results.load(other) if Path(other).is_dir() else []
        if not other_cells:
            parser.error(f"argument --beside: no completed result cells under {other}")
        beside.append((other, scoring.score_cells(other_cells)))
    written += summary.write_tables(out, folder, scored, beside)
    print(
        f"{len(cells)} cells from {out}, {len(scored.cells)} scored; "
        f"wrote {len(written)} files to {folder}:"
    )
    for path in written:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
