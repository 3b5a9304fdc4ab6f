"""Data parallelism under ``torchrun``: gloo on CPU, nccl on CUDA.

genlab averages gradients with one flat all-reduce per optimiser step and broadcasts buffers
(BatchNorm statistics) from rank 0 each epoch: the same arithmetic as DistributedDataParallel,
but it works for any ``objectives()`` plan, including adversarial ones that update parameter
groups in turn and run parts of the model without gradients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: torch.device) -> DistInfo:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), device)


def average_gradients(params: list[nn.Parameter], info: DistInfo) -> None:
    grads = [p.grad for p in params if p.grad is not None]
    if not info.enabled or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_buffers(model: nn.Module, info: DistInfo) -> None:
    if info.enabled:
        for buf in model.buffers():
            dist.broadcast(buf, 0)


def broadcast_float(value: float, info: DistInfo) -> float:
    """Rank 0's value everywhere, so every rank takes the same early-stopping decision."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=info.device)
    dist.broadcast(t, 0)
    return float(t.item())


def gather_checksums(model: nn.Module, info: DistInfo) -> list[float]:
    """Each rank's parameter checksum; equal values show the ranks stayed in sync."""
    total = sum(float(p.detach().double().sum()) for p in model.parameters())
    if not info.enabled:
        return [total]
    out = [torch.zeros(1, dtype=torch.float64, device=info.device) for _ in range(info.world_size)]
    dist.all_gather(out, torch.tensor([total], dtype=torch.float64, device=info.device))
    return [float(t.item()) for t in out]


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
