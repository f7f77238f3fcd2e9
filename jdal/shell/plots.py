"""Figures: MSE curves, nAUC heatmaps, nAUC against nDiv, worst nAUC against input
dimension; one style per method."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import ticker
from matplotlib.lines import Line2D

from jdal import acquisitions, metrics, results
from jdal.loop import RunResult

from .names import NO_GAMMA, gamma_key, method_groups, method_label, method_order
from .text import interval

plt.switch_backend("Agg")  # files only, never a window

# One marker per registered method (the nAUC–nDiv scatter tells methods apart by
# marker alone, colour being the problem's); "x" is the references'.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p", "1", "+", "d")
# More methods than this in one MSE-curve figure: one panel per group of methods.
MAX_CURVES_PER_PANEL = 8


def method_style(method: str, reference: bool = False) -> dict[str, Any]:
    """Colour, line style and marker fixed per method across every figure."""
    if reference:
        return {"color": "0.45", "linestyle": "--", "marker": "x"}
    if method == "random":
        return {"color": "black", "linestyle": "-", "marker": "o"}
    names = [m for m in acquisitions.names() if m != "random"]
    if method in names:
        index = names.index(method)
    else:
        index = len(names) + zlib.crc32(method.encode()) % 7
    # Saturated, distinct colours (tab10, then Dark2), never the pale tab20 half.
    # Greys are left out: grey is the reference's colour.
    colors = [
        color
        for color in plt.get_cmap("tab10").colors + plt.get_cmap("Dark2").colors
        if len({round(channel, 2) for channel in color}) > 1
    ]
    return {
        "color": colors[index % len(colors)],
        "linestyle": "-",
        "marker": MARKERS[index % len(MARKERS)],
    }


def save_figure(fig, stem: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Saves `fig` as <stem>.<fmt> for each format and closes it."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for extension in formats:
        path = stem.with_suffix(f".{extension}")
        fig.savefig(path, dpi=150, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


class Curve(NamedTuple):
    """One method's MSE curve: n int[T+1], mse f[S, T+1] (per seed), whether the
    method is an oracle reference, and whether the problem is a finite data set
    (None: unknown)."""

    n: np.ndarray
    mse: np.ndarray
    reference: bool
    finite: bool | None


def as_curve(method: str, run: results.Cell | RunResult) -> Curve:
    """The curve of a loaded cell, or of a seed-batched `RunResult` (leaves [S, ...],
    as `jax.vmap(make_run(cfg))` returns)."""
    if isinstance(run, results.Cell):
        arrays = run.arrays
        finite = run.meta.get("finite_rows") is not None
        return Curve(arrays["n_labelled"], arrays["mse"], run.reference, finite)
    n = np.asarray(run.n_labelled)
    mse = np.atleast_2d(np.asarray(run.mse))
    found = acquisitions.ACQUISITIONS.get(method)
    return Curve(
        n.reshape(-1, n.shape[-1])[0], mse, bool(found and found.reference), None
    )


def mse_curves(
    runs: Mapping[str, results.Cell | RunResult], title: str = "test MSE"
) -> plt.Figure:
    """A figure of test-MSE curves, one per method, from IPython: `runs` maps a
    method to its seed-batched `RunResult` or its loaded `results.Cell`.

        fig = mse_curves({"qbc": result, "random": random_result}, "robo, γ = 16")
        fig.savefig("robo.png")

    The shell draws its figures with the same function (`plot_mse_curves`).
    """
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    plot_mse_curves(ax, {m: as_curve(m, run) for m, run in runs.items()}, title)
    return fig


def plot_mse_curves(ax, curves: Mapping[str, Curve], title: str) -> None:
    """Seed-mean test MSE against labelled-set size (log y), min-max band over seeds."""
    n_seeds = max((curve.mse.shape[0] for curve in curves.values()), default=0)
    for method in method_order(curves):
        curve = curves[method]
        n, mse = curve.n, curve.mse.astype(np.float64)
        style = method_style(method, curve.reference)
        ax.plot(
            n,
            mse.mean(axis=0),
            color=style["color"],
            linestyle=style["linestyle"],
            marker=style["marker"],
            markersize=3.5,
            markevery=max(1, len(n) // 12),
            linewidth=2.0 if method == "random" else 1.5,
            zorder=3 if method == "random" else 2,
            label=method_label(method, curve.reference),
        )
        if mse.shape[0] > 1:
            ax.fill_between(n, mse.min(0), mse.max(0), color=style["color"], alpha=0.12)
    ax.set_yscale("log")
    ax.set_xlabel("labelled points n")
    finite = {curve.finite for curve in curves.values()}
    units = {
        True: " (targets scaled to [−1, 1])",
        False: " (the oracle's output units)",
    }
    ax.set_ylabel(
        "test MSE" + (units[finite.pop()] if finite in ({True}, {False}) else "")
    )
    plain_log_ticks(ax.yaxis, ax.get_ylim())
    band = f"band: min-max over {n_seeds} seeds" if n_seeds > 1 else "1 seed"
    ax.set_title(f"{title}\nline: seed mean, {band}", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    if len(curves) > 6:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8, loc="best")


def curves_figure(
    cells: Sequence[results.Cell],
    title: str,
    stem: Path,
    formats: Sequence[str] = ("png",),
    size: tuple[float, float] = (6.8, 4.6),
) -> list[Path]:
    """The MSE curves of `cells` (one per method) saved as <stem>.<format>; with
    more than MAX_CURVES_PER_PANEL methods, one panel per group of methods
    (`names.method_groups`) on a shared y axis, each with random and references."""
    by_method = {cell.method: cell for cell in cells}
    groups = [("", list(by_method))]
    if len(by_method) > MAX_CURVES_PER_PANEL:
        groups = method_groups(by_method)
    width, height = size
    fig, axes = plt.subplots(
        1,
        len(groups),
        figsize=(width * len(groups), height),
        sharey=True,
        squeeze=False,
    )
    for ax, (group, methods) in zip(axes[0], groups, strict=True):
        panel = f"{title}: {group}" if group else title
        curves = {m: as_curve(m, by_method[m]) for m in methods}
        plot_mse_curves(ax, curves, panel)
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    # Room for each panel's legend, which sits outside it on the right.
    fig.subplots_adjust(wspace=0.55)
    return save_figure(fig, stem, formats)


def plain_log_ticks(axis, limits: tuple[float, float]) -> None:
    """Plain numbers (0.2, 0.05) on a log axis instead of 2×10⁻¹; minor ticks get
    labels only within one decade, where they are the only ones."""
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:.3g}"))
    low, high = limits
    if low > 0 and high / low > 10:
        axis.set_minor_formatter(ticker.NullFormatter())
    else:
        axis.set_minor_formatter(ticker.FuncFormatter(lambda value, _: f"{value:.2g}"))


def heatmap_figure(
    problem: str,
    scores: Sequence[metrics.Score],
    gammas: Sequence[int],
    formats: Sequence[str],
    folder: Path,
) -> list[Path]:
    """nAUC per method and γ of one problem, diverging colours centred at 1."""
    methods = method_order({s.method for s in scores})
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
        figsize=(1.2 + 0.9 * len(columns), 1.4 + 0.42 * len(methods)),
        layout="constrained",  # the title sits above the axes and the colour bar
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
    ax.set_yticks(range(len(methods)), [method_label(m, reference[m]) for m in methods])
    n_competitors = sum(not reference[m] for m in methods)
    if 0 < n_competitors < len(methods):
        ax.axhline(n_competitors - 0.5, color="black", linewidth=1.2)
    ax.set_xlabel("pool ratio γ = pool size / k")
    # Title on the figure, not the axes: a long one then cannot run into the bar.
    fig.suptitle(f"{problem}: nAUC vs random\n(blue < 1: beats random)", fontsize=10)
    bar = fig.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label("nAUC = AUC(method) / AUC(random)")
    return save_figure(fig, folder / f"nauc_heatmap_{problem}", formats)


def dimension_figure(
    worst_by_family: Mapping[str, Mapping[str, Mapping[int, metrics.Score]]],
    reference_methods: set[str],
    formats: Sequence[str],
    folder: Path,
) -> list[Path]:
    """nauc_vs_dimension: per family of problems (one panel each), every method's
    worst nAUC over γ against the input dimension d (log axis), with that cell's
    bootstrap interval as a bar; random is the line at 1."""
    families = list(worst_by_family)
    fig, axes = plt.subplots(
        1, len(families), figsize=(4.6 * len(families), 4.2), squeeze=False,
        sharey=True, layout="constrained",
    )  # fmt: skip
    handles = {}
    for ax, family in zip(axes[0], families, strict=True):
        worst = worst_by_family[family]
        dims = sorted({d for by_dim in worst.values() for d in by_dim})
        random_style = method_style("random")
        (line,) = ax.plot(
            dims, [1.0] * len(dims), label=method_label("random"), **random_style
        )
        handles.setdefault(line.get_label(), line)
        methods = method_order(worst)
        for index, method in enumerate(methods):
            reference = method in reference_methods
            points = sorted(worst[method].items())
            # Nudge each method sideways a little so that its bar stays visible.
            shift = 2 ** (0.06 * (index - (len(methods) - 1) / 2))
            x = [d * shift for d, _ in points]
            y = np.array([s.nauc for _, s in points])
            bounds = [interval(s) or (s.nauc, s.nauc) for _, s in points]
            bars = np.abs(np.array(bounds).T - y)
            container = ax.errorbar(
                x, y, yerr=bars, capsize=0, elinewidth=0.8, markersize=5,
                label=method_label(method, reference),
                **method_style(method, reference),
            )  # fmt: skip
            handles.setdefault(method_label(method, reference), container.lines[0])
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle=":")
        ax.set_xscale("log", base=2)
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        ax.set_yscale("log")
        ax.set_xlabel("input dimension d")
        ax.set_title(family)
    axes[0][0].set_ylabel("worst nAUC over γ (below 1: beats random at every γ)")
    # Shared y: labelling the first panel's axis labels them all.
    label_ratio_axis(axes[0][0].yaxis, axes[0][0].get_ylim())
    fig.legend(handles.values(), handles.keys(), loc="outside right center", fontsize=8)
    return save_figure(fig, folder / "nauc_vs_dimension", formats)


def scatter_figure(
    scores_by_problem: dict[str, Sequence[metrics.Score]],
    formats: Sequence[str],
    folder: Path,
) -> list[Path]:
    """nAUC against nDiv, one point per cell: marker by method, colour by problem,
    size by γ (`gamma_marker_size`)."""
    fig, ax = plt.subplots(figsize=(7.2, 5.2))
    problem_colors = plt.get_cmap("tab10").colors
    problems = list(scores_by_problem)
    methods = method_order(
        {s.method for scores in scores_by_problem.values() for s in scores}
    )
    reference = {}
    for p_index, problem in enumerate(problems):
        for s in scores_by_problem[problem]:
            reference[s.method] = s.reference
            ax.scatter(
                s.ndiv,
                s.nauc,
                marker=method_style(s.method, s.reference)["marker"],
                color=problem_colors[p_index % len(problem_colors)],
                s=gamma_marker_size(s.gamma),
                alpha=0.85,
                linewidths=1.0,
            )
    ax.axhline(1.0, color="0.3", linestyle=":", linewidth=1)
    ax.axvline(1.0, color="0.3", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("nDiv = Div(method) / Div(random)  (well below 1: mode collapse)")
    ax.set_ylabel("nAUC = AUC(method) / AUC(random)  (below 1: beats random)")
    ax.set_title(
        "nAUC against nDiv; one point per (problem, method, γ) cell; size: γ",
        fontsize=10,
    )
    method_handles = [
        Line2D(
            [],
            [],
            linestyle="",
            color="0.25",
            marker=method_style(m, reference[m])["marker"],
            label=method_label(m, reference[m]),
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
    gammas = sorted(
        {s.gamma for sc in scores_by_problem.values() for s in sc if s.gamma}
    )
    gamma_handles = [
        Line2D(
            [],
            [],
            linestyle="",
            marker="o",
            color="0.5",
            markersize=np.sqrt(gamma_marker_size(g)),
            label=f"γ={g}",
        )
        for g in gammas
    ]
    # Figure legends (not axes artists) so the tight bounding box keeps them; each
    # is placed in the axes' coordinates, right of the plot.
    legends = [
        (method_handles, "method", "upper left", (1.01, 1.0)),
        (problem_handles, "problem", "lower left", (1.01, 0.0)),
        (gamma_handles, "pool ratio", "upper left", (1.27, 1.0)),
    ]
    for handles, title, loc, anchor in legends:
        if handles:
            fig.legend(
                handles=handles,
                title=title,
                fontsize=7,
                loc=loc,
                bbox_to_anchor=anchor,
                bbox_transform=ax.transAxes,
            )
    ax.grid(True, which="both", alpha=0.2)
    label_ratio_axis(ax.xaxis, ax.get_xlim())
    label_ratio_axis(ax.yaxis, ax.get_ylim())
    return save_figure(fig, folder / "nauc_vs_ndiv", formats)


def gamma_marker_size(gamma: int | None) -> float:
    """Scatter marker area (points²) growing with log γ; methods that ignore γ get
    the smallest."""
    return 14.0 + 22.0 * np.log2(gamma) if gamma else 14.0


def label_ratio_axis(axis, limits: tuple[float, float]) -> None:
    """Plain numbers (0.5, 1, 2) on a log ratio axis; evenly spaced within a decade."""
    low, high = limits
    if high / low <= 10:
        axis.set_major_locator(ticker.MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10]))
        axis.set_minor_formatter(ticker.NullFormatter())
    else:  # plain minor labels (0.2, 0.3) rather than 2×10⁻¹
        axis.set_minor_formatter(ticker.FuncFormatter(lambda value, _: f"{value:.2g}"))
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:.3g}"))
