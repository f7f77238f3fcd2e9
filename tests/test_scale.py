"""Running at scale: the prepared device suite, and sweeps split among workers.

The device suite's --dry-run runs every part end to end at tiny sizes in a
subprocess. The sweep's --shard split is checked as a partition of the plan, and
two real worker processes sharing one folder must give, cell for cell and bit for
bit, what one process gives (map lanes: a run's numbers never depend on what else
shares its call). --dry-run lists cells and computes nothing. The multi-device path
(the run axis sharded over forced CPU devices) is tested in test_parallel.py.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jdal import loop, problems, results
from jdal.shell import cells, report, shards, sweep

ROOT = Path(__file__).resolve().parent.parent

SUITE = [sys.executable, "benchmarks/device_suite.py", "--dry-run"]
PARTS = ("robo_cell", "throughput", "gamma_grid", "compile", "paper_cells")


@pytest.fixture(autouse=True)
def no_compilation_cache(monkeypatch):
    """In-process commands leave JAX's persistent cache off (it is process-wide)."""
    monkeypatch.setenv("JDAL_COMPILATION_CACHE", "off")


def run(argv, timeout):
    return subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


# ---------------------------------------------------------------------------
# The device suite.


def test_device_suite_dry_run_end_to_end(tmp_path):
    """Every part runs at tiny sizes and writes the JSON, the Markdown and paper
    cells that report.py reads (about a minute on a 2-core CPU)."""
    out, cells_out = tmp_path / "results", tmp_path / "cells"
    # A budget no loaded machine reaches: this test checks that every part runs
    # (the default 450 s, shared among the parts by weight, cut a part short when
    # the 2 cores were shared with other work); the budget's stop is the next test.
    argv = [*SUITE, "--budget", "3000", "--results-dir", str(out),
            "--out", str(cells_out)]  # fmt: skip
    done = run([*argv, "--archive", str(tmp_path / "cells.tar.gz")], timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report_json = out / "device_suite_cpu_dry_run.json"
    suite = json.loads(report_json.read_text())
    assert suite["dry_run"] and suite["device"].startswith("cpu: ")
    assert suite["compilation_cache"]["dir"] is None  # compile times are real
    assert {"jax", "jaxlib", "jdal"} <= suite["versions"].keys()
    parts = suite["parts"]
    assert [parts[name]["status"] for name in PARTS] == ["done"] * len(PARTS)
    assert all(parts[name]["seconds"] <= parts[name]["box_s"] for name in PARTS)

    robo = parts["robo_cell"]
    assert robo["first_steps"]["compile_s"] > 0 and robo["first_steps"]["run_s"] > 0
    assert robo["last_step"]["n_labelled"] > robo["first_steps"]["n_labelled"][0]
    assert robo["extrapolated"]["full_run_s"] > 0
    assert robo["extrapolated"]["flop_ratio_full_run_s"] > 0
    rows = parts["throughput"]["rows"]
    sizes = {(r["problem"], r["precision"], r["n_labelled"]) for r in rows}
    assert len(sizes) == len(rows) == 8  # stack, adm x fp32, bf16 x first, last n
    assert all(r["useful_tflops_per_s"] > 0 and r["fraction_of_peak"] is None
               for r in rows)  # fmt: skip
    grid = parts["gamma_grid"]
    assert grid["comparison"]["separate_complete"]
    assert [row["gamma"] for row in grid["separate"]] == grid["gammas"]
    assert [row["compile_s"] > 0 for row in parts["compile"]["rows"]] == [True] * 2

    cell_part = parts["paper_cells"]
    assert cell_part["done_after"] == cell_part["cells"] == 3  # random, qbc at 2 γ
    assert len(results.load(cells_out)) == 3
    assert (tmp_path / "cells.tar.gz").stat().st_size > 0
    markdown = (out / "device_suite_cpu_dry_run.md").read_text()
    for name in PARTS:
        assert f"## {name}" in markdown
    assert "| stack | bf16 |" in markdown and "γ grid, one call" in markdown
    assert report.main([str(cells_out), "--figures", str(tmp_path / "figures"),
                        "--formats", "png"]) == 0  # fmt: skip

    # Re-running one part keeps the others' entries; finished cells are reused.
    again = run([*argv, "--parts", "paper_cells"], timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    suite = json.loads(report_json.read_text())
    assert suite["parts"]["robo_cell"]["from_earlier_run"]
    assert suite["parts"]["paper_cells"]["done_before"] == 3
    assert suite["parts"]["paper_cells"]["groups"] == []


def test_device_suite_stops_at_its_budget_and_still_writes(tmp_path):
    done = run([*SUITE, "--budget", "1", "--results-dir", str(tmp_path),
                "--out", str(tmp_path / "cells")], timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    suite = json.loads((tmp_path / "device_suite_cpu_dry_run.json").read_text())
    assert {entry["status"] for entry in suite["parts"].values()} == {"skipped"}
    assert "budget spent" in (tmp_path / "device_suite_cpu_dry_run.md").read_text()


def test_device_suite_rejects_unknown_parts():
    done = run([*SUITE, "--parts", "robo_cell,nope"], timeout=120)
    assert done.returncode == 2
    assert "unknown part 'nope'" in done.stderr and "paper_cells" in done.stderr


# ---------------------------------------------------------------------------
# Shards.


def plan(*argv):
    parser = sweep.build_parser()
    return sweep.plan(parser, parser.parse_args(list(argv)))


def test_default_sweep_is_the_studys_problems_even_with_a_user_problem_registered():
    """A problem registered in the process (by a notebook, or an earlier test) is
    swept only when named: the default stays the study's eight."""
    problems.oracle_problem("registered_here", lambda u: u[:1] ** 2, [0.0], [1.0])
    assert "registered_here" in problems.names()
    assert {cfg.problem for cfg in plan("--preset", "smoke")} == set(problems.STUDY)
    named = plan("--preset", "smoke", "--problems", "registered_here,sine")
    assert {cfg.problem for cfg in named} == {"registered_here", "sine"}


@pytest.mark.parametrize("n_shards", [1, 2, 3, 7, 200])
def test_shards_partition_the_plan_into_whole_groups(n_shards):
    cfgs = plan("--preset", "paper")  # every problem, method and γ
    owner = shards.assign(cfgs, n_shards, 5)
    assert owner == shards.assign(list(cfgs), n_shards, 5)  # deterministic
    assert set(owner.values()) <= set(range(1, n_shards + 1))
    mine = [
        [cfg for cfg in cfgs if owner[shards.group_key(cfg)] == index]
        for index in range(1, n_shards + 1)
    ]
    # A partition: every cell in exactly one shard.
    assert sorted(cfg.hash() for share in mine for cfg in share) == sorted(
        cfg.hash() for cfg in cfgs
    )
    # Whole (problem, method) groups: every γ of a method with one worker.
    for key, group in shards.by_group(cfgs).items():
        assert {owner[shards.group_key(cfg)] for cfg in group} == {owner[key]}
    # Longest-processing-time first: no worker holds more than the lightest one
    # plus the largest group.
    work = {
        key: sum(shards.cell_work(cfg, 5).tflop for cfg in group)
        for key, group in shards.by_group(cfgs).items()
    }
    loads = [sum(w for key, w in work.items() if owner[key] == s)
             for s in range(1, n_shards + 1)]  # fmt: skip
    if n_shards <= len(work):
        assert max(loads) <= min(loads) + max(work.values()) + 1e-9


def test_shards_do_not_depend_on_what_is_on_disk(tmp_path, monkeypatch, capsys):
    """Workers that start later (some cells done) split the plan the same way."""
    cfgs = plan("--problems", "sine,robo", "--methods", "qbc,gsx", "--gammas", "2,8")
    assert {cfg.problem for cfg in cfgs} == {"sine", "robo"}
    before = shards.assign(cfgs, 2, 2)
    install_fake_cells(monkeypatch)
    argv = sweep_argv(tmp_path, "--shard", "1/2")
    assert sweep.main(argv) == 0
    assert shards.assign(cfgs, 2, 2) == before
    assert sweep.main(sweep_argv(tmp_path, "--shard", "2/2")) == 0
    lines = capsys.readouterr().out.splitlines()
    share = [line for line in lines if line.startswith("shard ")]
    assert len(share) == 2
    counts = [int(line.split(": ")[1].split(" of ")[0]) for line in share]
    assert sum(counts) == 10  # 2 problems x (random + 2 methods x 2 γ)
    # The union is the whole sweep: a plain run finds everything done.
    assert sweep.main(sweep_argv(tmp_path)) == 0
    assert (
        capsys.readouterr()
        .out.strip()
        .splitlines()[-1]
        .startswith("ran 0 cells, skipped 10 (already done) of 10")
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0/2", "1 <= I <= N"),
        ("3/2", "1 <= I <= N"),
        ("1/0", "1 <= I <= N"),
        ("a/2", "expected I/N"),
        ("2", "expected I/N"),
    ],
)
def test_bad_shard_is_a_clear_error(text, expected, capsys):
    with pytest.raises(argparse.ArgumentTypeError, match=expected):
        shards.parse_shard(text)
    with pytest.raises(SystemExit) as exit_info:
        sweep.main(["--shard", text])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--shard" in error and expected in error


# ---------------------------------------------------------------------------
# Dry run (fake cells: nothing here trains).


def fake_compute_cells(cfgs, seeds, lanes="auto"):
    """Stands in for cells.compute_cells: arrays of the right shapes, 2 s each."""
    out = []
    for cfg in cfgs:
        s, t, d = len(seeds), cfg.steps, problems.get(cfg.problem).dim_x
        arrays = {
            "mse": np.ones((s, t + 1), np.float32),
            "n_labelled": cfg.n_initial + cfg.k * np.arange(t + 1, dtype=np.int32),
            "train_loss": np.ones((s, t + 1), np.float32),
            "div": np.ones(s, np.float32),
            "div_per_step": np.ones((s, t), np.float32),
            "picked_x": np.zeros((s, t, cfg.k, d), np.float32),
            "seeds": np.asarray(seeds),
        }
        timing = {"compile_s": 1.0, "run_s": 1.0, "total_s": 2.0}
        out.append((arrays, {"timing": timing, "method_uses_pool": True}))
    return out


def install_fake_cells(monkeypatch):
    monkeypatch.setattr(cells, "compute_cells", fake_compute_cells)


def never(*args, **kwargs):
    raise AssertionError("a dry run must not build or compute a run")


def sweep_argv(out, *extra):
    return ["--problems", "sine,robo", "--methods", "qbc,gsx", "--gammas", "2,8",
            "--preset", "smoke", "--steps", "2", "--seeds", "2", "--out", str(out),
            *extra]  # fmt: skip


def dry_rows(text):
    """{(problem, method, γ): (status, shard, estimate)} of a dry run's table."""
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 9 and parts[3] in results.STATUSES:
            rows[(parts[0], parts[1], parts[2])] = (parts[3], parts[4], parts[-1])
    return rows


def test_dry_run_lists_cells_with_shard_and_estimate(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(loop, "make_run", never)
    monkeypatch.setattr(cells, "compute_cells", never)
    assert sweep.main(sweep_argv(tmp_path / "out", "--dry-run", "--shard", "2/2")) == 0
    out = capsys.readouterr().out
    assert not (tmp_path / "out").exists()  # nothing computed or written
    rows = dry_rows(out)
    assert len(rows) == 10
    assert {status for status, _, _ in rows.values()} == {"missing"}
    assert {shard for _, shard, _ in rows.values()} == {"1/2", "2/2"}
    assert {estimate for _, _, estimate in rows.values()} == {"n/a"}
    assert "2/2 (this worker)" in out and "seeds x trainings" in out
    # Shards agree with the split the workers use.
    cfgs = plan(*sweep_argv(tmp_path / "out"))
    owner = shards.assign(cfgs, 2, 2)
    for cfg in cfgs:
        gamma = "any" if cfg.gamma is None else str(cfg.gamma)
        _, shard, _ = rows[(cfg.problem, cfg.method, gamma)]
        assert shard == f"{owner[shards.group_key(cfg)]}/2"

    # With worker 1's cells done: their recorded seconds, and estimates for the
    # rest from finished cells of the same problem.
    install_fake_cells(monkeypatch)
    assert sweep.main(sweep_argv(tmp_path / "out", "--shard", "1/2")) == 0
    monkeypatch.setattr(cells, "compute_cells", never)
    capsys.readouterr()
    assert sweep.main(sweep_argv(tmp_path / "out", "--dry-run", "--shard", "2/2")) == 0
    rows = dry_rows(capsys.readouterr().out)
    for status, shard, estimate in rows.values():
        assert status == ("done" if shard == "1/2" else "missing")
        assert estimate == "2.0"  # every problem has finished cells of 2 s


# ---------------------------------------------------------------------------
# Two real workers on one folder.


TINY = ["--preset", "smoke", "--steps", "2", "--seeds", "2", "--lanes", "map",
        "--set", "train_steps=5", "--set", "n_test=64", "--set", "n_members=2",
        "--set", "max_width=8", "--set", "train_buckets=1"]  # fmt: skip


def sweep_process(out, cache, *extra):
    argv = [sys.executable, "experiments/sweep.py", "--problems", "sine",
            "--methods", "qbc", "--gammas", "2,4", *TINY, "--out", str(out),
            "--compilation-cache", str(cache), *extra]  # fmt: skip
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )


def finish(process, timeout=600):
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]
    return stdout


def test_two_workers_on_one_folder_equal_one_process(tmp_path):
    shared, single, cache = tmp_path / "shared", tmp_path / "single", tmp_path / "jax"
    workers = [sweep_process(shared, cache, "--shard", f"{i}/2") for i in (1, 2)]
    outputs = [finish(worker) for worker in workers]
    ran = []
    for index, text in zip((1, 2), outputs, strict=True):
        (share,) = [line for line in text.splitlines() if line.startswith("shard ")]
        assert share.startswith(f"shard {index}/2: ")
        mine = int(share.split(": ")[1].split(" of ")[0])
        assert f"ran {mine} cells, skipped 0 (already done) of {mine}" in text
        ran.append(mine)
    # random + qbc at 2 γ, each cell computed once, by one worker: the split is by
    # (problem, method), so one worker gets qbc's two cells and the other random's.
    assert sorted(ran) == [1, 2]
    finish(sweep_process(single, cache))

    union, alone = results.load(shared, strict=True), results.load(single, strict=True)
    relative = [cell.folder.relative_to(shared) for cell in union]
    assert relative == [cell.folder.relative_to(single) for cell in alone]
    assert len(relative) == 3
    for ours, theirs in zip(union, alone, strict=True):
        assert ours.meta["config_hash"] == theirs.meta["config_hash"]
        assert ours.arrays.keys() == theirs.arrays.keys()
        for name in ours.arrays:
            np.testing.assert_array_equal(ours.arrays[name], theirs.arrays[name])
    for cell in union:
        assert cell.meta["batch"]["lanes"] == "map"
        assert not list(cell.folder.glob(".*.tmp"))  # no leftovers
