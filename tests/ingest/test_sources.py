"""Reading files: formats, delimiters, quoting, encodings, compression."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from shoplens.errors import InputFileError
from shoplens.ingest import ingest

from .helpers import ORDERS_HEADER, adds_up, write


def _orders(wh):
    return wh.query("SELECT * FROM orders ORDER BY order_id")


@pytest.mark.parametrize("delim", [",", ";", "|", "\t"])
def test_any_delimiter_is_detected(tmp_wh, tmp_path, delim):
    rows = ["order_id", "ordered_at", "status"], ["A1", "2011-01-02 10:00:00", "completed"], ["A2", "2011-01-03", "cancelled"]
    f = write(tmp_path / "o.csv", "\n".join(delim.join(r) for r in rows) + "\n")
    r = ingest(tmp_wh, [f], table="orders")
    assert (r.read, r.loaded) == (2, 2)
    assert _orders(tmp_wh).status.tolist() == ["completed", "cancelled"]


def test_quoted_multiline_fields_crlf_and_bom(tmp_wh, tmp_path):
    text = "\ufeffreview_id,text,rating\r\nR1,\"great, really\r\nsecond line\",5\r\nR2,\"say \"\"hi\"\"\",4\r\n"
    f = write(tmp_path / "r.csv", text)
    r = ingest(tmp_wh, [f], table="reviews")
    assert (r.read, r.loaded, r.quarantined) == (2, 2, 0)
    got = tmp_wh.query("SELECT review_id, text FROM reviews ORDER BY 1")
    assert got.text[0] == "great, really\r\nsecond line"
    assert got.text[1] == 'say "hi"'


def test_gb18030_file_is_detected_and_decoded(tmp_wh, tmp_path):
    f = write(tmp_path / "r.csv", "review_id,text\nR1,质量很好，物流很快\nR2,包装破损\n", encoding="gb18030")
    r = ingest(tmp_wh, [f], table="reviews")
    assert r.loaded == 2
    assert tmp_wh.query("SELECT text FROM reviews ORDER BY review_id").text.tolist() == ["质量很好，物流很快", "包装破损"]
    assert any("GB18030" in n for n in r.notes)


def test_mixed_utf8_and_gbk_lines(tmp_wh, tmp_path):
    f = tmp_path / "m.csv"
    f.write_bytes("review_id,text\nR1,好评\n".encode() + "R2,差评\n".encode("gbk"))
    r = ingest(tmp_wh, [f], table="reviews")
    assert r.loaded == 2
    assert set(tmp_wh.query("SELECT text FROM reviews").text) == {"好评", "差评"}


def test_utf16_with_bom(tmp_wh, tmp_path):
    f = write(tmp_path / "r.csv", "\ufeffreview_id,text\nR1,héllo\n", encoding="utf-16-le")
    r = ingest(tmp_wh, [f], table="reviews")
    assert r.loaded == 1 and tmp_wh.query("SELECT text FROM reviews").text[0] == "héllo"


def test_explicit_encoding(tmp_wh, tmp_path):
    f = write(tmp_path / "r.csv", "review_id,text\nR1,café\n", encoding="latin-1")
    ingest(tmp_wh, [f], table="reviews", encoding="latin-1")
    assert tmp_wh.query("SELECT text FROM reviews").text[0] == "café"


def test_wrong_explicit_encoding_is_a_clear_error(tmp_wh, tmp_path):
    f = write(tmp_path / "r.csv", "review_id,text\nR1,质量\n", encoding="gb18030")
    with pytest.raises(InputFileError, match=r"r.csv.*undecodable bytes.*encoding"):
        ingest(tmp_wh, [f], table="reviews", encoding="utf-16")


def test_gzip_csv_jsonl_and_parquet(tmp_wh, tmp_path):
    gz = tmp_path / "o.csv.gz"
    gz.write_bytes(gzip.compress((ORDERS_HEADER + "G1,,2011-01-01,completed,10,GBP\n").encode()))
    jl = tmp_path / "o.jsonl.gz"
    jl.write_bytes(gzip.compress((json.dumps({"order_id": "J1", "ordered_at": "2011-01-02T00:00:00Z", "total_amount": 5}) + "\n").encode()))
    pq = tmp_path / "o.parquet"
    pd.DataFrame({"order_id": ["P1"], "ordered_at": [pd.Timestamp("2011-01-03")], "total_amount": [7.5]}).to_parquet(pq)
    for f in (gz, jl, pq):
        r = ingest(tmp_wh, [f], table="orders")
        assert r.loaded == 1 and adds_up(r)
    got = _orders(tmp_wh)
    assert got.order_id.tolist() == ["G1", "J1", "P1"]
    assert got.total_amount.tolist() == [10.0, 5.0, 7.5]


def test_header_only_file_reads_nothing(tmp_wh, tmp_path):
    r = ingest(tmp_wh, [write(tmp_path / "o.csv", ORDERS_HEADER)], table="orders")
    assert (r.read, r.loaded) == (0, 0)


def test_structurally_broken_lines_are_quarantined_with_their_line(tmp_wh, tmp_path):
    text = ORDERS_HEADER + "A1,,2011-01-01,completed,1,GBP\nA2,,2011-01-01\nA3,,2011-01-01,completed,1,GBP,extra,more\nA4,,2011-01-02,completed,2,GBP\n"
    r = ingest(tmp_wh, [write(tmp_path / "o.csv", text)], table="orders")
    assert (r.read, r.loaded, r.quarantined) == (4, 2, 2) and adds_up(r)
    q = tmp_wh.query("SELECT line, reason FROM _quarantine ORDER BY line")
    assert q.line.tolist() == [3, 4]
    assert "too few fields" in q.reason[0] and "too many fields" in q.reason[1]
    # the rows after the broken ones keep their true line numbers
    ingest(tmp_wh, [write(tmp_path / "o2.csv", ORDERS_HEADER + "B1,,x,completed,1,GBP\nB2,,2011-01-01\nB3,,y,completed,1,GBP\n")], table="orders")
    q2 = tmp_wh.query("SELECT line FROM _quarantine WHERE file LIKE '%o2.csv' ORDER BY line")
    assert q2.line.tolist() == [2, 3, 4]


def test_open_source_picks_the_class_by_declared_format_name_and_bytes(tmp_path):
    from shoplens.ingest.sources import CsvSource, JsonLinesSource, ParquetSource, open_source

    jl = tmp_path / "events"  # no suffix: the first bytes decide
    jl.write_text('{"a": 1}\n')
    pq = tmp_path / "data.bin"
    pd.DataFrame({"a": [1]}).to_parquet(pq)
    assert type(open_source(tmp_path / "o.tsv.gz")) is CsvSource
    assert type(open_source(tmp_path / "o.ndjson")) is JsonLinesSource
    assert type(open_source(jl)) is JsonLinesSource
    assert type(open_source(pq)) is ParquetSource
    assert type(open_source(tmp_path / "x.json", fmt="tsv")) is CsvSource
    with pytest.raises(InputFileError, match="unknown format 'xlsx'"):
        open_source(tmp_path / "x.xlsx", fmt="xlsx")


def test_a_new_source_is_a_class_not_a_branch(tmp_wh, tmp_path):
    from shoplens.ingest.sources import CsvSource

    class TillExport(CsvSource):  # '|'-separated, whatever the name says
        def __init__(self, path):
            super().__init__(path, delimiter="|")

    f = write(tmp_path / "day.till", "order_id|ordered_at|total_amount\nT1|2011-01-02 10:00|12.5\nT2|bad|1\n")
    r = ingest(tmp_wh, [TillExport(f)], table="orders")
    assert (r.read, r.loaded, r.quarantined) == (2, 1, 1) and adds_up(r)
    assert r.files == [str(f)]
    assert tmp_wh.query("SELECT file, line FROM _quarantine").values.tolist() == [[str(f), 3]]
    assert _orders(tmp_wh).total_amount.tolist() == [12.5]
