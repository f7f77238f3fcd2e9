"""Host code shared by run.py, sweep.py and report.py: flags, cells, timing, scores,
tables and plots. The pure core (`jdal`) never prints or writes; this module does."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

try:
    import jdal
except ImportError:  # not pip-installed: run from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import jdal

import jax
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jdal import (  # noqa: E402
    acquisitions,
    config,
    metrics,
    parallel,
    problems,
    results,
)
from jdal.loop import make_step_parts  # noqa: E402

# Cell coordinates have their own flags; --set may not change them.
COORDINATE_FIELDS = ("problem", "method", "gamma")
BOOTSTRAP_LEVEL = 0.9

# ---------------------------------------------------------------------------
# Flags.


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= 1, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def name_list(kind: str, valid: Callable[[], Sequence[str]]) -> Callable[[str], list]:
    """argparse type: comma-separated names from `valid()`, duplicates dropped."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names:
            raise argparse.ArgumentTypeError(f"expected a comma-separated {kind} list")
        allowed = list(valid())
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(allowed)}"
            )
        return list(dict.fromkeys(names))

    return parse


def int_list(text: str) -> list[int]:
    """argparse type: comma-separated integers >= 1, sorted, duplicates dropped."""
    return sorted({positive_int(part.strip()) for part in text.split(",") if part})


def config_fields() -> dict[str, dataclasses.Field]:
    return {field.name: field for field in dataclasses.fields(config.Config)}


