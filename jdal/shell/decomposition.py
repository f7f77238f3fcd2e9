"""The decomposition table: which factor turns an oracle's nAUC into the table's.

`foil` and `hydr` are forests fitted to the airfoil and yacht rows; between an
oracle and its table four things change (experiments/decomposition.py defines the
problems in between). Each chain lists its settings in order, each changing one
factor from the one before; this module reads the settings' cells from their
sweep folders and writes, per chain, every method's worst nAUC over γ in each
setting and the step that moves it most:

    python experiments/decomposition.py --oracles figures/data/sweep_quick \\
        --measured figures/data/measured --rows figures/data/decomposition \\
        --foil-test figures/data/decomposition_foil_test \\
        --hydr-test figures/data/decomposition_hydr_test \\
        --out figures/data/decomposition/summary.md
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from jdal import metrics, results, scoring

from .cells import load_cells
from .names import method_label, method_order
from .summary import worst_scores
from .text import interval, markdown_table, nauc_text


class Setting(NamedTuple):
    """One link of a chain: `problem`'s cells in the folder given as `source`;
    `change` is the factor that differs from the setting before."""

    name: str
    change: str
    source: str
    problem: str


# At the quick sizes foil's model and airfoil's default are the same (4 x 64, 5
# members, full batch), so the airfoil rows with foil's model are the `airfoil`
# cells themselves (tests/test_finite_data.py checks the resolved models).
CHAINS: dict[str, tuple[Setting, ...]] = {
    "foil": (
        Setting("1 oracle", "", "oracles", "foil"),
        Setting("2 rows test", "test distribution", "foil_test", "foil"),
        Setting("3 rows pool", "pool distribution", "rows", "foil_rows"),
        Setting("4 = 5 measured", "label noise", "measured", "airfoil"),
    ),
    "hydr": (
        Setting("1 oracle", "", "oracles", "hydr"),
        Setting("2 rows test", "test distribution", "hydr_test", "hydr"),
        Setting("3 rows pool", "pool distribution", "rows", "hydr_rows"),
        Setting("4 measured", "label noise", "rows", "yacht_hydr_model"),
        Setting("5 table model", "model", "measured", "yacht"),
    ),
}
SOURCES = ("oracles", "foil_test", "hydr_test", "rows", "measured")


def apart(a: metrics.Score, b: metrics.Score) -> bool:
    """Whether two cells' bootstrap intervals do not overlap (both need enough
    seeds for an interval): a move the seed-to-seed spread cannot explain."""
    first, second = interval(a), interval(b)
    if first is None or second is None:
        return False
    return first[1] < second[0] or second[1] < first[0]


def chain_lines(
    settings: Sequence[Setting], scores: Sequence[Sequence[metrics.Score] | None]
) -> list[str]:
    """Markdown lines of one chain: per method its worst nAUC over γ (with that
    cell's interval) in each setting, and the step that moves it most; then per
    step how often it is the largest move and its mean size (references left
    out of both), and the methods that beat random in the first setting but not
    in the last.

    `scores[i]`: setting i's scores (all methods, all γ), None where not run."""
    worst = [None if s is None else worst_scores(s) for s in scores]
    reference_methods = {x.method for s in scores if s for x in s if x.reference}
    methods = method_order({m for w in worst if w for m in w})
    steps = [s.change for s in settings[1:]]
    headers = ["method", *(s.name for s in settings), "largest move"]
    rows = []
    largest: dict[str, tuple[str, bool]] = {}  # method -> (step, resolved)
    moves_by_step: dict[str, list[float]] = defaultdict(list)
    for method in methods:
        cells = [w[method] if w and method in w else None for w in worst]
        row = [method_label(method, method in reference_methods)]
        row += ["not run" if c is None else nauc_text(c) for c in cells]
        moves = [
            (b.nauc - a.nauc, step, apart(a, b))
            for a, b, step in zip(cells[:-1], cells[1:], steps, strict=True)
            if a is not None and b is not None
        ]
        if moves and method not in reference_methods:
            for move, step, _ in moves:
                moves_by_step[step].append(abs(move))
            move, step, resolved = max(moves, key=lambda m: abs(m[0]))
            largest[method] = (step, resolved)
            spread = "intervals apart" if resolved else "inside the spread"
            row.append(f"{step} ({move:+.3f}, {spread})")
        else:
            row.append("")
        rows.append(row)
    lines = markdown_table(headers, rows)
    # per step: whether each move it is the largest for is resolved
    largest_by_step = {
        step: [resolved for s, resolved in largest.values() if s == step]
        for step in steps
    }
    lines += ["", *markdown_table(
        ["step", "mean absolute move over methods", "largest move for"],
        [
            [
                step,
                f"{sum(moves_by_step[step]) / len(moves_by_step[step]):.3f}"
                if moves_by_step[step] else "not run",
                f"{len(largest_by_step[step])} "
                f"{'method' if len(largest_by_step[step]) == 1 else 'methods'} "
                f"({sum(largest_by_step[step])} resolved)",
            ]
            for step in steps
        ],
    )]  # fmt: skip
    first, last = worst[0], worst[-1]
    if first and last:
        reversed_methods = [
            m
            for m in methods
            if m in first and m in last and m not in reference_methods
            if first[m].nauc < 1.0 <= last[m].nauc
        ]
        lines += [
            "",
            "Below 1 in the first setting, not in the last: "
            + (", ".join(reversed_methods) if reversed_methods else "none")
            + ".",
        ]
        if any(m in largest for m in reversed_methods):
            lines += [
                "",
                "Their largest move: "
                + reversal_causes(reversed_methods, largest, steps)
                + ".",
            ]
    return lines


def reversal_causes(
    methods: Sequence[str], largest: dict[str, tuple[str, bool]], steps: Sequence[str]
) -> str:
    """Which step moves each reversing method most, grouped by step in chain
    order, with how many of those moves are resolved: the chain's answer to
    which factor turns the oracle's win into the table's loss."""
    parts = []
    for step in steps:
        named = [m for m in methods if m in largest and largest[m][0] == step]
        if named:
            resolved = sum(largest[m][1] for m in named)
            parts.append(
                f"{step} for {', '.join(named)} ({resolved} of {len(named)} resolved)"
            )
    return "; ".join(parts)


def decomposition_lines(scored: dict[str, scoring.Scored], folders: dict) -> list[str]:
    """summary.md lines: one section per chain (`CHAINS`), from the sweeps scored
    per source (`SOURCES`; a missing source or problem shows as not run)."""
    lines = [
        "# Oracle against table, one factor at a time",
        "",
        "Worst nAUC over γ per setting (bootstrap interval of that cell). Each "
        "setting changes one factor from the one before; 'largest move' is the step "
        "that changes the method's worst nAUC most, and whether the two cells' "
        "intervals are apart (a resolved move) or overlap (inside the seed-to-seed "
        "spread: unresolved).",
    ]
    for chain, settings in CHAINS.items():
        lines += ["", f"## {chain}", ""]
        lines += [
            f"- {s.name}: `{s.problem}` from {folders.get(s.source, 'not given')}"
            + (f" (changes the {s.change})" if s.change else "")
            for s in settings
        ]
        scores = [
            scored[s.source].scores_by_problem.get(s.problem)
            if s.source in scored
            else None
            for s in settings
        ]
        lines += ["", *chain_lines(settings, scores)]
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="The decomposition table (oracle against table, one factor at a "
        "time) from the sweeps of its settings."
    )
    helps = {
        "oracles": "sweep with foil and hydr (box pool, box test)",
        "foil_test": "sweep of foil with --set test_inputs=airfoil",
        "hydr_test": "sweep of hydr with --set test_inputs=yacht",
        "rows": "sweep of foil_rows, hydr_rows and yacht_hydr_model",
        "measured": "sweep with the airfoil and yacht tables",
    }
    for source in SOURCES:
        flag = "--" + source.replace("_", "-")
        parser.add_argument(flag, dest=source, required=True, help=helps[source])
    parser.add_argument("--out", required=True, help="the Markdown file to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    folders = {source: getattr(args, source) for source in SOURCES}
    scored = {}
    for source, folder in folders.items():
        if not Path(folder).is_dir():
            print(f"note: --{source.replace('_', '-')} {folder} is not a folder; "
                  "its settings show as not run", file=sys.stderr)  # fmt: skip
            continue
        scored[source] = scoring.score_cells(load_cells(folder))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(decomposition_lines(scored, folders)) + "\n"
    results.atomic_write(out, lambda file: file.write(text.encode()))
    print(f"wrote {out}")
    return 0
