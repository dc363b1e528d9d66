"""Precision, recall and F2 of the PII scanner on a labelled set.

A predicted span is a true positive when it has the gold type and overlaps a gold
span of that type by at least half of the gold span's length; each gold span is
matched at most once. F2 weighs recall twice as much as precision (missing PII is
worse than over-masking).

Run: ``python -m shoplens.privacy.evaluate tests/data/pii/pii_eval.jsonl [--markdown]``

>>> evaluate([{"text": "tel 13812345678", "entities": [{"type": "PHONE", "start": 4, "end": 15}]}])["PHONE"]["recall"]
1.0
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shoplens.privacy.detect import PII_TYPES, PiiScanner


def _f(beta: float, p: float, r: float) -> float:
    return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


def evaluate(rows: Iterable[dict[str, Any]], scanner: PiiScanner | None = None) -> dict[str, dict[str, float]]:
    """Per-type (and ``ALL``) support, tp, fp, fn, precision, recall, f2."""
    scanner = scanner or PiiScanner()
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    fn: dict[str, int] = defaultdict(int)
    errors: list[dict[str, Any]] = []
    for row in rows:
        gold = [dict(g, used=False) for g in row["entities"]]
        for f in scanner.scan(row["text"]):
            match = next((g for g in gold if not g["used"] and g["type"] == f.type
                          and min(f.end, g["end"]) - max(f.start, g["start"]) >= (g["end"] - g["start"]) / 2), None)
            if match is not None:
                match["used"] = True
                tp[f.type] += 1
            else:
                fp[f.type] += 1
                errors.append({"kind": "fp", "type": f.type, "text": row["text"], "span": row["text"][f.start:f.end]})
        for g in gold:
            if not g["used"]:
                fn[g["type"]] += 1
                errors.append({"kind": "fn", "type": g["type"], "text": row["text"], "span": row["text"][g["start"]:g["end"]]})
    out: dict[str, dict[str, float]] = {}
    for t in list(PII_TYPES) + ["ALL"]:
        if t == "ALL":
            a, b, c = sum(tp.values()), sum(fp.values()), sum(fn.values())
        else:
            a, b, c = tp[t], fp[t], fn[t]
        if a + b + c == 0:
            continue
        p = a / (a + b) if a + b else 1.0
        r = a / (a + c) if a + c else 1.0
        out[t] = {"support": a + c, "tp": a, "fp": b, "fn": c, "precision": round(p, 4), "recall": round(r, 4), "f2": round(_f(2, p, r), 4)}
    out["_errors"] = errors  # type: ignore[assignment]
    return out


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def markdown(metrics: dict[str, dict[str, float]]) -> str:
    lines = ["| type | gold spans | TP | FP | FN | precision | recall | F2 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t, m in metrics.items():
        if t.startswith("_"):
            continue
        lines.append(f"| {t} | {m['support']} | {m['tp']} | {m['fp']} | {m['fn']} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f2']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", help="labelled JSON-lines file (text, entities)")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--lang", help="only rows of this language (en, zh)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--errors", action="store_true", help="print every false positive / negative")
    args = ap.parse_args()
    rows = [r for r in load_rows(args.path) if not args.lang or r.get("lang") == args.lang]
    m = evaluate(rows, PiiScanner(threshold=args.threshold))
    print(f"{len(rows)} texts, threshold {args.threshold}")
    if args.errors:
        for e in m["_errors"]:  # type: ignore[attr-defined]
            print(f"{e['kind']} {e['type']}: {e['span']!r} in {e['text']!r}")
    print(markdown(m) if args.markdown else json.dumps({k: v for k, v in m.items() if not k.startswith("_")}, indent=1))


if __name__ == "__main__":
    main()
