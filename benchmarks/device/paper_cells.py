"""Paper cells computed and saved by the sweep's own code, with the time left."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path
from typing import Any

from device.common import (
    SAFETY,
    Box,
    Part,
    Suite,
    fmt_s,
    log,
)
from jdal import acquisitions, results
from jdal.shell import cells, sweep
from jdal.shell.names import method_order
from jdal.shell.text import markdown_table


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


PART = Part("paper_cells", 2.0, paper_cells, md_paper_cells)
