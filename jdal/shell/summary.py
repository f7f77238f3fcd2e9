"""summary.md and cells.csv of a results folder (they hold exactly the same cells).

    scored = jdal.scoring.score_cells(jdal.results.load(out))
    write_tables(out, folder, scored)    # folder/summary.md, folder/cells.csv

summary.md: per problem the nAUC and nDiv tables (method x γ), the robust methods
and the seconds per AL step; then, over all problems, the methods robust on every
one, the robustness table (worst nAUC over γ), each method's best γ and its
nDiv against γ (the diversity table: mode collapse and where the losses are); and
where problems form a family over input dimension (`<family>_d<d>`, such as the
PDE problems `burgers_d8` ... `burgers_d128`), the worst nAUC over γ by method
and dimension.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from jdal import metrics, results
from jdal.scoring import Scored, effective_gammas

from .names import NO_GAMMA, gamma_key, method_label, method_order
from .text import (
    MIN_SEEDS_FOR_INTERVAL,
    clearly_above_one,
    clearly_below_one,
    markdown_table,
    nauc_text,
)
from .timing import timing_text

# problem -> method -> {γ (None: ignores γ): nAUC}
NaucGrid = dict[str, dict[str, dict[int | None, float]]]
# A problem of a dimension family: "<family>_d<d>", e.g. burgers_d32.
DIMENSION_NAME = re.compile(r"(?P<family>.+)_d(?P<dim>[0-9]+)")


def nauc_grid(scores_by_problem: dict[str, list[metrics.Score]]) -> NaucGrid:
    """Every score's nAUC by problem, method and γ: what robustness, the worst and
    the best γ are read from."""
    grid: NaucGrid = {}
    for problem, scores in scores_by_problem.items():
        grid[problem] = defaultdict(dict)
        for s in scores:
            grid[problem][s.method][s.gamma] = s.nauc
    return grid


def references(scores_by_problem: dict[str, list[metrics.Score]]) -> set[str]:
    """The methods scored as oracle references (e.g. `mse`)."""
    return {
        s.method for scores in scores_by_problem.values() for s in scores if s.reference
    }


def test_points(cell: results.Cell) -> str:
    """How the cell was tested: uniform test points, or held-out rows of a
    finite data set (cells written before this was recorded: the config's n_test)."""
    rows = cell.meta.get("finite_rows")
    points = cell.meta.get("test_points", cell.config["n_test"])
    if rows is None:
        return f"{points} test points"
    return f"{points} held-out test rows of {rows}"


def header_lines(out, reference_methods: set[str]) -> list[str]:
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
        "nAUC (each seed against the same seed's random run); none below "
        f"{MIN_SEEDS_FOR_INTERVAL} seeds.",
        "- **nDiv** = mean distance of each newly labelled point to its nearest "
        "labelled neighbour, divided by random's; well below 1 signals mode collapse.",
        "- **Robust** on a problem: nAUC < 1 at every γ (methods that ignore γ: "
        "at their one value).",
    ]
    if reference_methods:
        names = ", ".join(f"`{m} (reference)`" for m in sorted(reference_methods))
        lines.append(
            f"- {names}: an oracle reference that sees the true error on the whole "
            "pool; an upper reference, never a competitor."
        )
    return lines + [""]


def gamma_table(
    scores: Sequence[metrics.Score], text: Callable[[metrics.Score], str]
) -> list[str]:
    """Markdown lines of a method x γ table of `text(score)`."""
    gammas = sorted({s.gamma for s in scores if s.gamma is not None})
    columns = [gamma_key(g) for g in gammas]
    if any(s.gamma is None for s in scores):
        columns.append(NO_GAMMA)
    by_key = {(s.method, gamma_key(s.gamma)): s for s in scores}
    rows = []
    for method in method_order({s.method for s in scores}):
        reference = next(s.reference for s in scores if s.method == method)
        row = [method_label(method, reference)]
        row += [
            text(by_key[(method, c)]) if (method, c) in by_key else "" for c in columns
        ]
        rows.append(row)
    return markdown_table(["method", *columns], rows)


