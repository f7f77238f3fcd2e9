"""Tables: method order and labels, numbers, the printed table, summary.md and
cells.csv (which hold exactly the same cells)."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jdal import acquisitions, metrics, problems, results

from .timing import TIMING_HOW

NO_GAMMA = "no γ"

# ---------------------------------------------------------------------------
# Names and numbers.


def _is_reference(method: str) -> bool:
    """True for registered oracle references (e.g. `mse`); unknown methods are not."""
    found = acquisitions.ACQUISITIONS.get(method)
    return found is not None and found.reference


def method_order(methods: Iterable[str]) -> list[str]:
    """Registry order (random first, references last); unknown names after, sorted."""
    methods = set(methods)
    registered = [m for m in acquisitions.names() if m in methods]
    ordered = [m for m in registered if not _is_reference(m)]
    ordered += sorted(methods - set(registered))
    ordered += [m for m in registered if _is_reference(m)]
    if "random" in ordered:
        ordered.remove("random")
        ordered.insert(0, "random")
    return ordered


def method_label(method: str, reference: bool | None = None) -> str:
    """Display name: `mse (reference)`, `random (baseline)`, `naqbc (ignores γ)`."""
    if reference is None:
        reference = _is_reference(method)
    if reference:
        return f"{method} (reference)"
    if method == "random":
        return "random (baseline)"
    found = acquisitions.ACQUISITIONS.get(method)
    if found is not None and not found.uses_pool:
        return f"{method} (ignores γ)"
    return method


def problem_order(names: Iterable[str]) -> list[str]:
    """Registry order; unknown names after, sorted."""
    names = set(names)
    known = [p for p in problems.names() if p in names]
    return known + sorted(names - set(known))


def gamma_key(gamma: int | None) -> str:
    """Column name of a pool ratio: `γ=8`, or NO_GAMMA for methods that ignore it."""
    return NO_GAMMA if gamma is None else f"γ={gamma}"


def fmt(value: float, digits: int = 3) -> str:
    """Compact number: fixed for moderate magnitudes, scientific otherwise."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if value != 0 and not 1e-3 <= abs(value) < 1e4:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}f}"


def seconds_per_step(cell: results.Cell) -> float:
    """Wall seconds per AL step of a cell's compiled run (all seeds at once): run_s / T.

    NaN when the cell has no timing. Covers training, acquisition and labelling;
    compile time is recorded apart.
    """
    run_s = cell.meta.get("timing", {}).get("run_s")
    steps = cell.config.get("steps")
    if run_s is None or not steps:
        return float("nan")
    return float(run_s) / int(steps)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str] | None]) -> str:
    """Plain-text table with aligned columns; a row of None draws a rule."""
    widths = [len(h) for h in headers]
    for row in rows:
        if row is not None:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    rule = "  ".join("-" * w for w in widths)
    body = [rule if row is None else line(row) for row in rows]
    return "\n".join([line(headers), rule, *body])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# ---------------------------------------------------------------------------
# Which cells a summary scores.


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


def test_points(cell: results.Cell) -> str:
    """How the cell was tested: uniform test points, or held-out rows of a
    finite data set (cells written before this was recorded: the config's n_test)."""
    rows = cell.meta.get("finite_rows")
    points = cell.meta.get("test_points", cell.config["n_test"])
    if rows is None:
        return f"{points} test points"
    return f"{points} held-out test rows of {rows}"


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


# ---------------------------------------------------------------------------
# summary.md and cells.csv.


def nauc_text(score: metrics.Score) -> str:
    """nAUC with its bootstrap interval (none for one seed)."""
    if score.nauc_per_seed.size < 2:
        return f"{score.nauc:.3f}"
    low, high = score.nauc_interval
    return f"{score.nauc:.3f} [{low:.2f}, {high:.2f}]"


def step_seconds(cell: results.Cell, step: int) -> tuple[float | None, float | None]:
    """(train s, acquire s) per run of AL step `step` in a cell's meta.json, None
    where untimed.

    Cells timed before the in-run stamps timed the first, middle and last steps
    (older ones step 0 only, `step_train_s`), all seeds in one vmapped call: their
    seconds are divided by the seeds to read per run.
    """
    timing = cell.meta.get("timing", {})
    steps = timing.get("steps")
    per_run = 1.0 if steps and steps.get("how") == TIMING_HOW else len(cell.seeds)

    def scaled(value):
        return None if value is None else value / per_run

    if steps is not None:
        if step not in steps["step"]:
            return None, None
        index = steps["step"].index(step)
        return scaled(steps["train_s"][index]), scaled(steps["acquire_s"][index])
    if step == 0:
        return scaled(timing.get("step_train_s")), scaled(timing.get("step_acquire_s"))
    return None, None


def timing_text(cells: Sequence[results.Cell], steps: list[int]) -> str:
    """`train / acquire` at each of `steps` (median over the cells), joined by →."""

    def median(values):
        values = [v for v in values if v is not None]
        return fmt(statistics.median(values)) if values else "n/a"

    texts = []
    for step in steps:
        train, acquire = zip(*(step_seconds(c, step) for c in cells), strict=True)
        texts.append(f"{median(train)} / {median(acquire)}")
    return " → ".join(texts)


