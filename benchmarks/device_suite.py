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
import os
import sys
import tempfile
from pathlib import Path

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

import jax  # noqa: E402
from device import (  # noqa: E402
    compile_times,
    gamma_grid,
    paper_cells,
    robo_cell,
    throughput,
)
from device.common import (  # noqa: E402
    DEFAULT_BUDGET_S,
    DRY,
    PAPER,
    Suite,
    log,
    slug,
)
from device.report import markdown as report_markdown  # noqa: E402
from device.schedule import run_parts  # noqa: E402

from jdal import compile_cache, parallel  # noqa: E402

# The parts in the order they run (each module's record: name, weight, measure,
# render).
PARTS = (
    robo_cell.PART,
    throughput.PART,
    gamma_grid.PART,
    compile_times.PART,
    paper_cells.PART,
)
PART_NAMES = tuple(part.name for part in PARTS)


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
    suite = Suite(args, sizes, render=lambda report: report_markdown(report, PARTS))
    selected = [part for part in PARTS if part.name in args.parts]
    log(f"device suite on {suite.report['device']}; budget {args.budget:.0f} s")
    log(f"report: {suite.json_path} and {suite.md_path}; cells: {args.out}")
    code = run_parts(suite, selected, args.budget)
    if code != 130:
        log("")
        log(suite.md_path.read_text())
    return code


if __name__ == "__main__":
    sys.exit(main())
