"""The package's structure: no module-level import cycle inside jdal."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "import_cycles.py"


def load_script():
    spec = importlib.util.spec_from_file_location("import_cycles", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_module_level_import_cycle():
    script = load_script()
    top, _ = script.edges()
    assert "jdal.problems.registry" in top["jdal.problems"]
    assert script.cycles(top) == []


def test_the_cycle_finder_finds_a_cycle():
    script = load_script()
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert script.cycles(graph) == [["a", "b", "c"]]
