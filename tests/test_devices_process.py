"""genlab.devices, the process kept fast for training: a CPU device computes subnormal floats
as zero (flush_denormals; checked in a fresh interpreter, since the setting is per process and
stays set), and a run keeps its set-up's objects out of the garbage collector (frozen_heap)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest
import torch

from genlab.devices import frozen_heap

PRODUCT = """
import sys, torch
from genlab.devices import flush_denormals, resolve_device
if sys.argv[1] == "cpu":
    resolve_device("cpu")
tiny = torch.tensor([1e-20, 3e-20])  # their products, ~1e-40, are subnormal in fp32 and bf16
print(float((tiny * tiny).sum()), float((tiny.bfloat16() * tiny.bfloat16()).float().sum()))
print(float(torch.tensor([1e-30]) * 1e-10 * 1e30))  # a subnormal input reads as zero too
if sys.argv[1] == "cpu":
    print(flush_denormals())  # cached by now: whether the CPU supports it
"""


def _python(*args: str) -> list[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", PRODUCT, *args], capture_output=True,
                          text=True, env=env, check=True)
    return done.stdout.split()


def test_a_cpu_device_computes_subnormal_floats_as_zero():
    plain = [float(v) for v in _python("none")]
    assert plain[0] > 0 and plain[1] > 0 and plain[2] > 0  # subnormals kept by default
    *flushed, supported = _python("cpu")
    if supported != "True":
        pytest.skip("this CPU has no flush-to-zero mode that torch can set")
    assert [float(v) for v in flushed] == [0.0, 0.0, 0.0]


def test_normal_numbers_are_untouched():
    """The smallest normal fp32 number survives; only the subnormal range is flushed."""
    tiny = torch.finfo(torch.float32).tiny
    done = subprocess.run(
        [sys.executable, "-c", "import torch; from genlab.devices import resolve_device; "
         f"resolve_device('cpu'); print(float(torch.tensor([{tiny!r}]) * 2))"],
        capture_output=True, text=True, check=True)
    assert float(done.stdout) == tiny * 2


def test_a_frozen_heap_scans_only_new_objects_and_thaws_after():
    """Counts of frozen objects only shrink inside the block (a frozen object that dies leaves
    the count): each check is an inequality, which 10,000 wrongly frozen objects would break."""
    assert gc.get_freeze_count() == 0
    with frozen_heap():  # the test process's objects, alive at entry, are frozen
        frozen = gc.get_freeze_count()
        assert frozen > 10_000
        made = [[] for _ in range(10_000)]  # containers made inside: not frozen
        with frozen_heap():  # a nested run neither freezes them nor thaws the outer freeze
            assert 0 < gc.get_freeze_count() <= frozen
        assert 0 < gc.get_freeze_count() <= frozen
        del made
    assert gc.get_freeze_count() == 0


def test_a_callers_own_freeze_is_left_alone():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        made = [[] for _ in range(10_000)]
        with frozen_heap():  # neither freezes what was made since nor thaws on leaving
            assert 0 < gc.get_freeze_count() <= frozen
        assert 0 < gc.get_freeze_count() <= frozen
        del made
    finally:
        gc.unfreeze()
