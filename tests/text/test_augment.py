"""Augmentation of training messages (shoplens.text.augment)."""

from __future__ import annotations

import random

from shoplens.text.augment import EN_CLOSERS, EN_OPENERS, augment_messages, noisy_copy, typo


def test_typo_changes_one_word_of_four_letters_or_more() -> None:
    rng = random.Random(3)
    for _ in range(50):
        out = typo("please cancel my order", rng)
        changed = [(a, b) for a, b in zip("please cancel my order".split(), out.split())] if len(out.split()) == 4 else []
        assert out != "please cancel my order"
        assert sum(a != b for a, b in changed) <= 1
        assert "my" in out.split()  # words under four letters are left alone


def test_typo_leaves_texts_without_long_words_alone() -> None:
    assert typo("hi u ok", random.Random(0)) == "hi u ok"
    assert typo("取消订单", random.Random(0)) == "取消订单"


def test_noisy_copy_keeps_the_message_and_adds_neutral_context() -> None:
    rng = random.Random(1)
    fillers = [f.split("{")[0].strip().lower() for f in EN_OPENERS + EN_CLOSERS]
    for _ in range(30):
        out = noisy_copy("where is my parcel", rng)
        assert "is my" in out.lower()
        assert any(f and f in out.lower() for f in fillers)
    zh = noisy_copy("我的快递到哪了", random.Random(2))
    assert "快递到哪了" in zh and zh != "我的快递到哪了"


def test_augment_messages_is_seeded_and_keeps_labels() -> None:
    x, y = augment_messages(["cancel my order", "我要退款", ""], ["cancel_order", "get_refund", "other"], copies=2, seed=5)
    assert len(x) == 3 + 2 * 2  # empty texts get no copies
    assert y[:3] == ["cancel_order", "get_refund", "other"] and y[3:] == ["cancel_order", "get_refund"] * 2
    assert (x, y) == augment_messages(["cancel my order", "我要退款", ""], ["cancel_order", "get_refund", "other"],
                                      copies=2, seed=5)
