"""The default models shipped in ``shoplens/text/models`` and how to load them.

Rebuilt by ``python scripts/train_text_models.py --data-dir ../shared/data``.
Loading is cached per process.

>>> sorted(MODEL_FILES)
['category', 'en_aspect_polarity', 'en_sentiment', 'intent', 'zh_sentiment']
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from shoplens.base import Model, read_model_file
from shoplens.errors import UserInputError

MODEL_FILES = {
    "zh_sentiment": "zh_sentiment.pkl",
    "en_sentiment": "en_sentiment.pkl",
    "intent": "intent.pkl",
    "category": "category.pkl",
    "en_aspect_polarity": "en_aspect_polarity.pkl",
}


def models_dir() -> Path:
    return Path(str(resources.files("shoplens.text") / "models"))


@lru_cache(maxsize=16)
def load_model(name: str, path: str | None = None) -> Model:
    """A shipped model by name (or any model file by ``path``)."""
    if path is None:
        if name not in MODEL_FILES:
            raise UserInputError(f"unknown text model {name!r}; choose one of: {', '.join(MODEL_FILES)}")
        file = models_dir() / MODEL_FILES[name]
        if not file.is_file():
            raise UserInputError(f"{file}: default model missing; rebuild with "
                                 "`python scripts/train_text_models.py --data-dir ../shared/data`")
        path = str(file)
    return read_model_file(path)["model"]


def model_metadata(name: str) -> dict:
    """Metadata saved with a shipped model (training data, split, metrics)."""
    return read_model_file(models_dir() / MODEL_FILES[name])["metadata"]
