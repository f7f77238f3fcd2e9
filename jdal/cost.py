"""The cost model of a run: useful training FLOPs and the accelerators' peaks.

One definition, shared by the sweep's shard balancing (`jdal.shell.shards`) and the
benchmarks that report throughput (`benchmarks/bench_al.py`, the device suite).
"""

from __future__ import annotations

import jax

from jdal import problems
from jdal.config import Config
from jdal.models.ensemble import count_params, make_ensemble, resolved_model_settings

# Dense peak TFLOP/s per precision, from the vendors' data sheets (SXM parts).
PEAK_TFLOPS = {
    "H100": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4},
    "H200": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4},
    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0},
}


def device_peak(precision: str) -> float | None:
    """Dense peak TFLOP/s of the first device for `precision`, if a known GPU."""
    kind = jax.devices()[0].device_kind
    for name, peaks in PEAK_TFLOPS.items():
        if name in kind:
            return peaks[precision]
    return None


def ensemble_params(cfg: Config) -> int:
    """Trained scalars of the config's ensemble (all members)."""
    ensemble = make_ensemble(problems.get(cfg.problem), cfg)
    return count_params(jax.eval_shape(ensemble.init, jax.random.key(0)).params)


def useful_flops(cfg: Config, steps: int) -> float:
    """6 x params x valid rows per gradient step, summed over `steps` + 1 trainings
    (padding rows of the size buckets and a method's own work not counted)."""
    params = ensemble_params(cfg)
    batch = resolved_model_settings(problems.get(cfg.problem), cfg)["batch_size"]
    total = 0.0
    for t in range(steps + 1):
        rows = cfg.n_initial + t * cfg.k
        if batch is not None:
            rows = min(rows, batch)
        total += 6.0 * params * rows * cfg.train_steps
    return total
