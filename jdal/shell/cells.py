"""Computing result cells (compiled and run apart, timed) and caching them on disk.

compute_cells(cfgs, seeds, lanes) -> [(arrays, meta)]   one call for all of cfgs
ensure_cell(out, cfg, seeds)      -> CellOutcome        load when done, else compute
seeds_to_run(out, cfg, seeds)     -> [seed]             what a saved cell lacks
merge_seeds(out, cfg, seeds, arrays, meta)              saved runs + new ones

A run's result depends only on its config and its seed (bit for bit with map
lanes, the default on a CPU), so a saved cell with some of the requested seeds
keeps them and only the seeds it lacks are run: a sweep asked for 5 seeds where
3 are saved runs 2.
"""

from __future__ import annotations

import datetime
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jdal import acquisitions, config, loop, parallel, problems, results

from . import timing


class NonFiniteLabelsError(RuntimeError):
    """The oracle returned non-finite labels: the results would be meaningless."""


def _check_labels(cfg: config.Config, arrays: dict[str, np.ndarray]) -> None:
    bad = int(np.sum(arrays["n_nonfinite_labels"]))
    if bad:
        raise NonFiniteLabelsError(
            f"{cfg.problem}/{cfg.method}/gamma {cfg.gamma}: the oracle returned {bad} "
            "non-finite labels; nothing was saved (fix the problem's oracle)"
        )


def compute_cells(
    cfgs: Sequence[config.Config], seeds: Sequence[int], lanes: str = "auto"
) -> list[tuple[dict[str, np.ndarray], dict[str, Any]]]:
    """(arrays, meta) for `results.save_cell` of each cell of `cfgs`, in order;
    arrays as `results.result_arrays` makes them (mse f32[S, T+1], ..., seeds int[S]).

    One cfg: its seeds in one compiled call (`parallel.Runner`). Several: the γ of
    one (problem, method), γ × seeds in one compiled call (`parallel.GridRunner`);
    each cell's compile_s, run_s and total_s are then its share (total / number of
    γ) and meta["grid"] keeps the totals. Either way the runs are sharded over the
    local devices and chunked if memory requires, compiled and run timed apart, and
    each AL step's training and acquisition timed inside the run
    (`timing.step_seconds`).
    Raises NonFiniteLabelsError when the oracle produced non-finite labels.
    """
    start = time.perf_counter()
    keys = loop.seed_keys(seeds)
    grid = len(cfgs) > 1
    if grid:
        runner = parallel.GridRunner(
            cfgs[0], [cfg.gamma for cfg in cfgs], timed=True, lanes=lanes
        )
    else:
        runner = parallel.Runner(
            loop.make_run(cfgs[0], timed=True),
            lanes=lanes,
            what=parallel.size_fields(cfgs[0]),
        )
    compile_start = time.perf_counter()
    runner.compile(keys)
    compiled_at = time.perf_counter()
    result = jax.block_until_ready(runner(keys))
    compile_s = compiled_at - compile_start
    run_s = time.perf_counter() - compiled_at
    cells, steps = [], []
    for index, cfg in enumerate(cfgs):
        # A grid's leaves are [G, S, ...]: this cell's γ, then the seeds.
        cell_result = (
            jax.tree.map(lambda leaf, i=index: leaf[i], result) if grid else result
        )
        arrays = results.result_arrays(cell_result, seeds)
        _check_labels(cfg, arrays)
        cells.append(arrays)
        clock = np.asarray(cell_result.clock)
        steps.append(timing.step_seconds(clock, runner.runs_per_lane_step))
    share = 1 / len(cfgs)
    total_s = time.perf_counter() - start
    method = acquisitions.get(cfgs[0].method)
    data = problems.get(cfgs[0].problem).data
    out = []
    for arrays, cell_steps in zip(cells, steps, strict=True):
        meta = {
            "timing": {
                "compile_s": compile_s * share,
                "run_s": run_s * share,
                "steps": cell_steps,
                "total_s": total_s * share,
            },
            "device": results.describe_device(),
            "batch": {
                "devices": runner.n_devices,
                "lanes": runner.lanes,
                "chunk_size": runner.chunk_size,
                "program_bytes": runner.program_bytes,
            },
            "method_reference": method.reference,
            "method_uses_pool": method.uses_pool,
            # A finite data set holds out at most `n_test` of its rows per seed.
            "test_points": (
                cfgs[0].n_test if data is None else data.n_test_rows(cfgs[0].n_test)
            ),
            "finite_rows": None if data is None else data.n_rows,
        }
        if grid:
            meta["grid"] = {
                "gammas": [cfg.gamma for cfg in cfgs],
                "compile_s": compile_s,
                "run_s": run_s,
            }
        out.append((arrays, meta))
    return out


