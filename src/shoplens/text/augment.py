"""Training-data augmentation for short customer messages (intent model).

Real support messages carry typos, greetings, order numbers and a second sentence
that says nothing about the intent ("Hi, I ordered last week. Where is it?"). The
templated training data has few of these, so :func:`augment_messages` adds noisy
copies of training messages: a typo in one word (English), a neutral opening or
closing sentence, an order number, lower case / no final punctuation. The fillers
are hand-written and intent-neutral; nothing here looks at any test set.

Hand-written because no maintained library augments English and Chinese support
messages this way (nlpaug needs model downloads for its contextual augmenters and
has no Chinese fillers).

>>> import random
>>> rng = random.Random(0)
>>> typo("cancel my order please", rng) != "cancel my order please"
True
>>> len(augment_messages(["where is my order", "我的快递到哪了"], ["track_order"] * 2, copies=2, seed=0)[0])
6
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

_WORD = re.compile(r"[A-Za-z]{4,}")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_KEYBOARD_NEIGHBOURS = {
    "a": "qsz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo", "j": "hk",
    "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "w", "r": "et", "s": "ad", "t": "ry",
    "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}

EN_OPENERS = (
    "Hi,", "Hello,", "Hey", "hi there", "Good morning,", "Good afternoon.", "Hello team,", "Sorry to bother you.",
    "Quick question.", "I bought something from you last week.", "I'm a regular customer.", "This is urgent.",
    "I've been trying to sort this out all day.", "Order {n}.", "Re: order #{n}", "Hi, order {n} here.",
    "I ordered on your website on Monday.", "Not sure who to ask.", "Hope you're well.", "ok so",
)
EN_CLOSERS = (
    "Thanks.", "thx", "Thank you!", "Cheers", "Please help.", "asap please", "Thanks in advance.", "Regards, Sam",
    "The order number is {n}.", "Can you help?", "Many thanks.", "Waiting for your reply.", "ty", "Appreciate it.",
    "order #{n}", "I'm at work so email is best.", "Thanks, Jo",
)
ZH_OPENERS = (
    "亲，", "你好，", "您好，", "在吗？", "急！", "麻烦问下，", "订单号 {n}，", "我上周买的东西，", "客服你好，", "老顾客了，",
    "打扰一下，", "哈喽，", "问一下，",
)
ZH_CLOSERS = (
    "谢谢", "谢谢啦", "辛苦了", "尽快回复", "在线等", "订单号{n}", "麻烦了", "急", "谢谢亲", "好吗",
)


def typo(text: str, rng: random.Random) -> str:
    """``text`` with one typo (swap, drop, double or neighbouring key) in one word of 4+ letters."""
    words = list(_WORD.finditer(text))
    if not words:
        return text
    m = words[rng.randrange(len(words))]
    w = m.group()
    i = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        w = w[:i] + w[i + 1] + w[i] + w[i + 2:]
    elif kind == 1:
        w = w[:i] + w[i + 1:]
    elif kind == 2:
        w = w[:i] + w[i] + w[i:]
    else:
        near = _KEYBOARD_NEIGHBOURS.get(w[i].lower(), w[i])
        w = w[:i] + near[rng.randrange(len(near))] + w[i + 1:]
    return text[:m.start()] + w + text[m.end():]


def noisy_copy(text: str, rng: random.Random) -> str:
    """One augmented copy: opener and/or closer, maybe a typo, maybe lower case without final punctuation."""
    zh = _HAN.search(text) is not None
    openers, closers = (ZH_OPENERS, ZH_CLOSERS) if zh else (EN_OPENERS, EN_CLOSERS)
    number = str(rng.randrange(10_000, 99_999_999))
    out = text
    if not zh and rng.random() < 0.5:
        out = typo(out, rng)
    choice = rng.random()
    if choice < 0.4:
        out = (rng.choice(openers) + ("" if zh else " ") + out).format(n=number)
    elif choice < 0.8:
        sep = "，" if zh else (" " if out[-1:] in ".!?" else ". ")
        out = (out + sep + rng.choice(closers)).format(n=number)
    else:
        sep = "" if zh else " "
        out = (rng.choice(openers) + sep + out + ("，" if zh else ". ") + rng.choice(closers)).format(n=number)
    if not zh and rng.random() < 0.3:
        out = out.lower().rstrip(".!?")
    return out


def augment_messages(texts: Sequence[str], labels: Sequence[str], copies: int = 1,
                     seed: int = 0) -> tuple[list[str], list[str]]:
    """The messages followed by ``copies`` noisy copies of each (same labels), seeded."""
    rng = random.Random(seed)
    out_x, out_y = list(texts), list(labels)
    for _ in range(copies):
        for t, y in zip(texts, labels):
            if t and t.strip():
                out_x.append(noisy_copy(t, rng))
                out_y.append(y)
    return out_x, out_y
