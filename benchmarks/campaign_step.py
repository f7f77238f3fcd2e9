"""What a campaign's step costs against the same step inside the compiled run.

    python benchmarks/campaign_step.py                 # robo, bait, quick, n = 500

Measured on one machine in one sitting, JAX's persistent compilation cache on:
1. the compiled run's step t (training, then the acquisition) at n = N0 + t k
   labels, one seed, jitted alone (`jdal.shell.timing.make_step_parts`),
   best of 3 calls after compiling;
2. the campaign's `tell` (retraining) + `ask` (selection) at the same n and
   shapes, best of 3 steps in one process (programs already compiled), and the
   first such step in a fresh process whose compiles come from the disk cache;
3. `Campaign.open` + `ask` on a 20-batch campaign in a fresh process.
The cross-validation diagnostic is off for 1-2 (it costs `cv_folds` trainings
more; timed apart). Writes benchmarks/results/campaign_step.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

HERE = Path(__file__).resolve().parent
import jdal  # noqa: E402
from jdal import config, problems, results  # noqa: E402
from jdal.campaign import Campaign  # noqa: E402
from jdal.shell import timing  # noqa: E402

jdal.compile_cache.enable()


def settings(args) -> dict:
    return dict(
        problem=args.problem,
        method=args.method,
        gamma=args.gamma,
        k=args.k,
        n_initial=args.n_initial,
        steps=args.steps,
    )


def compiled_step_seconds(cfg: config.Config, step: int) -> float:
    parts = timing.make_step_parts(cfg, step)
    key = jax.random.key(0)
    state, labelled_x, labelled_y, pool_x = jax.jit(parts.inputs)(key)
    train = jax.jit(parts.train).lower(key, state, labelled_x, labelled_y).compile()
    select_args = (key, pool_x, state, labelled_x, labelled_y)
    select = jax.jit(parts.select).lower(*select_args).compile()
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        trained = jax.block_until_ready(train(key, state, labelled_x, labelled_y))
        jax.block_until_ready(select(key, pool_x, trained, labelled_x, labelled_y))
        best = min(best, time.perf_counter() - start)
    return best


def grow(folder: Path, args, batches: int, cv_folds: int = 0) -> Campaign:
    """A campaign on the problem's oracle with `batches` batches told."""
    s = settings(args)
    campaign = Campaign.create(
        folder, problem=s.pop("problem"), preset_name=args.preset, seed=0,
        initial="uniform", y_scaling="none", cv_folds=cv_folds, **s,
    )  # fmt: skip
    label = jax.jit(problems.get(args.problem).label)
    for _ in range(batches + 1):
        x = campaign.ask()
        campaign.tell(x, np.asarray(label(jnp.asarray(x, jnp.float32))))
    return campaign


def timed_steps(campaign: Campaign, problem: str, repeats: int) -> list[float]:
    """Seconds of `repeats` (ask, label, tell) rounds; the oracle's time is not
    counted."""
    label = jax.jit(problems.get(problem).label)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        x = campaign.ask()
        middle = time.perf_counter()
        y = np.asarray(label(jnp.asarray(x, jnp.float32)))
        restart = time.perf_counter()
        campaign.tell(x, y)
        seconds.append(middle - start + time.perf_counter() - restart)
    return seconds


def child(args) -> None:
    """The fresh-process measurements (`--child`), printed as JSON."""
    start = time.perf_counter()
    campaign = Campaign.open(args.folder)
    campaign.ask()
    opened = time.perf_counter() - start
    step = None
    if args.child == "step":  # the ask above is the step's own: label and tell
        step = timed_steps(campaign, args.problem, 1)[0]
    print(json.dumps({"open_ask_s": opened, "first_step_s": step}))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="robo")
    parser.add_argument("--method", default="bait")
    parser.add_argument("--gamma", type=int, default=16)
    parser.add_argument("--k", type=int, default=40)
    parser.add_argument("--n-initial", type=int, default=100)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    cfg = config.preset(args.preset, **settings(args))
    step = 10  # n = N0 + 10 k = 500 at the defaults
    n = cfg.n_initial + step * cfg.k
    record = {"machine": results.describe_device(), "config": cfg.to_dict(), "n": n}
    record["compiled_step_s"] = compiled_step_seconds(cfg, step)
    scratch = Path(tempfile.mkdtemp())
    # Batches 0..step-1 told, so the next ask/tell pair is step `step`'s; copies
    # of the folder give that same step again.
    grow(scratch / "c", args, step - 1)
    for copy in ("fresh", "warm1", "warm2", "warm3"):
        shutil.copytree(scratch / "c", scratch / copy)
    own = [sys.executable, __file__, "--problem", args.problem]
    fresh = subprocess.run(
        [*own, "--child", "step", "--folder", str(scratch / "fresh")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    child_times = json.loads(fresh.stdout)  # open + ask, then label + tell
    record["fresh_process_open_and_step_s"] = sum(child_times.values())
    # In this process: the first copy compiles (or reads the disk cache), the
    # others reuse the shared engine's programs.
    warm = [
        timed_steps(Campaign.open(scratch / copy), args.problem, 1)[0]
        for copy in ("warm1", "warm2", "warm3")
    ]
    record["campaign_step_first_in_process_s"] = warm[0]
    record["campaign_step_s"] = min(warm[1:])
    record["campaign_over_compiled"] = (
        record["campaign_step_s"] / record["compiled_step_s"]
    )
    with_cv = grow(scratch / "cv", args, 1, cv_folds=5)
    record["cv_seconds_5_folds"] = with_cv.status()["log"][-1]["cv_seconds"]
    twenty = grow(scratch / "twenty", argparse.Namespace(**{**vars(args), "k": 5,
                  "n_initial": 10, "steps": 20}), 20)  # fmt: skip
    del twenty
    opened = subprocess.run(
        [*own, "--child", "open", "--folder", str(scratch / "twenty")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    record["open_ask_20_batches_s"] = json.loads(opened.stdout)["open_ask_s"]
    out = HERE / "results" / "campaign_step.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
