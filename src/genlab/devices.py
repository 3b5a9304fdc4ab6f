"""Choosing a torch device from a config string: one rule for training and for opened runs;
and seeding the global RNG of a device for one block without disturbing the caller's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from genlab.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU; anything else must be a usable device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r} is not a torch device (auto, cpu, cuda)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for CUDA, but no CUDA device is available")
    return device


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run a block on a seeded global RNG (torch.distributions draws from it), restoring the
    caller's RNG state, CPU and ``device``, afterwards."""
    cuda = []
    if device.type == "cuda":
        cuda = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield
