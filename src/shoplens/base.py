"""The model contract every shoplens model follows (scikit-learn / river habits).

- the constructor only stores its parameters, unchanged;
- ``fit`` learns and returns ``self``; learned state ends in ``_``;
- ``save``/``load`` write one file stamped with the shoplens version and class,
  and ``load`` warns when another version wrote it;
- models holding per-customer state implement ``forget_customers(ids) -> int`` so
  that erasure reaches them (see :mod:`shoplens.privacy`).

>>> class Mean(Model):
...     def __init__(self, shrink: float = 0.0):
...         self.shrink = shrink
...     def fit(self, xs):
...         self.mean_ = sum(xs) / (len(xs) + self.shrink)
...         return self
>>> m = Mean().fit([1, 2, 3])
>>> m.mean_
2.0
>>> Mean(shrink=1.0)
Mean(shrink=1.0)
"""

from __future__ import annotations

import inspect
import pickle
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from shoplens import __version__
from shoplens.errors import ModelVersionWarning, NotFittedError, UserInputError

M = TypeVar("M", bound="Model")
FORMAT = "shoplens-model/1"


class Model:
    """Base class: parameters, fitted check, repr, versioned save/load."""

    def get_params(self) -> dict[str, Any]:
        sig = inspect.signature(type(self).__init__)
        return {n: getattr(self, n) for n in sig.parameters if n != "self" and hasattr(self, n)}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def is_fitted(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def check_fitted(self) -> None:
        if not self.is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit first")

    def save(self, path: str | Path, **metadata: Any) -> Path:
        """Write the model with a version stamp; returns the path."""
        from shoplens.store.files import open_private

        path = Path(path)
        payload = {
            "format": FORMAT,
            "shoplens_version": __version__,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "saved_at": datetime.now(timezone.utc).isoformat(),
            "metadata": metadata,
            "model": self,
        }
        with open_private(path) as fh:  # owner-only and atomic: a reader never sees half a file
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @classmethod
    def load(cls: type[M], path: str | Path) -> M:
        payload = read_model_file(path)
        model = payload["model"]
        if not isinstance(model, cls):
            raise UserInputError(f"{path}: holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def read_model_file(path: str | Path) -> dict[str, Any]:
    """The saved payload (metadata and model) of any shoplens model file."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: model file not found")
    try:
        with open(path, "rb") as fh:
            payload = pickle.load(fh)
    except Exception as exc:
        raise UserInputError(f"{path}: not a readable shoplens model file ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserInputError(f"{path}: not a shoplens model file")
    if payload.get("shoplens_version") != __version__:
        warnings.warn(
            f"{path} was saved by shoplens {payload.get('shoplens_version')}, this is {__version__}",
            ModelVersionWarning, stacklevel=2,
        )
    return payload
