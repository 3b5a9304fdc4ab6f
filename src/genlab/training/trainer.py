"""One trainer for every family: closed-form fits and gradient training alike.

Each iteration steps the model's ``objectives()`` in turn, each with its own optimiser, so
adversarial models reuse this loop. A checkpoint is written atomically after every epoch and
resuming restores weights, optimisers, schedulers and every RNG, so on CPU a killed-and-resumed
run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from genlab.data import (
    BatchIterator,
    ImageDataset,
    binarize_dynamic,
    binarize_static,
    binarize_threshold,
    load_dataset,
    to_float,
)
from genlab.data.prepare import eval_seed
from genlab.devices import resolve_device
from genlab.errors import CheckpointError, ConfigError, TrainingDivergedError
from genlab.io import atomic_write
from genlab.models.base import Batch, GenerativeModel, LossOutput
from genlab.models.registry import build_model
from genlab.report.curves import plot_curves
from genlab.training import distributed
from genlab.training.checkpoint import (
    Checkpoint,
    atomic_save,
    load_weights,
    model_meta,
    optimizer_state,
    read_checkpoint,
    restore_optimizer,
)
from genlab.training.config import RunConfig, config_from_dict, load_config, save_config

PRIOR_FIT_IMAGES = 10_000


@dataclass
class RunResult:
    """What a finished (or resumed-and-finished) run returns to the Python API."""

    run_dir: Path
    model: GenerativeModel
    history: list[dict[str, Any]]
    best_epoch: int
    stopped_early: bool
    summary: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Owns one run directory: config.yaml, metrics.jsonl/csv, curves.png, checkpoints/."""

    def __init__(self, config: RunConfig, run_dir: Path, resume: bool = False):
        self.config = config
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.device = resolve_device(config.train.device)
        if self.device.type == "cuda" and "LOCAL_RANK" in os.environ:
            self.device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        self.dist = distributed.setup(self.device)
        self._check_run_dir(resume)
        torch.manual_seed(config.train.seed)
        self.data = self._load_data()
        self.model = build_model(config.model, self.data.shape, self.data.num_classes).to(
            self.device
        )
        # Same initial weights on every rank; different reparameterisation noise per rank.
        torch.manual_seed(config.train.seed + 1000 * self.dist.rank)
        self.shuffle_gen = torch.Generator().manual_seed(config.train.seed)
        self.binarize_gen = torch.Generator().manual_seed(config.train.seed + 1)
        self.history: list[dict[str, Any]] = []
        self.epoch = 0
        self.step = 0
        self.best_val = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.stopped_early = False

    # --- setup --------------------------------------------------------------------------
    def _check_run_dir(self, resume: bool) -> None:
        last = self.ckpt_dir / "last.safetensors"
        if resume and not last.exists():
            raise CheckpointError(f"cannot resume: {last} does not exist")
        if resume and self.dist.is_main:
            for stale in self.ckpt_dir.glob(".*.tmp"):  # left by a run killed mid-write
                stale.unlink()
        if not resume and last.exists():
            raise ConfigError(
                f"{self.run_dir} already holds a run; "
                "resume it with --resume or choose another --out"
            )

    def _load_data(self) -> ImageDataset:
        cfg = self.config.data
        ds = load_dataset(
            cfg.dataset,
            data_dir=cfg.data_dir,
            val_size=cfg.val_size,
            split_seed=cfg.split_seed,
            size=cfg.size,
            download=cfg.download,
        )
        train = ds.split(cfg.train_split)
        self.train_images, self.train_labels = train.images, train.labels
        eval_split = "val" if "val" in ds.splits else "test"
        self.eval_split = eval_split
        val = ds.split(eval_split)
        self.val_images, self.val_labels = val.images, val.labels
        if cfg.binarize == "static":
            self.train_images = binarize_static(self.train_images, seed=cfg.split_seed)
        if cfg.binarize in ("static", "dynamic"):
            # A fixed draw keeps validation numbers comparable between epochs.
            self.val_images = binarize_static(self.val_images, seed=eval_seed(cfg.split_seed))
        return ds

    def prepare(self, images: Tensor, labels: Tensor, train: bool) -> Batch:
        """uint8 slice -> float batch on the device, binarised as the data config says."""
        x = to_float(images)
        mode = self.config.data.binarize
        if mode == "dynamic" and train:
            x = binarize_dynamic(x, self.binarize_gen)
        elif mode == "threshold":
            x = binarize_threshold(x)
        return Batch(x.to(self.device, non_blocking=True), labels.to(self.device))

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        cfg = self.config.train
        opts: dict[str, torch.optim.Optimizer] = {}
        for name, params in self.model.param_groups().items():
            if cfg.optimizer == "adam":
                opts[name] = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
            elif cfg.optimizer == "adamw":
                opts[name] = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
            else:
                opts[name] = torch.optim.SGD(
                    params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay
                )
        return opts

    def _schedulers(self, opts: dict[str, torch.optim.Optimizer], steps_per_epoch: int) -> dict:
        cfg = self.config.train
        total = max(cfg.epochs * steps_per_epoch, 1)
        floor = cfg.lr_final / cfg.lr if cfg.lr > 0 else 0.0

        def factor(step: int) -> float:
            t = min(step / total, 1.0)
            if cfg.schedule == "linear":
                return 1.0 + (floor - 1.0) * t
            if cfg.schedule == "cosine":
                return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))
            return 1.0

        return {k: torch.optim.lr_scheduler.LambdaLR(o, factor) for k, o in opts.items()}

    # --- the run ------------------------------------------------------------------------
    def run(self, resume: bool = False) -> RunResult:
        try:
            return self._run(resume)
        finally:
            distributed.teardown(self.dist)

    def _run(self, resume: bool) -> RunResult:
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        if self.model.closed_form:
            self._fit_closed_form()
        else:
            self._fit_gradient(resume)
        summary = self._summary(time.perf_counter() - start)
        if self.dist.is_main:
            with atomic_write(self.run_dir / "summary.json") as fh:
                fh.write(json.dumps(summary, indent=2).encode())
        self.model.eval()
        return RunResult(
            self.run_dir, self.model, self.history, self.best_epoch, self.stopped_early, summary
        )

    def _fit_closed_form(self) -> None:
        batch = self.prepare(self.train_images, self.train_labels, train=False)
        with torch.no_grad():
            fitted = self.model.fit(batch.x, batch.y)
        self.epoch = self.best_epoch = 1
        row = {"epoch": 1, "step": 0, **{f"fit/{k}": v for k, v in fitted.items()}}
        row.update(
            {
                f"train/{k}": v
                for k, v in self.evaluate(self.train_images, self.train_labels).items()
            }
        )
        row.update(
            {f"val/{k}": v for k, v in self.evaluate(self.val_images, self.val_labels).items()}
        )
        self.history.append(row)
        self.best_val = row["val/loss"]
        # Fitting may resolve options (PCA's number of components): save the resolved config.
        self._save(best=True, opts={}, scheds={})

    def _fit_gradient(self, resume: bool) -> None:
        cfg = self.config.train
        batches = BatchIterator(
            self.train_images,
            self.train_labels,
            batch_size=cfg.batch_size,
            shuffle=True,
            generator=self.shuffle_gen,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
        )
        opts = self._optimizers()
        scheds = self._schedulers(opts, len(batches))
        groups = self.model.param_groups()
        if resume:
            self._restore(read_checkpoint(self.ckpt_dir / "last.safetensors"), opts, scheds)
        elif self.dist.is_main:
            save_config(self.config, self.run_dir / "config.yaml")
        plan = [(p.name, p.objective) for p in self.model.players()]
        started = time.perf_counter()
        while self.epoch < cfg.epochs and not self.stopped_early:
            if cfg.time_limit > 0 and time.perf_counter() - started > 60 * cfg.time_limit:
                break
            epoch = self.epoch + 1
            self.model.train()
            sums: dict[str, Tensor] = {}
            seen = 0
            t0 = time.perf_counter()
            bar = tqdm(
                batches,
                desc=f"epoch {epoch}/{cfg.epochs}",
                leave=False,
                unit="batch",
                # None: tqdm hides itself when stderr is not a terminal (CI logs, files)
                disable=None if cfg.progress and self.dist.is_main else True,
            )
            for images, labels in bar:
                batch = self.prepare(images, labels, train=True)
                self.step += 1
                for name, objective in plan:
                    out = objective(batch)
                    self._check_finite(out, epoch, name)
                    opts[name].zero_grad(set_to_none=True)
                    out.total.backward()
                    distributed.average_gradients(groups[name], self.dist)
                    if cfg.clip_grad > 0:
                        torch.nn.utils.clip_grad_norm_(groups[name], cfg.clip_grad)
                    opts[name].step()
                    scheds[name].step()
                    self._accumulate(sums, out, name, len(plan), batch.x.shape[0])
                seen += batch.x.shape[0]
                if self.step % 20 == 0:
                    bar.set_postfix(loss=f"{float(sums['loss']) / seen:.4g}")
            distributed.broadcast_buffers(self.model, self.dist)
            self.model.fit_prior(*self._prior_subset())
            row = {
                "epoch": epoch,
                "step": self.step,
                "seconds": time.perf_counter() - t0,
                "lr": scheds[plan[0][0]].get_last_lr()[0],
            }
            row.update({f"train/{k}": float(v) / seen for k, v in sums.items()})
            row.update(
                {f"val/{k}": v for k, v in self.evaluate(self.val_images, self.val_labels).items()}
            )
            self.epoch = epoch
            self.history.append(row)
            val = distributed.broadcast_float(row["val/loss"], self.dist)
            improved = val < self.best_val
            if improved:
                self.best_val, self.best_epoch, self.bad_epochs = val, epoch, 0
            else:
                self.bad_epochs += 1
                self.stopped_early = 0 < cfg.patience <= self.bad_epochs
            self._save(best=improved, opts=opts, scheds=scheds)
            if cfg.progress and self.dist.is_main:
                tqdm.write(self._epoch_line(row))

    @staticmethod
    def _accumulate(
        sums: dict[str, Tensor], out: LossOutput, name: str, n_obj: int, n: int
    ) -> None:
        key = "loss" if n_obj == 1 else f"loss.{name}"
        items = {key: out.total, **out.terms}
        if n_obj > 1:
            sums["loss"] = sums.get("loss", 0) + out.total.detach() * n
        for k, v in items.items():
            sums[k] = sums.get(k, 0) + v.detach() * n

    def _check_finite(self, out: LossOutput, epoch: int, objective: str) -> None:
        if bool(torch.isfinite(out.total)):
            return
        bad = [k for k, v in out.terms.items() if not bool(torch.isfinite(v).all())] or ["total"]
        last = self.ckpt_dir / "last.safetensors"
        kept = (
            f"the last good checkpoint {last} (epoch {self.epoch}) is untouched"
            if last.exists()
            else "no checkpoint had been written yet"
        )
        raise TrainingDivergedError(
            f"loss is {float(out.total.detach())} at epoch {epoch}, step {self.step} "
            f"(objective {objective!r}, term {bad[0]!r}); {kept}. "
            "Try a lower train.lr, train.clip_grad, or another likelihood."
        )

    def _prior_subset(self) -> tuple[Tensor, Tensor]:
        n = min(PRIOR_FIT_IMAGES, len(self.train_labels))
        batch = self.prepare(self.train_images[:n], self.train_labels[:n], train=False)
        return batch.x, batch.y

    @torch.no_grad()
    def evaluate(self, images: Tensor, labels: Tensor) -> dict[str, float]:
        """Mean of every objective's total and terms over a split, in eval mode.

        Runs under a forked RNG with a fixed seed: every epoch sees the same posterior noise
        (so validation curves and early stopping compare like with like), and the training
        random stream is left exactly where it was."""
        was_training = self.model.training
        self.model.eval()
        sums: dict[str, Tensor] = {}
        plan = [(p.name, p.objective) for p in self.model.players()]
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(self.config.train.seed + 7919)
            for start in range(0, len(labels), self.config.train.eval_batch_size):
                stop = start + self.config.train.eval_batch_size
                batch = self.prepare(images[start:stop], labels[start:stop], train=False)
                for name, objective in plan:
                    self._accumulate(sums, objective(batch), name, len(plan), batch.x.shape[0])
        self.model.train(was_training)
        return {k: float(v) / len(labels) for k, v in sums.items()}

    # --- persistence --------------------------------------------------------------------
    def _save(self, best: bool, opts: dict, scheds: dict) -> None:
        if not self.dist.is_main:
            return
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        optim_meta = {}
        for name, opt in opts.items():
            t, m = optimizer_state(name, opt)
            tensors.update(t)
            optim_meta[name] = m
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.shuffle"] = self.shuffle_gen.get_state()
        tensors["rng.binarize"] = self.binarize_gen.get_state()
        meta = model_meta(self.model, self.config.to_dict())
        meta.update(
            epoch=self.epoch,
            step=self.step,
            best_val=self.best_val,
            best_epoch=self.best_epoch,
            bad_epochs=self.bad_epochs,
            stopped_early=self.stopped_early,
            history=self.history,
            optimizers=optim_meta,
            schedulers={k: s.state_dict() for k, s in scheds.items()},
        )
        if self.model.closed_form:
            save_config(self.config, self.run_dir / "config.yaml")
        names = ["last", "best"] if best else ["last"]
        atomic_save([self.ckpt_dir / f"{n}.safetensors" for n in names], tensors, meta)
        self._write_metrics()

    def _restore(self, ckpt: Checkpoint, opts: dict, scheds: dict) -> None:
        source = self.ckpt_dir / "last.safetensors"
        saved = ckpt.meta["config"]
        if saved["model"] != self.config.to_dict()["model"]:
            diff = sorted(
                k
                for k in saved["model"]
                if saved["model"][k] != getattr(self.config.model, k, None)
            )
            raise CheckpointError(
                f"{source} was trained with another model config (differs in model.{diff[0]})"
            )
        load_weights(self.model, ckpt.section("model"), source)
        for name, opt in opts.items():
            restore_optimizer(ckpt, name, opt)
        for name, sched in scheds.items():
            sched.load_state_dict(ckpt.meta["schedulers"][name])
        torch.set_rng_state(ckpt.tensors["rng.torch"])
        self.shuffle_gen.set_state(ckpt.tensors["rng.shuffle"])
        self.binarize_gen.set_state(ckpt.tensors["rng.binarize"])
        meta = ckpt.meta
        self.epoch, self.step = meta["epoch"], meta["step"]
        self.best_val, self.best_epoch = meta["best_val"], meta["best_epoch"]
        self.bad_epochs, self.stopped_early = meta["bad_epochs"], meta["stopped_early"]
        self.history = list(meta["history"])
        if self.dist.is_main:
            save_config(self.config, self.run_dir / "config.yaml")
            self._write_metrics()

    def _write_metrics(self) -> None:
        """metrics.jsonl and metrics.csv are rewritten from the checkpointed history, so a resumed
        run never holds rows of an epoch that was lost."""
        lines = "".join(json.dumps(row) + "\n" for row in self.history)
        keys = list(dict.fromkeys(k for row in self.history for k in row))
        csv = (
            ",".join(keys)
            + "\n"
            + "".join(",".join(str(row.get(k, "")) for k in keys) + "\n" for row in self.history)
        )
        for name, text in (("metrics.jsonl", lines), ("metrics.csv", csv)):
            with atomic_write(self.run_dir / name) as fh:
                fh.write(text.encode())
        plot_curves(self.history, self.run_dir / "curves.png", title=self.config.model.name)

    def _epoch_line(self, row: dict[str, Any]) -> str:
        parts = [f"epoch {row['epoch']}"]
        parts += [f"{k} {v:.4g}" for k, v in row.items() if "/" in k]
        return "  ".join(parts) + f"  ({row['seconds']:.1f}s)"

    def _summary(self, seconds: float) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        return {
            "model": self.config.model.name,
            "dataset": self.config.data.dataset,
            "eval_split": self.eval_split,
            "epochs_run": self.epoch,
            "best_epoch": self.best_epoch,
            "best_val_loss": self.best_val,
            "stopped_early": self.stopped_early,
            "seconds": seconds,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "final": last,
            "world_size": self.dist.world_size,
            "rank_checksums": distributed.gather_checksums(self.model, self.dist),
        }


def train(
    config: RunConfig | dict[str, Any] | str | Path,
    out: str | Path | None = None,
    resume: bool = False,
) -> RunResult:
    """Train (or resume) a run. ``config`` is a RunConfig, a nested dict, or a YAML path."""
    if isinstance(config, str | Path):
        config = load_config(config)
    elif isinstance(config, dict):
        config = config_from_dict(config)
    run_dir = Path(out or config.out or Path("runs") / config.model.name)
    config.out = str(run_dir)
    return Trainer(config, run_dir, resume=resume).run(resume=resume)
