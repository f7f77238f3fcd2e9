"""The campaign command line (jdal.campaign.cli): a whole campaign from the shell
with CSV files, and one line on stderr with exit status 2 for every bad input."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

from jdal.campaign import Campaign, store
from jdal.campaign.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "--preset", "smoke", "--set", "train_steps=5", "--set", "n_members=2",
    "--set", "steps=3", "--n-initial", "6", "--k", "3", "--cv-folds", "0",
]  # fmt: skip


def f(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 'experiment': any NumPy function of the inputs."""
    return np.sin(a) + b / 10.0


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    return rows[0], rows[1:]


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows([header, *rows])


def fill(path: Path, x_names=("a", "b"), column="y") -> tuple[np.ndarray, ...]:
    """Fills `column` of an asked batch with f; (ids or None, x, y) written."""
    header, rows = read(path)
    assert all(row[header.index(column)] == "" for row in rows)  # left to fill
    x = np.array([[float(row[header.index(n)]) for n in x_names] for row in rows])
    y = f(x[:, 0], x[:, 1])
    for row, value in zip(rows, y, strict=True):
        row[header.index(column)] = repr(float(value))
    write(path, header, rows)
    ids = None
    if "id" in header:
        ids = np.array([int(row[header.index("id")]) for row in rows])
    return ids, x, y


