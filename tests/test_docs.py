"""Docs as tests: every example of README.md and docs/*.md runs as written on a demo build.

One ``shoplens demo`` is built per session; each markdown file then gets a copy of that folder and
runs its blocks in order, as a reader would at a terminal after the README's install and the demo
(how blocks are marked and compared: ``tests/docs_examples.py``). Blocks marked illustrative are the
only ones skipped, each with its reason in the text. Also checked: every CLI command has a usage
line and an example that runs, usage lines name only commands and options that exist, and the
figures the docs quote equal what ``scripts/doc_figures.py`` computes now.
"""

from __future__ import annotations

import doctest
import gzip
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.docs_examples import (
    ROOT, Block, all_blocks, blocks, console_steps, doc_files, output_matches, problems, usage_lines,
)

DEMO_DATA = ROOT / "src" / "shoplens" / "datasets" / "demo"
# files the docs call the shop's own exports: provided in each example folder from the bundled demo shop
SHOP_FILES = ("online_retail.csv.gz", "invoices.csv", "customers.csv", "orders.csv", "items.parquet", "customers.txt")


def _load_figures():
    spec = importlib.util.spec_from_file_location("doc_figures", ROOT / "scripts" / "doc_figures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["doc_figures"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


doc_figures = _load_figures()


def _env(bin_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), str(ROOT)])), COLUMNS="100",
               NO_COLOR="1", TERM="dumb", PYTHONHASHSEED="0")
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> doc_figures.DemoBuild:
    """``shoplens demo`` once for the whole session (the folder every example folder copies)."""
    return doc_figures.build_demo(tmp_path_factory.mktemp("docs-demo"))


