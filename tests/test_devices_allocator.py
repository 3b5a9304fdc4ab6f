"""genlab.devices: the CPU allocator keeps freed tensor memory for the next step's tensors.

Each check runs in a fresh interpreter: the setting is per process and applies once."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="the allocator setting is glibc's (Linux)")

FAULTS = """
import resource, sys, torch
from genlab.devices import resolve_device
if sys.argv[1] == "tuned":
    resolve_device("cpu")
def step():  # a training step's activations: 20 tensors of 4 MiB, written, then all freed
    xs = [torch.ones(1 << 20) for _ in range(20)]
    del xs
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def _python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    """``code``'s output in a fresh interpreter, under no malloc tunables but ``env``'s."""
    clean = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "WORLD_SIZE")}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**clean, "OMP_NUM_THREADS": "1", **(env or {})}, check=True)
    return done.stdout.strip()


def test_a_cpu_device_reuses_freed_memory_instead_of_faulting_it_in_again():
    untuned, tuned = (float(_python(FAULTS, which)) for which in ("plain", "tuned"))
    pages = 20 * (4 << 20) // 4096
    assert tuned < pages / 10 and tuned < untuned / 3, (tuned, untuned)


def test_a_malloc_setting_of_the_users_own_or_torchrun_is_left_alone():
    code = "from genlab.devices import keep_freed_memory; print(keep_freed_memory())"
    assert _python(code) == "True"
    mine = {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1048576"}
    assert _python(code, env=mine) == "False"
    assert _python(code, env={"WORLD_SIZE": "2"}) == "False"
