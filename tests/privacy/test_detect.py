"""PII scanner: each type, hard negatives, context, threshold, and the evaluation-set targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplens.errors import UserInputError
from shoplens.privacy.detect import PiiScanner, scan_text
from shoplens.privacy.evaluate import evaluate, load_rows

DATA = Path(__file__).parents[1] / "data" / "pii"


def spans(text: str, **kw) -> list[tuple[str, str]]:
    return [(f.type, text[f.start:f.end]) for f in PiiScanner(**kw).scan(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("手机13812345678", ("PHONE", "13812345678")),
        ("电话 +86 138 1234 5678 谢谢", ("PHONE", "+86 138 1234 5678")),
        ("call 0086-13812345678", ("PHONE", "0086-13812345678")),
        ("座机0571-88886666", ("PHONE", "0571-88886666")),
        ("ring me on +44 7700 900123", ("PHONE", "+44 7700 900123")),
        ("mail ann.lee@shop.co.uk please", ("EMAIL", "ann.lee@shop.co.uk")),
        ("邮箱wang_li@qq.com，谢谢", ("EMAIL", "wang_li@qq.com")),
        ("login from 81.2.69.160 today", ("IP_ADDRESS", "81.2.69.160")),
        ("see https://x.cn/o?email=a%40b.com&id=3", ("URL", "https://x.cn/o?email=a%40b.com&id=3")),
        ("身份证11010519491231002X", ("CN_ID", "11010519491231002X")),
        ("card 4111 1111 1111 1111 please", ("BANK_CARD", "4111 1111 1111 1111")),
        ("护照号码 E12345678", ("PASSPORT", "E12345678")),
        ("请寄到北京市朝阳区建国路88号", ("ADDRESS", "北京市朝阳区建国路88号")),
        ("ship to 12 Baker Street, London NW1 6XE", ("ADDRESS", "12 Baker Street, London NW1 6XE")),
        ("收件人：李娜", ("PERSON", "李娜")),
        ("Hi, my name is Grace Roberts.", ("PERSON", "Grace Roberts")),
        ("Thanks,\nJohn Smith", ("PERSON", "John Smith")),
    ],
)
def test_finds_each_type(text: str, expected: tuple[str, str]) -> None:
    assert expected in spans(text)


@pytest.mark.parametrize(
    "text",
    [
        "订单号 202311051234567890 已发货",  # 18 digits, fails the GB 11643 checksum
        "Order #12345678 tracking 1Z999AA10123456784 cost £12.99 on 2023-11-05, qty 3",
        "快递单号SF1234567890123，运单号75312345678901",
        "身份证 110105194912310021",  # wrong check digit
        "card 4111 1111 1111 1112",  # fails Luhn
        "身份证 110105199902300024",  # 30 February: not a birth date
        "Version 1.2.3.4 of the app crashes",
        "Item 85123A x6 for $19.99, delivered 12/03/2023",
        "passport E12345678".replace("passport", "model"),  # no passport context
        "谢谢师傅，送餐很快",
        "超市特价水果区捡来就装箱",
    ],
)
def test_hard_negatives_are_not_flagged(text: str) -> None:
    assert spans(text) == []


def test_order_context_lowers_a_luhn_valid_number_below_the_threshold() -> None:
    assert spans("order 4111111111111111 shipped") == []
    assert spans("my card 4111111111111111 was charged") == [("BANK_CARD", "4111111111111111")]


def test_finding_fields_and_offsets() -> None:
    text = "我叫张伟，手机13812345678"
    found = PiiScanner().scan(text)
    assert [(f.type, f.start, f.end) for f in found] == [("PERSON", 2, 4), ("PHONE", 7, 18)]
    assert all(0 < f.score <= 1 and f.rule for f in found)
    assert found[1].to_dict()["rule"] == "cn_mobile"


def test_threshold_and_type_filter() -> None:
    text = "call 415-555-0132 or mail a@b.co"
    assert {t for t, _ in spans(text)} == {"PHONE", "EMAIL"}
    assert spans(text, threshold=0.99) == []
    assert spans(text, types=["EMAIL"]) == [("EMAIL", "a@b.co")]
    with pytest.raises(UserInputError, match="unknown PII type"):
        PiiScanner(types=["SSN"])


def test_empty_and_none() -> None:
    assert scan_text(None) == [] and scan_text("") == []


@pytest.mark.parametrize("name", ["pii_eval.jsonl", "pii_heldout.jsonl"])
def test_evaluation_targets(name: str) -> None:
    rows = load_rows(DATA / name)
    m = evaluate(rows)
    for t in ("PHONE", "EMAIL", "CN_ID", "BANK_CARD"):
        assert m[t]["recall"] >= 0.98 and m[t]["precision"] >= 0.95, (t, m[t])
    for t in ("ADDRESS", "PERSON"):
        assert m[t]["recall"] >= 0.85, (t, m[t])


def test_evaluation_set_size_and_languages() -> None:
    rows = load_rows(DATA / "pii_eval.jsonl")
    assert len(rows) >= 400
    assert {r["lang"] for r in rows} == {"en", "zh"}
    assert sum(1 for r in rows if not r["entities"]) >= 30
    for r in rows:
        for e in r["entities"]:
            assert 0 <= e["start"] < e["end"] <= len(r["text"])