def one_error_line(capsys, *fragments: str) -> None:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_three_batches_from_the_shell(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    init = ["init", "wing", "--box", "0:1,10:20", "--inputs", "a,b"]
    flags = [*TINY, "--cv-folds", "2"]  # the last flag wins: a cv MSE in the log
    assert main([*init, "--outputs", "y", "--method", "random", *flags]) == 0
    assert "next: python -m jdal.campaign ask wing" in capsys.readouterr().out
    written_x, written_y = [], []
    for n in range(3):
        assert main(["ask", "wing"]) == 0
        out = capsys.readouterr().out
        assert f"batch_{n}.csv" in out and "tell wing batch_" in out
        _, x, y = fill(tmp_path / f"batch_{n}.csv")
        assert len(x) == (6 if n == 0 else 3)
        assert main(["tell", "wing", f"batch_{n}.csv"]) == 0
        assert "train MSE" in capsys.readouterr().out
        written_x.append(x)
        written_y.append(y)
    labelled_x, labelled_y = Campaign.open(tmp_path / "wing").labelled
    np.testing.assert_array_equal(labelled_x, np.vstack(written_x))
    np.testing.assert_array_equal(labelled_y[:, 0], np.concatenate(written_y))
    header, _ = read(tmp_path / "wing" / store.LABELLED)
    assert header == ["id", "batch", "a", "b", "y"]

    # status without --plot never imports matplotlib
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["status", "wing"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "12 labels in 3 batches" in lines[0]
    assert "train MSE" in lines[1] and "cv MSE" in lines[1]
    assert len(lines) == 5  # the summary, the table header, three trainings
    monkeypatch.delitem(sys.modules, "matplotlib")
    assert main(["status", "wing", "--plot", "status.png"]) == 0
    assert (tmp_path / "status.png").read_bytes()[:4] == b"\x89PNG"

    write(tmp_path / "points.csv", ["b", "a"], [["15", "0.5"], ["11", "0.1"]])
    assert main(["predict", "wing", "points.csv"]) == 0
    header, rows = read(tmp_path / "predictions.csv")
    assert header == ["a", "b", "y_mean", "y_spread"]
    assert [row[:2] for row in rows] == [["0.5", "15.0"], ["0.1", "11.0"]]
    assert all(float(row[3]) >= 0 for row in rows)


def test_candidate_table_round_trip_with_ids(tmp_path, capsys):
    rng = np.random.default_rng(0)
    table = np.column_stack([rng.uniform(0, 1, 30), rng.uniform(10, 20, 30)])
    write(
        tmp_path / "table.csv", ["a", "b"], [[repr(float(v)) for v in r] for r in table]
    )
    folder = str(tmp_path / "c")
    init = ["init", folder, "--candidates", str(tmp_path / "table.csv")]
    assert main([*init, "--method", "gsx", "--gamma", "2", *TINY]) == 0
    told = []
    for n in range(2):
        path = tmp_path / f"b{n}.csv"
        assert main(["ask", folder, "--out", str(path)]) == 0
        header, _ = read(path)
        assert header == ["id", "a", "b", "y"]
        ids, x, _ = fill(path)
        np.testing.assert_array_equal(x, table[ids])  # the table's own values
        header, rows = read(path)
        other = min(set(range(30)) - set(ids.tolist()) - set(told))
        write(tmp_path / "wrong.csv", header, [[str(other), *rows[0][1:]], *rows[1:]])
        assert main(["tell", folder, str(tmp_path / "wrong.csv")]) == 2
        one_error_line(capsys, f"line 2: the inputs are not those of candidate {other}")
        assert not set(ids.tolist()) & set(told)
        header, rows = read(path)  # columns and rows in any order
        order = [3, 2, 0, 1]
        shuffled = [[row[j] for j in order] for row in reversed(rows)]
        write(path, [header[j] for j in order], shuffled)
        assert main(["tell", folder, str(path)]) == 0
        told += ids.tolist()
    capsys.readouterr()
    _, rows = read(Path(folder) / store.LABELLED)
    labelled_ids = [int(row[0]) for row in rows]
    assert sorted(labelled_ids) == sorted(told)
    c = Campaign.open(folder)
    # each tell, in a freshly opened campaign, continues the stored model
    assert [row["step"] for row in c.status()["log"]] == [0, 1]
    x, y = c.labelled
    np.testing.assert_array_equal(x, table[labelled_ids])
    np.testing.assert_array_equal(y[:, 0], f(x[:, 0], x[:, 1]))


def test_bad_input_is_one_line_and_exit_status_2(tmp_path, capsys):
    folder = str(tmp_path / "c")
    assert main(["init", folder, "--box", "0:1,10", *TINY]) == 2
    one_error_line(capsys, "--box '0:1,10'", "low:high")
    assert main(["ask", str(tmp_path / "nothing")]) == 2
    one_error_line(capsys, "no campaign here")
    assert main(["init", folder, "--box", "0:1,10:20", "--inputs", "a,b", *TINY]) == 0
    batch = tmp_path / "batch.csv"
    assert main(["ask", folder, "--out", str(batch)]) == 0
    capsys.readouterr()
    header, rows = read(batch)
    assert header == ["a", "b", "y"]

    rows[0][2], rows[1][2] = "1.5", ""
    write(batch, header, rows)
    assert main(["tell", folder, str(batch)]) == 2
    one_error_line(
        capsys, "line 3: column 'y' is empty: fill in every label or remove the row"
    )
    write(batch, ["a", "y"], [[row[0], "1.0"] for row in rows])
    assert main(["tell", folder, str(batch)]) == 2
    one_error_line(capsys, "no input column 'b'")
    write(batch, header, [[row[0], row[1], "oops"] for row in rows])
    assert main(["tell", folder, str(batch)]) == 2
    one_error_line(capsys, "line 2: column 'y' is not a number: 'oops'")
    assert main(["tell", folder, str(tmp_path / "missing.csv")]) == 2
    one_error_line(capsys, "missing.csv: cannot read")
    # nothing was stored, and the batch is still the one asked
    assert Campaign.open(folder).status()["n_labelled"] == 0
    assert main(["ask", folder, "--out", str(batch)]) == 2
    one_error_line(capsys, "exists and differs from this batch")
    assert main(["init", folder, "--box", "0:1"]) == 2
    one_error_line(capsys, "already holds a campaign")
    assert main(["init", str(tmp_path / "d"), "--box", "0:1", "--set", "k=4"]) == 2
    one_error_line(capsys, "use --k")

    assert main(["frobnicate", folder]) == 2  # argparse: usage and the choices
    assert "usage:" in capsys.readouterr().err


def test_the_experiments_script_runs():
    done = subprocess.run(
        [sys.executable, "experiments/campaign.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for command in ("init", "ask", "tell", "status", "predict"):
        assert command in done.stdout
