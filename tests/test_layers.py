"""Data flows one way, and imports follow it: a module imports only its own layer or lower ones,
the model capabilities never import each other, and nothing outside ``shoplens/demo`` imports
the demo (read from the source with :mod:`ast`, so lazy imports inside functions count too)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import shoplens

ROOT = Path(shoplens.__file__).parent

# lowest first; see docs/architecture.md
LAYERS: list[set[str]] = [
    {"errors", "config", "schema", "jsonsafe", "datasets", "formatting"},
    {"store", "files", "metrics", "base", "trend"},
    {"privacy", "ingest", "stream"},  # stream: the event collector, an ingest source
    {"text", "customers", "recs", "decide", "demand", "behaviour"},  # the models: never import each other
    {"insights", "monitor", "campaigns"},  # campaigns join customer insight and decisions
    {"services"},
    {"cli_common", "cli", "serve", "demo"},  # interfaces (and every package's cli.py)
]
MODELS = LAYERS[3]
TOP = len(LAYERS) - 1


def layer_of(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if module in names)


def imports() -> list[tuple[str, str, str]]:
    """(file, importing package, imported package) for every ``shoplens.*`` import in the source."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts == ("__init__.py",):
            continue
        package = rel.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "shoplens" and len(parts) > 1:
                    out.append((str(rel), package, parts[1]))
    return out


def test_every_package_has_a_layer():
    packages = {p.name.removesuffix(".py") for p in ROOT.iterdir()
                if (p.suffix == ".py" or (p / "__init__.py").exists()) and p.name != "__init__.py"}
    assert packages == set().union(*LAYERS)


def test_imports_never_go_up_a_layer():
    wrong = []
    for file, src, dst in imports():
        here = TOP if file.endswith("/cli.py") else layer_of(src)  # a package's commands are the CLI
        if dst != src and layer_of(dst) > here:
            wrong.append(f"{file} imports shoplens.{dst}")
    assert wrong == []


def test_model_capabilities_never_import_each_other():
    wrong = [f"{file} imports shoplens.{dst}" for file, src, dst in imports()
             if src in MODELS and dst in MODELS and src != dst and not file.endswith("/cli.py")]
    assert wrong == []


def test_nothing_outside_the_demo_imports_it():
    assert [file for file, src, dst in imports() if dst in ("demo", "pipeline") and src != "demo"] == []


# Outside store/, code asks which engine runs only where a capability has no engine-neutral form yet.
ENGINE_BRANCHES = {
    "recs/service.py": "on a Spark warehouse ALS learns its factors and FP-growth mines the rules with MLlib",
    "demo/events.py": "the event collector writes DuckDB warehouses only: the demo's events step says so and skips",
    "stream/spark_job.py": "the Structured Streaming job needs a Spark warehouse: on DuckDB it refuses with a clear line",
}
ENGINE_TEST = re.compile(r"""engine_name\b[^\n]*?[!=]=\s*["'](spark|duckdb)["']|["'](spark|duckdb)["']\s*[!=]=[^\n]*engine_name""")


def engine_branches(root: Path) -> dict[str, int]:
    """Modules outside store/ that compare the warehouse's engine name, with how often."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        n = len(ENGINE_TEST.findall(path.read_text(encoding="utf-8")))
        if n and not rel.startswith("store/"):
            found[rel] = n
    return found


def test_only_the_store_branches_on_the_engine():
    """Business logic is written once against the engine protocol (store/engine.py); the exceptions are listed."""
    assert set(engine_branches(ROOT)) == set(ENGINE_BRANCHES)


def test_the_engine_check_sees_a_branch(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "x.py").write_text('if wh.engine_name == "spark":\n    pass\n'
                                           'if getattr(wh, "engine_name", "duckdb") != "spark":\n    pass\n')
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "y.py").write_text('if wh.engine_name == "spark":\n    pass\n')
    assert engine_branches(tmp_path) == {"demo/x.py": 2}


def test_the_check_sees_a_wrong_import(tmp_path, monkeypatch):
    """The checks above read real imports: a model importing another one is found."""
    fake = tmp_path / "shoplens"
    (fake / "recs").mkdir(parents=True)
    (fake / "recs" / "x.py").write_text("def f():\n    from shoplens.customers.rfm import compute_rfm\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", fake)
    assert imports() == [("recs/x.py", "recs", "customers")]
    try:
        test_model_capabilities_never_import_each_other()
    except AssertionError:
        return
    raise AssertionError("a cross-capability import went unnoticed")
