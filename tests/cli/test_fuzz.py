"""No input a user can type gives a traceback: hypothesis drives the parser of every command with
arbitrary numbers and strings (on the flags the parser itself lists) against one tiny trained
run (``tiny_vae`` in conftest.py). Each call exits 0, or exits 2 having written nothing."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genlab.cli.main import build_parser, main

pytestmark = pytest.mark.slow

BASE = {  # a valid call of each command; RUN and OUT are filled in per example
    "datasets": [],
    "models": [],
    "show-data": ["mnist-mini", "-n", "4", "--out", "OUT"],
    "train": ["vae", "--out", "OUT"],  # training itself is stubbed: flags and config only
    "sample": ["RUN", "-n", "4", "--out", "OUT"],
    "reconstruct": ["RUN", "-n", "4", "--out", "OUT"],
    "latent perturb": ["RUN", "-n", "2", "--out", "OUT"],
    "latent interpolate": ["RUN", "--index", "0", "--to", "1", "--steps", "3", "--out", "OUT"],
    "latent centroid": ["RUN", "-n", "2", "--alphas", "0,1", "--out", "OUT"],
    "latent toward-class": ["RUN", "-n", "2", "--target", "3", "--out", "OUT"],
    "latent blend": ["RUN", "--a-index", "0", "--b-index", "1", "--out", "OUT"],
    "latent grid": ["RUN", "-n", "3", "--out", "OUT"],
    "latent map": ["RUN", "-n", "20", "--out", "OUT"],
    "latent infer": ["RUN", "-n", "2", "--max-steps", "10", "--out", "OUT"],
    "latent complete": ["RUN", "-n", "2", "--max-steps", "10", "--out", "OUT"],
}
NUMBERS = st.one_of(
    st.integers(-3, 12).map(str),
    st.sampled_from(["0", "-1", "1000000", "1" + "0" * 30, "2.5", "-0.5", "1e-3", "nan", "inf",
                     "-inf", "1e400", "0x10", "1_000"]),
)
LISTS = st.lists(st.integers(-2, 12), max_size=4).map(lambda v: ",".join(map(str, v)))
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=10)


def _command_parser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in command.split():
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    parser.format_help()  # builds its deferred options
    return parser


def _tokens(action: argparse.Action, values: st.SearchStrategy[str], data: Any) -> list[str]:
    """The flag with a drawn value: ``--flag=value`` (so a value may start with '-')."""
    flag = data.draw(st.sampled_from(action.option_strings))
    if action.nargs == 0:
        return [flag]
    if action.choices:
        values = st.one_of(st.sampled_from(list(action.choices)), values)
    if action.nargs == "+":
        return [flag, *data.draw(st.lists(values, min_size=1, max_size=2))]
    value = data.draw(values)
    return [f"{flag}={value}"] if flag.startswith("--") else [flag, value]


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("command", list(BASE))
def test_no_input_gives_a_traceback(command, tiny_vae, tmp_path_factory, monkeypatch, capsys):
    run = tiny_vae
    monkeypatch.setattr("genlab.training.train", lambda *a, **k: SimpleNamespace(summary=None))
    parser = _command_parser(command)
    flags = [a for a in parser._actions if a.option_strings and a.dest not in ("help", "out")]
    values = st.one_of(NUMBERS, LISTS, TEXT, st.just(run))
    root = tmp_path_factory.mktemp("fuzz-calls")

    @settings(max_examples=5, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(data=st.data())
    def check(data: Any) -> None:
        work = Path(tempfile.mkdtemp(dir=root))
        monkeypatch.chdir(work)
        argv = [*command.split(), *BASE[command]]
        if "RUN" in argv and data.draw(st.booleans()):
            argv[argv.index("RUN")] = data.draw(st.one_of(TEXT, st.just(run)))
        argv = [run if a == "RUN" else str(work / "out") if a == "OUT" else a for a in argv]
        for action in data.draw(st.lists(st.sampled_from(flags), max_size=3)) if flags else []:
            argv += _tokens(action, values, data)
        code = _exit_code(argv)
        err = capsys.readouterr().err
        assert code in (0, 2), (argv, err)
        assert "Traceback" not in err, (argv, err)
        if code == 2:
            assert not list(work.iterdir()), (argv, err)

    check()