def summary_lines(out, cells_by_problem, scores_by_problem, skipped) -> list[str]:
    """The lines of summary.md: per problem nAUC and nDiv tables, robust methods
    and step timings; then robustness and the best γ across problems."""
    level = round(100 * metrics.BOOTSTRAP_LEVEL)
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
        methods = method_order({s.method for s in scores})
        by_key = {(s.method, gamma_key(s.gamma)): s for s in scores}
        lines += [
            f"## {problem}",
            "",
            f"N0 = {cfg['n_initial']}, k = {cfg['k']}, T = {cfg['steps']} "
            f"(n = {cfg['n_initial']}..{cfg['n_initial'] + cfg['steps'] * cfg['k']}), "
            f"{cfg['train_steps']} gradient steps per AL step, "
            f"{test_points(baseline)}, seeds {baseline.seeds}.",
            "",
        ]
        capped = effective_gammas(cells_by_problem[problem])
        if capped:
            lines += [
                "Pools capped by the unused rows at step 0 (effective γ): "
                + ", ".join(f"γ={g} → {e:.1f}" for g, e in capped.items())
                + ".",
                "",
            ]
        lines += [
            "nAUC (method x pool ratio γ):",
            "",
        ]
        rows = []
        for method in methods:
            reference = by_key[next(k for k in by_key if k[0] == method)].reference
            row = [method_label(method, reference)]
            row += [
                nauc_text(by_key[(method, c)]) if (method, c) in by_key else ""
                for c in columns
            ]
            rows.append(row)
        lines += markdown_table(["method", *columns], rows) + ["", "nDiv:", ""]
        rows = []
        for method in methods:
            reference = by_key[next(k for k in by_key if k[0] == method)].reference
            row = [method_label(method, reference)]
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
        shown = sorted({0, cfg["steps"] - 1})
        timing_rows = [
            [
                method_label(m),
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
            "Seconds per AL step and run (median over γ), training / acquisition "
            f"at {where}, from clock stamps inside the run (cells made before the "
            "stamps: their parts timed apart, all seeds in one call, divided by "
            "the seeds); meta.json has every step:",
            "",
            *markdown_table(["method", "train s / acquire s"], timing_rows),
            "",
        ]

    lines += ["## All problems", ""]
    competitors = method_order(
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
    lines += [
        "",
        "Robustness: the worst nAUC over γ on each problem and overall, methods "
        "ranked by the overall worst (below 1: better than random whatever γ, on "
        "these problems):",
        "",
        *robustness_table(scores_by_problem),
    ]
    lines += ["", "Best γ (lowest nAUC) per method and problem:", ""]
    problem_names = list(scores_by_problem)
    rows = [
        [method_label(m)] + [best_rows[m].get(p, "") for p in problem_names]
        for m in method_order(best_rows)
    ]
    lines += markdown_table(["method", *problem_names], rows)
    if skipped:
        lines += ["", "Cells left out:", ""] + [f"- {reason}" for reason in skipped]
    return lines + [""]


def robustness_table(scores_by_problem: dict[str, list[metrics.Score]]) -> list[str]:
    """Markdown rows: per method, its worst nAUC over γ on each problem and over
    all of them, ranked by the latter; references after the ranked methods."""
    problem_names = list(scores_by_problem)
    worst: dict[str, dict[str, float]] = defaultdict(dict)
    reference: dict[str, bool] = {}
    for problem, scores in scores_by_problem.items():
        by_method: dict[str, dict] = defaultdict(dict)
        for s in scores:
            by_method[s.method][s.gamma] = s.nauc
            reference[s.method] = s.reference
        for method, by_gamma in by_method.items():
            worst[method][problem] = metrics.worst_nauc(by_gamma)
    worst["random"] = {p: 1.0 for p in problem_names}  # the baseline, by definition
    reference["random"] = False

    def overall(method: str) -> float:
        # A problem where the method has no cell counts as unknown, i.e. unsafe.
        values = [worst[method].get(p, np.inf) for p in problem_names]
        return max(values)

    ranked = sorted(
        (m for m in worst if not reference[m]), key=lambda m: (overall(m), m)
    )
    ranked += sorted(m for m in worst if reference[m])
    rows = []
    for rank, method in enumerate(ranked, start=1):
        cells = [
            f"{worst[method][p]:.3f}" if p in worst[method] else ""
            for p in problem_names
        ]
        robust_on = sum(worst[method].get(p, np.inf) < 1.0 for p in problem_names)
        rows.append(
            [
                "" if reference[method] else str(rank),
                method_label(method, reference[method]),
                *cells,
                f"{overall(method):.3f}",
                f"{robust_on} of {len(problem_names)}",
            ]
        )
    headers = ["rank", "method", *problem_names, "overall worst", "robust on"]
    return markdown_table(headers, rows)


def write_csv(path: Path, cells: Sequence[results.Cell]) -> Path:
    """cells.csv: `results.to_table`'s rows, one per seed of each cell."""
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
