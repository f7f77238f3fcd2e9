"""Batches of AL runs: the run axis sharded over all local devices, split into
chunks when it would not fit in device memory.

    runner = Runner(make_run(cfg))                # seeds of one cell
    results = runner(seed_keys(range(5)))         # RunResult, leaves [5, ...]

    grid = GridRunner(cfg, [2, 4, 8, 16, 32, 64])  # every γ of a (problem, method)
    results = grid(seed_keys(range(5)))           # RunResult, leaves [6, 5, ...]

A run is a lane; the lanes of a call form the *run axis* (seeds, or γ × seeds
flattened). One device: plain `jit` of the batched run. Several (GPUs, TPU cores, or
CPU devices made with XLA_FLAGS=--xla_force_host_platform_device_count=N): a 1-D mesh
over `jax.local_devices()`, the run axis sharded along it (padded to a multiple of
the device count), results gathered back. Every run is independent, so sharding
never changes what a run computes.

Memory: before the first call the runner compiles for the whole run axis and asks
XLA for the program's memory (`Compiled.memory_analysis`). If that exceeds the
budget (90 % of the smallest device's `bytes_limit`; on a CPU, 90 % of the host's
physical memory), it recompiles once for the largest chunk that fits (memory grows
linearly in the lanes) and loops over chunks of that size, the last one padded.
When not even one run fits, it refuses with `RunTooLargeError`, naming the config
fields that set the size, before anything runs. `runner.chunk_size` says how many
runs go in one call.

Lanes: `lanes="vmap"` vectorises the runs, which is what makes accelerators fast,
but XLA rounds a program of 30 lanes differently from one of 5, and active learning
can amplify that into different picks. `lanes="map"` runs the lanes one after
another (`lax.map`), each with exactly the single-run program: a run's numbers are
then bit-for-bit those of the run alone, whichever other runs share the call
(tested). That holds on one device: sharded over several, the partitioned
program is compiled anew and need not round as the single-device one does (measured
2026-11-30: sine quick qbc, γ 2, 8, 32, 3 seeds, map lanes on 2 CPU host devices
against 1: the picks diverged and the test MSE moved by up to 0.04; the run was
also 1.3x slower on the 2-core machine). `"auto"` (default) is map on a single CPU
device, where it was measured no slower (README, Benchmarks), and vmap otherwise.

Multi-host (a TPU slice or several GPU hosts): call `jax.distributed.initialize()`
first on every host and give each host its own slice of the work; each host then
shards its runs over its local devices and writes its own cells.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import einops
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jdal.config import Config
from jdal.loop import RunResult, check_gammas, make_grid_run

RUN_AXIS = "runs"
LANES = ("auto", "vmap", "map")
MEMORY_FRACTION = 0.9  # of the device's bytes_limit, leaving room for the allocator


def run_mesh(devices=None) -> Mesh:
    """A 1-D mesh named `runs` over the given (default: all local) devices."""
    devices = jax.local_devices() if devices is None else devices
    return Mesh(np.asarray(devices), (RUN_AXIS,))


def resolve_lanes(lanes: str, n_devices: int) -> str:
    """ "auto" -> "map" on a single CPU device, "vmap" otherwise; others unchanged."""
    if lanes != "auto":
        return lanes
    return "map" if jax.default_backend() == "cpu" and n_devices == 1 else "vmap"


def device_memory_budget(devices) -> int | None:
    """Bytes one device may use: MEMORY_FRACTION of the smallest device limit, or
    of the host's physical memory for CPU devices (which report none); None when
    neither is known."""
    limits = []
    for device in devices:
        stats = device.memory_stats() if hasattr(device, "memory_stats") else None
        if stats and "bytes_limit" in stats:
            limits.append(stats["bytes_limit"])
        elif device.platform == "cpu" and host_memory_bytes() is not None:
            limits.append(host_memory_bytes())
        else:
            return None
    return int(MEMORY_FRACTION * min(limits))


def host_memory_bytes() -> int | None:
    """Physical memory of this host, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


