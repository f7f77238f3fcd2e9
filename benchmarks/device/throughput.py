"""stack and adm paper training per precision: seconds per AL step, useful
TFLOP/s, fraction of peak, memory."""

from __future__ import annotations

from typing import Any

import bench_al
import jax

import jdal
from device.common import (
    SAFETY,
    Box,
    Part,
    Suite,
    compile_and_time,
    fmt_bytes,
    fmt_s,
    log,
    step_inputs,
)
from jdal import config, cost, parallel
from jdal.shell import timing
from jdal.shell.text import markdown_table


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


PART = Part("throughput", 3.0, throughput, md_throughput)
