"""The robo paper cell as the sweep runs it, extrapolated from its first steps and
one timed last step (device_suite.py's notes)."""

from __future__ import annotations

import statistics
from typing import Any

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
    grid_call,
    log,
    step_inputs,
)
from jdal import cost
from jdal.shell import timing
from jdal.shell.text import markdown_table


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


PART = Part("robo_cell", 3.0, robo_cell, md_robo_cell)
