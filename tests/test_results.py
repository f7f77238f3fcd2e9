"""jdal.results: atomic cell files, status, corruption handling, loading, tidy rows."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jdal import config, results
from jdal.metrics import auc


def make_arrays(n_seeds=2, steps=3, k=4, d=1, scale=1.0, seeds=None):
    rng = np.random.default_rng(0)
    mse = scale * (1.0 + rng.random((n_seeds, steps + 1))).astype(np.float32)
    return {
        "mse": mse,
        "n_labelled": (80 + k * np.arange(steps + 1)).astype(np.int32),
        "train_loss": mse / 2,
        "div": rng.random(n_seeds).astype(np.float32),
        "div_per_step": rng.random((n_seeds, steps)).astype(np.float32),
        "picked_x": rng.uniform(-1, 1, (n_seeds, steps, k, d)).astype(np.float32),
        "n_nonfinite_labels": np.zeros(n_seeds, np.int32),
        "seeds": np.arange(n_seeds) if seeds is None else np.asarray(seeds),
    }


@pytest.fixture
def cfg():
    return config.smoke(problem="sine", method="qbc", gamma=4, steps=3, k=4)


def test_save_load_roundtrip(tmp_path, cfg):
    arrays = make_arrays()
    folder = results.save_cell(tmp_path, cfg, arrays, {"timing": {"compile_s": 1.5}})
    assert folder == tmp_path / "sine" / "qbc" / "gamma_4"
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "results.npz"]
    cell = results.load_cell(folder, expected_hash=cfg.hash())
    for name, value in arrays.items():
        np.testing.assert_array_equal(cell.arrays[name], value)
    assert (cell.problem, cell.method, cell.gamma, cell.seeds) == (
        "sine",
        "qbc",
        4,
        [0, 1],
    )
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["config"] == cfg.to_dict() and meta["config_hash"] == cfg.hash()
    assert meta["timing"] == {"compile_s": 1.5}
    assert meta["seeds"] == [0, 1] and meta["date"] and meta["device"]
    assert {"jax", "jaxlib", "flax", "optax", "numpy", "jdal"} <= set(meta["versions"])


def test_gamma_free_methods_have_one_cell(tmp_path):
    """gamma None (a method that ignores the pool ratio): folder gamma_any."""
    free = config.smoke(problem="sine", method="random", gamma=None)
    assert results.cell_folder(tmp_path, free).name == "gamma_any"
    pool = config.smoke(problem="sine", method="qbc", gamma=4)
    assert results.cell_folder(tmp_path, pool).name == "gamma_4"
    results.save_cell(tmp_path, free, make_arrays())
    assert results.load(tmp_path)[0].gamma is None


def test_results_reads_files_without_the_model_code():
    """`import jdal.results` imports neither Flax nor the acquisitions."""
    code = (
        "import sys, jdal.results; "
        "assert 'flax' not in sys.modules, 'flax'; "
        "assert 'jdal.acquisitions' not in sys.modules, 'acquisitions'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_cell_status_lifecycle(tmp_path, cfg):
    assert results.cell_status(tmp_path, cfg) == "missing"
    results.save_cell(tmp_path, cfg, make_arrays())
    assert results.cell_status(tmp_path, cfg, seeds=[0, 1]) == "done"
    assert results.cell_status(tmp_path, cfg, seeds=[0, 1, 2]) == "stale"
    assert results.cell_status(tmp_path, cfg.replace(train_steps=7)) == "stale"
    npz = results.cell_folder(tmp_path, cfg) / "results.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    found = results.inspect_cell(tmp_path, cfg)
    assert found.status == "corrupt" and "results.npz" in found.detail


def test_stale_load_raises(tmp_path, cfg):
    folder = results.save_cell(tmp_path, cfg, make_arrays())
    with pytest.raises(results.StaleCellError, match="config hash"):
        results.load_cell(folder, expected_hash=cfg.replace(k=5).hash())


@pytest.mark.parametrize(
    "damage, file, message",
    [
        ("truncate_npz", "results.npz", "truncated"),
        ("flip_npz", "results.npz", "sha256"),
        ("delete_npz", "results.npz", "missing"),
        ("truncate_meta", "meta.json", "not valid JSON"),
        ("delete_meta", "meta.json", "missing"),
        ("garbage_npz_with_matching_meta", "results.npz", "not a readable .npz"),
        ("drop_array", "results.npz", "missing arrays div"),
    ],
)
def test_corrupt_cells_name_the_file(tmp_path, cfg, damage, file, message):
    folder = results.save_cell(tmp_path, cfg, make_arrays())
    npz, meta_path = folder / "results.npz", folder / "meta.json"
    meta = json.loads(meta_path.read_text())

    def rewrite_meta_for_npz():
        meta["files"]["results.npz"] = {
            "bytes": npz.stat().st_size,
            "sha256": results._sha256(npz),
        }
        meta_path.write_text(json.dumps(meta))

    if damage == "truncate_npz":
        npz.write_bytes(npz.read_bytes()[:-50])
    elif damage == "flip_npz":
        data = bytearray(npz.read_bytes())
        data[len(data) // 2] ^= 0xFF
        npz.write_bytes(bytes(data))
    elif damage == "delete_npz":
        npz.unlink()
    elif damage == "truncate_meta":
        meta_path.write_text(meta_path.read_text()[:40])
    elif damage == "delete_meta":
        meta_path.unlink()
    elif damage == "garbage_npz_with_matching_meta":
        npz.write_bytes(b"PK\x03\x04 this is not a zip archive")
        rewrite_meta_for_npz()
    elif damage == "drop_array":
        arrays = make_arrays()
        del arrays["div"]
        np.savez(npz, **arrays)
        rewrite_meta_for_npz()
    with pytest.raises(results.CorruptCellError) as error:
        results.load_cell(folder)
    assert file in str(error.value) and message in str(error.value)
    expected = "missing" if damage == "delete_meta" else "corrupt"
    assert results.cell_status(tmp_path, cfg) == expected


def test_save_rejects_inconsistent_arrays(tmp_path, cfg):
    arrays = make_arrays()
    arrays["mse"] = arrays["mse"][:, :-1]
    with pytest.raises(results.CorruptCellError, match="'mse' has shape"):
        results.save_cell(tmp_path, cfg, arrays)


def test_crash_between_temp_write_and_rename_leaves_no_partial_file(
    tmp_path, cfg, monkeypatch
):
    def crash(src, dst):
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(results.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        results.save_cell(tmp_path, cfg, make_arrays())
    folder = results.cell_folder(tmp_path, cfg)
    assert list(folder.iterdir()) == []  # neither a partial file nor a temp file
    assert results.cell_status(tmp_path, cfg) == "missing"


def test_crash_while_overwriting_never_mixes_old_and_new(tmp_path, cfg, monkeypatch):
    folder = results.save_cell(tmp_path, cfg, make_arrays(scale=1.0))
    new_cfg = cfg.replace(train_steps=7)
    real_replace = os.replace

    def crash_on_meta(src, dst):
        if str(dst).endswith("meta.json"):
            raise OSError("simulated crash before meta.json")
        real_replace(src, dst)

    monkeypatch.setattr(results.os, "replace", crash_on_meta)
    with pytest.raises(OSError):
        results.save_cell(tmp_path, new_cfg, make_arrays(scale=3.0))
    # New arrays landed but the old meta was removed first: the cell reads as
    # incomplete under both configs, never as the old config with new numbers.
    assert results.cell_status(tmp_path, cfg) == "missing"
    assert results.cell_status(tmp_path, new_cfg) == "missing"
    assert results.load(tmp_path) == []
    monkeypatch.setattr(results.os, "replace", real_replace)
    results.save_cell(tmp_path, new_cfg, make_arrays(scale=3.0))
    cell = results.load_cell(folder, expected_hash=new_cfg.hash())
    np.testing.assert_array_equal(cell.arrays["mse"], make_arrays(scale=3.0)["mse"])


def test_atomic_write_keeps_previous_content_on_failure(tmp_path):
    path = tmp_path / "file.bin"
    results.atomic_write(path, lambda f: f.write(b"old"))

    def fail_midway(file):
        file.write(b"half of the new con")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        results.atomic_write(path, fail_midway)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_leftover_temp_files_are_ignored_and_cleaned(tmp_path, cfg):
    folder = results.cell_folder(tmp_path, cfg)
    folder.mkdir(parents=True)
    (folder / ".results.npz.abc.tmp").write_bytes(b"partial")  # as after kill -9
    assert results.cell_status(tmp_path, cfg) == "missing"
    assert results.load(tmp_path) == []
    results.save_cell(tmp_path, cfg, make_arrays())
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "results.npz"]


def test_load_and_to_table(tmp_path):
    base = config.smoke(problem="sine", steps=3, k=4)
    saved = {}
    for method, gamma in [("random", None), ("qbc", 2), ("qbc", 8)]:
        cfg = base.replace(method=method, gamma=gamma)
        saved[(method, gamma)] = make_arrays(n_seeds=3, seeds=[0, 1, 2])
        results.save_cell(tmp_path, cfg, saved[(method, gamma)])
    cells = results.load(tmp_path)
    assert sorted((c.method, c.gamma) for c in cells) == [
        ("qbc", 2),
        ("qbc", 8),
        ("random", None),
    ]
    rows = results.to_table(cells)
    assert len(rows) == 9
    assert set(rows[0]) >= {"problem", "method", "gamma", "seed", "final_mse", "auc"}
    row = next(r for r in rows if r["method"] == "qbc" and r["gamma"] == 8)
    arrays = saved[("qbc", 8)]
    assert row["final_mse"] == pytest.approx(float(arrays["mse"][0, -1]))
    assert row["auc"] == pytest.approx(auc(arrays["mse"][0], arrays["n_labelled"]))
    assert row["div"] == pytest.approx(float(arrays["div"][0]))


def test_load_skips_corrupt_cells_with_a_warning(tmp_path, cfg):
    folder = results.save_cell(tmp_path, cfg, make_arrays())
    results.save_cell(tmp_path, cfg.replace(gamma=8), make_arrays())
    (folder / "results.npz").write_bytes(b"")
    with pytest.warns(UserWarning, match="gamma_4.*results.npz"):
        cells = results.load(tmp_path)
    assert [c.gamma for c in cells] == [8]
    with pytest.raises(results.CorruptCellError):
        results.load(tmp_path, strict=True)


def test_as_frame_needs_pandas(tmp_path, cfg):
    results.save_cell(tmp_path, cfg, make_arrays())
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pandas"):
            results.load(tmp_path, as_frame=True)
    else:
        frame = results.load(tmp_path, as_frame=True)
        assert len(frame) == 2 and "final_mse" in frame.columns
