"""``genlab evaluate`` and ``genlab classifier train`` on a parser built here (the lead wires
``eval_cmds.register`` into ``genlab.cli.main``)."""

from __future__ import annotations

import argparse
import itertools
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
    assert header.split() == ["run", "scale", "nll_nats", "neg_elbo_nats", "mse", "psnr_db",
                              "fid"]
    at = header.index("scale")
    row = next(line for line in out.splitlines() if line.startswith(runs["vae"] + " "))
    assert row[at:].startswith("discrete, binarisation dynamic  ")
    row = next(line for line in out.splitlines() if line.startswith(runs["mean"] + " "))
    assert row[at:].split()[:3] == ["-", "-", "-"]
    assert f"{runs['mean']}: skipped nll:" in out


def _result(scale: str, **nll: float) -> dict:
    return {"metrics": {"nll": {"scale": scale, **nll}, "fid": {"fid": 9.0}}, "skipped": {}}


def test_the_table_prints_the_scale_beside_each_likelihood() -> None:
    """A flow's density, a binarised likelihood and a cross-entropy: each run's likelihood
    under the headlines shown on its scale, the scale beside them."""
    text = eval_cmds.format_table([
        ("flow", _result("density, binarisation none, 8-bit dequantised", nll_nats=-3441.0,
                         nll_8bit_bpd=1.668)),
        ("cvae", _result("discrete, binarisation dynamic", nll_nats=88.03,
                         neg_elbo_nats=93.5)),
        ("bernoulli", _result("cross-entropy, binarisation none", nll_nats=-20.5))])
    header, *lines = text.splitlines()
    names = ["run", "scale", "nll_8bit_bpd", "neg_elbo_8bit_bpd", "nll_nats", "neg_elbo_nats",
             "fid"]
    assert header.split() == names
    starts = [header.index(n) for n in names] + [None]
    cells = [[line[a:b].strip() for a, b in itertools.pairwise(starts)]
             for line in lines]
    assert cells == [["flow", "8-bit pixels", "1.668", "-", "-", "-", "9"],
                     ["cvae", "discrete, binarisation dynamic", "-", "-", "88.03", "93.5", "9"],
                     ["bernoulli", "cross-entropy, binarisation none", "-", "-", "-20.5", "-",
                      "9"]]
    assert "-3441" not in text  # a density's nats: its 8-bit bits/dim is what compares


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
