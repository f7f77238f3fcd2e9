"""Seconds to trace, lower and compile whole paper programs, as the sweep does."""

from __future__ import annotations

import time
from typing import Any

from device.common import (
    SAFETY,
    Box,
    Part,
    Suite,
    fmt_bytes,
    fmt_s,
    log,
)
from jdal import acquisitions, loop, parallel
from jdal.shell.text import markdown_table


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


PART = Part("compile", 2.0, compile_times, md_compile)