def parse_setting(text: str) -> tuple[str, Any]:
    """argparse type for --set: `key=value` with key a Config field, typed value."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    fields = config_fields()
    settable = [name for name in fields if name not in COORDINATE_FIELDS]
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    if key in COORDINATE_FIELDS:
        raise argparse.ArgumentTypeError(
            f"{key!r} is a cell coordinate; use its own flag (--{key}...)"
        )
    if key not in fields:
        raise argparse.ArgumentTypeError(
            f"unknown config field {key!r}; valid fields: {', '.join(settable)}"
        )
    annotation = str(fields[key].type)
    if value.lower() == "none" and "None" in annotation:
        return key, None
    kind = annotation.split("|")[0].strip()
    parse = {"int": int, "float": float}.get(kind, str)
    try:
        return key, parse(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{key} expects {annotation}, got {value!r}"
        ) from None


def add_config_flags(parser: argparse.ArgumentParser, default_out: str) -> None:
    """Adds --seeds --steps --preset --set --out --lanes."""
    parser.add_argument(
        "--seeds",
        type=positive_int,
        default=5,
        help="number of seeds 0..S-1, run together as one vmapped call (default 5)",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="AL steps T (default: the preset's)",
    )
    parser.add_argument(
        "--preset",
        choices=list(config.PRESETS),
        default="quick",
        help="config size preset; 'paper' is BENCHMARK.md exactly, 'quick' is "
        "CPU-sized, 'smoke' takes seconds (default quick)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        metavar="KEY=VALUE",
        type=parse_setting,
        action="append",
        default=[],
        help="override any Config field, e.g. --set train_steps=100 "
        "(repeatable; 'none' for problem defaults)",
    )
    parser.add_argument(
        "--out", default=default_out, help=f"results folder (default {default_out})"
    )
    parser.add_argument(
        "--lanes",
        choices=parallel.LANES,
        default="auto",
        help="how the runs of one call are batched: vmap (vectorised, fast on "
        "accelerators), map (one after another, each bit-for-bit its run alone, "
        "whatever else shares the call), auto (map on one CPU device, else vmap; "
        "default)",
    )


def make_config(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    problem: str,
    method: str,
    gamma: int,
) -> config.Config:
    """The validated cell config of the flags; a bad one is a parser error (exit 2)."""
    changes = dict(args.settings)
    if args.steps is not None:
        changes["steps"] = args.steps
    try:
        cfg = config.preset(
            args.preset, problem=problem, method=method, gamma=gamma, **changes
        )
        return results.cell_config(cfg.validate())
    except (ValueError, TypeError) as error:
        parser.error(str(error))


# ---------------------------------------------------------------------------
# Running and caching cells.


class NonFiniteLabelsError(RuntimeError):
    """The oracle returned non-finite labels: the results would be meaningless."""


TIMING_HOW = (
    "each part (training; acquisition) jitted and vmapped over all seeds like the "
    "run, compiled ahead (compile not counted), then one timed call per part at each "
    "step on that step's labelled-set size, buffer capacity and pool; wall seconds"
)


def timed_steps(steps: int) -> list[int]:
    """The AL steps whose parts are timed: first, middle and last (deduplicated)."""
    return sorted({0, steps // 2, steps - 1})


# Compiled step parts by program text. Methods that share an ensemble (most do)
# lower to the same training program, so a sweep or run.py compiles each step's
# training once per problem instead of once per cell: on a CPU these compiles,
# not the timed calls, are most of the timing's cost.
_COMPILED: dict[str, Any] = {}


def _compile(fn: Callable, *args) -> Any:
    """`jit(fn)` compiled for `args`, reused when the same program was compiled."""
    lowered = jax.jit(fn).lower(*args)
    # The argument types too: the program text leaves out the arguments it ignores.
    program = f"{lowered.args_info!r}\n{lowered.as_text()}"
    key = hashlib.sha256(program.encode()).hexdigest()
    if key not in _COMPILED:
        _COMPILED[key] = lowered.compile()
    return _COMPILED[key]


def _time_one_call(fn: Callable, *args) -> tuple[float, Any]:
    """(wall seconds, output) of one call of `jit(fn)` compiled ahead of time."""
    compiled = _compile(fn, *args)
    start = time.perf_counter()
    output = jax.block_until_ready(compiled(*args))
    return time.perf_counter() - start, output


def time_step_parts(
    cfgs: Sequence[config.Config], seeds: Sequence[int]
) -> list[dict[str, Any]]:
    """`timing.steps` of each cell of `cfgs` (one problem and method, any γ): seconds
    of an AL step's training and of its acquisition at the first, middle and last
    step (`timed_steps`), all seeds vmapped.

    One timed call per part and step keeps the cost near three extra AL-step
    trainings per cell, plus the parts' compiles (shared by cells whose parts
    lower to the same program, `_compile`). Training does not depend on γ, so it
    is timed once per step for all `cfgs`; each γ's acquisition is timed on its own
    pool (a prefix of the widest: pools nest across γ), as `run_cell` runs it.
    """
    steps = timed_steps(cfgs[0].steps)
    keys = jdal.seed_keys(seeds)
    widest = max(cfgs, key=lambda cfg: cfg.pool_size)
    records = [
        {
            "step": steps,
            "n_labelled": [cfg.n_initial + t * cfg.k for t in steps],
            "train_s": [],
            "acquire_s": [],
            "how": TIMING_HOW,
        }
        for cfg in cfgs
    ]
    # The untrained state is the same at every step: it is built apart from the
    # step's data, so its slow compile is shared by the steps and by the cells.
    first = make_step_parts(widest, steps[0])
    model_state = _compile(jax.vmap(lambda key: first.inputs(key)[0]), keys)(keys)
    for t in steps:
        parts = make_step_parts(widest, t)
        data = jax.vmap(lambda key, parts=parts: parts.inputs(key)[1:])
        labelled_x, labelled_y, pool_x = _compile(data, keys)(keys)
        train_s, trained = _time_one_call(
            jax.vmap(parts.train), keys, model_state, labelled_x, labelled_y
        )
        for cfg, record in zip(cfgs, records, strict=True):
            pool = None if pool_x is None else pool_x[:, : cfg.pool_size]
            acquire_s, _ = _time_one_call(
                jax.vmap(make_step_parts(cfg, t).select),
                keys,
                pool,
                trained,
                labelled_x,
                labelled_y,
            )
            record["train_s"].append(train_s)
            record["acquire_s"].append(acquire_s)
    return records


def _check_labels(cfg: config.Config, arrays: dict[str, np.ndarray]) -> None:
    bad = int(np.sum(arrays["n_nonfinite_labels"]))
    if bad:
        raise NonFiniteLabelsError(
            f"{cfg.problem}/{cfg.method}/gamma {cfg.gamma}: the oracle returned {bad} "
            "non-finite labels; nothing was saved (fix the problem's oracle)"
        )


def _runner_meta(runner: parallel.BatchedRunner) -> dict[str, Any]:
    return {
        "devices": runner.n_devices,
        "lanes": runner.lanes,
        "chunk_size": runner.chunk_size,
        "program_bytes": runner.program_bytes,
    }


def _compile_and_run(runner, keys: jax.Array) -> tuple[Any, float, float]:
    """(result, compile seconds, run seconds) of a Batched or GammaGrid runner."""
    start = time.perf_counter()
    runner.compile(keys)
    compiled_at = time.perf_counter()
    result = jax.block_until_ready(runner(keys))
    return result, compiled_at - start, time.perf_counter() - compiled_at


def run_cell(
    cfg: config.Config,
    seeds: Sequence[int],
    lanes: str = "auto",
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Runs one cell (all seeds in one compiled call): (arrays, meta) for save_cell.

    The seeds are sharded over all local devices and chunked if memory requires
    (`jdal.parallel`); the AL step's parts are then timed (`time_step_parts`).
    Raises NonFiniteLabelsError when the oracle produced non-finite labels.
    """
    start = time.perf_counter()
    # jdal.make_run (not a module-bound copy), so tests can stand in a fake run.
    runner = parallel.BatchedRunner(jdal.make_run(cfg), lanes=lanes)
    result, compile_s, run_s = _compile_and_run(runner, jdal.seed_keys(seeds))
    arrays = results.result_arrays(result, seeds)
    _check_labels(cfg, arrays)
    (steps,) = time_step_parts([cfg], seeds)
    timing = {
        "compile_s": compile_s,
        "run_s": run_s,
        "steps": steps,
        "total_s": time.perf_counter() - start,
    }
    meta = {
        "timing": timing,
        "device": results.describe_device(),
        "batch": _runner_meta(runner),
    }
    return arrays, meta