class RunTooLargeError(ValueError):
    """Not even one run fits in the memory budget."""


def size_fields(cfg: Config) -> str:
    """The config fields that set a run's memory, as `name=value` pairs."""
    fields = ("k", "gamma", "n_initial", "steps", "n_test", "n_members", "max_width")
    return ", ".join(f"{name}={getattr(cfg, name)}" for name in fields)


def program_bytes(compiled) -> int | None:
    """Peak bytes of a compiled program on one device (arguments + outputs + temps,
    aliased bytes counted once), or None when XLA does not say."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # some backends do not implement it
        return None
    if stats is None:
        return None
    return int(
        stats.argument_size_in_bytes
        + stats.output_size_in_bytes
        + stats.temp_size_in_bytes
        - stats.alias_size_in_bytes
    )


class Runner:
    """Calls `fn(*lane_args)` for every lane of the run axis; see the module doc.

    fn: one run, `(*lane_args) -> RunResult`, each argument one lane's value.
    chunk_size: runs per call; None chooses it from the memory budget.
    memory_budget: bytes per device; None asks the devices (CPU: host memory).
    lanes: "vmap" (vectorised), "map" (one after another, each exactly the
      single-run program) or "auto" (map on one CPU device, else vmap).
    what: words naming the run in a `RunTooLargeError` (e.g. `size_fields(cfg)`).

    The program is compiled once, by `compile(*args)` or the first call, for that
    run-axis length; later calls of any length reuse it chunk by chunk. Then
    `chunk_size` is the runs per call and `program_bytes` the per-device memory XLA
    reports for one call (None when unknown).
    """

    def __init__(
        self,
        fn: Callable[..., RunResult],
        devices: Sequence | None = None,
        chunk_size: int | None = None,
        memory_budget: int | None = None,
        lanes: str = "auto",
        what: str = "this run",
    ):
        if lanes not in LANES:
            raise ValueError(f"lanes must be one of {', '.join(LANES)}, got {lanes!r}")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(
                f"chunk_size must be >= 1 (or None for auto), got {chunk_size}"
            )
        self.mesh = run_mesh(devices)
        self.n_devices = self.mesh.devices.size
        self.memory_budget = (
            memory_budget
            if memory_budget is not None
            else device_memory_budget(list(self.mesh.devices.flat))
        )
        self.chunk_size = chunk_size
        self.what = what
        self.program_bytes: int | None = None
        self.lanes = resolve_lanes(lanes, self.n_devices)
        if self.lanes == "vmap":
            batched = jax.vmap(fn)
        else:

            def batched(*args):
                return jax.lax.map(lambda lane: fn(*lane), args)

        if self.n_devices == 1:
            self._jitted = jax.jit(batched)
            self._sharding = None
        else:
            self._sharding = NamedSharding(self.mesh, PartitionSpec(RUN_AXIS))
            self._jitted = jax.jit(
                batched, in_shardings=self._sharding, out_shardings=self._sharding
            )
        self._compiled = None
        self._compiled_lanes = None

    @property
    def runs_per_lane_step(self) -> int:
        """Runs that advance together, and so share each clock stamp of a timed run
        (`RunResult.clock`): 1 with map lanes, a device's share of a call with vmap
        (known once compiled)."""
        if self.lanes == "map" or self.chunk_size is None:
            return 1
        return max(1, self.chunk_size // self.n_devices)

    def _round_up(self, n_lanes: int) -> int:
        return -(-n_lanes // self.n_devices) * self.n_devices

    def _lower(self, args, n_lanes: int):
        shapes = [
            jax.ShapeDtypeStruct(
                (n_lanes, *a.shape[1:]), a.dtype, sharding=self._sharding
            )
            for a in args
        ]
        compiled = self._jitted.lower(*shapes).compile()
        return compiled, program_bytes(compiled)

    def compile(self, *args: jax.Array) -> None:
        """Compiles for these arguments' run-axis length (and picks the chunk size)."""
        self._compile(*args)

    def _compile(self, *args: jax.Array) -> None:
        n_runs = args[0].shape[0]
        n_lanes = self._round_up(min(n_runs, self.chunk_size or n_runs))
        compiled, used = self._lower(args, n_lanes)
        if (
            self.chunk_size is None
            and self.memory_budget is not None
            and used is not None
            and used > self.memory_budget
            and n_lanes > self.n_devices
        ):
            # Memory is about linear in the lanes: one recompile at the size that fits.
            per_lane = used / n_lanes
            fitting = int(self.memory_budget // per_lane) // self.n_devices
            n_lanes = max(1, fitting) * self.n_devices
            compiled, used = self._lower(args, n_lanes)
        budget = self.memory_budget
        if budget is not None and used is not None and used > budget:
            raise RunTooLargeError(
                f"one run needs about {used / 2**30:.1f} GiB per device (XLA's "
                f"estimate for {n_lanes} lane(s)) but the budget is "
                f"{budget / 2**30:.1f} GiB: lower the sizes of {self.what}"
            )
        self._compiled, self._compiled_lanes, self.program_bytes = (
            compiled,
            n_lanes,
            used,
        )
        self.chunk_size = n_lanes

    def __call__(self, *args: jax.Array) -> RunResult:
        """RunResult with leaves [R, ...] for lane arguments with leading axis R."""
        n_runs = args[0].shape[0]
        if self._compiled is None:
            self._compile(*args)
        n_lanes = self._compiled_lanes
        outputs = []
        for start in range(0, n_runs, n_lanes):
            chunk = [a[start : start + n_lanes] for a in args]
            size = chunk[0].shape[0]
            if size < n_lanes:  # pad with copies of the first lane; dropped below
                chunk = [
                    jnp.concatenate([c, jnp.repeat(c[:1], n_lanes - size, axis=0)])
                    for c in chunk
                ]
            if self._sharding is not None:
                chunk = [jax.device_put(c, self._sharding) for c in chunk]
            out = self._compiled(*chunk)
            outputs.append(jax.tree.map(lambda leaf, size=size: leaf[:size], out))
        if len(outputs) == 1:
            return outputs[0]
        return jax.tree.map(lambda *leaves: jnp.concatenate(leaves), *outputs)


class GridRunner(Runner):
    """`runner(keys key[S]) -> RunResult` with leaves [G, S, ...]: every γ × seed of
    one (problem, method) in one compiled program (`make_grid_run`), the lanes
    flattened γ-major. `timed` adds clock stamps (`make_grid_run`). Other arguments
    as `Runner`'s."""

    def __init__(
        self,
        cfg: Config,
        gammas: Sequence[int],
        timed: bool = False,
        **runner_options,
    ):
        self.gammas = check_gammas(cfg, gammas)
        runner_options.setdefault("what", size_fields(cfg))
        super().__init__(make_grid_run(cfg, self.gammas, timed), **runner_options)

    def lane_args(self, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The flattened run axis: (key[G S], gamma int32[G S]), γ-major."""
        flat_keys = jnp.concatenate([keys] * len(self.gammas))
        flat_gammas = jnp.repeat(jnp.asarray(self.gammas, jnp.int32), keys.shape[0])
        return flat_keys, flat_gammas

    def compile(self, keys: jax.Array) -> None:
        super().compile(*self.lane_args(keys))

    def __call__(self, keys: jax.Array) -> RunResult:
        out = super().__call__(*self.lane_args(keys))
        # The run axis is γ-major: split it back into [γ, seed].
        return jax.tree.map(
            lambda leaf: einops.rearrange(
                leaf, "(g s) ... -> g s ...", g=len(self.gammas)
            ),
            out,
        )
