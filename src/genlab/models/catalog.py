"""One-line descriptions of every component, for ``genlab models``."""

from __future__ import annotations

from genlab.models.parts.likelihoods import LIKELIHOODS
from genlab.models.parts.nets import BACKBONES
from genlab.models.registry import MODELS


def describe_components() -> dict[str, dict[str, str]]:
    models = {
        name: (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else name
        for name, cls in MODELS.items()
    }
    return {"models": models, "likelihoods": dict(LIKELIHOODS), "backbones": dict(BACKBONES)}