def run_gamma_grid(
    cfgs: Sequence[config.Config],
    seeds: Sequence[int],
    lanes: str = "auto",
) -> list[tuple[dict[str, np.ndarray], dict[str, Any]]]:
    """Runs the cells `cfgs` (one problem and method, several γ) in one compiled call.

    Returns (arrays, meta) per cell, in order, each exactly what `run_cell` would
    save (up to float rounding). A cell's compile_s, run_s and total_s are its share
    of the grid's (total / number of γ); the grid's totals are kept under "grid".
    """
    gammas = [cfg.gamma for cfg in cfgs]
    grid_run = jdal.make_gamma_grid_run(cfgs[0], gammas)
    runner = parallel.BatchedRunner(grid_run, lanes=lanes)
    grid = parallel.GammaGridRunner(tuple(gammas), runner)
    result, compile_s, run_s = _compile_and_run(grid, jdal.seed_keys(seeds))
    cells = []
    for index, cfg in enumerate(cfgs):
        arrays = results.result_arrays(
            jax.tree.map(lambda leaf, i=index: leaf[i], result), seeds
        )
        _check_labels(cfg, arrays)
        cells.append(arrays)
    timing_start = time.perf_counter()
    steps = time_step_parts(cfgs, seeds)
    timing_s = time.perf_counter() - timing_start
    out = []
    for arrays, cell_steps in zip(cells, steps, strict=True):
        timing = {
            "compile_s": compile_s / len(cfgs),
            "run_s": run_s / len(cfgs),
            "steps": cell_steps,
            "total_s": (compile_s + run_s + timing_s) / len(cfgs),
        }
        meta = {
            "timing": timing,
            "device": results.describe_device(),
            "batch": _runner_meta(grid.runner),
            "grid": {"gammas": gammas, "compile_s": compile_s, "run_s": run_s},
        }
        out.append((arrays, meta))
    return out


class CellOutcome(NamedTuple):
    """A cell ready to use, and how it got there."""

    cell: results.Cell
    status: str  # status found on disk before: done / missing / stale / corrupt
    detail: str
    ran: bool


def ensure_cell(
    out: str | Path,
    cfg: config.Config,
    seeds: Sequence[int],
    log: Callable[[str], None] | None = None,
    lanes: str = "auto",
) -> CellOutcome:
    """Loads the cell when done with a matching hash and seeds, else (re)computes it."""
    found = results.inspect_cell(out, cfg, seeds)
    if found.status == "done":
        return CellOutcome(
            results.load_cell(results.cell_folder(out, cfg)),
            "done",
            found.detail,
            False,
        )
    if log is not None and found.status in ("stale", "corrupt"):
        log(f"recomputing {found.status} cell: {found.detail}")
    arrays, meta = run_cell(cfg, seeds, lanes)
    folder = results.save_cell(out, cfg, arrays, meta)
    return CellOutcome(results.load_cell(folder), found.status, found.detail, True)


# ---------------------------------------------------------------------------
# Scores.


