"""Docstring examples are true: the test command runs them all, and none is a comment in disguise.

The examples themselves run as doctests (``--doctest-modules`` over ``src`` in
pyproject.toml's pytest settings; the repository's conftest.py gives them
``demo_warehouse()``). These checks keep it that way.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import tomllib
from pathlib import Path

import shoplens

ROOT = Path(__file__).parents[1]


def docstring_examples() -> list[tuple[str, doctest.DocTest]]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for info in pkgutil.walk_packages(shoplens.__path__, "shoplens."):
        module = importlib.import_module(info.name)
        found += [(info.name, test) for test in finder.find(module) if test.examples]
    return found


def test_the_test_command_runs_every_docstring_example() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in config["addopts"].split()
    assert "src" in config["testpaths"]


def comment_only_prompts(docstring: str) -> list[str]:
    """The ``>>>`` lines of a docstring that hold only a comment and run nothing (doctest drops
    them: no example, so a docstring made only of them is not a test at all)."""
    return [line.strip() for line in docstring.splitlines()
            if line.strip().startswith(">>>") and line.strip()[3:].strip().startswith("#")]


def test_no_example_is_only_a_comment() -> None:
    """``>>> # f(wh)`` runs nothing and checks nothing: write the example so that it runs."""
    finder = doctest.DocTestFinder(exclude_empty=False)
    fake = []
    for info in pkgutil.walk_packages(shoplens.__path__, "shoplens."):
        for test in finder.find(importlib.import_module(info.name)):
            if test.docstring and ">>>" in test.docstring and not test.examples:
                fake.append(f"{test.name}: {comment_only_prompts(test.docstring) or 'no example runs'}")
    fake += [f"{test.name}: {ex.source.strip()}" for _, test in docstring_examples() for ex in test.examples
             if all(not line.strip() or line.strip().startswith("#") for line in ex.source.splitlines())]
    assert not fake, "\n".join(fake)


def test_the_comment_check_sees_a_comment_only_example() -> None:
    text = "What it does.\n\n>>> # retrain(wh, trainers)\n"
    assert not doctest.DocTestParser().get_examples(text)  # doctest itself runs nothing here
    assert comment_only_prompts(text) == [">>> # retrain(wh, trainers)"]


def test_skipped_examples_say_why() -> None:
    """``+SKIP`` only for examples that need what the tests cannot have (a JVM, outside data): said in words."""
    skip = doctest.OPTIONFLAGS_BY_NAME["SKIP"]
    unexplained = [test.name for _, test in docstring_examples()
                   if any(ex.options.get(skip) for ex in test.examples)
                   and "not run here" not in " ".join((test.docstring or "").split())]
    assert not unexplained, unexplained