def _fake_venv(folder: Path) -> Path:
    """``.venv/bin`` with shoplens, python and activate, as the README's install line leaves it."""
    bin_dir = folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    scripts = {"shoplens": f'exec "{sys.executable}" -m shoplens.cli "$@"',
               "python": f'exec "{sys.executable}" "$@"', "python3": f'exec "{sys.executable}" "$@"'}
    for name, line in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{line}\n")
        (bin_dir / name).chmod(0o755)
    (bin_dir / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n')
    return bin_dir


def _shop_files(folder: Path) -> None:
    """The files the docs' commands name as the shop's own exports (see SHOP_FILES)."""
    shutil.copy(DEMO_DATA / "online_retail_sample.csv.gz", folder / "online_retail.csv.gz")
    shutil.copy(DEMO_DATA / "customers.csv", folder / "customers.csv")
    with gzip.open(DEMO_DATA / "online_retail_sample.csv.gz", "rt", encoding="utf-8") as f:
        head = [next(f) for _ in range(301)]
    (folder / "invoices.csv").write_text("".join(head), encoding="utf-8")
    (folder / "orders.csv").write_text("order_id,customer_id,ordered_at,status\n"
                                       "O1,17850,2011-01-01,completed\nO2,13047,2011-01-02,cancelled\n")
    pd.DataFrame({"order_id": ["O1", "O1", "O2"], "product_id": ["22423", "85123A", "22423"],
                  "quantity": [2.0, 6.0, 1.0], "unit_price": [12.75, 2.55, 12.75]}).to_parquet(folder / "items.parquet")
    (folder / "customers.txt").write_text("17850\n13047\n12583\nnot-a-customer\n")
    for block in blocks(ROOT / "docs" / "data-model.md"):  # the README's mapping example is the data model's
        if block.marker == "file":
            (folder / block.arg).write_text(block.body, encoding="utf-8")


def _example_folder(demo: doc_figures.DemoBuild, folder: Path) -> Path:
    shutil.copytree(demo.folder / ".shoplens", folder / ".shoplens", symlinks=True)
    for name in ("bench", "scripts", "src", "tests"):  # a clone of the repository: its scripts and test data
        (folder / name).symlink_to(ROOT / name)
    _shop_files(folder)
    return _fake_venv(folder)


def _run(command: str, folder: Path, bin_dir: Path | None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", command], cwd=folder, env=_env(bin_dir),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)


def _run_python(block: Block, namespace: dict, folder: Path, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """Run a python block in the file's namespace; return what went wrong, or None."""
    monkeypatch.chdir(folder)
    if re.search(r"^\s*>>> ", block.body, flags=re.M):
        test = doctest.DocTestParser().get_doctest(block.body, namespace, block.where, block.doc, block.line)
        out: list[str] = []
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        result = runner.run(test, out=out.append, clear_globs=False)
        return "".join(out) if result.failed else None
    try:
        exec(compile(block.body, block.where, "exec"), namespace)  # noqa: S102 - the documented example itself
    except Exception as exc:  # noqa: BLE001 - any failure of the example is the finding
        return f"{type(exc).__name__}: {exc}"
    return None


def run_doc(path: Path, demo: doc_figures.DemoBuild, folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run every runnable block of one markdown file in order; return the failures."""
    bin_dir = _example_folder(demo, folder)
    # the README starts before its install line (nothing on PATH); the docs assume the activated environment
    active: Path | None = bin_dir if path.name != "README.md" else None
    for name, value in _env(active).items():
        monkeypatch.setenv(name, value)
    for name in [k for k in os.environ if k.startswith("SHOPLENS_")]:
        monkeypatch.delenv(name)
    failures: list[str] = []
    namespace: dict = {"__name__": "__doc_example__"}
    for block in blocks(path):
        if block.marker == "file":
            (folder / block.arg).write_text(block.body, encoding="utf-8")
        if not block.runs:
            continue
        if block.lang == "bash":
            proc = _run(block.body, folder, active)
            if proc.returncode != 0:
                failures.append(f"{block.where}: exit code {proc.returncode}\n{block.body}\n--- output ---\n"
                                f"{proc.stdout[-3000:]}")
            if re.search(r"^\s*(source|\.) \.venv/bin/activate\b", block.body, flags=re.M):
                active = bin_dir
                monkeypatch.setenv("PATH", _env(active)["PATH"])
        elif block.lang == "console":
            for step in console_steps(block):
                proc = _run(step.command, folder, active)
                expect_error = step.expected.lstrip().startswith("error:")
                if (proc.returncode != 0) != expect_error or not output_matches(step.expected, proc.stdout):
                    failures.append(f"{block.doc}:{step.line}: $ {step.command}\nexit code {proc.returncode}\n"
                                    f"--- expected ---\n{step.expected}--- got ---\n{proc.stdout[-3000:]}")
        else:
            problem = _run_python(block, namespace, folder, monkeypatch)
            if problem:
                failures.append(f"{block.where}: python block failed\n{block.body}\n--- error ---\n{problem}")
    return failures


DOCS = doc_files()


@pytest.mark.parametrize("path", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_doc_examples_run_as_written(path: Path, demo_build, tmp_path: Path, monkeypatch) -> None:
    if not any(b.runs for b in blocks(path)):
        pytest.skip(f"{path.name} has no runnable example (all are marked illustrative or usage)")
    failures = run_doc(path, demo_build, tmp_path, monkeypatch)
    assert not failures, "\n\n".join(failures)


def test_every_block_has_a_known_form() -> None:
    found = [p for b in all_blocks() for p in problems(b)]
    assert not found, "\n".join(found)


def test_illustrative_blocks_say_why() -> None:
    illustrative = [b for b in all_blocks() if b.marker == "illustrative"]
    assert illustrative and all(len(b.arg) >= 10 for b in illustrative)


# --- the CLI: every command documented, every documented command and option real -----------------

def _cli_tree() -> dict[str, object]:
    from typer.main import get_command

    from shoplens.cli import app

    out: dict[str, object] = {}

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, (*path, name))
        else:
            out[" ".join(path)] = cmd

    root = get_command(app)
    walk(root, ())
    out[""] = root
    return out


def _options(cmd) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}


def _command_of(line: str, tree: dict) -> tuple[str, str]:
    """(command path, the rest) of a ``shoplens ...`` line, global options skipped."""
    words = line.split()[1:]
    globals_ = _options(tree[""])
    while words and words[0].split("=")[0] in globals_:
        words = words[1:] if "=" in words[0] or words[0] == "--version" else words[2:]
    for n in (3, 2, 1):
        path = " ".join(words[:n])
        if path in tree and path:
            return path, " ".join(words[n:])
    return "", " ".join(words)


def _documented_lines(kind: str) -> list[tuple[Block, str]]:
    out = []
    for b in all_blocks():
        if kind == "usage" and b.marker == "usage":
            out += [(b, line) for line in usage_lines(b)]
        elif kind == "run" and b.runs and b.lang in ("bash", "console"):
            text = "\n".join(s.command for s in console_steps(b)) if b.lang == "console" else b.body
            text = re.sub(r"\\\n\s*", " ", text)
            out += [(b, m.group(0)) for m in re.finditer(r"(?:^|(?<=[\s;&|(]))shoplens\s[^\n;&|]*", text)]
    return out


def test_usage_lines_name_real_commands_and_options() -> None:
    tree = _cli_tree()
    wrong = []
    for block, line in _documented_lines("usage"):
        path, rest = _command_of(line, tree)
        if not path:
            wrong.append(f"{block.where}: no such command: {line}")
            continue
        known = _options(tree[path]) | _options(tree[""])
        wrong += [f"{block.where}: `shoplens {path}` has no option {o}" for o in re.findall(r"(?<![\w-])--?[a-zA-Z][\w-]*", rest)
                  if o not in known]
    assert not wrong, "\n".join(wrong)


def test_every_cli_command_has_usage_and_a_running_example() -> None:
    tree = _cli_tree()
    commands = {p for p in tree if p}
    with_usage = {_command_of(line, tree)[0] for _, line in _documented_lines("usage")}
    with_example = {_command_of(line, tree)[0] for _, line in _documented_lines("run")}
    # commands no example can run here, with the reason; their usage is still required
    not_runnable = {"serve": "starts a server (tested in tests/serve)",
                    "demo": "the session's demo build runs it (README's install line)",
                    "keys revoke": "needs the id of a key created in the same session",
                    "events stream": "starts a Spark job (tests/spark/test_stream_spark.py runs it from the CLI)",
                    "text train sentiment": "needs a labelled data set (docs/text-models.md)"}
    missing_usage = sorted(commands - with_usage)
    missing_example = sorted(commands - with_example - set(not_runnable))
    assert not missing_usage, f"commands without a usage line in README.md or docs/*.md: {missing_usage}"
    assert not missing_example, f"commands without an example that runs: {missing_example}"


# --- figures ---------------------------------------------------------------------------------------

def test_quoted_figures_equal_what_the_script_computes_now(demo_build) -> None:
    current = doc_figures.regions_in_docs()
    computed = doc_figures.compute(demo_build)
    assert set(current) == set(computed), "every <!-- figures:NAME --> region has a computation, and back"
    stale = [name for name in computed if current[name].strip() != computed[name].strip()]
    assert not stale, (f"figures out of date in {stale}: run `python scripts/doc_figures.py` and commit\n"
                       + "\n".join(f"--- {n} now ---\n{computed[n]}" for n in stale))
