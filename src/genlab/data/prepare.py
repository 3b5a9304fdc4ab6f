"""uint8 images -> the float input a model was trained on, for evaluation and latent tools."""

from __future__ import annotations

from torch import Tensor

from genlab.data.views import binarize_static, binarize_threshold, to_float


def eval_seed(split_seed: int) -> int:
    """Seed of the one fixed binarisation draw used for validation, tests and latent tools."""
    return split_seed + 1


def model_input(images: Tensor, binarize: str = "none", seed: int = 1) -> Tensor:
    """Float images in [0, 1] as the model sees them at evaluation time.

    ``static`` and ``dynamic`` binarisation both use one fixed Bernoulli draw seeded by ``seed``
    (``eval_seed(split_seed)`` everywhere), ``threshold`` keeps pixels above 0.5.
    """
    if binarize in ("static", "dynamic"):
        return to_float(binarize_static(images, seed=seed))
    x = to_float(images)
    return binarize_threshold(x) if binarize == "threshold" else x


def select_input(images: Tensor, indices: Tensor, binarize: str, seed: int) -> Tensor:
    """``images[indices]`` as model input, with a binarised draw taken over the whole split.

    Image i therefore gets the same draw whatever else is selected, and the same draw the
    trainer validated on (it binarises whole splits with the same seed)."""
    if binarize in ("static", "dynamic"):
        return model_input(images, binarize, seed)[indices]
    return model_input(images[indices], binarize, seed)
