"""One validation path for every argument, help that shows defaults, choices and examples that
parse, and a start-up that loads nothing heavy before a command needs it."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from genlab.cli import common, train_flags
from genlab.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "matplotlib", "sklearn", "scipy", "PIL", "numpy", "yaml")


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (common.positive_int, "3", 3),
        (common.non_negative_int, "0", 0),
        (common.seed, str(2**32 - 1), 2**32 - 1),
        (common.fraction, "0.25", 0.25),
        (common.positive, "1e-3", 1e-3),
        (common.int_list, "1, 2,3", [1, 2, 3]),
        (common.index_list, "3,17,40-44", [3, 17, 40, 41, 42, 43, 44]),
        (common.index_list, "0-999", list(range(1000))),
        (common.index_list, " 7 , 2-2", [7, 2]),
        (common.float_list, "0,-0.5", [0.0, -0.5]),
        (common.name_list, "horse, bird", ["horse", "bird"]),
        (common.device, "cuda:1", "cuda:1"),
    ],
)
def test_types_accept(parse, text, value) -> None:
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text", "expects"),
    [
        (common.positive_int, "-5", "a positive integer"),
        (common.positive_int, "1.5", "a positive integer"),
        (common.non_negative_int, "1" * 5000, "a non-negative integer"),
        (common.int_range(2, 9), "10", "an integer from 2 to 9"),
        (common.seed, str(2**32), "an integer from 0 to 4,294,967,295"),
        (common.fraction, "nan", "a number from 0 to 1"),
        (common.positive, "0", "a number > 0"),
        (common.real(), "inf", "a finite number"),
        (common.int_list, ",", "comma-separated values, each a non-negative integer"),
        (common.int_list, "1,-2", "comma-separated values, each a non-negative integer"),
        (common.index_list, "5-3", r"indices and ranges such as 3,17,40-49 \(.*\)"),
        (common.index_list, "1-", r"indices and ranges such as 3,17,40-49 \(.*\)"),
        (common.index_list, "-3", r"indices and ranges such as 3,17,40-49 \(.*\)"),
        (common.index_list, "1-2-3", r"indices and ranges such as 3,17,40-49 \(.*\)"),
        (common.index_list, "a-b", r"indices and ranges such as 3,17,40-49 \(.*\)"),
        (common.index_list, "1_0", r"indices and ranges such as 3,17,40-49 \(.*\)"),
        (common.index_list, ",", "indices such as 3,17,40-49"),
        (common.index_list, "0-999999,5-6", r"indices .*at most 1,000,000 in all\)"),
        (common.device, "gpu", "auto, cpu, mps, cuda or cuda:N"),
    ],
)
def test_types_say_what_they_expect(parse, text, expects) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"expects {expects}, got"):
        parse(text)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["sample", "run", "-n", "-5", "--out", "x.png"], "argument -n: expects an integer"),
        (["sample", "run", "-n", "0", "--out", "x.png"], "argument -n: expects an integer"),
        (["reconstruct", "run", "-n", "-2", "--out", "x.png"], "argument -n: expects"),
        (["reconstruct", "run", "--index", "9-0", "--out", "x.png"], "argument --index: expects"),
        (["latent", "map", "run", "--index", "0-", "--out", "d"], "argument --index: expects"),
        (["latent", "blend", "run", "--a-index", "2--3", "--out", "d"], "argument --a-index"),
        (["sample", "run", "--labels", "a", "--out", "x.png"], "argument --labels: expects"),
        (["show-data", "mnist-mini", "--size", "0", "--out", "x.png"], "argument --size"),
        (["train", "vae", "--latent-dim", "two"], "argument --latent-dim: expects an integer"),
        (["train", "vae", "--net", "transformer"], "argument --net: invalid choice"),
        (["train", "vae", "--lr", "inf"], "argument --lr: expects a finite number"),
        (["latent", "interpolate", "run", "--steps", "1", "--out", "d"], "argument --steps"),
        (["latent", "perturb", "run", "--sigmas", "-1", "--out", "d"], "argument --sigmas"),
        (["latent", "complete", "run", "--rate", "2", "--out", "d"], "argument --rate"),
        (["latent", "map", "run", "--seed", "-1", "--out", "d"], "argument --seed"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_flag(argv, flag, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and flag in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser of the command tree (deferred options not built yet)."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


PROGS = [p.prog for p in _parsers(build_parser())]


def _parser(prog: str) -> argparse.ArgumentParser:
    """The parser of ``prog``, completed (inside a test: the flag table goes to the test cache)."""
    parser = next(p for p in _parsers(build_parser()) if p.prog == prog)
    parser.format_help()
    return parser


@pytest.mark.parametrize("prog", PROGS)
def test_every_flag_shows_its_default_and_choices(prog: str) -> None:
    parser = _parser(prog)
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help", "version"):
            continue
        text = formatter._format_action(action)
        if (action.default not in (None, False)) or action.dest.startswith("cfg."):
            assert "default" in text, text
        if action.choices:
            assert "{" + ",".join(map(str, action.choices)) + "}" in text, text


def _examples(parser: argparse.ArgumentParser) -> list[str]:
    lines = (parser.epilog or "").replace("\\\n", " ").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.strip().startswith("genlab ")]


@pytest.mark.parametrize("prog", PROGS)
def test_every_command_ends_its_help_with_examples_that_parse(prog: str) -> None:
    examples = _examples(_parser(prog))
    if prog not in ("genlab", "genlab latent"):  # the overviews show one per command
        assert 2 <= len(examples) <= 3, examples
        assert any(e.startswith(f"{prog} ") or e == prog for e in examples), examples
    for example in examples:
        argv = shlex.split(example)[1:]
        for arg in argv:
            if arg.startswith("configs/"):
                assert (ROOT / arg).is_file(), example
        if "--help" in argv:
            continue
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"the example does not parse: {example}")


def test_train_flags_come_from_the_config_dataclasses_and_registries() -> None:
    from genlab.models.parts.nets import BACKBONES
    from genlab.models.registry import MODELS
    from genlab.training.config import BINARIZE

    table = train_flags.load()
    assert table == train_flags.derive()
    assert list(table["models"]) == list(MODELS)
    net = table["fields"]["net"]
    narrowed = {"vqvae": ["conv", "resnet"]}  # a grid of codes needs a convolutional backbone
    assert net["choices"] == {family: narrowed.get(family, list(BACKBONES))
                              for family in net["defaults"]}
    assert table["fields"]["binarize"]["choices"] == {"": list(BINARIZE)}
    help_text = _parser("genlab train").format_help()
    assert "--net {" + ",".join(BACKBONES) + "}" in help_text
    assert ("(model.net, for ae, vae, beta-vae, cvae, iwae, vaegan, vqvae, default mlp; "
            "vqvae: conv; vqvae takes conv, resnet)") in " ".join(help_text.split())


LIST_VALUES = {"int list": "16,32", "float list": "0.5,0.9", "str list": "horse,bird"}


def test_every_list_flag_takes_comma_separated_values_the_config_accepts() -> None:
    """``--classes horse,bird`` as ``--channels 16,32``: each list flag's value is a list
    that its config key takes (a field of a kind not listed here fails the test)."""
    from genlab.training.config import config_from_dict

    fields = train_flags.load()["fields"]
    lists = {n: e for n, e in fields.items() if e["kind"].endswith(" list")}
    assert {"classes", "channels", "betas"} <= set(lists)
    for name, entry in lists.items():
        p = argparse.ArgumentParser()
        train_flags.add_train_flags(p)
        family = next(f for f in entry["defaults"] if f) if entry["section"] == "model" else ""
        args = p.parse_args([family or "vae", f"--{name.replace('_', '-')}",
                             LIST_VALUES[entry["kind"]]])
        values = train_flags.flag_values(args)
        raw = {**values, "model": {**values.get("model", {}), "name": family or "vae"}}
        config = config_from_dict(raw)
        section = getattr(config, entry["section"])
        assert getattr(section, name) == values[entry["section"]][name], name


def _loaded_after(argv: list[str]) -> list[str]:
    """Heavy modules a fresh interpreter has loaded after ``genlab ARGV``."""
    code = (
        "import sys\nfrom genlab.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1].replace("'", '"'))


def test_help_loads_nothing_heavy() -> None:
    train_flags.load()  # the flag table is cached ($GENLAB_CACHE, shared with the child)
    for argv in (["--help"], ["train", "--help"], ["sample", "--help"], ["latent", "--help"],
                 ["latent", "perturb", "--help"]):
        assert _loaded_after(argv) == [], argv
    assert not {"matplotlib", "sklearn"} & set(_loaded_after(["latent", "complete", "--help"]))


def test_import_genlab_names_every_subpackage_and_loads_them_when_used() -> None:
    """``import genlab; genlab.latent.encode(...)``: the subpackages are attributes of the
    package, imported on first use, so ``import genlab`` (and ``--help``) loads no torch."""
    import genlab

    package = Path(genlab.__file__).parent
    modules = {p.stem for p in package.iterdir()
               if p.suffix == ".py" or (p / "__init__.py").is_file()} - {"__init__", "__main__"}
    assert set(genlab.SUBMODULES) == modules
    code = (
        "import json, sys\nimport genlab\n"
        f"heavy = lambda: sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "before = heavy()\n"
        "named = [callable(genlab.latent.encode), callable(genlab.evaluation.evaluate_run),\n"
        "         callable(genlab.data.load_dataset), callable(genlab.runs.open_run)]\n"
        "try:\n    genlab.nope\nexcept AttributeError as exc:\n    missing = str(exc)\n"
        "print(json.dumps([before, 'torch' in heavy(), named, missing,\n"
        "                  {'latent', 'models'} <= set(dir(genlab))]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    before, torch_after, named, missing, listed = json.loads(out.strip().splitlines()[-1])
    assert before == [] and torch_after and named == [True] * 4 and listed
    assert missing == "module 'genlab' has no attribute 'nope'"