def problem_lines(
    problem: str,
    cells: Sequence[results.Cell],
    scores: Sequence[metrics.Score],
    naucs: dict[str, dict[int | None, float]],
    robust: set[str],
    reference_methods: set[str],
) -> list[str]:
    """The section of one problem: sizes, capped pools, nAUC and nDiv tables, the
    robust methods and the seconds per AL step."""
    baseline = next(c for c in cells if c.method == "random")
    cfg = baseline.config
    n_final = cfg["n_initial"] + cfg["steps"] * cfg["k"]
    lines = [
        f"## {problem}",
        "",
        f"N0 = {cfg['n_initial']}, k = {cfg['k']}, T = {cfg['steps']} "
        f"(n = {cfg['n_initial']}..{n_final}), "
        f"{cfg['train_steps']} gradient steps per AL step, "
        f"{test_points(baseline)}, seeds {baseline.seeds}.",
        "",
    ]
    capped = effective_gammas(cells)
    if capped:
        lines += [
            "Pools capped by the unused rows at step 0 (effective γ): "
            + ", ".join(f"γ={g} → {e:.1f}" for g, e in capped.items())
            + ".",
            "",
        ]
    lines += ["nAUC (method x pool ratio γ):", ""]
    lines += gamma_table(scores, nauc_text) + ["", "nDiv:", ""]
    lines += gamma_table(scores, lambda s: f"{s.ndiv:.3f}") + [""]

    methods = method_order(naucs)
    ordered = [m for m in methods if m in robust and m not in reference_methods]
    robust_reference = sorted(robust & reference_methods)
    lines.append(
        "Robust methods (nAUC < 1 at every γ): "
        + (", ".join(ordered) if ordered else "none")
        + (
            f"; reference: {', '.join(robust_reference)} (reference)"
            if robust_reference
            else ""
        )
    )
    shown = sorted({0, cfg["steps"] - 1})
    timing_rows = [
        [method_label(m), timing_text([c for c in cells if c.method == m], shown)]
        for m in ["random", *methods]
    ]
    where = " → ".join(
        f"step {t} (n = {cfg['n_initial'] + t * cfg['k']})" for t in shown
    )
    return lines + [
        "",
        "Seconds per AL step and run (median over γ), training / acquisition "
        f"at {where}, from clock stamps inside the run (cells made before the "
        "stamps: their parts timed apart, all seeds in one call, divided by "
        "the seeds); meta.json has every step:",
        "",
        *markdown_table(["method", "train s / acquire s"], timing_rows),
        "",
    ]


def best_gamma_text(by_gamma: dict[int | None, float]) -> str:
    if None in by_gamma:
        return f"ignores γ ({by_gamma[None]:.3f})"
    best = metrics.best_gamma(by_gamma)
    return f"γ={best} ({by_gamma[best]:.3f})"


