"""Experiments: A/B analysis from sufficient statistics (:func:`shoplens.decide.abtest.analyze_stats`)
and the decision experiments logged so far (:meth:`shoplens.decide.log.DecisionLog.experiments`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from shoplens.serve.deps import Viewer, WarehouseDep
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas import Page, PageQuery, clean, page
from shoplens.serve.schemas.decisions import AnalysisOut, ExperimentIn, ExperimentRow

router = ResourceRouter(prefix="/experiments", tags=["experiments"])


@router.post("/analyze", response_model=AnalysisOut)
def analyze_experiment(body: ExperimentIn, key: Viewer) -> dict:
    """Compare each variant with the baseline from sufficient statistics (n, sum, sum of squares):
    effect, interval, p-value or chance to win, sample-ratio mismatch check."""
    from shoplens.decide.abtest import VariantStats, analyze_stats

    stats = [VariantStats(v.name, v.n, v.sum, v.sum_squares) for v in body.variants]
    result = analyze_stats(stats, baseline=body.baseline, method=body.method, difference=body.difference,
                           alpha=body.alpha, correction=body.correction)
    return clean(result.to_dict())


@router.get("", response_model=Page[ExperimentRow])
def experiments(wh: WarehouseDep, key: Viewer, query: Annotated[PageQuery, Query()]) -> Page:
    """Logged decision experiments: per decision type and policy, how many decisions and rewards and
    the mean reward, with when they ran."""
    from shoplens.decide.log import DecisionLog

    return page(DecisionLog(wh).experiments(), query.limit, query.offset)
