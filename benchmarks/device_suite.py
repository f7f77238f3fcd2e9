"""One prepared command for an accelerator: everything jdal needs measured there.

    python benchmarks/device_suite.py                  # a GPU: under 8 minutes
    python benchmarks/device_suite.py --dry-run        # smoke sizes: about a minute
    python benchmarks/device_suite.py --results-dir "$OUT" --archive "$OUT/cells.tgz"

Parts, always in this order, each with its own time box (`Budget`):

  robo_cell    the robo `paper` cell as the sweep runs it on a GPU: every γ × seed of
               one method in one compiled call (`GridRunner`, lanes auto). Its first
               AL steps are run and timed; one AL step (training + acquisition) is
               timed at the last labelled-set size; the 50-step cell is
               extrapolated along the line through the two (per-step time against
               n, module notes).
  throughput   stack and adm `paper` training at fp32, tf32 and bf16, at the first
               and the last labelled-set size: seconds per AL step, useful TFLOP/s
               (`jdal.cost.useful_flops`), fraction of the device's dense peak
               (`jdal.cost.device_peak`), memory.
  gamma_grid   the γ grid (robo_cell's call) against one compiled call per γ, same
               lanes, same steps: compile and run times, and whether the picks agree.
  compile      seconds to trace, lower and compile the whole paper program of a few
               (problem, method) pairs, as the sweep compiles them (one per group).
  paper_cells  with the time left, paper cells of sine (every method, every γ, all
               seeds) computed and saved by the sweep's own code
               (`jdal.shell.cells.compute_cells`, `results.save_cell`) into --out, which
               report.py reads; a later run resumes where this one stopped.

Budget. --budget (default 450 s: 7.5 minutes of wall time from the start) is shared
out part by part: a part's box is the time left times its weight over the weights of
the parts still to run, so time one part leaves unused goes to the later ones and
paper_cells gets whatever remains. Before every step that takes long (a compile, a
run) the part estimates its seconds from what it has measured so far and stops,
marked "partial", when the step does not fit its box. Compiles cannot be
interrupted, so a step can overrun its estimate; the default leaves 30 s of the
8 minutes for that and for starting JAX.

Nothing is lost. After every step the JSON and the Markdown table are rewritten
atomically (`results.write_json`, `results.atomic_write`) under --results-dir, named
after the device kind (`device_suite_<kind>.json` and `.md`, `_dry_run` added for a
dry run), so a run killed at any point keeps everything finished before. Re-running
with --parts keeps the earlier entries of the parts not run again.

Compile times are measured with JAX's persistent compilation cache off (the default
here; --compilation-cache DIR turns it on, and the report records the cache state):
a warm cache would report reading a file as compiling.

Extrapolation of the robo cell. AL step t trains on n_t = N0 + t k labelled rows
(robo trains full-batch, so its useful FLOPs are linear in n) and acquires with
distances and predictions that also grow with n; on an accelerator a fixed cost per
step (kernel launches, the test-set prediction, the pool) is added. So the model is
a line in n: step time = a + b n. Its two points: the mean step time of the fused
run of the first `first_steps` steps (at their mean n), and one AL step at the last
acquiring step (n = N0 + (T - 1) k), its training and acquisition timed apart
(`jdal.shell.timing.make_step_parts`, all lanes vmapped, training over
`timed_train_steps` gradient steps scaled to the protocol's; gradient steps all
cost the same). The full run is the sum of the line over t = 0..T. bench_al's
useful-FLOP ratio (time proportional to FLOPs, no fixed cost) is recorded beside it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import io
import json
import os
import platform
import re
import signal
import statistics
import sys
import tarfile
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()  # the budget counts from here: JAX's start included

ROOT = Path(__file__).resolve().parent.parent
if "--dry-run" in sys.argv[1:] and "optimization_level" not in os.environ.get(
    "XLA_FLAGS", ""
):
    # The dry run checks the code path, and its time is XLA compiling programs that
    # then run for milliseconds: with the CPU backend's optimisation off (as the
    # tests compile) it takes half as long. Set before JAX starts.
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()
# Runs from a bare checkout (no pip install) as from an installed one.
for folder in (ROOT / "benchmarks", ROOT):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import bench_al  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

import jdal  # noqa: E402
from jdal import (  # noqa: E402
    acquisitions,
    compile_cache,
    config,
    cost,
    loop,
    parallel,
    results,
)
from jdal.shell import cells, sweep, timing  # noqa: E402
from jdal.shell.names import method_order  # noqa: E402
from jdal.shell.text import markdown_table  # noqa: E402

SUITE_VERSION = 1
DEFAULT_BUDGET_S = 450.0
MIN_PART_S = 5.0  # a part with less left than this is skipped, not started
SAFETY = 1.25  # estimates are measured seconds times this


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What the suite runs: the paper sizes on a device, or tiny ones for --dry-run.

    Only sizes and lists differ between the two; every part runs the same code.
    """

    preset: str
    changes: tuple[tuple[str, Any], ...]  # Config changes on top of the preset
    first_steps: int  # AL steps of the fused run timed in robo_cell and gamma_grid
    timed_train_steps: int  # gradient steps of the separately timed trainings
    seeds: int
    gammas: tuple[int, ...]
    cell_method: str  # robo_cell's and gamma_grid's method
    throughput_problems: tuple[str, ...]
    precisions: tuple[str, ...]
    compile_pairs: tuple[tuple[str, str], ...]
    cell_problem: str
    cell_methods: tuple[str, ...] | None  # None: every registered method

    def config(self, problem: str, method: str, **changes: Any) -> config.Config:
        """The validated config of (problem, method); γ the largest of the grid,
        None for a method that ignores it."""
        gamma = max(self.gammas) if acquisitions.get(method).uses_pool else None
        merged = {**dict(self.changes), "gamma": gamma, **changes}
        return config.preset(
            self.preset, problem=problem, method=method, **merged
        ).validate()