def summary_lines(
    out, scored: Scored, beside: Sequence[tuple[str, Scored]] = ()
) -> list[str]:
    """The lines of summary.md (see the module doc); `beside`: (folder, scored
    cells) of other sweeps whose robustness tables are set beside this one's."""
    scores_by_problem = scored.scores_by_problem
    grid = nauc_grid(scores_by_problem)
    reference_methods = references(scores_by_problem)
    robust_by_problem = {
        problem: {m for m, by_gamma in naucs.items() if metrics.is_robust(by_gamma)}
        for problem, naucs in grid.items()
    }
    lines = header_lines(out, reference_methods)
    for problem, scores in scores_by_problem.items():
        lines += problem_lines(
            problem,
            scored.usable_by_problem[problem],
            scores,
            grid[problem],
            robust_by_problem[problem],
            reference_methods,
        )

    lines += ["## All problems", ""]
    competitors = method_order(
        {m for naucs in grid.values() for m in naucs if m not in reference_methods}
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
        "Robustness: the worst nAUC over γ on each problem (with that cell's "
        "bootstrap interval) and overall, methods ranked by the overall worst "
        "(below 1: better than random whatever γ, on these problems). Where two "
        "methods' intervals overlap, their order is not resolved by these seeds; "
        "'clearly' counts the problems where every γ's interval lies below 1, "
        "'clearly worse' the cells (problem, γ) whose interval lies above 1:",
        "",
        *robustness_table(scores_by_problem, reference_methods),
    ]
    lines += ["", "Best γ (lowest nAUC) per method and problem:", ""]
    problem_names = list(grid)
    methods = method_order({m for naucs in grid.values() for m in naucs})
    rows = [
        [method_label(m)]
        + [best_gamma_text(grid[p][m]) if m in grid[p] else "" for p in problem_names]
        for m in methods
    ]
    lines += markdown_table(["method", *problem_names], rows)
    lines += [
        "",
        "Diversity of the picks against the pool ratio: nDiv at the smallest and the "
        "largest γ (median over problems), the lowest nDiv of any cell, and the "
        "cells clearly worse than random with their median nDiv (mode collapse: "
        "nDiv falling as γ grows, and the losses where it is lowest):",
        "",
        *diversity_table(scores_by_problem, reference_methods),
    ]
    families = dimension_families(grid)
    if families:
        lines += ["", "## By input dimension", ""]
        lines += [
            "Worst nAUC over γ per method at each input dimension d, with that "
            "cell's interval (below 1: better than random whatever γ; an interval "
            "that holds 1 leaves it unresolved); one table per family of problems "
            "named <family>_d<d>:",
        ]
        for family, by_dim in families.items():
            lines += ["", f"**{family}**", ""]
            lines += dimension_table(scores_by_problem, by_dim, reference_methods)
    for other_out, other in beside:
        lines += beside_lines(out, scored, other_out, other)
    if scored.skipped:
        lines += ["", "Cells left out:", ""]
        lines += [f"- {reason}" for reason in scored.skipped]
    return lines + [""]


def robustness_table(
    scores_by_problem: dict[str, list[metrics.Score]], reference_methods: set[str]
) -> list[str]:
    """Markdown rows: per method, its worst nAUC over γ on each problem (with that
    cell's bootstrap interval) and over all of them, ranked by the latter;
    references after the ranked methods. "robust on" counts the problems where
    nAUC < 1 at every γ; "clearly" those where every γ's interval lies below 1, so
    the seed-to-seed spread cannot undo it; "clearly worse" the cells (problem,
    γ) whose interval lies above 1, where the method loses to random beyond it."""
    problem_names = list(scores_by_problem)
    worst: dict[str, dict[str, metrics.Score]] = defaultdict(dict)
    clearly: dict[str, int] = defaultdict(int)
    worse = clearly_worse(scores_by_problem)
    for problem, scores in scores_by_problem.items():
        unclear = {s.method for s in scores if not clearly_below_one(s)}
        for method, score in worst_scores(scores).items():
            worst[method][problem] = score
            clearly[method] += method not in unclear

    overall = overall_worst(scores_by_problem)
    methods = [*worst, "random"]
    ranked = sorted(
        (m for m in methods if m not in reference_methods),
        key=lambda m: (overall[m], m),
    )
    ranked += sorted(m for m in methods if m in reference_methods)
    n = len(problem_names)
    rows = []
    for rank, method in enumerate(ranked, start=1):
        reference = method in reference_methods
        if method == "random":
            cells = ["1.000"] * n
            robust = clear = worse_at = "–"
        else:
            cells = [
                nauc_text(worst[method][p]) if p in worst[method] else ""
                for p in problem_names
            ]
            robust_on = sum(
                p in worst[method] and worst[method][p].nauc < 1.0
                for p in problem_names
            )
            robust, clear = f"{robust_on} of {n}", f"{clearly[method]} of {n}"
            worse_at = "{} of {}".format(*worse[method])
        rows.append(
            [
                "" if reference else str(rank),
                method_label(method, reference),
                *cells,
                f"{overall[method]:.3f}",
                robust,
                clear,
                worse_at,
            ]
        )
    headers = ["rank", "method", *problem_names, "overall worst", "robust on"]
    return markdown_table([*headers, "clearly", "clearly worse"], rows)


