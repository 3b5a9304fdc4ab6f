"""uint8 images -> the float input a model sees: the one binarisation path of genlab.

``binarize`` modes: ``none``; ``static`` (one fixed Bernoulli draw, p = intensity, for training
and evaluation alike); ``dynamic`` (a fresh draw per training batch, as in Salakhutdinov &
Murray 2008's binarised MNIST protocol, and one fixed draw for evaluation); ``threshold``
(pixels above 0.5). The trainer, the run-opening module and the latent tools all call these.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.data.views import binarize_dynamic, binarize_static, binarize_threshold, to_float


def eval_seed(split_seed: int) -> int:
    """Seed of the one fixed binarisation draw used for validation, tests and latent tools."""
    return split_seed + 1


def fixed_draw(images: Tensor, binarize: str, seed: int, training: bool = False) -> Tensor:
    """A whole uint8 split with its fixed Bernoulli draw applied where the mode has one:
    ``static`` always, ``dynamic`` for evaluation only (training draws afresh per batch)."""
    if binarize == "static" or (binarize == "dynamic" and not training):
        return binarize_static(images, seed=seed)
    return images


def batch_input(
    images: Tensor, binarize: str, generator: torch.Generator | None = None
) -> Tensor:
    """A uint8 slice (already through :func:`fixed_draw`) as float model input; with a
    ``generator``, ``dynamic`` draws a fresh binarisation (training batches)."""
    x = to_float(images)
    if binarize == "dynamic" and generator is not None:
        return binarize_dynamic(x, generator)
    if binarize == "threshold":
        return binarize_threshold(x)
    return x


def model_input(images: Tensor, binarize: str = "none", seed: int = 1) -> Tensor:
    """Float images in [0, 1] as the model sees them at evaluation time."""
    return batch_input(fixed_draw(images, binarize, seed), binarize)


def select_input(images: Tensor, indices: Tensor, binarize: str, seed: int) -> Tensor:
    """``images[indices]`` as model input, with a binarised draw taken over the whole split.

    Image i therefore gets the same draw whatever else is selected, and the same draw the
    trainer validated on (it binarises whole splits with the same seed)."""
    if binarize in ("static", "dynamic"):
        return model_input(images, binarize, seed)[indices]
    return model_input(images[indices], binarize, seed)
