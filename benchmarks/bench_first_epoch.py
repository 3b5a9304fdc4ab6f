"""Every family's first epoch on mnist-mini with its defaults: measured beside its estimate.

Each family of the registry is trained for one epoch on the embedded mnist-mini with nothing
but its defaults (``{"model": {"name": FAMILY}}``), after the estimate the trainer prints
before a first epoch (``training.estimate``, the one ``genlab study --plan`` uses). The epoch
is timed as the estimate counts it: the training pass, the prior refit, validation and the
epoch's sample grid (a callback heard after the trainer's own, from the start of training to
the end of the first epoch); the training pass alone (``seconds`` of the epoch's row, what
``train.time_limit`` counts) is beside it. A family built on another run (``gmm-prior``,
``diffusion-prior``) gets a first stage trained here first: the VAE with its defaults, one
epoch (it is measured too, as the ``vae`` row). A family whose estimate is over
``--max-minutes`` is not trained (the row says so): on 2 CPU cores a default that takes an
hour an epoch is the finding, not something to wait for.

    OMP_NUM_THREADS=1 python benchmarks/bench_first_epoch.py [--families vae,ddpm] \
        [--max-minutes 10] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from genlab.errors import ConfigError
from genlab.models.core.callbacks import Callback, EpochEnd
from genlab.models.registry import MODELS, model_class
from genlab.training.config import config_from_dict
from genlab.training.estimate import Probe, duration
from genlab.training.trainer import Trainer


class FirstEpochClock(Callback):
    """Seconds from the start of training to the end of the first epoch (after the
    trainer's own callbacks: the sample grid included)."""

    name = "first_epoch_clock"

    def on_train_start(self, trainer: Any, resumed: bool) -> None:
        self.start, self.seconds = time.perf_counter(), 0.0

    def on_epoch_end(self, trainer: Any, epoch: EpochEnd) -> None:
        if not self.seconds:
            self.seconds = time.perf_counter() - self.start


def measure(family: str, run_dir: Path, max_minutes: float,
            first_stage: Path | None) -> dict[str, Any]:
    """One row: the family's estimate and, unless it is over ``max_minutes``, its epoch."""
    model: dict[str, Any] = {"name": family}
    if model_class(family).component_specs:
        model["first_stage"] = str(first_stage)
    try:
        config = config_from_dict({"model": model, "data": {"dataset": "mnist-mini"},
                                   "train": {"epochs": 1, "progress": False, "device": "cpu"}})
    except ConfigError as why:  # defaults that do not work on the data: the finding
        return {"family": family, "parameters": 0, "estimate_s": 0.0,
                "note": f"its defaults are refused: {why}"}
    clock = FirstEpochClock()
    trainer = Trainer(config, run_dir, callbacks=[clock])
    row: dict[str, Any] = {"family": family, "parameters": sum(
        p.numel() for p in trainer.model.parameters())}
    if trainer.model.closed_form:  # no estimate to make: its fit, timed
        start = time.perf_counter()
        trainer.run()
        return {**row, "estimate_s": 0.0, "epoch_s": time.perf_counter() - start,
                "note": "closed form: the fit, no epochs"}
    estimate: Probe = trainer.estimate_epoch()
    row["estimate_s"] = estimate.epoch_s
    if estimate.epoch_s > 60 * max_minutes:
        return {**row, "note": f"not trained: estimate over {max_minutes:g} min"}
    result = trainer.run()
    return {**row, "epoch_s": clock.seconds, "train_pass_s": result.history[0]["seconds"],
            "note": ""}


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the rows, the ratio measured / estimated beside each."""
    lines = ["| family | parameters | estimate | measured epoch | ratio | training pass | note |",
             "|---|---:|---:|---:|---:|---:|---|"]
    def seconds(value: float | None) -> str:
        return "" if value is None else f"{value:.1f} s"

    for r in rows:
        measured, estimate = r.get("epoch_s"), r["estimate_s"]
        ratio = f"{measured / estimate:.2f}" if measured and estimate else ""
        lines.append(f"| {r['family']} | {r['parameters']:,} | {estimate:.1f} s "
                     f"({duration(estimate)}) | {seconds(measured)} | {ratio} | "
                     f"{seconds(r.get('train_pass_s'))} | {r['note']} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", default=",".join(MODELS))
    p.add_argument("--max-minutes", type=float, default=10.0)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args()
    families = args.families.split(",")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-first-epoch-") as tmp:
        first_stage = Path(tmp) / "vae"
        needs_stage = any(model_class(f).component_specs for f in families)
        order = ["vae", *[f for f in families if f != "vae"]] if needs_stage else families
        for family in order:
            row = measure(family, Path(tmp) / family, args.max_minutes, first_stage)
            print(row, flush=True)
            if family in families:
                rows.append(row)
    when = datetime.date.today().isoformat()
    head = (f"# First epoch on mnist-mini, every family's defaults ({when})\n\n"
            f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch thread(s); the machine shared with other jobs.\n\n")
    path = Path(args.out) / f"bench_first_epoch_{when}.md"
    path.write_text(head + table(rows) + "\n")
    print(table(rows))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