def diversity_table(
    scores_by_problem: dict[str, list[metrics.Score]], reference_methods: set[str]
) -> list[str]:
    """Markdown rows, one per method that depends on γ: the median nDiv over
    problems at the smallest and at the largest γ, the lowest nDiv of any of its
    cells (with where), and its cells clearly worse than random with their
    median nDiv ("–" where there are none)."""
    scores = [
        s for group in scores_by_problem.values() for s in group if s.gamma is not None
    ]
    if not scores:
        return []
    low, high = min(s.gamma for s in scores), max(s.gamma for s in scores)
    rows = []
    for method in method_order({s.method for s in scores}):
        own = [s for s in scores if s.method == method]
        lowest = min(own, key=lambda s: s.ndiv)
        worse = [s.ndiv for s in own if clearly_above_one(s)]
        rows.append(
            [
                method_label(method, method in reference_methods),
                *(
                    f"{np.median([s.ndiv for s in own if s.gamma == g]):.2f}"
                    if any(s.gamma == g for s in own)
                    else ""
                    for g in (low, high)
                ),
                f"{lowest.ndiv:.2f} ({lowest.problem}, γ={lowest.gamma})",
                f"{len(worse)} of {len(own)}",
                f"{np.median(worse):.2f}" if worse else "–",
            ]
        )
    headers = ["method", f"nDiv γ={low}", f"nDiv γ={high}", "lowest nDiv"]
    return markdown_table([*headers, "clearly worse", "their nDiv"], rows)


