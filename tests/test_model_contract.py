"""The model contract (:mod:`shoplens.base`), checked on every ``Model`` subclass.

In the style of scikit-learn's estimator checks and river's ``_unit_test_params``:
:data:`REGISTRY` gives each concrete model small parameters, a fitting fixture and
the calls that answer questions with it; the checks below run over all of them.
A new subclass of :class:`shoplens.base.Model` fails :func:`test_every_model_is_registered`
until it is registered here (or listed in :data:`ABSTRACT`), so it gets the contract for free.

The fixtures are small slices of real data bundled with the repository (the demo shop,
the CDNOW sample, the Open Bandit Dataset slice, the Chinese intent set); bandits and
pricing get short synthetic event streams (an online contract needs events, not realism).
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import pickle
import pkgutil
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import shoplens
from shoplens import __version__
from shoplens.base import FORMAT, Model, clone, read_model_file
from shoplens.customers.btyd import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from shoplens.customers.churn import ChurnModel
from shoplens.customers.segments import SegmentModel
from shoplens.decide.opl import LearnedPolicy
from shoplens.decide.policies import UCB1, BernoulliTS, EpsilonGreedy, LinearTS, LinUCB, LogisticTS
from shoplens.decide.pricing import GridTS, PriceTS
from shoplens.demand.forecast import DemandForecaster
from shoplens.errors import ModelVersionWarning, NotFittedError, UserInputError
from shoplens.recs.hybrid import Hybrid
from shoplens.recs.models import ALS, BPR, EASE, BuyAgain, ContentBased, ItemKNN, Popularity
from shoplens.store.warehouse import Warehouse
from shoplens.text.aspects import AspectDetector, AspectPolarity
from shoplens.text.classifier import AveragedClassifier, NgramClassifier, TextClassifier
from shoplens.text.intent import IntentModel
from shoplens.text.ngrams import CharNgramVocabulary
from shoplens.text.sentiment import SentimentModel
from shoplens.text.wordgrams import WordNgramVocabulary

pytestmark = pytest.mark.filterwarnings("ignore:OpenBLAS is configured:RuntimeWarning")

DATA = Path(__file__).parent / "data"
UNKNOWN_CUSTOMER = "contract-never-seen"


# -- comparing answers ------------------------------------------------------------------------------
def assert_same(a: Any, b: Any, where: str = "answer") -> None:
    """Exactly equal (NaN equals NaN), recursively through containers and plain objects."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, (pd.Series, pd.Index)):
        (pd.testing.assert_series_equal if isinstance(a, pd.Series) else pd.testing.assert_index_equal)(
            a, b, check_exact=True, obj=where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif sp.issparse(a):
        assert a.shape == b.shape and a.dtype == b.dtype and (a != b).nnz == 0, where
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, (str, bytes, int, bool, type(None), np.generic)):
        assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"
    elif hasattr(a, "__dict__"):
        assert_same(vars(a), vars(b), where)
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


# -- the registry -----------------------------------------------------------------------------------
Answers = Callable[[Any, Any], dict[str, Callable[[], Any]]]


@dataclass(frozen=True)
class Spec:
    """How the contract exercises one model class.

    params: small, fast constructor parameters (river's ``_unit_test_params``).
    data: name of the fixture holding the training data.
    fit: ``fit(model, data)`` calls the model's ``fit`` and returns what it returned.
    answers: ``answers(model, data)`` -> {public method: a call of it}; these are the
        model's predict-style methods: each raises NotFittedError before ``fit`` (online
        learners excepted), and gives the same answer after a same-seed refit and after
        a save/load round trip.
    other_methods: public methods that are not predict-style (pure functions, helpers of
        ensembles); every other public method must appear in ``answers``.
    online: learns one event at a time and answers before any event (bandits, pricing);
        ``stream(model, data)`` then runs the events one at a time and returns the decisions.
    customer: for models holding per-customer state: a customer id the fitted model holds;
        ``answer_for(model, customer_id)`` is what the model tells that customer.
    """

    params: dict[str, Any]
    data: str
    fit: Callable[[Any, Any], Any]
    answers: Answers
    other_methods: tuple[str, ...] = ()
    online: bool = False
    stream: Callable[[Any, Any], list[Any]] | None = None
    customer: Callable[[Any], str] | None = None
    answer_for: Callable[[Any, str], Any] | None = None


# recommenders ------------------------------------------------------------------------------------
def _fit_recommender(model: Any, d: dict[str, Any]) -> Any:
    return model.fit(d["interactions"], catalogue=d["catalogue"], segments=d["segments"])


