"""What an adm quick cell costs on this machine, and what smaller sizes would cost.

    python benchmarks/adm_cpu.py [--batches 500,100] [--train-steps 200,100]

adm's network (6 hidden layers, the linear Dense 1000 and the 2000-output head)
dominates its cells. This measures the ensemble's gradient step (`Ensemble.train`,
one compiled scan, the best of --repeats) at the rows a quick run trains on at
each AL step, n = N0 + t k capped by the minibatch, for each candidate minibatch,
and adds them up into the training seconds of one run (T + 1 trainings of
train_steps gradient steps) and of a full adm sweep (every method's γ grid, 5
seeds, counted in runs). Acquisition and scoring are left out: they are a few
percent of an adm step. Results: JSON under benchmarks/results/ (one run, one
machine).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from train_step_bound import best_of, ensemble_training, environment

from jdal import config, results

# Runs in the quick adm sweep: 15 methods that use γ × 3 γ, plus random and
# naqbc once, each with 5 seeds run one after another (map lanes).
SWEEP_RUNS = (15 * 3 + 2) * 5


def step_seconds(rows: int, probe_steps: int, repeats: int) -> float:
    """Seconds per gradient step of the adm quick ensemble on `rows` rows."""
    cfg = config.quick(
        problem="adm", method="random", gamma=None, train_steps=probe_steps
    )
    _, train, args = ensemble_training("adm", cfg, rows)
    return best_of(train, args, repeats) / probe_steps


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="500,100")
    parser.add_argument("--train-steps", default="200,100")
    parser.add_argument("--probe-steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/adm_cpu.json")
    args = parser.parse_args(argv)
    cfg = config.quick(problem="adm", method="random", gamma=None)
    labelled = [cfg.n_initial + t * cfg.k for t in range(cfg.steps + 1)]
    batches = [int(b) for b in args.batches.split(",")]
    needed = sorted({min(n, b) for n in labelled for b in batches})
    per_step = {}
    for rows in needed:
        per_step[rows] = step_seconds(rows, args.probe_steps, args.repeats)
        print(json.dumps({"rows": rows, "step_ms": 1e3 * per_step[rows]}), flush=True)
    options = []
    for batch in batches:
        for steps in (int(s) for s in args.train_steps.split(",")):
            run_s = sum(steps * per_step[min(n, batch)] for n in labelled)
            options.append(
                {
                    "batch_size": batch,
                    "train_steps": steps,
                    "training_s_per_run": run_s,
                    "sweep_hours_one_process": run_s * SWEEP_RUNS / 3600,
                }
            )
            print(json.dumps(options[-1]), flush=True)
    report = {
        **environment(),
        "labelled_per_step": labelled,
        "step_ms_by_rows": {str(r): 1e3 * s for r, s in per_step.items()},
        "options": options,
        "sweep_runs": SWEEP_RUNS,
    }
    results.write_json(Path(args.out), report)


if __name__ == "__main__":
    main()
