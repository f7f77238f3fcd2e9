"""What the parts of the device suite share: sizes, time boxes, the report being
built (`Suite`), timing helpers and the `Part` record."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax

import jdal
from jdal import acquisitions, config, cost, parallel, results
from jdal.shell import timing

STARTED = time.perf_counter()  # the budget counts from the first import of the suite

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


class Part(NamedTuple):
    """One measurement of the suite.

    name: its id (--parts, the report's keys).
    weight: its share of the time left when it starts (the scheduler's).
    measure: (suite, box, entry) -> None; fills `entry` (the report's dict of the
      part) step by step, calling `suite.save()` after each, and raises OutOfTime
      when the next step does not fit `box`.
    render: (report, entry) -> Markdown lines of its table.
    """

    name: str
    weight: float
    measure: Callable[..., None]
    render: Callable[[dict[str, Any], dict[str, Any]], list[str]]


# ---------------------------------------------------------------------------
# The suite: the report, its files, the memo shared between parts.


class Suite:
    """The report being built, and what the parts share."""

    def __init__(
        self,
        args: argparse.Namespace,
        sizes: Sizes,
        render: Callable[[dict[str, Any]], list[str]],
    ):
        """`render(report)`: the report's Markdown lines, rewritten by `save`."""
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
        self.render = render
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
        text = "\n".join(self.render(self.report)) + "\n"
        results.atomic_write(self.md_path, lambda file: file.write(text.encode()))

    def compiled(self, seconds: float) -> float:
        self.compile_times.append(seconds)
        return seconds


def log(text: str) -> None:
    print(text, flush=True)


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
