"""What bounds a quick cell on a CPU: the training step against its own matmuls.

    python benchmarks/train_step_bound.py --problems sine,robo,hydr,bess

For each problem at the quick sizes, on the last step's full labelled buffer
(N0 + T k rows, full batch):

- the ensemble's gradient step as the run executes it (`Ensemble.train`, 200 steps
  in one compiled scan), in milliseconds and useful GFLOP/s (6 x parameters x rows
  per gradient step, `jdal.cost`);
- the same step's matrix products alone (every layer's forward product and its two
  backward products, members batched, 200 times in one compiled loop): the
  machine's throughput at exactly these shapes, which no rewrite of the rest of
  the step can beat.

The ratio says how much of the step is the products and how much everything else
(BatchNorm, ReLU, the loss, Adam, the loop). Results: JSON under
benchmarks/results/ (one run, one machine; wall times are the best of --repeats).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from jdal import config, cost, problems, results
from jdal.models.ensemble import make_ensemble, resolved_model_settings

HIGHEST = jax.lax.Precision.HIGHEST


def best_of(fn, args, repeats: int) -> float:
    compiled = jax.jit(fn).lower(*args).compile()
    jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    return min(times)


def ensemble_training(problem_name: str, cfg, rows: int):
    """(ensemble, train, args): `train(*args)` is the ensemble's cfg.train_steps
    gradient steps on `rows` uniform rows (zero labels) as the run executes them
    (`Ensemble.train`, one compiled scan), from its initialisation at key 0."""
    problem = problems.get(problem_name)
    ensemble = make_ensemble(problem, cfg)
    key = jax.random.key(0)
    state = ensemble.init(key)
    x = jax.random.uniform(key, (rows, problem.dim_x), minval=-1.0, maxval=1.0)
    y = jnp.zeros((rows, problem.dim_y), jnp.float32)

    def train(key, state, x, y):
        return ensemble.train(key, state, x, y, jnp.int32(rows))[0]

    return ensemble, train, (key, state, x, y)


def measure(problem_name: str, repeats: int) -> dict:
    cfg = config.quick(problem=problem_name, method="random", gamma=None)
    problem = problems.get(problem_name)
    rows = cfg.n_final
    batch = resolved_model_settings(problem, cfg)["batch_size"]
    rows_per_step = rows if batch is None else min(rows, batch)
    ensemble, train, args = ensemble_training(problem_name, cfg, rows)
    key = args[0]
    train_s = best_of(train, args, repeats)
    steps = cfg.train_steps
    flops = 6.0 * cost.ensemble_params(cfg) * rows_per_step  # per gradient step

    # The products of one gradient step: per layer (fan_in -> fan_out), the
    # forward [M, n, in] @ [M, in, out], and backward the input gradient
    # [M, n, out] @ [M, out, in] and the weight gradient [M, in, n] @ [M, n, out].
    members = ensemble.n_members
    widths = [problem.dim_x, *ensemble.module.hidden, problem.dim_y]
    layers = list(zip(widths[:-1], widths[1:], strict=True))

    keys = jax.random.split(key, len(layers) + 1)
    weights = [
        jax.random.normal(k, (members, fan_in, fan_out)) / fan_in**0.5
        for k, (fan_in, fan_out) in zip(keys[1:], layers, strict=True)
    ]

    def products(a0, weights):
        # A linear network's forward and backward pass: only the products. Each
        # depends on the loop's carry, so none is hoisted out of the loop.
        a, inputs = a0, []
        for w in weights:
            inputs.append(a)
            a = jnp.matmul(a, w, precision=HIGHEST)
        grad, used = a, 0.0
        for w, a_in in zip(reversed(weights), reversed(inputs), strict=True):
            grad_w = jnp.matmul(jnp.swapaxes(a_in, 1, 2), grad, precision=HIGHEST)
            used += grad_w[0, 0, 0]
            grad = jnp.matmul(grad, jnp.swapaxes(w, 1, 2), precision=HIGHEST)
        return a0 + 1e-6 * grad + 1e-30 * used

    a0 = jax.random.normal(keys[0], (members, rows_per_step, problem.dim_x))

    def loop(a0, weights):
        return jax.lax.fori_loop(0, steps, lambda i, a: products(a, weights), a0)

    products_s = best_of(loop, (a0, weights), repeats)
    product_flops = sum(
        3 * 2.0 * members * rows_per_step * fan_in * fan_out
        for fan_in, fan_out in layers
    )
    return {
        "problem": problem_name,
        "preset": "quick",
        "rows": rows_per_step,
        "members": members,
        "layers": layers,
        "gradient_step_ms": 1e3 * train_s / steps,
        "useful_gflops_per_s": flops * steps / train_s / 1e9,
        "products_alone_ms": 1e3 * products_s / steps,
        "products_gflops_per_s": product_flops * steps / products_s / 1e9,
        "products_share_of_step": products_s / train_s,
    }


def environment() -> dict:
    """Where a benchmark ran: machine, JAX device and version, for its JSON."""
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "device": results.describe_device(),
        "jax": jax.__version__,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="sine,robo,hydr,bess")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", default="benchmarks/results/train_step_bound_quick.json"
    )
    args = parser.parse_args(argv)
    rows = []
    for name in args.problems.split(","):
        rows.append(measure(name, args.repeats))
        print(json.dumps(rows[-1]), flush=True)
    report = {**environment(), "rows": rows}
    results.write_json(Path(args.out), report)


if __name__ == "__main__":
    main()
