"""``genlab evaluate`` and ``genlab classifier train`` on a parser built here (the lead wires
``eval_cmds.register`` into ``genlab.cli.main``)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from genlab.cli import eval_cmds


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genlab")
    sub = p.add_subparsers()
    eval_cmds.register(sub)
    return p


def _run(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return args.func(args)


def test_evaluate_writes_json_per_run_and_prints_a_table(runs, tiny_classifier, capsys) -> None:
    code = _run("evaluate", runs["vae"], runs["mean"], "--metrics", "nll,recon,fid", "-n", "50",
                "--nll-images", "8", "-k", "20", "--classifier", str(tiny_classifier))
    assert code == 0
    out = capsys.readouterr().out
    vae = json.loads((Path(runs["vae"]) / "evaluation.json").read_text())
    assert set(vae["metrics"]) == {"nll", "recon", "fid"} and vae["n"] == 50
    mean = json.loads((Path(runs["mean"]) / "evaluation.json").read_text())
    assert "nll" in mean["skipped"]
    header = next(line for line in out.splitlines() if line.startswith("run "))
    assert header.split() == ["run", "nll_nats", "nll_bpd", "nll_8bit_bpd", "neg_elbo_nats",
                              "mse", "psnr_db", "fid"]
    row = next(line for line in out.splitlines() if line.startswith(runs["mean"] + " "))
    assert row.split()[1:5] == ["-", "-", "-", "-"]
    assert f"{runs['mean']}: skipped nll:" in out


def test_a_checkpoint_file_writes_beside_its_run(runs, tiny_classifier) -> None:
    checkpoint = Path(runs["pca"]) / "checkpoints" / "best.safetensors"
    assert _run("evaluate", str(checkpoint), "--metrics", "recon", "-n", "20") == 0
    assert (Path(runs["pca"]) / "evaluation.json").is_file()


@pytest.mark.parametrize("argv", [["evaluate", "r", "--metrics", "fid,nope"],
                                  ["evaluate", "r", "-n", "1"], ["evaluate"],
                                  ["classifier", "train", "--out", "x"]])
def test_bad_arguments_exit_2(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(argv)
    assert exc.value.code == 2


def test_help_shows_two_examples_each() -> None:
    p = _parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    evaluate = sub.choices["evaluate"].format_help()
    assert evaluate.count("\n  genlab evaluate ") == 2 and "--metrics" in evaluate
    classifier = sub.choices["classifier"].format_help()
    assert classifier.count("\n  genlab classifier train ") == 2


def test_the_module_imports_no_torch() -> None:
    code = "import sys, genlab.cli.eval_cmds; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_classifier_train_writes_weights_and_record(tmp_path, capsys) -> None:
    out = tmp_path / "mini.safetensors"
    assert _run("classifier", "train", "--dataset", "mnist-mini", "--epochs", "1", "--widths",
                "8,16", "--threads", "1", "--out", str(out)) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["dataset"] == "mnist-mini" and record["train_images"] == 10_000
    assert record["training"]["widths"] == [8, 16] and record["test_accuracy"] > 0.5
    assert f"test accuracy {record['test_accuracy']:.4f}" in capsys.readouterr().out
