"""Splitting a sweep among N workers (`sweep.py --shard I/N`) and estimating its work.

    shard = parse_shard("2/4")                  # (2, 4): 1-based worker 2 of 4
    owner = assign(groups, 4, seeds)            # shard of each (problem, method) group
    work = cell_work(cfg, seeds)                # trainings and useful TFLOP of a cell

The unit of the split is the (problem, method) group: every γ of a method goes to
the same worker, so a worker computing the γ grid (one compiled call per group)
never needs a cell that another worker holds. The split is a function of the whole
plan (the flags), never of which cells are already on disk, so workers started at
different times, or restarted, agree on it; every worker must get the same flags
apart from --shard.

Groups are dealt by longest-processing-time first: largest estimated work first,
each to the worker with the least work so far (ties: plan order, lowest shard).
Work is useful training FLOPs (`jdal.cost.useful_flops`: 6 x parameters x labelled
rows per gradient step, all trainings, all seeds), which is what dominates a
paper-sized cell; a round-robin deal would give one worker all the one-cell groups
(random, naqbc) of a problem and another all the six-γ ones, and problems differ
in cost by three orders of magnitude (sine against adm).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence
from typing import NamedTuple

from jdal import config, cost


def parse_shard(text: str) -> tuple[int, int]:
    """argparse type: `I/N`, worker I of N, 1-based (1 <= I <= N), as SLURM's
    `--array=1-N` numbers its tasks."""
    index, sep, count = text.partition("/")
    try:
        index, count = int(index), int(count)
    except ValueError:
        index = count = None
    if not sep or index is None:
        raise argparse.ArgumentTypeError(
            f"expected I/N (worker I of N, 1-based), got {text!r}"
        )
    if count < 1 or not 1 <= index <= count:
        raise argparse.ArgumentTypeError(
            f"expected I/N with 1 <= I <= N (1-based), got {text!r}"
        )
    return index, count


def group_key(cfg: config.Config) -> tuple[str, str]:
    """The unit of the split: (problem, method)."""
    return cfg.problem, cfg.method


class Work(NamedTuple):
    """The training work of one cell: `trainings` = seeds x (T + 1) ensemble
    trainings, `tflop` = their useful TFLOP (`jdal.cost.useful_flops`)."""

    trainings: int
    tflop: float


@functools.cache
def _tflop_per_seed(cfg: config.Config) -> float:
    # Traces the ensemble's init (no compile), once per problem and sizes.
    return cost.useful_flops(cfg, cfg.steps) / 1e12


def cell_work(cfg: config.Config, n_seeds: int) -> Work:
    """Trainings and useful TFLOP of one cell of `n_seeds` seeds."""
    # The plain ensemble's FLOPs do not depend on the method, γ or its options.
    sizes = cfg.replace(method="random", gamma=None, options=())
    return Work(n_seeds * (cfg.steps + 1), n_seeds * _tflop_per_seed(sizes))


def by_group(cfgs: Sequence[config.Config]) -> dict[tuple[str, str], list]:
    """Cells by (problem, method), in plan order."""
    grouped: dict[tuple[str, str], list[config.Config]] = {}
    for cfg in cfgs:
        grouped.setdefault(group_key(cfg), []).append(cfg)
    return grouped


def assign(cfgs: Sequence[config.Config], n_shards: int, n_seeds: int) -> dict:
    """{(problem, method): shard 1..n_shards} for the whole plan `cfgs`.

    Longest-processing-time first on useful TFLOP (module doc); deterministic:
    the same plan always gives the same split, whatever is on disk.
    """
    grouped = by_group(cfgs)
    work = {
        key: sum(cell_work(cfg, n_seeds).tflop for cfg in group)
        for key, group in grouped.items()
    }
    rank = {key: i for i, key in enumerate(grouped)}  # plan order breaks ties
    loads = [0.0] * n_shards
    owner = {}
    for key in sorted(grouped, key=lambda key: (-work[key], rank[key])):
        shard = min(range(n_shards), key=lambda s: (loads[s], s))
        owner[key] = shard + 1
        loads[shard] += work[key]
    return owner
