"""Explorer latency: one decode (in process and over HTTP), then a load test.

Run by hand (not a test): ``.venv/bin/python benchmarks/bench_explore.py [RUN]``. Without RUN it
trains the demo's MNIST model (mlp VAE, 16-D latent) for one epoch on mnist-mini into a
temporary folder. It serves the run on a free local port, measures single-decode latency
(target: under 50 ms on a CPU), then runs 20 concurrent clients posting random codes to
``/api/runs/0/decode`` for 30 s and prints p50/p99 latency, throughput and the error count.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx2 as httpx
import torch

import genlab
from genlab.explore.app import create_app
from genlab.explore.server import serve_in_background
from genlab.explore.session import Explorer
from genlab.latent.ops import decode
from genlab.runs import open_run

TARGET_MS = 50.0


def demo_run(folder: Path) -> Path:
    out = folder / "vae"
    genlab.train({"model": {"name": "vae", "net": "mlp", "latent_dim": 16},
                  "data": {"dataset": "mnist-mini", "binarize": "dynamic"},
                  "train": {"epochs": 1, "progress": False, "device": "cpu"}}, out=out)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def single(url: str, state: Explorer, n: int = 200) -> None:
    """Median and p99 of one decode: the model call alone, and the whole HTTP request."""
    m = state.get(0).run.model
    z = torch.randn(1, m.latent_dim)
    model_ms = []
    for _ in range(n):
        start = time.perf_counter()
        decode(m, z)
        model_ms.append(1000 * (time.perf_counter() - start))
    http_ms = []
    with httpx.Client(base_url=url) as client:
        for _ in range(n):
            body = {"z": torch.randn(m.latent_dim).tolist()}
            start = time.perf_counter()
            client.post("/api/runs/0/decode", json=body).raise_for_status()
            http_ms.append(1000 * (time.perf_counter() - start))
    for name, ms in (("model decode", model_ms), ("HTTP decode request", http_ms)):
        p50 = statistics.median(ms)
        verdict = "ok" if p50 < TARGET_MS else "OVER TARGET"
        print(f"single {name}: p50 {p50:.2f} ms, p99 {percentile(ms, 0.99):.2f} ms "
              f"(target < {TARGET_MS:g} ms: {verdict})")


def load(url: str, latent_dim: int, clients: int, seconds: float) -> None:
    """``clients`` threads, each with its own connection, decoding as fast as answered."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client_loop(seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        mine, bad = [], []
        with httpx.Client(base_url=url, timeout=30) as client:
            while time.monotonic() < stop:
                body = {"z": torch.randn(latent_dim, generator=gen).tolist()}
                start = time.perf_counter()
                try:
                    r = client.post("/api/runs/0/decode", json=body)
                    if r.status_code != 200:
                        bad.append(f"HTTP {r.status_code}")
                except httpx.HTTPError as exc:
                    bad.append(type(exc).__name__)
                mine.append(1000 * (time.perf_counter() - start))
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"load: {clients} clients for {seconds:g} s: {len(latencies)} requests "
          f"({len(latencies) / seconds:.0f}/s), p50 {percentile(latencies, 0.5):.1f} ms, "
          f"p99 {percentile(latencies, 0.99):.1f} ms, errors {len(errors)}"
          + (f" ({', '.join(sorted(set(errors)))})" if errors else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", nargs="?", help="run directory (default: train a demo VAE)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.run) if args.run else demo_run(Path(tmp))
        state = Explorer([(str(path), open_run(path))])
        server = serve_in_background(create_app(state))
        print(f"serving {path} at {server.url}; torch threads {torch.get_num_threads()}")
        try:
            single(server.url, state)
            load(server.url, state.get(0).run.model.latent_dim, args.clients, args.seconds)
        finally:
            server.stop()
            state.close()


if __name__ == "__main__":
    main()