def _recommender_answers(model: Any, d: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    ids, product = d["known_customers"], d["popular_product"]
    return {
        "recommend": lambda: model.recommend([*ids, UNKNOWN_CUSTOMER], k=5),
        "similar_items": lambda: model.similar_items(product, k=5),
        "frequently_bought_together": lambda: model.frequently_bought_together(product, k=5),
        "explain_similarity": lambda: model.explain_similarity,
        "explain_by_column": lambda: model.explain_by_column,
        "fold_in": lambda: (model.fold_in(d["newcomer"]), model.recommend(["contract-newcomer"], k=5)),
        "forget_customers": lambda: (model.forget_customers({ids[0]}), model.recommend([ids[0]], k=5)),
    }


def _hybrid_answers(model: Any, d: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    return _recommender_answers(model, d) | {"feature_importance": lambda: model.feature_importance()}


# what the hybrid asks of its generators while serving, in row/column codes (checked through recommend)
RECOMMENDER_HELPERS = ("fit_like", "feature_names", "propose", "tiebreak", "now_day", "interaction_phrase",
                       "best_sources", "precompute_candidates")


def _recommender(params: dict[str, Any], answers: Answers = _recommender_answers) -> Spec:
    return Spec(params, "recs_data", _fit_recommender, answers, other_methods=RECOMMENDER_HELPERS,
                customer=lambda m: str(m.customers_[0]),
                answer_for=lambda m, cid: m.recommend([cid], k=5).drop(columns="customer_id"))


# BTYD ------------------------------------------------------------------------------------------------
def _btyd_answers(model: Any, d: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    x, t_x, T = d["frequency"][:50], d["recency"][:50], d["T"][:50]
    out = {
        "params": lambda: model.params,
        "probability_alive": lambda: model.probability_alive(x, t_x, T),
        "expected_purchases": lambda: model.expected_purchases(13.0, x, t_x, T),
    }
    if hasattr(model, "probability_no_purchase"):
        out["probability_no_purchase"] = lambda: model.probability_no_purchase(13.0, x, t_x, T)
    return out


def _btyd(cls: type) -> Spec:
    return Spec({"time_unit": "week"}, "cdnow", lambda m, d: m.fit(d["frequency"], d["recency"], d["T"]),
                _btyd_answers, other_methods=("log_likelihood",))


# bandits (online) ---------------------------------------------------------------------------------
ACTIONS = ["free-shipping", "10-percent", "nothing"]


def _policy_stream(model: Any, events: list[tuple[dict[str, Any], float]]) -> list[Any]:
    """Events one at a time: choose, then learn the reward; inputs must stay as they were."""
    decisions = []
    for context, luck in events:
        ctx, actions = copy.deepcopy(context), list(ACTIONS)
        action, propensity = model.choose(ctx, actions)
        assert ctx == context and actions == ACTIONS, "choose changed its inputs"
        reward = float(luck < (0.6 if action == "10-percent" else 0.2))
        model.update(ctx, action, reward)
        assert ctx == context, "update changed its inputs"
        decisions.append((action, propensity))
    return decisions


def _policy_fit(model: Any, events: list[tuple[dict[str, Any], float]]) -> Any:
    contexts = [c for c, _ in events]
    actions = [ACTIONS[i % 3] for i in range(len(events))]
    rewards = [float(luck < 0.3) for _, luck in events]
    return model.fit(contexts, actions, rewards)


def _policy_answers(model: Any, events: list[tuple[dict[str, Any], float]]) -> dict[str, Callable[[], Any]]:
    ctx = events[0][0]
    return {
        "choose": lambda: model.choose(ctx, ACTIONS),
        "choose_slate": lambda: model.choose_slate(ctx, ACTIONS, 2),
        "probabilities": lambda: model.probabilities(ctx, ACTIONS),
        "update": lambda: (model.update(ctx, "nothing", 1.0), model.probabilities(ctx, ACTIONS)),
        "action_distribution": lambda: model.action_distribution(_tiny_logs(ctx)),
    }


def _tiny_logs(ctx: dict[str, Any]) -> Any:
    from shoplens.decide.ope import LoggedFeedback

    return LoggedFeedback(np.array([0, 2]), np.array([1.0, 0.0]), np.array([0.5, 0.5]), 3,
                          context=pd.DataFrame([ctx, ctx]), action_names=list(ACTIONS))


def _policy(params: dict[str, Any]) -> Spec:
    return Spec(params, "bandit_events", _policy_fit, _policy_answers, online=True, stream=_policy_stream)


# pricing (online) -----------------------------------------------------------------------------------
def _price_stream(model: Any, units: list[float]) -> list[Any]:
    prices = []
    for u in units:
        price = model.choose_price()
        model.update(price, u)
        prices.append(price)
    return prices


def _price_answers(model: Any, units: list[float]) -> dict[str, Callable[[], Any]]:
    return {
        "choose_price": lambda: model.choose_price(),
        "allowed_prices": lambda: model.allowed_prices(),
        "update": lambda: (model.update(10.0, 3.0), model.choose_price()),
    }


def _pricing() -> Spec:
    return Spec({"base_price": 10.0, "cost": 6.0, "seed": 3}, "price_units",
                lambda m, units: m.fit([10.0] * len(units), units), _price_answers, online=True, stream=_price_stream)


# text --------------------------------------------------------------------------------------------------
def _text_fit(model: Any, d: dict[str, Any]) -> Any:
    return model.fit(d["texts"], d["labels"])


def _classifier_answers(model: Any, d: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    texts = d["queries"]
    out = {"predict_proba": lambda: model.predict_proba(texts), "predict": lambda: model.predict(texts)}
    if hasattr(model, "decision_function"):
        out["decision_function"] = lambda: model.decision_function(texts)
    return out


def _vocabulary_answers(model: Any, d: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    texts = d["queries"]
    return {
        "lookup": lambda: model.lookup(texts),
        "transform": lambda: model.transform(texts),
        "restrict": lambda: (model.restrict(np.arange(len(getattr(model, "keys_", ()))) % 2 == 0),
                             model.transform(texts)),
    }


REGISTRY: dict[type[Model], Spec] = {
    # recommenders
    Popularity: _recommender({"recent_days": 60}),
    BuyAgain: _recommender({"half_life_days": 90.0}),
    ItemKNN: _recommender({"neighbours": 20}),
    EASE: _recommender({"max_items": 300}),
    ALS: _recommender({"factors": 8, "iterations": 3, "seed": 3}),
    BPR: _recommender({"factors": 8, "iterations": 10, "seed": 3}),
    ContentBased: _recommender({"max_features": 2000}),
    Hybrid: _recommender({"als_factors": 8, "max_iter": 10, "candidates": 10, "seed": 3}, _hybrid_answers),
    # customers
    BetaGeoModel: _btyd(BetaGeoModel),
    ParetoNBDModel: _btyd(ParetoNBDModel),
    GammaGammaModel: Spec({}, "cdnow", lambda m, d: m.fit(d["frequency"], d["monetary_value"]),
                          lambda m, d: {"params": lambda: m.params,
                                        "expected_spend": lambda: m.expected_spend(d["frequency"][:50],
                                                                                   d["monetary_value"][:50])},
                          other_methods=("log_likelihood",)),
    ChurnModel: Spec({"max_iter": 20, "seed": 3}, "churn_data", lambda m, d: m.fit(d["X"], d["y"]),
                     lambda m, d: {"predict_proba": lambda: m.predict_proba(d["X"].head(30)),
                                   "contributions": lambda: m.contributions(d["X"].head(30))}),
    SegmentModel: Spec({"k_range": (2, 3), "n_bootstrap": 1, "sample_size": 600, "seed": 3}, "churn_data",
                       lambda m, d: m.fit(d["segment_X"]),
                       lambda m, d: {"predict": lambda: m.predict(d["segment_X"][:30])}),
    # decisions
    LearnedPolicy: Spec({"method": "dr", "epsilon": 0.1, "seed": 3}, "obd_logs", lambda m, logs: m.fit(logs),
                        lambda m, logs: {"scores": lambda: m.scores(logs),
                                         "action_distribution": lambda: m.action_distribution(logs)}),
    EpsilonGreedy: _policy({"epsilon": 0.2, "seed": 3}),
    UCB1: _policy({"seed": 3}),
    BernoulliTS: _policy({"alpha": 2.0, "seed": 3, "n_draws": 50}),
    LinUCB: _policy({"alpha": 0.5, "seed": 3}),
    LinearTS: _policy({"v": 0.5, "seed": 3, "n_draws": 50}),
    LogisticTS: _policy({"ridge": 2.0, "seed": 3, "n_draws": 50}),
    PriceTS: _pricing(),
    GridTS: _pricing(),
    # demand
    DemandForecaster: Spec({"horizon": 2, "models": ("SeasonalNaive", "ADIDA", "TSB"), "n_jobs": 1},
                           "weekly_demand", lambda m, series: m.fit(series),
                           lambda m, series: {"predict": lambda: m.predict(),
                                              "model_choice": lambda: m.model_choice()}),
    # text
    TextClassifier: Spec({"n_features": 2**12, "min_df": 1}, "intents", _text_fit, _classifier_answers),
    NgramClassifier: Spec({"ngram_range": (1, 3), "min_df": 1}, "intents", _text_fit, _classifier_answers),
    AveragedClassifier: Spec({"members": (NgramClassifier((1, 2), min_df=1), TextClassifier(n_features=2**10)),
                              "weights": (2.0, 1.0)}, "intents", _text_fit, _classifier_answers),
    IntentModel: Spec({"classifier": TextClassifier(n_features=2**12, nb=False), "other_threshold": 0.2},
                      "intents", _text_fit, lambda m, d: {"predict": lambda: m.predict(d["queries"])}),
    SentimentModel: Spec({"classifier": NgramClassifier((1, 3), min_df=1, nb_C=1.0), "language": "en"},
                         "reviews", _text_fit,
                         lambda m, d: {"predict": lambda: m.predict(d["queries"]),
                                       "positive_proba": lambda: m.positive_proba(d["queries"]),
                                       "binary": lambda: m.binary(d["queries"]),
                                       "clause_positive_proba": lambda: m.clause_positive_proba(d["queries"]),
                                       # re-weighted to the class balance of other texts (no labels)
                                       "adapt": lambda: m.adapt(d["texts"][::-3]).positive_proba(d["queries"])}),
    AspectDetector: Spec({"C": 1.0, "min_df": 1}, "aspect_sentences", lambda m, d: m.fit(d["sentences"], d["aspects"]),
                         lambda m, d: {"predict_proba": lambda: m.predict_proba(d["queries"])}),
    AspectPolarity: Spec({"C": 0.5}, "aspect_mentions", lambda m, d: m.fit(d["x"], d["positive"]),
                         lambda m, d: {"positive_proba": lambda: m.positive_proba(d["x"][:20]),
                                       "labels": lambda: m.labels(d["x"][:20])},
                         other_methods=("features",)),
    CharNgramVocabulary: Spec({"ngram_range": (1, 3), "min_df": 2}, "intents", lambda m, d: m.fit(d["texts"]),
                              _vocabulary_answers),
    WordNgramVocabulary: Spec({"ngram_range": (1, 2), "min_df": 1, "char_range": (1, 2)}, "reviews",
                              lambda m, d: m.fit(d["texts"]), _vocabulary_answers),
}

# Classes that only share code between concrete models; never fitted on their own.
ABSTRACT: set[str] = {
    "shoplens.customers.btyd._BTYDModel",
    "shoplens.decide.policies.Policy",
    "shoplens.decide.policies._ArmMeans",
    "shoplens.decide.policies._Linear",
    "shoplens.decide.policies._GaussianTS",
    "shoplens.recs.base.Recommender",
    "shoplens.recs.models._Factors",
}

CLASSES = sorted(REGISTRY, key=lambda c: (c.__module__, c.__name__))
IDS = [c.__name__ for c in CLASSES]
OFFLINE = [c for c in CLASSES if not REGISTRY[c].online]
ONLINE = [c for c in CLASSES if REGISTRY[c].online]
PER_CUSTOMER = [c for c in CLASSES if REGISTRY[c].customer is not None]


def qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def all_model_classes() -> set[type]:
    """Every subclass of Model defined in shoplens (every module imported first)."""
    for info in pkgutil.walk_packages(shoplens.__path__, "shoplens."):
        importlib.import_module(info.name)
    found: set[type] = set()
    todo = [Model]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found and sub.__module__.startswith("shoplens."):
                found.add(sub)
                todo.append(sub)
    return found


def public_methods(cls: type) -> set[str]:
    """Public functions and properties a class adds to :class:`Model`."""
    names = set()
    for klass in cls.__mro__:
        if klass in (Model, object):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_"):
                continue
            if inspect.isfunction(value) or isinstance(value, (property, staticmethod, classmethod)):
                names.add(name)
    return names


# -- data fixtures (small slices of real data bundled with the repository) ----------------------------
@pytest.fixture(scope="module")
def recs_data(demo_warehouse_path: Path) -> dict[str, Any]:
    """Interactions of 200 demo-shop customers, the catalogue and the customers' countries."""
    from shoplens.recs.interactions import load_catalogue, load_interactions, load_segments

    with Warehouse(demo_warehouse_path, read_only=True) as wh:
        rows, catalogue, segments = load_interactions(wh), load_catalogue(wh), load_segments(wh)
    keep = sorted(rows["customer_id"].unique())[:200]
    rows = rows[rows["customer_id"].isin(keep)].reset_index(drop=True)
    buyers = rows[rows["kind"] == "purchase"]
    popular = buyers.groupby("product_id")["customer_id"].nunique().sort_values(ascending=False, kind="stable")
    regular = buyers.groupby("customer_id")["basket_id"].nunique().sort_values(ascending=False, kind="stable")
    newcomer = rows[rows["customer_id"] == regular.index[0]].assign(customer_id="contract-newcomer")
    return {"interactions": rows, "catalogue": catalogue, "segments": segments,
            "known_customers": list(regular.index[1:4]), "popular_product": str(popular.index[0]),
            "newcomer": newcomer}


@pytest.fixture(scope="module")
def cdnow() -> dict[str, Any]:
    """Frequency, recency, T (weeks) and mean repeat value of the CDNOW sample at 1997-09-30."""
    df = pd.read_csv(DATA / "customers" / "CDNOW_sample.txt.gz", sep=r"\s+", header=None,
                     names=["customer_id", "customer_index", "date", "cds", "value"], dtype={"customer_id": str})
    df["date"] = pd.to_datetime(df["date"].astype(str))
    calibration = df[df["date"] <= "1997-09-30"].groupby(["customer_id", "date"], as_index=False)["value"].sum()
    g = calibration.groupby("customer_id")
    first, last, n = g["date"].min(), g["date"].max(), g.size()
    total, first_value = g["value"].sum(), calibration.sort_values("date").groupby("customer_id")["value"].first()
    frequency = (n - 1).astype(float)
    monetary = ((total - first_value) / frequency.where(frequency > 0)).fillna(0.0)
    end = pd.Timestamp("1997-09-30")
    later = set(df.loc[(df["date"] > end) & (df["date"] <= end + pd.Timedelta(days=90)), "customer_id"])
    return {"frequency": frequency.to_numpy(), "recency": ((last - first).dt.days / 7.0).to_numpy(),
            "T": ((end - first).dt.days / 7.0).to_numpy(), "monetary_value": monetary.to_numpy(),
            "customer_id": frequency.index.to_numpy(), "churned": ~frequency.index.isin(later)}


@pytest.fixture(scope="module")
def churn_data(cdnow: dict[str, Any]) -> dict[str, Any]:
    """Churn features and labels (no purchase in the 90 days after 1997-09-30) of the CDNOW customers."""
    X = pd.DataFrame({"orders": cdnow["frequency"] + 1, "recency_days": (cdnow["T"] - cdnow["recency"]) * 7,
                      "tenure_days": cdnow["T"] * 7, "avg_repeat_value": cdnow["monetary_value"]})
    return {"X": X, "y": cdnow["churned"].astype(int), "segment_X": np.log1p(X.to_numpy())}


@pytest.fixture(scope="module")
def obd_logs() -> Any:
    """The first 1,500 decisions of the Open Bandit Dataset's uniform-random logs."""
    from shoplens.decide.obd import load_obd
    from shoplens.decide.ope import LoggedFeedback

    logs, n = load_obd(DATA / "decide", "random"), 1500
    return LoggedFeedback(logs.action[:n], logs.reward[:n], logs.propensity[:n], logs.n_actions,
                          position=logs.position[:n], context=logs.context.head(n), action_names=logs.action_names)


@pytest.fixture(scope="module")
def weekly_demand(demo_warehouse_path: Path) -> pd.DataFrame:
    """Weekly units of the demo shop's five best-selling products."""
    from shoplens.demand.series import demand_series

    with Warehouse(demo_warehouse_path, read_only=True) as wh:
        series = demand_series(wh, freq="week", level="product")
    top = series.groupby("key")["units"].sum().nlargest(5).index
    return series[series["key"].isin(top)].reset_index(drop=True)


@pytest.fixture(scope="module")
def intents() -> dict[str, Any]:
    """Chinese support messages labelled with their intent (the bundled training set)."""
    frame = pd.read_csv(DATA / "text" / "zh_intents_train.csv")
    return {"texts": frame["text"].tolist(), "labels": frame["intent"].tolist(),
            "queries": ["我想取消订单", "我的快递到哪了", "怎么申请退款", "hello"]}


@pytest.fixture(scope="module")
def reviews() -> dict[str, Any]:
    """300 English demo-shop reviews, labelled by their star rating (1-2 bad, 4-5 good)."""
    from importlib import resources

    path = Path(str(resources.files("shoplens.datasets") / "demo" / "reviews.csv.gz"))
    frame = pd.read_csv(path, usecols=["rating", "text"]).dropna()
    frame = frame[frame["rating"] != 3].head(300)
    return {"texts": frame["text"].tolist(), "labels": (frame["rating"] >= 4).astype(int).tolist(),
            "queries": ["Love it, fits perfectly", "Cheap fabric, returned it", "ok"]}


@pytest.fixture(scope="module")
def bandit_events() -> list[tuple[dict[str, Any], float]]:
    """40 (context, luck) events; the reward of an action is ``luck < its click rate``."""
    rng = np.random.default_rng(11)
    return [({"recency_days": float(rng.integers(1, 90)), "loyal": bool(rng.random() < 0.5),
              "segment": str(rng.choice(["new", "regular", "lapsed"]))}, float(rng.random())) for _ in range(40)]


@pytest.fixture(scope="module")
def aspect_sentences() -> dict[str, Any]:
    """Short English sentences with the aspects they give an opinion on (hand-written, tiny)."""
    rows = [("The price is great for what you get", ["price"]), ("Too expensive for the quality", ["price"]),
            ("Customer service never answered my emails", ["service"]), ("The seller was very helpful", ["service"]),
            ("It looks beautiful and the colour is lovely", ["appearance"]), ("Ugly design, cheap look", ["appearance"]),
            ("The zoom works well and the battery lasts", ["function"]), ("It stopped working after a day", ["function"]),
            ("Arrived on a Tuesday", []), ("I bought it for my son", [])]
    return {"sentences": [t for t, _ in rows] * 3, "aspects": [a for _, a in rows] * 3,
            "queries": ["cheap price", "rude service", "nice colour", "works well"]}


@pytest.fixture(scope="module")
def aspect_mentions() -> dict[str, Any]:
    """Feature rows of aspect mentions (``AspectPolarity.features``) and whether each is positive."""
    texts = ["not bad at all", "the zipper broke", "great price but slow delivery", "I love the colour",
             "it does not work", "the service was fine"] * 5
    clause_p = np.linspace(0.05, 0.95, len(texts))
    x = AspectPolarity.features(texts, texts, clause_p)
    return {"x": x, "positive": (clause_p >= 0.5).tolist()}


@pytest.fixture(scope="module")
def price_units() -> list[float]:
    return [float(u) for u in np.random.default_rng(5).poisson(4.0, 25)]


@pytest.fixture(scope="module")
def fitted_models() -> dict[type, Model]:
    """Models fitted so far in this module, by class (each class is fitted once)."""
    return {}


@pytest.fixture()
def fitted(request: pytest.FixtureRequest, fitted_models: dict[type, Model]) -> tuple[Model, Any]:
    """(a private copy of the fitted model of the test's class, its training data)."""
    cls = request.node.callspec.params["cls"]
    spec = REGISTRY[cls]
    data = request.getfixturevalue(spec.data)
    if cls not in fitted_models:
        fitted_models[cls] = spec.fit(cls(**spec.params), data)
    return copy.deepcopy(fitted_models[cls]), data


# -- the registry is complete ----------------------------------------------------------------------------
def unregistered(found: set[type]) -> list[str]:
    """The classes of ``found`` that are neither in :data:`REGISTRY` nor listed in :data:`ABSTRACT`."""
    return sorted(qualname(c) for c in found if c not in REGISTRY and qualname(c) not in ABSTRACT)


def test_every_model_is_registered() -> None:
    found = all_model_classes()
    missing = unregistered(found)
    assert not missing, f"register these Model subclasses in tests/test_model_contract.py (or mark them abstract): {missing}"
    stale = sorted(ABSTRACT - {qualname(c) for c in found})
    assert not stale, f"ABSTRACT names classes that are gone: {stale}"
    assert not [c for c in REGISTRY if qualname(c) in ABSTRACT]


def test_a_new_unregistered_subclass_fails_the_registry_check() -> None:
    """A Model subclass defined anywhere in shoplens, deep in the hierarchy, is found and reported."""
    import gc

    probe = type("ProbeModel", (ALS,), {"__module__": "shoplens.recs.probe"})
    try:
        assert probe in all_model_classes()
        assert unregistered(all_model_classes()) == ["shoplens.recs.probe.ProbeModel"]
    finally:
        del probe
        gc.collect()  # the class leaves Model's subclasses, so later checks do not see it
    assert unregistered(all_model_classes()) == []


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_every_public_method_is_exercised(cls: type, request: pytest.FixtureRequest) -> None:
    """A public method must be listed in ``answers`` (so the contract checks it) or in ``other_methods``."""
    spec = REGISTRY[cls]
    data = request.getfixturevalue(spec.data)
    listed = set(spec.answers(cls(**spec.params), data)) | set(spec.other_methods) | {"fit"}
    assert public_methods(cls) - listed == set(), "add these methods to the class's Spec"
    assert "fit" in public_methods(cls), f"{cls.__name__} has no fit"


def _only_raises_not_implemented(func: Any) -> bool:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError):
        return False
    body = tree.body[0].body  # type: ignore[attr-defined]
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return (len(body) == 1 and isinstance(body[0], ast.Raise)
            and "NotImplementedError" in ast.unparse(body[0]))


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_no_public_method_is_left_abstract(cls: type) -> None:
    """A concrete model implements every public method it offers (no inherited ``raise NotImplementedError``)."""
    for name in public_methods(cls):
        func = inspect.getattr_static(cls, name)
        func = func.fget if isinstance(func, property) else getattr(func, "__func__", func)
        assert not _only_raises_not_implemented(func), f"{cls.__name__}.{name} is not implemented"


# -- constructor: parameters stored, nothing else ---------------------------------------------------------
class Sentinel:
    """A parameter value no constructor could compute with: a constructor may only store it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


def constructor_params(cls: type) -> list[inspect.Parameter]:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    kinds = {p.kind for p in params}
    assert not kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}, \
        f"{cls.__name__}: no *args/**kwargs in a model constructor (get_params cannot see them)"
    return params


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_constructor_only_stores_its_parameters(cls: type) -> None:
    params = constructor_params(cls)
    # defaults where the class has them, the Spec's values for the rest: stored as given
    required = {p.name: REGISTRY[cls].params[p.name] for p in params if p.default is inspect.Parameter.empty}
    plain = cls(**required)
    assert set(vars(plain)) == {p.name for p in params}, "the constructor sets attributes other than its parameters"
    for p in params:
        assert getattr(plain, p.name) is required.get(p.name, p.default), f"{p.name} not stored unchanged"
    # any value is stored as it is, without looking at it: validation and work belong in fit
    sentinels = {p.name: Sentinel(p.name) for p in params}
    model = cls(**sentinels)
    assert {k: v for k, v in vars(model).items()} == sentinels
    assert not model.is_fitted()
    assert model.get_params() == sentinels


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_get_params_round_trip_clone_and_repr(cls: type) -> None:
    spec = REGISTRY[cls]
    model = cls(**spec.params)
    params = model.get_params()
    assert list(params) == [p.name for p in constructor_params(cls)]
    assert all(params[k] is v for k, v in spec.params.items())
    again = cls(**params)
    assert_same(again.get_params(), params)
    twin = clone(model)
    assert type(twin) is cls and twin is not model and not twin.is_fitted()
    assert all(twin.get_params()[k] is v for k, v in params.items())
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    assert repr(model) == f"{cls.__name__}({shown})"


# -- fitting ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", OFFLINE, ids=[c.__name__ for c in OFFLINE])
def test_not_fitted_error_before_fit(cls: type, request: pytest.FixtureRequest) -> None:
    spec = REGISTRY[cls]
    data = request.getfixturevalue(spec.data)
    model = cls(**spec.params)
    for name, call in spec.answers(model, data).items():
        with pytest.raises(NotFittedError):
            call()
            pytest.fail(f"{cls.__name__}.{name} answered before fit")


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_fit_returns_self_keeps_params_and_inputs_and_learns_underscore_state(
        cls: type, request: pytest.FixtureRequest) -> None:
    spec = REGISTRY[cls]
    data = request.getfixturevalue(spec.data)
    model = cls(**spec.params)
    params_before = copy.deepcopy(model.get_params())
    data_before = copy.deepcopy(data)
    assert spec.fit(model, data) is model
    assert model.is_fitted()
    assert_same(data, data_before, "the training data")  # fit does not change its inputs
    assert_same(model.get_params(), params_before, "the parameters")  # nor its parameters
    learned = [k for k in vars(model) if k not in params_before and not k.startswith("_")]
    assert learned and all(k.endswith("_") for k in learned), f"learned state must end in '_': {learned}"


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_same_seed_same_answers(cls: type, fitted: tuple[Model, Any]) -> None:
    """A model rebuilt from its parameters (same seed) and fitted on the same data answers the same."""
    model, data = fitted
    spec = REGISTRY[cls]
    twin = clone(model)
    spec.fit(twin, data)
    first = {k: call() for k, call in spec.answers(model, data).items()}
    second = {k: call() for k, call in spec.answers(twin, data).items()}
    assert_same(first, second)


# -- saving ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_save_load_round_trip_with_version_stamp(cls: type, fitted: tuple[Model, Any], tmp_path: Path) -> None:
    model, data = fitted
    spec = REGISTRY[cls]
    path = model.save(tmp_path / "model.pkl", note="contract")
    payload = read_model_file(path)
    assert payload["format"] == FORMAT and payload["shoplens_version"] == __version__
    assert payload["class"] == qualname(cls) and payload["metadata"] == {"note": "contract"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelVersionWarning)  # same version: no warning
        loaded = cls.load(path)
    assert type(loaded) is cls and loaded.is_fitted()
    assert_same(loaded.get_params(), model.get_params())
    expected = {k: call() for k, call in spec.answers(copy.deepcopy(model), data).items()}
    assert_same({k: call() for k, call in spec.answers(loaded, data).items()}, expected)
    # a file written by another shoplens version still loads, with a warning
    payload["shoplens_version"] = "0.0.1-other"
    path.write_bytes(pickle.dumps(payload))
    with pytest.warns(ModelVersionWarning, match="0.0.1-other"):
        older = cls.load(path)
    assert_same({k: call() for k, call in spec.answers(older, data).items()}, expected)


def test_load_refuses_a_file_of_another_class(tmp_path: Path) -> None:
    path = ChurnModel().save(tmp_path / "churn.pkl")
    with pytest.raises(UserInputError, match="holds a ChurnModel, not a SegmentModel"):
        SegmentModel.load(path)


# -- per-customer state ----------------------------------------------------------------------------------
def test_models_that_forget_customers_are_checked() -> None:
    forgetting = {c for c in CLASSES if callable(getattr(c, "forget_customers", None))}
    assert forgetting == set(PER_CUSTOMER), "a model with forget_customers needs `customer` in its Spec"


@pytest.mark.parametrize("cls", PER_CUSTOMER, ids=[c.__name__ for c in PER_CUSTOMER])
def test_forget_customers_leaves_no_trace(cls: type, fitted: tuple[Model, Any]) -> None:
    model, _ = fitted
    spec = REGISTRY[cls]
    assert spec.customer is not None and spec.answer_for is not None
    victim = spec.customer(model)
    assert victim.encode() in pickle.dumps(model)
    stranger = spec.answer_for(model, UNKNOWN_CUSTOMER)
    assert model.forget_customers({victim, "contract-nobody"}) == 1
    assert victim.encode() not in pickle.dumps(model), "the customer is still in the model's state"
    assert_same(spec.answer_for(model, victim), stranger, "what the forgotten customer is told")
    assert model.forget_customers({victim}) == 0


# -- online learners ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ONLINE, ids=[c.__name__ for c in ONLINE])
def test_online_learning_one_event_at_a_time(cls: type, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    spec = REGISTRY[cls]
    assert spec.stream is not None
    events = request.getfixturevalue(spec.data)
    model = cls(**spec.params)
    for call in spec.answers(clone(model), events).values():  # answers from the prior, before any event
        call()
    decisions = spec.stream(model, events)
    assert decisions == spec.stream(cls(**spec.params), events), "same seed, same events: same decisions"
    # a saved learner continues exactly where it was
    half = cls(**spec.params)
    spec.stream(half, events[: len(events) // 2])
    loaded = cls.load(half.save(tmp_path / "half.pkl"))
    assert spec.stream(loaded, events[len(events) // 2:]) == decisions[len(events) // 2:]


@pytest.mark.parametrize("cls", [c for c in ONLINE if REGISTRY[c].data == "bandit_events"],
                         ids=[c.__name__ for c in ONLINE if REGISTRY[c].data == "bandit_events"])
def test_bandit_feature_order_does_not_matter(cls: type, bandit_events: list[tuple[dict[str, Any], float]]) -> None:
    reversed_events = [(dict(reversed(list(c.items()))), luck) for c, luck in bandit_events]
    spec = REGISTRY[cls]
    assert spec.stream is not None
    assert spec.stream(cls(**spec.params), bandit_events) == spec.stream(cls(**spec.params), reversed_events)


@pytest.mark.parametrize("cls", [c for c in ONLINE if REGISTRY[c].data == "bandit_events"],
                         ids=[c.__name__ for c in ONLINE if REGISTRY[c].data == "bandit_events"])
def test_bandit_tolerates_unknown_and_missing_features(cls: type, bandit_events: list[tuple[dict[str, Any], float]]) -> None:
    """A context with a feature never seen in learning, or without one it learned on, still gets a decision."""
    spec = REGISTRY[cls]
    assert spec.stream is not None
    model = cls(**spec.params)
    spec.stream(model, bandit_events)
    context = bandit_events[0][0]
    for ctx in ({**context, "contract_new_feature": 3.0, "contract_new_label": "gold"},
                {k: v for k, v in context.items() if k != "segment"}):
        action, propensity = model.choose(ctx, ACTIONS)
        assert action in ACTIONS and 0.0 < propensity <= 1.0
        model.update(ctx, action, 1.0)
        probabilities = model.probabilities(ctx, ACTIONS)
        assert probabilities.shape == (len(ACTIONS),) and abs(float(probabilities.sum()) - 1.0) < 1e-9