class Score(NamedTuple):
    """Metrics of one cell against random on the same problem (paired by seed)."""

    problem: str
    method: str
    gamma: int | None
    reference: bool
    final_mse_mean: float
    final_mse_std: float
    nauc: float
    nauc_per_seed: np.ndarray
    nauc_interval: tuple[float, float]
    ndiv: float


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


def incompatibility(cell: results.Cell, baseline: results.Cell) -> str | None:
    """Why `cell` cannot be scored against `baseline`, or None when it can."""
    ignore = set(COORDINATE_FIELDS)
    ours = {k: v for k, v in cell.config.items() if k not in ignore}
    theirs = {k: v for k, v in baseline.config.items() if k not in ignore}
    if ours != theirs:
        changed = sorted(
            k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)
        )
        return f"config differs from random's in {', '.join(changed)}"
    if cell.seeds != baseline.seeds:
        return f"seeds {cell.seeds} differ from random's {baseline.seeds}"
    return None


def score(cell: results.Cell, baseline: results.Cell) -> Score:
    """nAUC, paired per-seed nAUC with a bootstrap interval, nDiv, final MSE."""
    mse, n = cell.arrays["mse"], cell.arrays["n_labelled"]
    per_seed = metrics.nauc_per_seed(mse, baseline.arrays["mse"], n)
    interval = (
        metrics.bootstrap_interval(per_seed, BOOTSTRAP_LEVEL)
        if per_seed.size > 1
        else (float(per_seed[0]), float(per_seed[0]))
    )
    final = mse[:, -1].astype(np.float64)
    return Score(
        problem=cell.problem,
        method=cell.method,
        gamma=cell.gamma,
        reference=cell.reference,
        final_mse_mean=float(final.mean()),
        final_mse_std=float(final.std()),
        nauc=metrics.nauc(mse, baseline.arrays["mse"], n),
        nauc_per_seed=per_seed,
        nauc_interval=interval,
        ndiv=metrics.ndiv(cell.arrays["div"], baseline.arrays["div"]),
    )


# ---------------------------------------------------------------------------
# Labels, ordering, tables.


def method_order(methods: Iterable[str]) -> list[str]:
    """Registry order (random first, references last); unknown names after, sorted."""
    methods = set(methods)
    registered = [m for m in acquisitions.names() if m in methods]
    known = set(registered)
    ordered = [m for m in registered if not results.is_reference(m)]
    ordered += sorted(m for m in methods if m not in known)
    ordered += [m for m in registered if results.is_reference(m)]
    if "random" in ordered:
        ordered.remove("random")
        ordered.insert(0, "random")
    return ordered


def method_label(method: str, reference: bool | None = None) -> str:
    """Display name: `mse (reference)`, `random (baseline)`, `naqbc (ignores γ)`."""
    if reference is None:
        reference = results.is_reference(method)
    if reference:
        return f"{method} (reference)"
    if method == "random":
        return "random (baseline)"
    if not results.uses_pool(method):
        return f"{method} (ignores γ)"
    return method


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
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


def fmt(value: float, digits: int = 3) -> str:
    """Compact number: fixed for moderate magnitudes, scientific otherwise."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if value != 0 and not 1e-3 <= abs(value) < 1e4:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}f}"


# ---------------------------------------------------------------------------
# Plots.

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p")


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


def plot_mse_curves(ax, cells: Sequence[results.Cell], title: str) -> None:
    """Seed-mean test MSE against labelled-set size (log y), min-max band over seeds."""
    by_method = {cell.method: cell for cell in cells}
    n_seeds = max((len(cell.seeds) for cell in cells), default=0)
    for method in method_order(by_method):
        cell = by_method[method]
        n, mse = cell.arrays["n_labelled"], cell.arrays["mse"].astype(np.float64)
        style = method_style(method, cell.reference)
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
            label=method_label(method, cell.reference),
        )
        if mse.shape[0] > 1:
            ax.fill_between(n, mse.min(0), mse.max(0), color=style["color"], alpha=0.12)
    ax.set_yscale("log")
    ax.set_xlabel("labelled points n")
    ax.set_ylabel("test MSE")
    band = f"band: min-max over {n_seeds} seeds" if n_seeds > 1 else "1 seed"
    ax.set_title(f"{title}\nline: seed mean, {band}", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    if len(by_method) > 6:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8, loc="best")


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


def problem_names() -> list[str]:
    return problems.names()


def method_names() -> list[str]:
    return acquisitions.names()
