"""Cells scored against random: which cells a summary counts, and why others not.

    scored = score_cells(jdal.results.load("results/sweep"))
    scored.scores_by_problem["robo"]     # [metrics.Score] of every method and γ

Each cell is scored by `jdal.metrics.score` against the random cell of its
problem (paired by seed). Left out, each with its reason: cells that cannot be
paired with random (`results.incompatibility`), cells whose pool a finite data set
capped to the same rows as a smaller γ's (`capped_duplicate`: the same experiment,
counted once), and problems without random or without another method.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from jdal import metrics, problems, results


class Scored(NamedTuple):
    """The cells a summary scores and why others were left out.

    cells: random and every cell scored against it, in load order (cells.csv).
    usable_by_problem: those cells per problem, random first.
    scores_by_problem: the scores of all but random, per problem.
    skipped: one reason per cell or problem left out.
    """

    cells: list[results.Cell]
    usable_by_problem: dict[str, list[results.Cell]]
    scores_by_problem: dict[str, list[metrics.Score]]
    skipped: list[str]


def first_pool_size(cell: results.Cell) -> int | None:
    """Candidates at step 0 (the largest over seeds), from the cell's recorded pool
    sizes; None for cells written before they were recorded or without a pool."""
    sizes = cell.arrays.get("pool_sizes")
    if sizes is None or sizes.size == 0 or cell.gamma is None:
        return None
    return int(np.max(sizes[:, 0]))


def capped_pool(cell: results.Cell) -> int | None:
    """The step-0 pool size when it is below k γ (a finite data set ran out of
    unused rows), else None."""
    size = first_pool_size(cell)
    if size is None or size >= cell.config["k"] * cell.gamma:
        return None
    return size


def effective_gammas(cells: Sequence[results.Cell]) -> dict[int, float]:
    """γ -> step-0 pool size / k for the γ whose pools were capped (finite data)."""
    capped = {}
    for cell in cells:
        size = capped_pool(cell)
        if size is not None:
            capped[cell.gamma] = size / cell.config["k"]
    return dict(sorted(capped.items()))


def capped_duplicate(cell: results.Cell, others: Sequence[results.Cell]) -> str | None:
    """Why `cell` repeats the experiment of a smaller γ of the same method (on a
    finite data set both pools were capped at every unused row), or None."""
    size = capped_pool(cell)
    if size is None:
        return None
    smaller = [
        other.gamma
        for other in others
        if other.method == cell.method
        and other.gamma is not None
        and other.gamma < cell.gamma
        and first_pool_size(other) == size
    ]
    if not smaller:
        return None
    return (
        f"γ={cell.gamma} is the same experiment as γ={min(smaller)}: both pools are "
        f"capped at the {size} unused rows at step 0 (effective γ "
        f"{size / cell.config['k']:.1f}); counted once"
    )


def score_cells(cells: Sequence[results.Cell]) -> Scored:
    """Scores every cell against random on its problem; leaves out incompatible
    cells, cells whose capped pool repeats a smaller γ's (`capped_duplicate`), and
    problems without random or without another method."""
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
            reason = results.incompatibility(cell, baseline)
            if reason is None:
                reason = capped_duplicate(cell, problem_cells)
            if reason is not None:
                skipped.append(f"{cell.folder}: {reason}")
                continue
            usable.append(cell)
            scores.append(metrics.score(cell, baseline))
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


def problem_order(names: Iterable[str]) -> list[str]:
    """Registry order; other names after, sorted with their numbers read as numbers
    (`burgers_d8`, `burgers_d32`, `burgers_d128`)."""
    names = set(names)
    known = [p for p in problems.names() if p in names]
    return known + sorted(names - set(known), key=natural_key)


def natural_key(name: str) -> list:
    """Sort key reading runs of digits as integers: "d8" < "d32" < "d128"."""
    parts = re.split(r"(\d+)", name)
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts]
