"""The γ grid in one compiled call against one call per γ: times, and whether
the picks agree (`separate_call`, `compare_grid`; also benchmarks/gamma_grid.py)."""

from __future__ import annotations

import time
from typing import Any

import jax
import numpy as np

from device.common import (
    SAFETY,
    Box,
    Part,
    Suite,
    fmt_s,
    grid_call,
    log,
)
from jdal import loop, parallel
from jdal.shell.text import markdown_table


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
        row = separate_call(
            cfg, gamma, suite.keys, suite.args.lanes, grid_mse[index], grid_picks[index]
        )
        suite.compiled(row["compile_s"])
        separate.append(row)
        entry["comparison"] = compare_grid(entry)
        suite.save()


def separate_call(
    cfg, gamma: int, keys, lanes: str, grid_mse: np.ndarray, grid_picks: np.ndarray
) -> dict[str, Any]:
    """γ as its own compiled call (seeds `keys`), timed, and compared with the
    grid's runs of that γ: grid_mse f[S, T+1], grid_picks f[S, T, k, d] sorted
    along k. Returns the row of `entry["separate"]`."""
    runner = parallel.Runner(
        loop.make_run(cfg.replace(gamma=gamma)),
        lanes=lanes,
        what=parallel.size_fields(cfg),
    )
    start = time.perf_counter()
    runner.compile(keys)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    alone = jax.block_until_ready(runner(keys))
    run_s = time.perf_counter() - start
    mse = np.asarray(alone.mse)
    # [seeds, steps]: the same batch picked. Rounding differs between batch shapes
    # and can flip a near-tied pick, after which that run goes its own way.
    same = np.all(
        np.sort(np.asarray(alone.picked_x), axis=2) == grid_picks, axis=(2, 3)
    )
    return {
        "gamma": gamma,
        "compile_s": compile_s,
        "run_s": run_s,
        "max_relative_mse_difference": float(np.max(np.abs(grid_mse - mse) / mse)),
        "fraction_of_steps_with_same_picks": float(same.mean()),
        "runs_with_all_picks_the_same": int(np.all(same, axis=1).sum()),
    }


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


PART = Part("gamma_grid", 2.0, gamma_grid, md_gamma_grid)