def clearly_worse(
    scores_by_problem: dict[str, list[metrics.Score]],
) -> dict[str, tuple[int, int]]:
    """method -> (cells whose interval lies above 1, cells), over problems and γ:
    where it loses to random beyond the seed-to-seed spread."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for scores in scores_by_problem.values():
        for score in scores:
            counts[score.method][0] += clearly_above_one(score)
            counts[score.method][1] += 1
    return {method: (worse, n) for method, (worse, n) in counts.items()}


def worst_scores(scores: Sequence[metrics.Score]) -> dict[str, metrics.Score]:
    """method -> its score at its worst γ (largest nAUC) among `scores`."""
    worst: dict[str, metrics.Score] = {}
    for score in scores:
        if score.method not in worst or score.nauc > worst[score.method].nauc:
            worst[score.method] = score
    return worst


def overall_worst(scores_by_problem: dict[str, list[metrics.Score]]) -> dict:
    """method -> its worst nAUC over γ and problems (inf where a problem lacks
    it: unknown counts as unsafe); random 1."""
    grid = nauc_grid(scores_by_problem)
    methods = {m for naucs in grid.values() for m in naucs}
    worst = {
        m: max(metrics.worst_nauc(grid[p][m]) if m in grid[p] else np.inf for p in grid)
        for m in methods
    }
    return {**worst, "random": 1.0}


def worst_text(worst: float) -> str:
    """A worst nAUC, or "not run" where a problem lacks the method (inf)."""
    return "not run" if np.isinf(worst) else f"{worst:.3f}"


def beside_lines(out, scored: Scored, other_out, other: Scored) -> list[str]:
    """summary.md lines: another sweep's robustness table, and per method its
    overall worst nAUC here and there, whether it beats random on both, and
    whether it is never clearly worse than random on either."""
    reference_methods = references(scored.scores_by_problem) | references(
        other.scores_by_problem
    )
    here = overall_worst(scored.scores_by_problem)
    there = overall_worst(other.scores_by_problem)
    lines = ["", f"## Beside {other_out}", ""]
    lines += [
        f"The robustness table of {other_out} "
        f"({', '.join(other.scores_by_problem)}), as above:",
        "",
        *robustness_table(other.scores_by_problem, reference_methods),
        "",
        f"Overall worst nAUC over γ here ({out}) and in {other_out}; "
        "below 1 on both: better than random whatever γ, on both sets of "
        "problems; never clearly worse: no cell's interval above 1, here or there:",
        "",
    ]
    methods = sorted(
        (m for m in set(here) | set(there) if m not in reference_methods),
        key=lambda m: (max(here.get(m, np.inf), there.get(m, np.inf)), m),
    )
    worse_here = clearly_worse(scored.scores_by_problem)
    worse_there = clearly_worse(other.scores_by_problem)
    rows = []
    for method in methods:
        a, b = here.get(method, np.inf), there.get(method, np.inf)
        both = "yes" if max(a, b) < 1.0 else "no"
        never = (
            "yes"
            if method in worse_here
            and method in worse_there
            and worse_here[method][0] + worse_there[method][0] == 0
            else "no"
        )
        if method == "random":
            both = never = "–"
        rows.append([method_label(method), worst_text(a), worst_text(b), both, never])
    headers = ["method", str(out), str(other_out), "below 1 on both"]
    return lines + markdown_table([*headers, "never clearly worse"], rows)


def dimension_families(names) -> dict[str, dict[int, str]]:
    """family -> {d: problem} for problems named <family>_d<d>, in order of d;
    only families with at least two dimensions."""
    families: dict[str, dict[int, str]] = defaultdict(dict)
    for name in names:
        match = DIMENSION_NAME.fullmatch(name)
        if match:
            families[match["family"]][int(match["dim"])] = name
    return {
        family: dict(sorted(by_dim.items()))
        for family, by_dim in families.items()
        if len(by_dim) > 1
    }


def worst_by_dimension(
    scores_by_problem: dict[str, list[metrics.Score]], by_dim: dict[int, str]
) -> dict[str, dict[int, metrics.Score]]:
    """method -> {d: its score at its worst γ} on one family's problems. random,
    1 by definition, is not among them."""
    worst: dict[str, dict[int, metrics.Score]] = defaultdict(dict)
    for dim, problem in by_dim.items():
        for method, score in worst_scores(scores_by_problem.get(problem, ())).items():
            if method != "random":
                worst[method][dim] = score
    return dict(worst)


def dimension_table(
    scores_by_problem: dict[str, list[metrics.Score]],
    by_dim: dict[int, str],
    reference_methods: set[str],
) -> list[str]:
    """Markdown rows: per method, its worst nAUC over γ at each d of one family,
    with that cell's bootstrap interval."""
    worst = worst_by_dimension(scores_by_problem, by_dim)
    rows = [[method_label("random"), *(["1.000"] * len(by_dim))]]
    for method in method_order(worst):
        by_d = worst[method]
        cells = [nauc_text(by_d[d]) if d in by_d else "" for d in by_dim]
        rows.append([method_label(method, method in reference_methods), *cells])
    return markdown_table(["method", *(f"d = {d}" for d in by_dim)], rows)


def write_csv(path: Path, cells: Sequence[results.Cell]) -> Path:
    """cells.csv: `results.to_table`'s rows, one per seed of each cell."""
    rows = results.to_table(cells)
    fields = list(rows[0]) if rows else ["problem", "method", "gamma", "seed"]
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_tables(
    out, folder: Path, scored: Scored, beside: Sequence[tuple[str, Scored]] = ()
) -> list[Path]:
    """Writes summary.md and cells.csv of `scored` into `folder`; their paths.
    `beside`: other sweeps whose robustness tables summary.md sets beside."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = folder / "summary.md"
    summary.write_text("\n".join(summary_lines(out, scored, beside)))
    return [summary, write_csv(folder / "cells.csv", scored.cells)]
