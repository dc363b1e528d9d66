"""The privacy demo step on the demo warehouse."""

from __future__ import annotations

from rich.console import Console

from shoplens.config import Settings
from shoplens.insights.report import Report
from shoplens.datasets import demo_data_dir
from shoplens.demo import privacy as demo
from shoplens.demo.context import DemoContext
from shoplens.privacy.erasure import verify


def test_demo_step_proves_no_leaks_and_a_clean_erasure(demo_wh) -> None:
    console = Console(record=True, width=120)
    report = Report("test")
    ctx = DemoContext(settings=Settings(warehouse=demo_wh.path), warehouse=demo_wh, console=console, report=report,
                      data_dir=demo_data_dir())
    demo.run(ctx)
    result = ctx.results["privacy"]
    assert result["raw_pii_leaks"] == 0 and result["remaining_references"] == 0
    assert verify(demo_wh, result["erased_customer"]).clean
    text = console.export_text()
    assert "found outside the vault" in text and "0 references left" in text
    examples = text.split("Examples: texts as stored")[1].split("found outside the vault")[0]
    assert "<PERSON>" in examples and not demo.RUDE.search(examples)  # masked examples, none rude (Bitext has some)
    section = report.sections[-1]
    html = section.text + "".join(section.blocks)
    assert result["erased_customer"] not in html  # the report file must not name the erased customer
