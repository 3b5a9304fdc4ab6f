"""Latent-space operations: the model boundary (encode/decode) and pure, batched code moves.

The moves (perturb, interpolate, toward a target, blend, arithmetic) take and return code
tensors only, so they work for every family whose ``encode_mean``/``decode`` give codes: PCA, AE,
VAE, CVAE alike. Codes keep their latent space's shape (``models.core.latent_space``): (N, D)
for a flat space, (N, C, H, W) for a diffusion model's x_T; every move acts on the axes after
the first, and a code's norm is that of all its values. Batched moves return a leading axis for
the swept value: (S, N, *shape).

Every move uses ``torch.lerp`` where it interpolates, which is exact at weights 0 and 1; the
identities the tests check (alpha = 0 is the reconstruction, alpha = 1 the target, w = 1 the
first selection) therefore hold bit for bit, not only up to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel, render
from genlab.models.core.capabilities import Decoder, Encoder, require
from genlab.progress import steps
from genlab.runs import condition

CHUNK = 1000
"""Images per encoder/decoder call: bounds memory on large selections without per-image loops."""

Values = Sequence[float] | Tensor


def require_encoder(model: GenerativeModel, op: str) -> None:
    """Refuse models without an encoder (the class-mean baseline) before any work starts."""
    require(model, Encoder, op)


def require_decoder(model: GenerativeModel, op: str) -> None:
    """Refuse models without a decoder p(x|z) (the class-mean baseline has no latent space)."""
    require(model, Decoder, op)


def _chunks(n: int, what: str) -> Iterator[slice]:
    """Slices of CHUNK images, each counted on ``genlab.progress`` once its caller used it
    (a DDPM encodes 10,000 centroid images in minutes)."""
    with steps(what, n, "img") as advance:
        for s in [slice(i, min(i + CHUNK, n)) for i in range(0, n, CHUNK)] or [slice(0, 0)]:
            yield s
            advance(s.stop - s.start)


@torch.no_grad()
def encode(model: GenerativeModel, x: Tensor, y: Tensor | None = None) -> Tensor:
    """Point codes (posterior means or deterministic codes), (N, *latent_space.shape)."""
    require_encoder(model, "encoding")
    y = condition(model, y)
    return model.latent_space.shaped(torch.cat([
        model.encode_mean(x[s], None if y is None else y[s]) for s in _chunks(len(x), "encoding")
    ]))


@torch.no_grad()
def decode(model: GenerativeModel, z: Tensor, y: Tensor | None = None) -> Tensor:
    """Images (N, C, H, W) in [0, 1]: the decoder mean of each code (of the latent space's
    shape, or flattened: the family is given its own shape)."""
    require_decoder(model, "decoding")
    y = condition(model, y)
    z = model.latent_space.shaped(z.to(model.device))
    return torch.cat([
        render(model.decode(z[s], None if y is None else y[s])) for s in _chunks(len(z), "decoding")
    ])


def _swept(values: Tensor, like: Tensor) -> Tensor:
    """Sweep values as (S, 1, ..., 1) to broadcast against codes (N, *shape)."""
    return values.view(-1, *[1] * like.dim())


def _weights(values: Values, like: Tensor) -> Tensor:
    return _swept(torch.as_tensor(values, dtype=like.dtype).to(like.device), like)


def code_norm(z: Tensor, batch_dims: int = 1) -> Tensor:
    """The Euclidean norm of each code over all its values; ``batch_dims`` leading axes (2 for
    a sweep (S, N, *shape)) are kept."""
    return z.flatten(batch_dims).norm(dim=-1)


def _noise(shape: torch.Size, like: Tensor, generator: torch.Generator | None) -> Tensor:
    # Drawn on the CPU so a seed gives the same draw on every device.
    return torch.randn(shape, generator=generator).to(like)


def perturb(
    z: Tensor,
    sigmas: Values,
    generator: torch.Generator | None = None,
    mean: float = 0.0,
    unit: Tensor | float = 1.0,
) -> Tensor:
    """z + unit * (mean + sigma * eps) for each sigma, shape (S, N, *shape).

    One eps per image is shared by all sigmas, so a row of the figure shows the same random
    direction growing; sigma = 0 with mean 0 returns z itself. ``unit`` (a number, or one per
    code value, shape ``(*shape)``) is the noise's unit: 1 in the code's own units, the codes'
    spread for noise relative to it (``latent.noise``)."""
    return z + unit * (mean + _weights(sigmas, z) * _noise(z.shape, z, generator))


def _fractions(steps: int, like: Tensor) -> Tensor:
    if steps < 2:
        raise ConfigError(f"an interpolation needs at least 2 steps (both ends), got {steps}")
    return _swept(torch.linspace(0, 1, steps, dtype=like.dtype, device=like.device), like)


def lerp(z0: Tensor, z1: Tensor, steps: int) -> Tensor:
    """Linear interpolation, ``steps`` points from z0 to z1 inclusive, (steps, N, *shape)."""
    return torch.lerp(z0, z1, _fractions(steps, z0))


def slerp(z0: Tensor, z1: Tensor, steps: int, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation (White, 2016) of the direction, linear interpolation of the norm.

    Slerp keeps codes on the shell where Gaussian-prior codes live instead of cutting through
    the low-density middle as lerp does; interpolating the norm separately keeps every point's
    norm between the end points' norms even when they differ. A code of several axes moves on
    the sphere of all its values (flattened, then given its shape back)."""
    shape = z0.shape[1:]
    z0, z1 = z0.flatten(1), z1.flatten(1)
    t = _fractions(steps, z0)
    n0 = z0.norm(dim=-1, keepdim=True)
    n1 = z1.norm(dim=-1, keepdim=True)
    u0 = z0 / n0.clamp_min(eps)
    u1 = z1 / n1.clamp_min(eps)
    cos = (u0 * u1).sum(-1, keepdim=True).clamp(-1, 1)
    theta = torch.acos(cos)
    sin = torch.sin(theta)
    parallel = sin < 1e-3  # no unique great circle: the chord when parallel, see below if not
    safe = torch.where(parallel, torch.ones_like(sin), sin)
    w0 = torch.where(parallel, 1 - t, torch.sin((1 - t) * theta) / safe)
    w1 = torch.where(parallel, t, torch.sin(t * theta) / safe)
    direction = w0 * u0 + w1 * u1
    # Opposite directions (a code and its sign flip): turn through a fixed perpendicular axis,
    # the coordinate axis least aligned with z0, instead of passing through the origin.
    axis = nn.functional.one_hot(u0.abs().argmin(-1), u0.shape[-1]).to(u0)
    axis = axis - (axis * u0).sum(-1, keepdim=True) * u0
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(eps)
    turn = torch.cos(math.pi * t) * u0 + torch.sin(math.pi * t) * axis
    direction = torch.where(parallel & (cos < 0), turn, direction)
    path = torch.lerp(n0, n1, t) * direction / direction.norm(dim=-1, keepdim=True).clamp_min(eps)
    # The end points exactly, not up to the rounding of sin(theta) / sin(theta).
    return torch.where(t == 0, z0, torch.where(t == 1, z1, path)).unflatten(-1, shape)


