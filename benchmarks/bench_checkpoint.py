"""Checkpoint read timings, run by hand: ``python benchmarks/bench_checkpoint.py``.

Writes a CIFAR-size training checkpoint (a DDPM U-Net for 3x32x32 images, its weights and
Adam's two moments) to a temp folder and prints the fastest of several reads: the tensors
alone (``safetensors.load_file``), their SHA-256 digest, and ``read_checkpoint`` (load, digest
check, finite-weights check), so the cost of the integrity checks is the difference.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench_data import best_of  # beside this file: run as a script
from safetensors.torch import load_file

from genlab.models.registry import build_model
from genlab.training.checkpoint import atomic_save, model_meta, non_finite, read_checkpoint
from genlab.training.components import weights_digest
from genlab.training.config import config_from_dict


def main() -> None:
    config = config_from_dict({"model": {"name": "ddpm"}})
    model = build_model(config.model, (3, 32, 32), 10)
    weights = model.state_dict()
    tensors = {f"model.{k}": v for k, v in weights.items()}
    for i, v in enumerate(weights.values()):  # Adam's moments, as a training checkpoint's
        tensors.update({f"optim.model.{i}.exp_avg": v.clone(),
                        f"optim.model.{i}.exp_avg_sq": v.clone()})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "last.safetensors"
        atomic_save(path, tensors, model_meta(model, config.to_dict()))
        loaded = load_file(str(path))
        print(f"checkpoint: {path.stat().st_size / 1e6:.1f} MB, {len(loaded)} tensors")
        for what, fn in [("load_file", lambda: load_file(str(path))),
                         ("weights_digest", lambda: weights_digest(loaded)),
                         ("non_finite", lambda: non_finite(loaded)),
                         ("read_checkpoint", lambda: read_checkpoint(path))]:
            print(f"{what:<16} {best_of(7, fn) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
