"""``genlab study CONFIG --out DIR``, ``genlab report RUN... --out report.html`` and
``genlab results DIR --out docs/results/NAME.md``.

Both call ``genlab.study.runner``: the study trains (or reuses, by config hash) each model,
evaluates it, runs the perturbations, interpolations and latent map and writes
``DIR/report.html``, ``results.json`` and ``results.csv``; the report does the same for runs
that already exist. Imports of torch and the study package happen in the handlers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from genlab.cli import common as arg
from genlab.cli.eval_cmds import DEVICE_HELP, add_evaluation_args
from genlab.errors import ConfigError

if TYPE_CHECKING:
    from genlab.study.config import StudyConfig
    from genlab.study.forecast import StudyForecast
    from genlab.study.runner import Executor

STUDY_EXAMPLES = """examples:
  genlab study configs/study_demo.yaml --seeds 0,1,2 --out runs/demo-seeds
  genlab study configs/study_demo.yaml --out runs/demo --plan
  genlab study configs/study_cifar10.yaml --data-dir ../shared/data --set train.epochs=1 \
      --out runs/cifar10-quick --device cuda
(--plan: the jobs and how long they will take, before anything trains; run the same command
again to continue a stopped study: finished runs and figures are reused)
"""
REPORT_EXAMPLES = """examples:
  genlab report runs/vae runs/pca runs/dcgan --out report.html
  genlab report runs/vae --metrics fid,confidence,believability -n 2000 --out vae.html
"""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _terminal() -> TextIO | None:
    """stderr where it is a terminal (the study then draws its live view there), else None:
    plain labelled lines."""
    return sys.stderr if sys.stderr.isatty() else None


def cmd_study(args: argparse.Namespace) -> int:
    from genlab.study.config import check_seeds, load_study
    from genlab.study.provenance import session
    from genlab.study.runner import Executor, run_study

    study, root = load_study(args.config)
    if args.seeds:
        study.seeds = check_seeds(args.seeds, "--seeds")
    if args.address and args.executor != "ray":
        raise ConfigError("--address is the Ray cluster of --executor ray")
    if args.workers and args.executor != "process":
        raise ConfigError("--workers is for --executor process (Ray places its tasks itself)")
    executor = Executor(args.executor, args.address, args.cpus_per_run, args.workers)
    _set_and_check_data(study, root, args)
    if args.plan:
        return cmd_plan(study, root, args, executor)
    with session(Path(args.out), ["genlab", *sys.argv[1:]]):
        result = run_study(study, root, Path(args.out), device=args.device,
                           data_dir=args.data_dir, log=_log, executor=executor,
                           live=_terminal())
    print(f"wrote {result.report}, {result.results_json} and {result.results_csv}")
    return 0


def _set_and_check_data(study: StudyConfig, root: Path, args: argparse.Namespace) -> None:
    """``--set`` over every model's run config, then each model's dataset looked for before
    anything is written (on a Ray cluster at ``--address`` the data is the cluster's)."""
    from genlab.study.config import check_data, check_overrides

    study.set = [*study.set, *check_overrides(args.set or [], "--set")]
    if not args.address:
        check_data(study, root, args.data_dir)


def cmd_plan(study: StudyConfig, root: Path, args: argparse.Namespace,
             executor: Executor) -> int:
    """``genlab study FILE --plan``: the jobs, what is done of each, their estimated training
    operations and seconds on this machine and the study's wall time; trains nothing and
    writes nothing into the study folder."""
    from genlab.study.forecast import forecast_jobs
    from genlab.study.pool import layout
    from genlab.study.runner import plan

    if executor.kind != "process":
        raise ConfigError("--plan estimates --executor process (Ray places its tasks itself)")
    jobs = plan(study, root, Path(args.out), args.device, args.data_dir)
    workers, threads = layout(jobs, executor.workers, executor.cpus_per_run)
    print("\n".join(plan_lines(forecast_jobs(jobs, args.data_dir, workers, threads))))
    return 0


def plan_lines(f: StudyForecast) -> list[str]:
    """The plan as a table: a row per job, the totals, the layout and the wall time."""
    from genlab.study.progress import duration

    rows = [("job", "seed", "family", "status", "training GFLOP", "training", "evaluation")]
    for j in f.jobs:
        status = f"partial ({j.epochs_done}/{j.job.config.train.epochs} epochs)" \
            if j.status == "partial" else j.status
        train = "?" if j.train_s is None else duration(j.train_s)
        rows.append((j.job.tag, str(j.job.seed), j.job.config.model.name, status,
                     f"{j.flops / 1e9:,.0f}", train, duration(j.eval_s)))
    rows.append(("total", "", "", "", f"{sum(j.flops for j in f.jobs) / 1e9:,.0f}",
                 duration(sum(j.train_s or 0.0 for j in f.jobs)),
                 duration(sum(j.eval_s for j in f.jobs))))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    notes = [f"{j.job.tag}: {j.note}" for j in f.jobs if j.note]
    layout = (f"{f.workers} worker processes at a time, {f.threads} torch thread(s) each"
              if f.workers > 1 else f"one run at a time in this process, {f.threads} "
              "torch thread(s)")
    return [*lines, *notes, f"{layout}; {duration(f.start_s)} to start",
            f"estimated wall time: {duration(f.wall_s)} (measured on this machine as loaded "
            "now; nothing was trained or written)"]


def cmd_report(args: argparse.Namespace) -> int:
    from genlab.study.config import (
        EvaluationSettings,
        FigureSettings,
        PerturbationSettings,
        StudySettings,
    )
    from genlab.study.runner import report_runs

    evaluation = EvaluationSettings(metrics=args.metrics, n=args.n, split=args.split,
                                    classifier=args.classifier,
                                    inception_weights=args.inception_weights,
                                    iw_samples=args.iw_samples,
                                    nll_images=args.nll_images, seed=args.seed)
    figures = FigureSettings(samples=args.samples, images=args.images)
    perturbations = PerturbationSettings(source_class=args.source_class,
                                         target_class=args.target_class, seed=args.seed,
                                         sigma_scale=args.sigma_scale,
                                         noise_mean=args.noise_mean)
    settings = StudySettings(evaluation=evaluation, perturbations=perturbations, figures=figures)
    path = report_runs(args.runs, Path(args.out), settings, title=args.title,
                       which=args.which, device=args.device, data_dir=args.data_dir, log=_log)
    print(f"wrote {path}")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from genlab.study.published import write_results_page

    print(f"wrote {write_results_page(args.dir, args.out, args.title)}")
    return 0


def _results_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("results", help="a study folder's results as a Markdown page",
                       description="Write the Markdown results page of a study folder (the "
                       "table, the classifier-confidence figure, every model's samples, the "
                       "commands, hardware and wall time), its PNGs in a folder beside it. "
                       "A study still running gives the models finished so far.",
                       epilog="examples:\n  genlab results runs/study-cifar10 --out "
                       "docs/results/cifar10.md\n  genlab results runs/demo --out demo.md "
                       "--title 'demo study'", formatter_class=arg.HelpFormatter)
    p.add_argument("dir", metavar="DIR", help="the study folder (genlab study --out DIR)")
    p.add_argument("--out", required=True, metavar="FILE", help="the Markdown page to write")
    p.add_argument("--title", default=None, help="page title (default: the study's name)")
    p.set_defaults(func=cmd_results)


def _study_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="train, evaluate and compare the models of a study",
                       description="Train (or reuse) every model listed in a study YAML, "
                       "evaluate each, run the latent perturbations and interpolations, and "
                       "write DIR/report.html (self-contained), results.json and results.csv.",
                       epilog=STUDY_EXAMPLES, formatter_class=arg.HelpFormatter)
    p.add_argument("config", metavar="CONFIG", help="study YAML (see configs/study_*.yaml)")
    p.add_argument("--out", required=True, metavar="DIR", help="study folder")
    p.add_argument("--device", type=arg.device, default=None,
                   help=f"{DEVICE_HELP}; default: each run config's train.device")
    p.add_argument("--data-dir", default=None, help="where datasets live (else $GENLAB_DATA)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a key of every model's run config, after the study's own "
                   "settings, e.g. --set data.dataset=folder:my-cifar --set train.epochs=1")
    p.add_argument("--seeds", type=arg.listed(arg.int_range(0)), default=None,
                   help="train every model once per seed (train.seed), e.g. 0,1,2; the table "
                   "then gives mean ± sd and 95%% intervals (default: the study's seeds)")
    p.add_argument("--executor", choices=["process", "ray"], default="process",
                   help="process: worker processes on this machine, as many runs at a time "
                   "as it has CPUs for; ray: every (model, seed) run as a Ray task (pip "
                   "install 'genlab[ray]')")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="the Ray cluster to use (ray start --head prints it); default: a "
                   "local Ray instance on this machine")
    p.add_argument("--workers", type=arg.int_range(1), default=None,
                   help="runs at a time of --executor process, e.g. 1 for one after another "
                   "in this process (default: one per CPU, up to the number of runs)")
    p.add_argument("--cpus-per-run", type=arg.int_range(1), default=None,
                   help="CPUs (torch threads) of each run, e.g. 2 to train one run at a time "
                   "on two cores (default: process, the CPUs shared out among the runs; "
                   "ray, 1)")
    p.add_argument("--plan", action="store_true",
                   help="print the jobs, what is done of each, their estimated training "
                   "operations and seconds on this machine (a short timed probe of each "
                   "model) and the study's wall time; trains and writes nothing")
    p.set_defaults(func=cmd_study)


