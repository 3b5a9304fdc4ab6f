"""Choosing a torch device from a config string: one rule for training and for opened runs;
seeding the global RNG of a device for one block without disturbing the caller's; and the
process kept fast for training on a CPU: the allocator set for tensors, subnormal floats
flushed to zero, the garbage collector kept off long-lived objects."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os
import platform
from collections.abc import Iterator

import torch

from genlab.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU; anything else must be a usable device.
    A CPU device also gets :func:`keep_freed_memory` and :func:`flush_denormals`."""
    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise ConfigError(f"device {name!r} is not a torch device (auto, cpu, cuda)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for CUDA, but no CUDA device is available")
    if device.type == "cpu":
        keep_freed_memory()
        flush_denormals()
    return device


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
HEAP_BLOCKS = 32 << 20
"""Allocations below 32 MiB (glibc's ceiling for the mmap threshold) come from the heap."""
HEAP_KEPT = 1 << 30
"""Up to 1 GiB of freed heap stays with the process rather than going back to the system."""


@functools.cache
def keep_freed_memory() -> bool:
    """Let glibc's malloc reuse the memory of freed tensors instead of returning it to the
    system: torch's CPU allocator frees every activation after each step, glibc trims or
    unmaps it, and the next step's tensors fault their pages in again, zeroed by the kernel
    (1,300 page faults per bf16 CIFAR-10 VAE step, 4,100 in fp32: 5-10% of a step). Once per
    process, where the C library is glibc and ``GLIBC_TUNABLES`` does not set malloc itself;
    not under torchrun (``WORLD_SIZE`` set), where with it a gloo rank aborted at exit in 2 of
    6 runs ("terminate called without an active exception"), and in none of 8 without it.
    Returns whether it changed anything."""
    if (platform.libc_ver()[0] != "glibc" or "WORLD_SIZE" in os.environ
            or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "")):
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, HEAP_BLOCKS)
                and libc.mallopt(M_TRIM_THRESHOLD, HEAP_KEPT))


@functools.cache
def flush_denormals() -> bool:
    """Compute subnormal floats (below 1.2e-38 in fp32 and bf16) as zero on the CPU, where
    x86 handles them in microcode, many times slower than normal numbers. Adam's first moment
    of a weight whose gradient has turned zero (an MLP's weights on MNIST's always-blank
    border pixels, a dead ReLU unit's) decays by beta1 each step into that range: after two
    MNIST epochs an MLP VAE held 83,000 subnormal moments, and every epoch from the third took
    35% longer (3.1 -> 4.2 s). Values that small are far below any loss's or metric's
    resolution. Once per process (like ``torch.set_flush_denormal``, it stays set); returns
    whether the CPU supports it."""
    return bool(torch.set_flush_denormal(True))


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the objects alive at entry (torch's, the model's: hundreds of thousands) out of
    the garbage collector's scans for the block: the allocations of a training loop and of
    drawing curves trigger full collections at random moments, and each walks them all. On a
    3-epoch MNIST MLP VAE run the full collections took 0.10 s in all frozen, 0.17 s not.
    Cyclic garbage among the frozen objects waits until the block ends (``gc.unfreeze``). A
    caller's own freeze is left alone."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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