PAIRS = (
    ("robo", "qbc"),
    ("robo", "random"),
    ("robo", "gsx"),
    ("robo", "bald"),
    ("robo", "ll"),
    ("robo", "naqbc"),
    ("stack", "qbc"),
    ("adm", "qbc"),
)
PAPER = Sizes(
    preset="paper",
    changes=(),
    first_steps=3,
    timed_train_steps=100,
    seeds=5,
    gammas=config.GAMMAS,
    cell_method="qbc",
    throughput_problems=("stack", "adm"),
    precisions=config.PRECISIONS,
    compile_pairs=PAIRS,
    cell_problem="sine",
    cell_methods=None,
)
# Smoke sizes made tinier still: the dry run checks the code path, not the numbers.
DRY = Sizes(
    preset="smoke",
    changes=(("steps", 2), ("train_steps", 4), ("n_test", 64), ("n_members", 2),
             ("max_width", 8), ("n_initial", 10), ("k", 5)),
    first_steps=1,
    timed_train_steps=1,
    seeds=2,
    gammas=(2, 8),
    cell_method="qbc",
    throughput_problems=("stack", "adm"),
    precisions=("fp32", "bf16"),
    compile_pairs=PAIRS[:2],
    cell_problem="sine",
    cell_methods=("random", "qbc"),
)  # fmt: skip


class OutOfTime(Exception):
    """The next step of a part does not fit its time box."""


class Box:
    """A part's time box: `check(estimate, what)` raises OutOfTime when fewer
    seconds are left than the step is estimated to take."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()

    def check(self, estimate: float, what: str) -> None:
        if estimate > self.left():
            raise OutOfTime(
                f"stopped before {what}: estimated {estimate:.0f} s, "
                f"{max(0.0, self.left()):.0f} s left in the box"
            )


def compile_and_time(fn: Callable, *args, repeats: int = 3, quick_s: float = 1.0):
    """(compile_s, seconds, output, compiled) of `jit(fn)(*args)`: compile timed
    apart, then one timed call, repeated up to `repeats` times (best kept) when the
    first took under `quick_s`."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        output = jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
        if times[0] >= quick_s:
            break
    return compile_s, min(times), output, compiled


def step_inputs(parts: timing.StepParts, keys: jax.Array):
    """(model_state, labelled_x, labelled_y, pool_x) of a step, one per key."""
    return jax.jit(jax.vmap(parts.inputs))(keys)