INTERPOLATIONS = {"lerp": lerp, "slerp": slerp}


def interpolate(z0: Tensor, z1: Tensor, steps: int, method: str = "lerp") -> Tensor:
    """``lerp`` or ``slerp`` from z0 to z1, ``steps`` points including both ends."""
    if method not in INTERPOLATIONS:
        raise ConfigError(f"unknown interpolation {method!r}; choose {' or '.join(INTERPOLATIONS)}")
    return INTERPOLATIONS[method](z0, z1, steps)


def class_centroids(z: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Mean code per class (K, *shape) and images per class (K,); a class without images is
    NaN."""
    labels = labels.to(z.device).long()
    keep = labels >= 0
    sums = torch.zeros(num_classes, *z.shape[1:], dtype=z.dtype, device=z.device)
    sums.index_add_(0, labels[keep], z[keep])
    counts = torch.bincount(labels[keep], minlength=num_classes)
    return sums / _swept(counts.to(z.dtype), z[0]), counts


def toward(z: Tensor, target: Tensor, alphas: Values) -> Tensor:
    """z + alpha (target - z) for each alpha, (A, N, *shape); alpha 0 is z, alpha 1 the target."""
    if not bool(torch.isfinite(target).all()):
        raise ConfigError("a target code is undefined (a class with no training images?)")
    return torch.lerp(z, target.expand_as(z), _weights(alphas, z))


def toward_noisy(
    z: Tensor,
    target: Tensor,
    alphas: Values,
    noise: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A stochastic move: toward ``target + noise * eps``, shape (A, N, *shape).

    The noise jitters the target, not the start, so alpha = 0 still returns z exactly and the
    jitter grows with the step; one eps per image is shared along the alphas."""
    return toward(z, target + noise * _noise(z.shape, z, generator), alphas)


def pick(pool: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """Indices of ``n`` random rows of ``pool`` (with replacement), e.g. target-class codes."""
    if len(pool) == 0:
        raise ConfigError("there is nothing to pick from: the target selection is empty")
    return torch.randint(len(pool), (n,), generator=generator).to(pool.device)


def blend(
    za: Tensor,
    zb: Tensor,
    w: float,
    flip: Tensor | None = None,
    flip_dims: Tensor | None = None,
) -> Tensor:
    """w * za + (1 - w) * zb' (latent arithmetic: blending horses with birds, w = 0.6,
    gives winged horses).

    zb' is zb with the sign flipped for the images where ``flip`` (N,) is true (negating
    the codes of dark-winged birds) and for the coordinates of the flattened code where
    ``flip_dims`` (D,) is true. zb may be one code (1, *shape) blended into every za. w = 1
    returns za exactly."""
    return torch.lerp(flip_signs(zb, flip, flip_dims).expand_as(za), za, w)


def flip_signs(z: Tensor, images: Tensor | None = None, dims: Tensor | None = None) -> Tensor:
    """z with the sign flipped in the codes where ``images`` (N,) and at the coordinates of the
    flattened code where ``dims`` (D,) are true."""
    if images is not None:
        z = torch.where(_swept(images.to(z.device), z[0]), -z, z)
    if dims is not None:
        z = torch.where(dims.to(z.device).view(1, *z.shape[1:]), -z, z)
    return z


def arithmetic(za: Tensor, zb: Tensor, zc: Tensor) -> Tensor:
    """za + (zb - zc): e.g. a digit plus the direction from one class (mean code) to another."""
    return za + (zb - zc)
