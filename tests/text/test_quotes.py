"""Complaint quotes (shoplens.text.quotes) on reviews of the demo's bundled set: cut at word or
punctuation boundaries, negative in their own words, positive sentences skipped."""

from __future__ import annotations

import re

import pytest

from shoplens.text.aspects import AspectExtractor
from shoplens.text.insights import top_negative_aspects
from shoplens.text.quotes import complaint_quote, cut_quote, ends_cut, sentence_of

# R-EN-10053 and R-EN-18160 of src/shoplens/datasets/demo/reviews.csv.gz (the clothing reviews: the
# first stops mid-word where the source cut it at 500 characters)
CUT = ("As you can tell from the pictures, it's nothing fancy; i think this dress will get a lot of wear for everyday "
       "living. simple and comfy. reviewers said it ran pretty small so i sized up but wished i hadn't. it is not very \"fit")
PRAISE = ("I'm 5'3\" and 160 pounds with short legs and got a large petite. it fits really well (a tiny bit too short but "
          "could just be my proportions) and the quality seems very high. definitely can be dressed up or down "
          "(good for a business casual work environment).")


@pytest.fixture(scope="module")
def scorers():
    from shoplens.text.analyze import sentiment_scorers

    return sentiment_scorers()


def _names(extractor: AspectExtractor, aspect: str, lang: str):
    return lambda part: any(m["aspect"] == aspect for m in extractor.mentions(part, lang))


def test_a_review_cut_mid_word_is_quoted_up_to_its_last_whole_word(scorers):
    ex = AspectExtractor()
    assert ends_cut(CUT, 'it is not very "fit') and not ends_cut(PRAISE, "the quality seems very high")
    assert complaint_quote('it is not very "fit', CUT, "size_fit", "en", scorers["en"], _names(ex, "size_fit", "en")) \
        == "it is not very…"


def test_a_positive_sentence_is_not_a_complaint(scorers):
    """The analysis read '...and the quality seems very high' as a negative quality clause; its sentence
    reads positive, so it is not shown as a complaint."""
    ex = AspectExtractor()
    evidence = "could just be my proportions) and the quality seems very high"
    assert sentence_of(PRAISE, evidence).startswith("it fits really well (")
    assert complaint_quote(evidence, PRAISE, "quality", "en", scorers["en"], _names(ex, "quality", "en")) is None


def test_the_negative_part_of_a_clause_is_the_quote(scorers):
    """Of 'the colour is lovely and the zipper broke after a week', the part about the zipper."""
    text = "Bought it for a wedding. the colour is lovely and the zipper broke after a week."
    quote = complaint_quote("the colour is lovely and the zipper broke after a week", text, "quality", "en",
                            scorers["en"], lambda part: "zipper" in part or "colour" in part)
    assert quote == "the zipper broke after a week"


def test_chinese_complaints_are_kept_and_cut_at_punctuation(scorers):
    ex = AspectExtractor()
    assert complaint_quote("发货速度超慢", "发货速度超慢，等了一个星期。", "logistics", "zh", scorers["zh"],
                           _names(ex, "logistics", "zh")) == "发货速度超慢"
    long = "屏幕质量实在不怎么样，" * 20
    cut = cut_quote(long, "zh")
    assert cut.endswith("…") and len(cut) <= 161 and cut.removesuffix("…").endswith("不怎么样")


def test_long_english_quotes_end_at_a_word(scorers):
    words = "the fabric pilled after the first wash and the seams started to come apart " * 4
    cut = cut_quote(words)
    assert cut.endswith("…") and len(cut) <= 161 and words.startswith(cut.removesuffix("…") + " ")


def test_complaints_of_the_demo_reviews_are_negative_in_their_own_words(analyzed_wh, scorers):
    """Every quote of `text complaints` reads negative with the shipped model (P(positive) <= 0.4),
    is at most 160 characters and ends at a whole word; the two quotes of the audit are gone."""
    top = top_negative_aspects(analyzed_wh, limit=40, quotes=3, scorers=scorers)
    quotes = [q for qs in top["quotes"] for q in qs]
    assert len(quotes) >= 40
    for q in quotes:
        lang = "zh" if re.search(r"[\u4e00-\u9fff]", q) else "en"
        assert len(q) <= 161
        if not q.endswith("…"):
            assert scorers[lang]([q])[0] <= 0.4, q
    assert not any('not very "fit' in q or "quality seems very high" in q for q in quotes)
    cut = [q for q in quotes if q.endswith("…")]
    texts = " ".join(analyzed_wh.query("SELECT text FROM reviews")["text"].dropna())
    for q in cut:  # the words before the ellipsis are whole words of a review
        assert re.search(re.escape(q.removesuffix("…")) + r"(?:\s|[^\w\s])", texts), q
