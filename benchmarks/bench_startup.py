"""Start-up timings of the ``genlab`` CLI, run by hand: ``python benchmarks/bench_startup.py``.

Each figure is the fastest of ``--repeats`` fresh interpreters (the least disturbed by other
load). Help is timed with a warm flag cache (``genlab train --help`` derives its flag table
once per change of the sources; that cold figure is printed too). A command's start-up is
timed on a call that fails right after the command's imports (a run that does not exist), in
an interpreter that imported torch first and times the two parts apart: what a command costs
beyond torch is its own doing.
Targets: ``genlab --help`` and ``genlab train --help`` under 0.5 s; start-up beyond ``import
torch`` under 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from genlab.version import __version__

HELP = [["--help"], ["train", "--help"], ["sample", "--help"], ["latent", "--help"],
        ["latent", "interpolate", "--help"]]
COMMANDS = [  # each fails at its first real step, after importing what it needs
    ["datasets", "--data-dir", "no-such-dir"],
    ["models"],
    ["show-data", "no-such-data", "--out", "x.png"],
    ["train", "vae", "--resume", "no-such-run"],
    ["sample", "no-such-run", "--out", "x.png"],
    ["reconstruct", "no-such-run", "--out", "x.png"],
    ["latent", "perturb", "no-such-run", "--out", "x"],
]
IMPORTS = ["torch", "sklearn.decomposition", "matplotlib.figure"]
SPLIT = """import sys, time
start = time.perf_counter()
import torch
torch_s = time.perf_counter() - start
from genlab.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(torch_s, time.perf_counter() - start - torch_s)
"""


def seconds(argv: list[str], repeats: int, env: dict[str, str]) -> float:
    """Fastest wall time of ``argv`` in a fresh process."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def split_seconds(args: list[str], repeats: int, env: dict[str, str]) -> tuple[float, float]:
    """Fastest ``import torch`` and fastest rest of ``genlab ARGS``, timed in one process."""
    runs = [subprocess.run([sys.executable, "-c", SPLIT, *args], env=env, capture_output=True,
                           text=True, check=True).stdout.split()[-2:] for _ in range(repeats)]
    return min(float(t) for t, _ in runs), min(float(r) for _, r in runs)


def genlab(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "genlab", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "GENLAB_CACHE": cache}
        os.chdir(cache)
        python = seconds([sys.executable, "-c", "pass"], repeats, env)
        print(f"{'python -c pass':<42} {python:6.2f} s")
        imports = {m: seconds([sys.executable, "-c", f"import {m}"], repeats, env) for m in IMPORTS}
        for module, t in imports.items():
            print(f"{'import ' + module:<42} {t:6.2f} s")
        cold = seconds(genlab(["train", "--help"]), 1, env)
        print(f"{'genlab train --help (cold flag cache)':<42} {cold:6.2f} s")
        for args in HELP:
            t = seconds(genlab(args), repeats, env)
            target = "  (target < 0.5 s)" if args in (["--help"], ["train", "--help"]) else ""
            print(f"{'genlab ' + ' '.join(args):<42} {t:6.2f} s{target}")
        print(f"\n{'command start-up':<42} {'torch':>6}   beyond torch (target < 0.3 s)")
        for args in COMMANDS:
            torch_s, rest = split_seconds(args, repeats, env)
            print(f"{'genlab ' + ' '.join(args[:2]):<42} {torch_s:6.2f} s {rest:6.2f} s")
    print(f"\n(genlab {__version__}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f})")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set, so every start compiles genlab's sources "
              "(about 0.2 s more than a normal install); unset it for representative figures")


if __name__ == "__main__":
    main()