def slug(text: str) -> str:
    """`NVIDIA H100 80GB HBM3` -> `nvidia-h100-80gb-hbm3`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def fmt_bytes(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**30:.2f} GiB"


def fmt_s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


# ---------------------------------------------------------------------------
# The suite: the report, its files, the memo shared between parts.


class Suite:
    """The report being built, and what the parts share."""

    def __init__(self, args: argparse.Namespace, sizes: Sizes):
        self.args = args
        self.sizes = sizes
        self.keys = jdal.seed_keys(range(sizes.seeds))
        self.memo: dict[str, Any] = {}
        self.compile_times: list[float] = []
        kind = jax.devices()[0].device_kind
        name = f"device_suite_{slug(kind)}" + ("_dry_run" if args.dry_run else "")
        folder = Path(args.results_dir)
        self.json_path, self.md_path = folder / f"{name}.json", folder / f"{name}.md"
        self.report: dict[str, Any] = {
            "suite_version": SUITE_VERSION,
            "dry_run": args.dry_run,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "device": results.describe_device(),
            "device_kind": kind,
            "backend": jax.default_backend(),
            "n_devices": jax.device_count(),
            "n_local_devices": jax.local_device_count(),
            "versions": {
                **results.package_versions(),
                "python": platform.python_version(),
            },
            "host": platform.node(),
            "cpu_count": os.cpu_count(),
            "argv": sys.argv[1:],
            "budget_s": args.budget,
            "elapsed_s": 0.0,
            "compilation_cache": {
                "flag": args.compilation_cache,
                "dir": getattr(jax.config, "jax_compilation_cache_dir", None),
            },
            "lanes": parallel.resolve_lanes(args.lanes, jax.local_device_count()),
            "sizes": {
                **dataclasses.asdict(sizes),
                "changes": dict(sizes.changes),
                "peak_tflops": cost.PEAK_TFLOPS,
            },
            "cells_out": str(args.out),
            "parts": {},
        }
        self.start = STARTED
        self._keep_earlier_parts()

    def _keep_earlier_parts(self) -> None:
        """Entries of parts not run this time, from an earlier report of this
        device (so --parts can redo one part without losing the others)."""
        if not self.json_path.exists():
            return
        try:
            earlier = json.loads(self.json_path.read_text())
        except (OSError, ValueError):
            return
        for name, entry in earlier.get("parts", {}).items():
            if name not in self.args.parts and isinstance(entry, dict):
                entry.setdefault("from_earlier_run", earlier.get("date"))
                self.report["parts"][name] = entry

    def part(self, name: str) -> dict[str, Any]:
        return self.report["parts"][name]

    def save(self) -> None:
        """Rewrites the JSON and the Markdown atomically."""
        self.report["elapsed_s"] = time.perf_counter() - self.start
        results.write_json(self.json_path, self.report)
        text = "\n".join(markdown(self.report)) + "\n"
        results.atomic_write(self.md_path, lambda file: file.write(text.encode()))

    def compiled(self, seconds: float) -> float:
        self.compile_times.append(seconds)
        return seconds


def log(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------
# Parts.


def grid_call(suite: Suite) -> dict[str, Any]:
    """The fused run of the first steps of the robo cell: every γ × seed in one
    compiled call (the sweep's grid); kept in the memo for gamma_grid."""
    if "grid" in suite.memo:
        return suite.memo["grid"]
    s = suite.sizes
    cfg = s.config("robo", s.cell_method, steps=s.first_steps)
    runner = parallel.GridRunner(cfg, s.gammas, lanes=suite.args.lanes)
    start = time.perf_counter()
    runner.compile(suite.keys)
    compile_s = suite.compiled(time.perf_counter() - start)
    # The lanes' arguments are built eagerly (small programs compiled at first
    # use): built once before the clock starts, the run time is the program's.
    jax.block_until_ready(runner.lane_args(suite.keys))
    start = time.perf_counter()
    out = jax.block_until_ready(runner(suite.keys))
    run_s = time.perf_counter() - start
    suite.memo["grid"] = {
        "cfg": cfg,
        "out": out,
        "compile_s": compile_s,
        "run_s": run_s,
        "lanes": runner.lanes,
        "chunk_size": runner.chunk_size,
        "program_bytes": runner.program_bytes,
        "devices": runner.n_devices,
    }
    return suite.memo["grid"]


def robo_cell(suite: Suite, box: Box, entry: dict[str, Any]) -> None:
    s = suite.sizes
    full = s.config("robo", s.cell_method)
    n_lanes = len(s.gammas) * s.seeds
    entry.update(
        problem="robo",
        method=s.cell_method,
        gammas=list(s.gammas),
        seeds=s.seeds,
        steps=full.steps,
        lanes_per_call=n_lanes,
    )
    log(f"robo_cell: compiling and running the first {s.first_steps} AL steps")
    grid = grid_call(suite)
    steps = s.first_steps
    n_first = [full.n_initial + t * full.k for t in range(steps + 1)]
    first_step_s = grid["run_s"] / (steps + 1)
    entry["first_steps"] = {
        "steps": steps,
        "n_labelled": n_first,
        "compile_s": grid["compile_s"],
        "run_s": grid["run_s"],
        "seconds_per_al_step": first_step_s,
        "lanes": grid["lanes"],
        "chunk_size": grid["chunk_size"],
        "devices": grid["devices"],
        "program_bytes": grid["program_bytes"],
        "how": f"one compiled call of {n_lanes} runs (γ × seeds) of {steps} AL steps "
        f"({steps + 1} trainings), compile and run timed apart",
    }
    suite.save()

    # One AL step at the last acquiring step, its parts timed as the sweep does.
    last = full.steps - 1
    n_last = full.n_initial + last * full.k
    mean_first = statistics.mean(n_first)
    # Training grows about like n: the fused steps' time scaled to n_last, per
    # lane; plus compiles about like the fused run's.
    per_lane = first_step_s / n_lanes * n_last / mean_first
    scale_steps = s.timed_train_steps / full.train_steps
    lanes = n_lanes
    estimate = grid["compile_s"] + SAFETY * per_lane * lanes * scale_steps
    if estimate > box.left():  # one γ's lanes only, scaled up after
        lanes = s.seeds
        estimate = grid["compile_s"] + SAFETY * per_lane * lanes * scale_steps
    box.check(estimate, f"timing one AL step at n = {n_last}")
    log(f"robo_cell: timing one AL step at n = {n_last} ({lanes} lanes)")
    timed = full.replace(train_steps=s.timed_train_steps)
    parts = timing.make_step_parts(timed, last)
    keys = jdal.seed_keys(range(lanes))
    state, labelled_x, labelled_y, pool_x = step_inputs(parts, keys)
    train_compile, train_s, trained, _ = compile_and_time(
        jax.vmap(parts.train), keys, state, labelled_x, labelled_y
    )
    acquire_compile, acquire_s, _, _ = compile_and_time(
        jax.vmap(parts.select), keys, pool_x, trained, labelled_x, labelled_y
    )
    suite.compiled(train_compile + acquire_compile)
    widen = n_lanes / lanes
    last_step_s = train_s / scale_steps * widen + acquire_s * widen
    entry["last_step"] = {
        "step": last,
        "n_labelled": n_last,
        "lanes_timed": lanes,
        "train_s_timed": train_s,
        "train_steps_timed": s.timed_train_steps,
        "acquire_s_timed": acquire_s,
        "compile_s": train_compile + acquire_compile,
        "seconds_per_al_step": last_step_s,
        "how": f"training ({s.timed_train_steps} gradient steps, scaled to "
        f"{full.train_steps}) and acquisition at γ = {max(s.gammas)} (a grid lane "
        f"draws the largest pool) jitted and vmapped over {lanes} lanes, one timed "
        f"call each, scaled to {n_lanes} lanes",
    }

    # The line a + b n through the two points, summed over the T + 1 steps.
    slope = (last_step_s - first_step_s) / (n_last - mean_first)
    intercept = first_step_s - slope * mean_first
    n_all = [full.n_initial + t * full.k for t in range(full.steps + 1)]
    # A line fitted on noisy points could dip below both; no step is faster than
    # the faster of the two measured.
    floor = min(first_step_s, last_step_s)
    run_full = sum(max(floor, intercept + slope * n) for n in n_all)
    flop_ratio = cost.useful_flops(full, full.steps) / cost.useful_flops(
        grid["cfg"], steps
    )
    entry["extrapolated"] = {
        "full_run_s": run_full,
        "seconds_per_al_step_line": {"intercept_s": intercept, "per_row_s": slope},
        "flop_ratio_full_run_s": grid["run_s"] * flop_ratio,
        "how": "step time = a + b n through (mean n of the first steps, their "
        "mean step time) and (n of the last AL step, its timed step), at least the "
        f"smaller of the two, summed over t = 0..{full.steps}; "
        "flop_ratio_full_run_s: the first steps' run time x useful FLOPs of the "
        "full run / of the first steps (bench_al's rule, no fixed cost per step)",
    }
    suite.save()


def training_inputs(suite: Suite, parts: timing.StepParts, cache: dict, key) -> tuple:
    """(model_state, labelled_x, labelled_y) of a step, reused across precisions
    when their shapes and dtypes agree (parameters stay float32 whatever the
    precision): two compiles fewer per row."""
    shapes = jax.eval_shape(
        jax.vmap(lambda k: parts.inputs(k)[:3]), suite.keys
    )  # tracing only
    flat = jax.tree.flatten(shapes)
    if key not in cache or cache[key][0] != flat:
        cache[key] = (flat, step_inputs(parts, suite.keys)[:3])
    return cache[key][1]


def throughput(suite: Suite, box: Box, entry: dict[str, Any]) -> None:
    s = suite.sizes
    rows = entry.setdefault("rows", [])
    entry["how"] = (
        f"one AL step's training (jitted, vmapped over {s.seeds} seeds, "
        f"{s.timed_train_steps} gradient steps timed, best of up to 3 calls when "
        "under 1 s) scaled to the protocol's gradient steps; useful FLOPs = 6 x "
        "parameters x rows per gradient step (min(n, batch)); memory: XLA's "
        "estimate for the program, and the process peak so far"
    )
    previous: dict[str, dict] = {}
    inputs: dict = {}
    for precision in s.precisions:
        for problem in s.throughput_problems:
            cfg = s.config(
                problem, "random", precision=precision, train_steps=s.timed_train_steps
            )
            full_train_steps = s.config(problem, "random").train_steps
            for step in (0, cfg.steps - 1):
                n = cfg.n_initial + step * cfg.k
                what = f"{problem} {precision} n = {n}"
                flops_one = cost.useful_flops(cfg.replace(n_initial=n), 0)
                before = previous.get(problem)
                estimate = 0.0
                if before is not None:  # a compile and up to 3 calls, like before
                    grow = flops_one / before["flops_one"]
                    estimate = SAFETY * (
                        before["compile_s"] + 3 * before["train_s_timed"] * grow
                    )
                box.check(estimate, what)
                log(f"throughput: {what}")
                parts = timing.make_step_parts(cfg, step)
                state, labelled_x, labelled_y = training_inputs(
                    suite, parts, inputs, (problem, step)
                )
                compile_s, seconds, _, compiled = compile_and_time(
                    jax.vmap(parts.train), suite.keys, state, labelled_x, labelled_y
                )
                suite.compiled(compile_s)
                tflops = flops_one * s.seeds / seconds / 1e12
                peak = cost.device_peak(precision)
                row = {
                    "problem": problem,
                    "precision": precision,
                    "n_labelled": n,
                    "rows_per_gradient_step": _rows(cfg, n),
                    "seeds": s.seeds,
                    "compile_s": compile_s,
                    "train_s_timed": seconds,
                    "train_steps_timed": s.timed_train_steps,
                    "seconds_per_al_step": (
                        seconds * full_train_steps / s.timed_train_steps
                    ),
                    "useful_tflops_per_s": tflops,
                    "peak_tflops": peak,
                    "fraction_of_peak": None if peak is None else tflops / peak,
                    "program_bytes": parallel.program_bytes(compiled),
                    "process_peak_memory_bytes": bench_al.peak_memory_bytes(),
                }
                rows.append(row)
                previous[problem] = {**row, "flops_one": flops_one}
                suite.save()


def _rows(cfg: config.Config, n: int) -> int:
    """Labelled rows per gradient step at n: min(n, the problem's batch)."""
    batch = jdal.models.ensemble.resolved_model_settings(
        jdal.problems.get(cfg.problem), cfg
    )["batch_size"]
    return n if batch is None else min(n, batch)


def gamma_grid(suite: Suite, box: Box, entry: dict[str, Any]) -> None:
    s = suite.sizes
    if "grid" not in suite.memo:
        box.check(0.0, "the γ grid")
        log("gamma_grid: compiling and running the γ grid")
    grid = grid_call(suite)
    cfg = grid["cfg"]
    out = grid["out"]
    grid_mse = np.asarray(out.mse)
    grid_picks = np.sort(np.asarray(out.picked_x), axis=3)
    entry.update(
        problem="robo",
        method=cfg.method,
        gammas=list(s.gammas),
        seeds=s.seeds,
        steps=cfg.steps,
        lanes=grid["lanes"],
        grid={"compile_s": grid["compile_s"], "run_s": grid["run_s"]},
        separate=[],
    )
    separate = entry["separate"]
    for index, gamma in enumerate(s.gammas):
        spent = [row["compile_s"] + row["run_s"] for row in separate]
        # Before the first: about the grid's compile (the same program, one γ).
        estimate = SAFETY * (max(spent) if spent else grid["compile_s"])
        box.check(estimate, f"γ = {gamma} as its own call")
        log(f"gamma_grid: γ = {gamma} as its own call")
        runner = parallel.Runner(
            loop.make_run(cfg.replace(gamma=gamma)),
            lanes=suite.args.lanes,
            what=parallel.size_fields(cfg),
        )
        start = time.perf_counter()
        runner.compile(suite.keys)
        compile_s = suite.compiled(time.perf_counter() - start)
        start = time.perf_counter()
        alone = jax.block_until_ready(runner(suite.keys))
        run_s = time.perf_counter() - start
        mse = np.asarray(alone.mse)
        same = np.all(
            np.sort(np.asarray(alone.picked_x), axis=2) == grid_picks[index],
            axis=(2, 3),
        )  # [seeds, steps]: the same batch picked
        separate.append(
            {
                "gamma": gamma,
                "compile_s": compile_s,
                "run_s": run_s,
                "max_relative_mse_difference": float(
                    np.max(np.abs(grid_mse[index] - mse) / mse)
                ),
                "fraction_of_steps_with_same_picks": float(same.mean()),
                "runs_with_all_picks_the_same": int(np.all(same, axis=1).sum()),
            }
        )
        entry["comparison"] = compare_grid(entry)
        suite.save()


def compare_grid(entry: dict[str, Any]) -> dict[str, Any]:
    """Grid over separate calls; separate totals scaled up to every γ when the box
    stopped before the last γ (`separate_complete`)."""
    separate, grid = entry["separate"], entry["grid"]
    scale = len(entry["gammas"]) / len(separate)
    totals = {
        key: scale * sum(row[key] for row in separate) for key in ("compile_s", "run_s")
    }
    steps = sum(row["fraction_of_steps_with_same_picks"] for row in separate)
    return {
        "separate_complete": len(separate) == len(entry["gammas"]),
        "separate_compile_s": totals["compile_s"],
        "separate_run_s": totals["run_s"],
        "compile_ratio_grid_over_separate": grid["compile_s"] / totals["compile_s"],
        "run_ratio_grid_over_separate": grid["run_s"] / totals["run_s"],
        "total_ratio_grid_over_separate": (grid["compile_s"] + grid["run_s"])
        / (totals["compile_s"] + totals["run_s"]),
        "fraction_of_steps_with_same_picks": steps / len(separate),
        "runs_with_all_picks_the_same": sum(
            row["runs_with_all_picks_the_same"] for row in separate
        ),
        "runs_compared": len(separate) * entry["seeds"],
        "max_relative_mse_difference": max(
            row["max_relative_mse_difference"] for row in separate
        ),
    }


def compile_times(suite: Suite, box: Box, entry: dict[str, Any]) -> None:
    s = suite.sizes
    rows = entry.setdefault("rows", [])
    entry["how"] = (
        "trace + lower + XLA compile of the whole program as the sweep compiles "
        f"it: the γ grid ({len(s.gammas)} γ x {s.seeds} seeds) of a method that "
        f"draws a pool, {s.seeds} seeds of one that ignores γ; persistent cache "
        "state in the report header"
    )
    for problem, method in s.compile_pairs:
        spent = [row["compile_s"] for row in rows if row.get("compile_s")]
        estimate = SAFETY * max(spent) if spent else 0.0
        box.check(estimate, f"compiling {problem}/{method}")
        log(f"compile: {problem}/{method}")
        cfg = s.config(problem, method)
        row = {
            "problem": problem,
            "method": method,
            "steps": cfg.steps,
            "size_buckets": len(loop.size_buckets(cfg)),
        }
        if acquisitions.get(method).uses_pool:
            runner = parallel.GridRunner(cfg, s.gammas, lanes=suite.args.lanes)
            row["program"] = f"γ grid, {len(s.gammas) * s.seeds} runs"
        else:
            runner = parallel.Runner(
                loop.make_run(cfg),
                lanes=suite.args.lanes,
                what=parallel.size_fields(cfg),
            )
            row["program"] = f"{s.seeds} runs"
        start = time.perf_counter()
        try:
            runner.compile(suite.keys)
        except parallel.RunTooLargeError as error:
            row["error"] = str(error)
        row["compile_s"] = suite.compiled(time.perf_counter() - start)
        row.update(
            lanes=runner.lanes,
            chunk_size=runner.chunk_size,
            program_bytes=runner.program_bytes,
        )
        rows.append(row)
        suite.save()


def paper_cells(suite: Suite, box: Box, entry: dict[str, Any]) -> None:
    s = suite.sizes
    out = Path(suite.args.out)
    methods = s.cell_methods or acquisitions.names()
    cfgs = [
        s.config(s.cell_problem, method, gamma=gamma)
        for method in method_order(methods)
        for gamma in (s.gammas if acquisitions.get(method).uses_pool else [None])
    ]
    seeds = list(range(s.seeds))
    use_grid = sweep.use_gamma_grid("auto", suite.args.lanes)
    todo = [c for c in cfgs if results.cell_status(out, c, seeds) != "done"]
    groups = entry.setdefault("groups", [])
    entry.update(
        out=str(out),
        problem=s.cell_problem,
        cells=len(cfgs),
        done_before=len(cfgs) - len(todo),
        gamma_grid=use_grid,
        how="the sweep's code: groups as sweep.groups, computed by "
        "jdal.shell.cells.compute_cells (with the per-step timing), saved by "
        "results.save_cell; done cells skipped",
    )
    for group in sweep.groups(todo, use_grid):
        spent = [g["seconds"] for g in groups]
        first = min(suite.compile_times) if suite.compile_times else 0.0
        estimate = SAFETY * (max(spent) if spent else first)
        name = sweep.group_name(group)
        box.check(estimate, name)
        log(f"paper_cells: {name}")
        start = time.perf_counter()
        computed = cells.compute_cells(group, seeds, suite.args.lanes)
        for cfg, (arrays, meta) in zip(group, computed, strict=True):
            results.save_cell(out, cfg, arrays, meta)
        groups.append(
            {"group": name, "cells": len(group), "seconds": time.perf_counter() - start}
        )
        entry["done_after"] = sum(
            results.cell_status(out, c, seeds) == "done" for c in cfgs
        )
        archive(suite)
        suite.save()
    entry["done_after"] = sum(
        results.cell_status(out, c, seeds) == "done" for c in cfgs
    )


def archive(suite: Suite) -> None:
    """Writes --archive (a .tar.gz of --out) atomically, when asked for."""
    if not suite.args.archive:
        return
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(suite.args.out, arcname=Path(suite.args.out).name)
    path = Path(suite.args.archive)
    path.parent.mkdir(parents=True, exist_ok=True)
    results.atomic_write(path, lambda file: file.write(buffer.getvalue()))


PARTS: tuple[tuple[str, float, Callable], ...] = (
    ("robo_cell", 3.0, robo_cell),
    ("throughput", 3.0, throughput),
    ("gamma_grid", 2.0, gamma_grid),
    ("compile", 2.0, compile_times),
    ("paper_cells", 2.0, paper_cells),
)
PART_NAMES = tuple(name for name, _, _ in PARTS)


# ---------------------------------------------------------------------------
# Markdown.


def markdown(report: dict[str, Any]) -> list[str]:
    """The report as Markdown: a header, the parts' status, one table per part."""
    kind = "dry run (smoke sizes: checks the code path, not the numbers)"
    title = report["device"] + (f", {kind}" if report["dry_run"] else "")
    versions = report["versions"]
    cache = report["compilation_cache"]["dir"] or "off"
    lines = [
        f"# Device suite: {title}",
        "",
        f"{report['date']}; jax {versions.get('jax')}, jaxlib {versions.get('jaxlib')}"
        f", jdal {versions.get('jdal')}; {report['n_devices']} device(s); lanes "
        f"{report['lanes']}; persistent compilation cache: {cache}; budget "
        f"{report['budget_s']:.0f} s, elapsed {report['elapsed_s']:.0f} s.",
        "",
    ]
    parts = report["parts"]
    rows = [
        [
            name,
            parts[name].get("status", "not run"),
            fmt_s(parts[name].get("box_s")),
            fmt_s(parts[name].get("seconds")),
            parts[name].get("note", ""),
        ]
        for name in PART_NAMES
        if name in parts
    ]
    lines += markdown_table(["part", "status", "box s", "used s", "note"], rows) + [""]
    for name in PART_NAMES:
        entry = parts.get(name)
        if not entry or entry.get("status") in ("pending", "skipped"):
            continue
        try:
            body = RENDER[name](report, entry)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
            # The Markdown must never stop the suite; the JSON has everything.
            body = [f"(nothing to show yet: {type(error).__name__}: {error})"]
        lines += [f"## {name}", "", *body, ""]
    return lines


def md_robo_cell(report: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    first = entry.get("first_steps")
    if first is None:
        return ["(nothing measured)"]
    lanes = entry["lanes_per_call"]
    rows = [
        [
            f"first {first['steps']} AL steps (n = {first['n_labelled'][0]}.."
            f"{first['n_labelled'][-1]}), fused run",
            fmt_s(first["compile_s"]),
            fmt_s(first["run_s"]),
            fmt_s(first["seconds_per_al_step"]),
            fmt_bytes(first["program_bytes"]),
        ]
    ]
    last = entry.get("last_step")
    if last is not None:
        rows.append(
            [
                f"one AL step at n = {last['n_labelled']} (parts, "
                f"{last['lanes_timed']} lanes timed)",
                fmt_s(last["compile_s"]),
                "",
                fmt_s(last["seconds_per_al_step"]),
                "",
            ]
        )
    extra = entry.get("extrapolated")
    compiled = [
        row
        for row in report["parts"].get("compile", {}).get("rows", [])
        if (row["problem"], row["method"]) == ("robo", entry["method"])
    ]
    if extra is not None:
        full_compile = compiled[0]["compile_s"] if compiled else None
        rows.append(
            [
                f"full {entry['steps']}-step cell, extrapolated (line in n)",
                fmt_s(full_compile),
                fmt_s(extra["full_run_s"]),
                fmt_s(extra["full_run_s"] / (entry["steps"] + 1)),
                "",
            ]
        )
        rows.append(
            [
                "full cell, useful-FLOP ratio (no fixed cost)",
                "",
                fmt_s(extra["flop_ratio_full_run_s"]),
                "",
                "",
            ]
        )
    head = [
        f"robo, {entry['method']}, {len(entry['gammas'])} γ x {entry['seeds']} seeds "
        f"= {lanes} runs in one call ({first['lanes']} lanes, chunk "
        f"{first['chunk_size']}, {first['devices']} device(s))",
        "compile s",
        "run s",
        "s / AL step (all runs)",
        "program memory",
    ]
    notes = [
        "",
        "Compile of the full cell: the compile part's robo row (n/a if not reached).",
    ]
    return markdown_table(head, rows) + notes


def md_throughput(report: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    rows = [
        [
            row["problem"],
            row["precision"],
            str(row["n_labelled"]),
            str(row["rows_per_gradient_step"]),
            fmt_s(row["seconds_per_al_step"]),
            f"{row['useful_tflops_per_s']:.3g}",
            "n/a"
            if row["fraction_of_peak"] is None
            else f"{100 * row['fraction_of_peak']:.1f} %",
            fmt_bytes(row["program_bytes"]),
            fmt_bytes(row["process_peak_memory_bytes"]),
            fmt_s(row["compile_s"]),
        ]
        for row in entry.get("rows", [])
    ]
    head = ["problem", "precision", "n", "rows / gradient step"]
    head += ["s / AL step (training, all seeds)", "useful TFLOP/s", "of dense peak"]
    head += ["program memory", "process peak memory", "compile s"]
    return markdown_table(head, rows) + ["", entry.get("how", "")]


def md_gamma_grid(report: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    comparison = entry.get("comparison")
    grid = entry["grid"]
    rows = [["γ grid, one call", fmt_s(grid["compile_s"]), fmt_s(grid["run_s"]), ""]]
    for row in entry["separate"]:
        rows.append(
            [
                f"γ = {row['gamma']} alone",
                fmt_s(row["compile_s"]),
                fmt_s(row["run_s"]),
                f"{row['runs_with_all_picks_the_same']} of {entry['seeds']} runs, "
                f"{100 * row['fraction_of_steps_with_same_picks']:.0f} % of steps",
            ]
        )
    lines = markdown_table(
        ["robo " + entry["method"], "compile s", "run s", "same picks"], rows
    )
    if comparison:
        complete = (
            "" if comparison["separate_complete"] else " (scaled from the γ done)"
        )
        lines += [
            "",
            f"Grid / one call per γ{complete}: compile "
            f"{comparison['compile_ratio_grid_over_separate']:.2f}x, run "
            f"{comparison['run_ratio_grid_over_separate']:.2f}x, total "
            f"{comparison['total_ratio_grid_over_separate']:.2f}x; "
            f"{entry['steps']} AL steps, {entry['lanes']} lanes; largest relative "
            f"MSE difference {comparison['max_relative_mse_difference']:.2g}.",
        ]
    return lines


def md_compile(report: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    rows = [
        [
            row["problem"],
            row["method"],
            row["program"],
            str(row["size_buckets"]),
            fmt_s(row["compile_s"]),
            str(row["chunk_size"]),
            fmt_bytes(row["program_bytes"]),
            row.get("error", ""),
        ]
        for row in entry.get("rows", [])
    ]
    head = ["problem", "method", "program", "size buckets", "compile s"]
    head += ["runs per call", "program memory", "error"]
    return markdown_table(head, rows) + ["", entry.get("how", "")]


def md_paper_cells(report: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    rows = [
        [g["group"], str(g["cells"]), fmt_s(g["seconds"])]
        for g in entry.get("groups", [])
    ]
    lines = markdown_table(["group computed", "cells", "seconds"], rows)
    return lines + [
        "",
        f"{entry.get('problem')}: {entry.get('done_after', entry.get('done_before'))} "
        f"of {entry.get('cells')} cells done under {entry.get('out')} "
        f"({entry.get('done_before')} before this run); `python "
        f"experiments/report.py {entry.get('out')}` reads them.",
    ]


RENDER = {
    "robo_cell": md_robo_cell,
    "throughput": md_throughput,
    "gamma_grid": md_gamma_grid,
    "compile": md_compile,
    "paper_cells": md_paper_cells,
}


# ---------------------------------------------------------------------------
# Command line.


def part_list(text: str) -> list[str]:
    """argparse type: comma-separated part names."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in PART_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown part {', '.join(map(repr, unknown))}; valid: "
            f"{', '.join(PART_NAMES)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="device_suite.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="tiny smoke sizes through the same code (about a minute on a CPU)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET_S,
        help=f"wall seconds for all parts (default {DEFAULT_BUDGET_S:.0f})",
    )
    parser.add_argument(
        "--parts",
        type=part_list,
        default=list(PART_NAMES),
        help=f"comma-separated parts to run (default all: {','.join(PART_NAMES)})",
    )
    parser.add_argument(
        "--results-dir",
        default=str(ROOT / "benchmarks" / "results"),
        help="folder of the JSON and Markdown report (default benchmarks/results)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="results folder of paper_cells (default results/paper_<device>; a "
        "new temporary folder with --dry-run)",
    )
    parser.add_argument(
        "--archive",
        default=None,
        metavar="FILE.tar.gz",
        help="also keep --out as one .tar.gz, rewritten after every group (for "
        "machines that hand back only a few files)",
    )
    parser.add_argument(
        "--lanes",
        choices=parallel.LANES,
        default="auto",
        help="lanes of every compiled call, as the sweep's --lanes (default auto: "
        "vmap on accelerators)",
    )
    parser.add_argument(
        "--compilation-cache",
        metavar="DIR|off",
        default="off",
        help="JAX's persistent compilation cache (default off: compile times are "
        "measured)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    compile_cache.enable(args.compilation_cache)
    sizes = DRY if args.dry_run else PAPER
    if args.out is None:
        if args.dry_run:
            args.out = tempfile.mkdtemp(prefix="jdal_device_suite_")
        else:
            kind = slug(jax.devices()[0].device_kind)
            args.out = str(ROOT / "results" / f"paper_{kind}")
    suite = Suite(args, sizes)
    log(f"device suite on {suite.report['device']}; budget {args.budget:.0f} s")
    log(f"report: {suite.json_path} and {suite.md_path}; cells: {args.out}")

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    deadline = suite.start + args.budget
    selected = [part for part in PARTS if part[0] in args.parts]
    for name, _, _ in selected:
        suite.report["parts"][name] = {"status": "pending"}
    failed = False
    try:
        for index, (name, weight, run_part) in enumerate(selected):
            left = deadline - time.perf_counter()
            weights = sum(w for _, w, _ in selected[index:])
            box = Box(left if index == len(selected) - 1 else left * weight / weights)
            entry = suite.part(name)
            entry.update(status="running", box_s=box.seconds)
            if box.seconds < MIN_PART_S:
                entry.update(status="skipped", note="budget spent", seconds=0.0)
                suite.save()
                continue
            start = time.perf_counter()
            try:
                run_part(suite, box, entry)
                entry["status"] = "done"
            except OutOfTime as stop_reason:
                entry.update(status="partial", note=str(stop_reason))
            except Exception as error:  # one part failing must not lose the rest
                failed = True
                entry.update(status="error", note=f"{type(error).__name__}: {error}")
                entry["traceback"] = traceback.format_exc()
                log(entry["traceback"])
            entry["seconds"] = time.perf_counter() - start
            log(f"{name}: {entry['status']} in {entry['seconds']:.1f} s")
            suite.save()
    except KeyboardInterrupt:
        for entry in suite.report["parts"].values():
            if entry.get("status") in ("running", "pending"):
                entry["status"] = "interrupted"
        suite.save()
        log("interrupted; the report keeps every finished step")
        return 130
    log("")
    log(suite.md_path.read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
