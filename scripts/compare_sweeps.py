"""Before/after table of two sweeps of the same plan: nAUC and nDiv per (problem,
method, γ) in each, and the change, as Markdown.

    python scripts/compare_sweeps.py figures/data/sweep_quick results/sweep_quick \
        --labels "before (protocol 1)" "after (protocol 2)" > compare.md

Each sweep is scored on its own (against its own random cells), so a change of
protocol moves both sides of every ratio. A row's "robust" column says whether the
method is below 1 at every γ of that problem, before → after.
"""

from __future__ import annotations

import argparse
import sys

from jdal import metrics, results, scoring


def scores_of(folder: str) -> dict:
    """{(problem, method, gamma): Score} of every scored cell under `folder`."""
    scored = scoring.score_cells(results.load(folder))
    return {
        (s.problem, s.method, s.gamma): s
        for scores in scored.scores_by_problem.values()
        for s in scores
    }


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--labels", nargs=2, default=("before", "after"))
    args = parser.parse_args(argv)
    before, after = scores_of(args.before), scores_of(args.after)
    keys = sorted(
        set(before) | set(after),
        key=lambda key: (key[0], key[1], -1 if key[2] is None else key[2]),
    )
    first, second = args.labels
    print(f"| problem | method | γ | nAUC {first} | nAUC {second} | change "
          f"| nDiv {first} | nDiv {second} |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for key in keys:
        old, new = before.get(key), after.get(key)
        change = (
            f"{new.nauc - old.nauc:+.3f}" if old is not None and new is not None else ""
        )
        gamma = "any" if key[2] is None else str(key[2])
        print(
            f"| {key[0]} | {key[1]} | {gamma} "
            f"| {fmt(old and old.nauc)} | {fmt(new and new.nauc)} | {change} "
            f"| {fmt(old and old.ndiv)} | {fmt(new and new.ndiv)} |"
        )
    print()
    print(f"| problem | method | robust {first} → {second} |")
    print("|---|---|---|")
    for problem, method in sorted({key[:2] for key in keys}):
        flags = []
        for side in (before, after):
            by_gamma = {
                k[2]: s.nauc for k, s in side.items() if k[:2] == (problem, method)
            }
            robust = "yes" if metrics.is_robust(by_gamma) else "no"
            flags.append(robust if by_gamma else "n/a")
        print(f"| {problem} | {method} | {flags[0]} → {flags[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