def seeds_to_run(
    out: str | Path, cfg: config.Config, seeds: Sequence[int]
) -> list[int]:
    """The seeds of `seeds` to compute for the cell of `cfg` under `out`: those a
    saved cell with the same config lacks when it holds only requested seeds,
    else all of `seeds` (none saved, another config, seeds not asked for, or
    saved runs that lack an array today's runs record, `unfillable_arrays`)."""
    saved = results.saved_cell(out, cfg)
    wanted = [int(s) for s in seeds]
    if saved is None or not set(saved.seeds) < set(wanted):
        return wanted
    if unfillable_arrays(saved):
        # The merge could not give the saved seeds these arrays: decide now, so
        # no new seeds are computed only to be refused at the merge.
        return wanted
    return [s for s in wanted if s not in saved.seeds]


# Arrays a cell records for each seed (`results.result_arrays` of a RunResult),
# and those a cell saved before they existed can be given by `filled_arrays`.
RECORDED_ARRAYS = frozenset(loop.RunResult._fields) - {"clock"} | {"seeds"}
FILLABLE_ARRAYS = frozenset({"pool_sizes"})


def unfillable_arrays(saved: results.Cell) -> list[str]:
    """The arrays today's runs record that `saved` lacks and seeds cannot be
    added without (so the whole cell is recomputed)."""
    return sorted(RECORDED_ARRAYS - FILLABLE_ARRAYS - set(saved.arrays))


def filled_arrays(
    saved: results.Cell, arrays: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Arrays a cell saved before they were recorded, for its seeds, where the new
    runs show their value: `pool_sizes` int[S, T] (added with finite data sets)
    depends on the config and the set sizes only, never on the seed, so the new
    runs' row is every saved seed's too. Any other missing array is an error."""
    filled = {}
    for name, value in arrays.items():
        if name in saved.arrays:
            continue
        if name not in FILLABLE_ARRAYS or not np.all(value == value[:1]):
            raise ValueError(
                f"{saved.folder}: the saved runs lack {name!r}; recompute the cell "
                "(delete its folder) to add seeds"
            )
        filled[name] = np.repeat(value[:1], len(saved.seeds), axis=0)
    return filled


def merge_seeds(
    out: str | Path,
    cfg: config.Config,
    seeds: Sequence[int],
    arrays: dict[str, np.ndarray],
    meta: dict[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The saved cell's runs and new ones (`arrays`, `meta` from `compute_cells`
    for the seeds it lacked) as one cell of `seeds`, in that order.

    meta["seed_batches"] records each call's seeds, device, date and timing;
    meta["timing"] is their sum (`timing.merged_timing`).
    """
    saved = results.saved_cell(out, cfg)
    if saved is None:
        raise ValueError(f"{results.cell_folder(out, cfg)}: no saved cell to extend")
    if not np.array_equal(saved.arrays["n_labelled"], arrays["n_labelled"]):
        raise ValueError(f"{saved.folder}: the saved runs label other set sizes")
    both = [*saved.seeds, *(int(s) for s in arrays["seeds"])]
    order = [both.index(int(s)) for s in seeds]
    saved_arrays = {**saved.arrays, **filled_arrays(saved, arrays)}
    merged = {
        name: value
        if name == "n_labelled"
        else np.concatenate([saved_arrays[name], value])[order]
        for name, value in arrays.items()
    }
    batches = saved.meta.get("seed_batches") or [
        {
            "seeds": saved.seeds,
            "device": saved.meta.get("device"),
            "date": saved.meta.get("date"),
            "timing": saved.meta.get("timing", {}),
        }
    ]
    batches = [
        *batches,
        {
            "seeds": [int(s) for s in arrays["seeds"]],
            "device": meta.get("device"),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "timing": meta["timing"],
        },
    ]
    return merged, {
        **meta,
        "timing": timing.merged_timing(batches),
        "seed_batches": batches,
    }


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
    """Loads the cell when done with a matching hash and seeds, else (re)computes
    and saves it."""
    found = results.inspect_cell(out, cfg, seeds)
    if found.status == "done":
        cell = results.load_cell(results.cell_folder(out, cfg))
        return CellOutcome(cell, "done", found.detail, False)
    missing = seeds_to_run(out, cfg, seeds)
    if log is not None and found.status in ("stale", "corrupt"):
        if len(missing) < len(seeds):
            log(f"adding seeds {missing} to the saved cell: {found.detail}")
        else:
            log(f"recomputing {found.status} cell: {found.detail}")
    ((arrays, meta),) = compute_cells([cfg], missing, lanes)
    if len(missing) < len(seeds):
        arrays, meta = merge_seeds(out, cfg, seeds, arrays, meta)
    folder = results.save_cell(out, cfg, arrays, meta)
    return CellOutcome(results.load_cell(folder), found.status, found.detail, True)


def load_cells(out: str | Path) -> list[results.Cell]:
    """Every completed cell under `out` (`results.load`), printing to stderr each
    warning it raised (a corrupt cell skipped, naming its file)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = results.load(out)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return loaded
