"""Does lower matmul precision change the science? nAUC under fp32, tf32 and bf16.

    python benchmarks/precision_study.py --problems sine,robo,hydr,bess --preset quick

For each problem and precision, runs random and each method with the same seeds and
reports the seed-mean nAUC and the per-seed spread (std of paired per-seed nAUC).
A precision passes on a problem when its nAUC lies within the fp32 per-seed spread
of the fp32 nAUC. Speed is measured by `bench_al.py --compare precision=...` on the
accelerator; on a CPU tf32 is fp32 and bf16 is emulated, so only accuracy is
meaningful there. Results go to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

import jdal
from jdal import config as jconfig
from jdal import metrics, results
from jdal.parallel import Runner


def run_cell(cfg, seeds):
    result = Runner(jdal.make_run(cfg))(jdal.seed_keys(seeds))
    return np.asarray(result.mse), np.asarray(result.n_labelled[0])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="sine,robo,hydr,bess")
    parser.add_argument("--methods", default="qbc,gsx")
    parser.add_argument("--precisions", default="fp32,tf32,bf16")
    parser.add_argument("--preset", default="quick", choices=list(jconfig.PRESETS))
    parser.add_argument("--gamma", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/precision_study.json")
    jdal.compile_cache.add_flag(parser)
    args = parser.parse_args(argv)
    jdal.compile_cache.enable(args.compilation_cache)
    seeds = list(range(args.seeds))
    precisions = args.precisions.split(",")
    rows = []
    start = time.perf_counter()
    for problem in args.problems.split(","):
        for precision in precisions:
            base = jconfig.preset(
                args.preset, problem=problem, gamma=args.gamma, precision=precision
            )
            random_mse, n = run_cell(base.replace(method="random"), seeds)
            for method in args.methods.split(","):
                mse, _ = run_cell(base.replace(method=method), seeds)
                per_seed = metrics.nauc_per_seed(mse, random_mse, n)
                rows.append(
                    dict(
                        problem=problem,
                        precision=precision,
                        method=method,
                        nauc=metrics.nauc(mse, random_mse, n),
                        nauc_seed_std=float(np.std(per_seed)),
                        random_final_mse=float(np.mean(random_mse[:, -1])),
                        final_mse=float(np.mean(mse[:, -1])),
                    )
                )
                print(json.dumps(rows[-1]), flush=True)
    reference = {
        (r["problem"], r["method"]): r for r in rows if r["precision"] == "fp32"
    }
    for row in rows:
        ref = reference.get((row["problem"], row["method"]))
        if ref is not None:
            row["delta_vs_fp32"] = row["nauc"] - ref["nauc"]
            row["within_fp32_seed_spread"] = bool(
                abs(row["delta_vs_fp32"]) <= ref["nauc_seed_std"]
            )
    report = dict(
        device=str(jax.devices()[0]),
        preset=args.preset,
        gamma=args.gamma,
        seeds=seeds,
        wall_s=time.perf_counter() - start,
        rows=rows,
    )
    out = Path(args.out)
    results.write_json(out, report)
    print(f"{'problem':8} {'method':6} {'precision':9} {'nAUC':>7} {'seed std':>8} ok")
    for r in rows:
        ok = r.get("within_fp32_seed_spread")
        print(
            f"{r['problem']:8} {r['method']:6} {r['precision']:9} {r['nauc']:7.3f} "
            f"{r['nauc_seed_std']:8.3f} {ok}"
        )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
