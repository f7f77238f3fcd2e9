"""Runs a batch of AL runs with the run axis sharded over all local devices.

    runner = make_batched_run(cfg)        # compiled once per batch size
    results = runner(seed_keys(range(5)))  # RunResult with a leading run axis

One device: plain `jit(vmap(run))`. Several (GPUs, TPU cores, or CPU devices made
with XLA_FLAGS=--xla_force_host_platform_device_count=N): a 1-D mesh over
`jax.local_devices()`, keys sharded along the run axis (padded to a multiple of the
device count), results gathered back. Numbers are those of a single device: every
run is independent, so sharding never changes what a run computes.

Multi-host (a TPU slice or several GPU hosts): call `jax.distributed.initialize()`
first on every host and give each host its own slice of the seeds (for example
`seeds[jax.process_index()::jax.process_count()]`); each host then shards its runs
over its local devices and writes its own cells.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jdal.config import Config
from jdal.loop import RunResult, make_run

RUN_AXIS = "runs"


def run_mesh(devices=None) -> Mesh:
    """A 1-D mesh named `runs` over the given (default: all local) devices."""
    devices = jax.local_devices() if devices is None else devices
    return Mesh(np.asarray(devices), (RUN_AXIS,))


def make_batched_run(cfg: Config, devices=None) -> Callable[[jax.Array], RunResult]:
    """`runner(keys key[R]) -> RunResult` with leaves [R, ...], sharded over devices."""
    batched = jax.vmap(make_run(cfg))
    mesh = run_mesh(devices)
    n_devices = mesh.devices.size
    if n_devices == 1:
        return jax.jit(batched)
    sharding = NamedSharding(mesh, PartitionSpec(RUN_AXIS))
    sharded = jax.jit(batched, in_shardings=sharding, out_shardings=sharding)

    def runner(keys: jax.Array) -> RunResult:
        n_runs = keys.shape[0]
        padding = (-n_runs) % n_devices
        if padding:  # repeat the first key; the extra runs are dropped below
            keys = jax.numpy.concatenate([keys, jax.numpy.repeat(keys[:1], padding)])
        out = sharded(jax.device_put(keys, sharding))
        return jax.tree.map(lambda leaf: leaf[:n_runs], out)

    return runner