def _report_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="the study page of runs that already exist",
                       description="Evaluate and draw existing runs and write one "
                       "self-contained HTML page comparing them (nothing else is written).",
                       epilog=REPORT_EXAMPLES, formatter_class=arg.HelpFormatter)
    arg.add_run_args(p, many=True)
    p.add_argument("--out", required=True, metavar="FILE", help="the HTML page to write")
    p.add_argument("--title", default="genlab report", help="page title")
    p.add_argument("--samples", type=arg.int_range(1, 400), default=64,
                   help="samples in each model's sample grid")
    p.add_argument("--images", type=arg.int_range(1, 32), default=8,
                   help="images per perturbation and reconstruction figure")
    p.add_argument("--source-class", default="0",
                   help="class (name or number) whose images move toward --target-class")
    p.add_argument("--target-class", default="1", help="the class they move toward")
    p.add_argument("--sigma-scale", choices=("absolute", "relative"), default="absolute",
                   help="the perturbation noise's σ in each model's code units, or in units of "
                        "each code dimension's sd (as genlab latent perturb --sigma-scale)")
    p.add_argument("--noise-mean", type=arg.real(), default=0.0, metavar="MU",
                   help="mean of the perturbation noise, in the same units (default 0)")
    add_evaluation_args(p)
    p.set_defaults(func=cmd_report)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``study``, ``report`` and ``results`` to the genlab parser."""
    _study_parser(sub)
    _report_parser(sub)
    _results_parser(sub)
