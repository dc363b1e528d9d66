"""The fenced examples of README.md and docs/*.md: found, classified and run.

Used by ``tests/test_docs.py`` (docs as tests) and ``scripts/doc_figures.py``. A block is run
unless a marker, an HTML comment on the line(s) right before its fence, says otherwise:

- ``<!-- illustrative: REASON -->``: cannot run here (a server, ``pip install``, a cluster, an
  external data set); shown, never run. The reason is required.
- ``<!-- usage -->``: a synopsis (``[--option N]``, ``a|b``); every ``shoplens ...`` line is checked
  against the CLI (the command exists, every option it names exists), not run.
- ``<!-- file: NAME -->``: the block's text is written to NAME in the example folder (a mapping,
  a CSV the next commands read, ``shoplens.toml``).

Languages (the fence's info string): ``bash`` runs as one ``bash -e`` script; ``console`` runs each
``$ command`` and compares its output (stdout and stderr) with the lines below it, ``...`` or ``…``
matching anything (doctest's ELLIPSIS and NORMALIZE_WHITESPACE; an expected output that starts with
``error:`` expects a non-zero exit code, anything else exit code 0); ``python`` runs in one namespace
per file, as a doctest when it holds ``>>>`` lines; ``toml``, ``csv``, ``json`` and ``yaml`` must
parse; ``text`` is a drawing, not an example. Blocks of one file run in order in one folder that
starts as a copy of a demo build (``shoplens demo``), so a file reads like a session at a terminal.
"""

from __future__ import annotations

import csv
import doctest
import io
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
RUN_LANGS = {"bash", "console", "python"}
DATA_LANGS = {"toml", "csv", "json", "yaml"}
LANGS = RUN_LANGS | DATA_LANGS | {"text"}
MARKER = re.compile(r"<!--\s*(illustrative|usage|file)\s*(?::\s*(.*?))?\s*-->", re.S)


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and its marker."""

    doc: str                 # path relative to the repository, e.g. "docs/recs.md"
    line: int                # 1-based line of the opening fence
    lang: str
    body: str
    marker: str | None = None  # "illustrative", "usage" or "file"
    arg: str = ""              # the marker's reason or file name

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in RUN_LANGS and self.marker not in ("illustrative", "usage")


def doc_files() -> list[Path]:
    """README.md and every docs/*.md, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every code block of a markdown file (fenced or indented), with the marker right before it.

    >>> [b.lang for b in blocks(ROOT / "README.md")][:2]
    ['bash', 'bash']
    """
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(ROOT).as_posix()
    out: list[Block] = []
    for i, tok in enumerate(tokens):
        if tok.type not in ("fence", "code_block"):
            continue
        marker, arg = None, ""
        prev = tokens[i - 1] if i else None
        if prev is not None and prev.type == "html_block":
            m = MARKER.search(prev.content)
            if m:
                marker, arg = m.group(1), (m.group(2) or "").strip()
        lang = tok.info.split()[0] if tok.type == "fence" and tok.info.strip() else ""
        out.append(Block(rel, tok.map[0] + 1 if tok.map else 0, lang if tok.type == "fence" else "(indented)",
                         tok.content, marker, arg))
    return out


def all_blocks() -> list[Block]:
    return [b for p in doc_files() for b in blocks(p)]


def problems(block: Block) -> list[str]:
    """What is wrong with a block's form (language, marker), before anything runs."""
    found = []
    if block.lang not in LANGS:
        found.append(f"{block.where}: code block language {block.lang!r}; use one of {sorted(LANGS)} "
                     "(an indented block must become a fenced one)")
    if block.marker == "illustrative" and not block.arg:
        found.append(f"{block.where}: <!-- illustrative: REASON --> needs its reason")
    if block.marker == "file" and not block.arg:
        found.append(f"{block.where}: <!-- file: NAME --> needs a file name")
    if block.marker == "usage" and block.lang not in ("bash", "text"):
        found.append(f"{block.where}: a usage block is bash")
    if block.lang in DATA_LANGS:
        try:
            parse_data(block)
        except Exception as exc:  # noqa: BLE001 - any parse error is the finding
            found.append(f"{block.where}: {block.lang} does not parse: {exc}")
    return found


def parse_data(block: Block) -> object:
    """Parse a data block (toml, csv, json, yaml); raises on bad syntax."""
    if block.lang == "toml":
        return tomllib.loads(block.body)
    if block.lang == "json":
        return json.loads(block.body)
    if block.lang == "csv":
        dialect = csv.Sniffer().sniff(block.body.splitlines()[0], delimiters=",;\t|")
        rows = list(csv.reader(io.StringIO(block.body), dialect))
        if not rows or any(len(r) != len(rows[0]) for r in rows):
            raise ValueError("every row needs as many fields as the header")
        return rows
    import yaml

    return yaml.safe_load(block.body)


# --- console blocks -------------------------------------------------------------------------------

BOX = re.compile(r"[\s│┃┆┊|]+")


@dataclass(frozen=True)
class ConsoleStep:
    command: str
    expected: str
    line: int  # 1-based line in the markdown file


def console_steps(block: Block) -> list[ConsoleStep]:
    """Split a console block into ``$ command`` steps with their expected output.

    >>> b = Block("x.md", 1, "console", "$ echo a \\\\\\n  b\\na b\\n$ true\\n")
    >>> [(s.command, s.expected) for s in console_steps(b)]
    [('echo a \\\\\\n  b', 'a b\\n'), ('true', '')]
    """
    steps: list[ConsoleStep] = []
    lines = block.body.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"{block.doc}:{block.line + 1 + i}: console output before any `$ ` command")
        start = i
        cmd = [lines[i][2:]]
        while cmd[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd.append(lines[i])
        i += 1
        out = []
        while i < len(lines) and not lines[i].startswith("$ "):
            out.append(lines[i])
            i += 1
        steps.append(ConsoleStep("\n".join(cmd), "".join(f"{_wildcard(o)}\n" for o in out),
                                 block.line + 1 + start))
    return steps


def _wildcard(line: str) -> str:
    """A line that holds only ``…`` or ``...`` (a table row of them, too) matches any lines."""
    return "..." if BOX.sub("", line) in ("…", "...") else line.replace("…", "...")


def output_matches(expected: str, actual: str) -> bool:
    """doctest's comparison with ELLIPSIS and NORMALIZE_WHITESPACE."""
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    return doctest.OutputChecker().check_output(expected, actual, flags)


# --- usage blocks ---------------------------------------------------------------------------------

def usage_lines(block: Block) -> list[str]:
    """The ``shoplens ...`` command lines of a usage block (continuations joined, comments dropped)."""
    joined = re.sub(r"\\\n\s*", " ", block.body)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).strip()
        if line.startswith("shoplens "):
            out.append(line)
        elif out and line and not line.startswith("#"):  # an aligned continuation of the line above
            out[-1] += " " + line
    return out
