"""What every command shares: the argument types, the parser class and the run arguments.

Every value a user types goes through one of the ``type=`` callables below, so a bad value is
``genlab CMD: error: argument -n: expects a positive integer, got '-5'`` and exit status 2, never
a traceback. This module imports nothing heavy: ``genlab --help`` must answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

if TYPE_CHECKING:
    from genlab.runs import Run

T = TypeVar("T")
MAX_SEED = 2**32 - 1
"""numpy and scikit-learn (t-SNE) take seeds below 2**32."""
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d{1,3})?")
INDEX_ITEM = re.compile(r"(\d{1,4000})(?:-(\d{1,4000}))?")
"""An index or a range A-B (digits within Python's int conversion limit: a huge index is left
for the split to name as out of range)."""
MAX_INDICES = 1_000_000
"""Indices one --index may name, ranges expanded (no split holds more than 100,000 images)."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Epilogs keep their layout (examples), and every flag says its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        hidden = default is None or default is False or default == argparse.SUPPRESS
        if hidden or "default" in text or not action.option_strings:
            return text
        shown = ",".join(map(str, default)) if isinstance(default, list | tuple) else default
        return f"{text} (default {str(shown).replace('%', '%%')})"


class Parser(argparse.ArgumentParser):
    """An argument parser that builds costly options only when it is used, so ``genlab --help``
    never builds (or imports) what ``genlab train`` needs, and that reports an error in one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._pending: list[Callable[[argparse.ArgumentParser], None]] = []
        self.args_seen: list[str] = []
        """The arguments this parser was given, for options that depend on an earlier one
        (``genlab train dcgan --help`` lists DCGAN's options)."""

    def defer(self, build: Callable[[argparse.ArgumentParser], None]) -> None:
        self._pending.append(build)

    def _complete(self) -> None:
        while self._pending:
            self._pending.pop(0)(self)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self.args_seen = list(sys.argv[1:] if args is None else args)
        self._complete()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._complete()
        return super().format_help()

    def format_usage(self) -> str:
        self._complete()
        return super().format_usage()

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class LazyModule:
    """A module imported on first attribute access: a command module names what its handlers
    call (``ex.perturb``) without loading it, and torch with it, while the parser is built."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


def defer(
    parser: argparse.ArgumentParser, build: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add options with ``build`` when ``parser`` is used (at once for a plain parser)."""
    if isinstance(parser, Parser):
        parser.defer(build)
    else:
        build(parser)


# --- argument types: each names what it expects, for the one-line error -------------------
def _expects(parse: Callable[[str], T], words: str) -> Callable[[str], T]:
    parse.__name__ = words
    return parse


def _bounds(low: float | None, high: float | None, low_open: bool = False) -> str:
    """" from 0 to 1", " > 0", " >= 2"... for a type's description."""
    lo, hi = (f"{v:,}" if isinstance(v, int) else f"{v:g}" for v in (low or 0, high or 0))
    if low is not None and high is not None:
        return f" > {lo} and <= {hi}" if low_open else f" from {lo} to {hi}"
    if low is not None:
        return f" {'>' if low_open else '>='} {lo}"
    return f" <= {hi}" if high is not None else ""


def int_range(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An integer in [low, high] (either end may be open-ended)."""
    words = {(1, None): "a positive integer", (0, None): "a non-negative integer"}.get(
        (low, high), f"an integer{_bounds(low, high)}"
    )

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        outside = value is None or (low is not None and value < low) or (
            high is not None and value > high
        )
        if outside:
            raise argparse.ArgumentTypeError(f"expects {words}, got {text!r}")
        return value

    return _expects(parse, words)


def real(
    low: float | None = None, high: float | None = None, low_open: bool = False
) -> Callable[[str], float]:
    """A finite number in [low, high] ((low, high] with ``low_open``)."""
    bounded = low is not None or high is not None
    words = f"a number{_bounds(low, high, low_open)}" if bounded else "a finite number"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        too_low = low is not None and (value <= low if low_open else value < low)
        if not math.isfinite(value) or too_low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expects {words}, got {text!r}")
        return value

    return _expects(parse, words)


def listed(item: Callable[[str], T]) -> Callable[[str], list[T]]:
    """Comma-separated values, at least one, each checked by ``item``."""
    words = f"comma-separated values, each {item.__name__}"

    def parse(text: str) -> list[T]:
        parts = [t for t in text.split(",") if t.strip()]
        try:
            if parts:
                return [item(t) for t in parts]
        except argparse.ArgumentTypeError:
            pass
        raise argparse.ArgumentTypeError(f"expects {words}, got {text!r}")

    return _expects(parse, words)


def _name(text: str) -> str:
    """A name in a list (a class), surrounding spaces dropped (``horse, bird``)."""
    return text.strip()


def device(text: str) -> str:
    """A torch device name genlab can use."""
    if not DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expects auto, cpu, mps, cuda or cuda:N, got {text!r}")
    return text


def _index_list(text: str) -> list[int]:
    """``3,17,40-49``: image indices and inclusive ranges A-B with A <= B, in the order given
    (``0-999``: the first 1,000 images)."""
    indices: list[int] = []
    parts = [t.strip() for t in text.split(",") if t.strip()]
    for part in parts:
        match = INDEX_ITEM.fullmatch(part)
        low, high = (int(match[1]), int(match[2] or match[1])) if match else (0, -1)
        if not match or high < low or len(indices) + high - low + 1 > MAX_INDICES:
            raise argparse.ArgumentTypeError(
                f"expects indices and ranges such as 3,17,40-49 (A-B from A to B, A <= B; at "
                f"most {MAX_INDICES:,} in all), got {text!r}")
        indices.extend(range(low, high + 1))
    if not parts:
        raise argparse.ArgumentTypeError(f"expects indices such as 3,17,40-49, got {text!r}")
    return indices


positive_int = int_range(1)
non_negative_int = int_range(0)
seed = int_range(0, MAX_SEED)
fraction = real(0, 1)
positive = real(0, low_open=True)
non_negative = real(0)
int_list = listed(non_negative_int)
index_list = _expects(_index_list, "indices and ranges such as 3,17,40-49")
float_list = listed(real())
name_list = listed(_expects(_name, "a name"))


def run_source(run: Run) -> str:
    """``vae on mnist-mini, epoch 5``: the model, data and training state that a figure of an
    opened run shows, for its title."""
    epoch = run.meta.get("epoch")
    state = f", epoch {epoch}" if epoch else ""
    return f"{run.config.model.name} on {run.config.data.dataset}{state}"


def add_run_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    """RUN (``many``: RUN... as ``args.runs``) and how to open it: which checkpoint, on which
    device, with data from where."""
    if many:
        p.add_argument("runs", nargs="+", metavar="RUN",
                       help="run directories (or checkpoint files)")
    else:
        p.add_argument("run", metavar="RUN", help="run directory (or a checkpoint file)")
    p.add_argument("--which", choices=["best", "last"], default="best", help="checkpoint to use")
    p.add_argument("--device", type=device, default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument("--data-dir", default=None, help="where datasets live (else $GENLAB_DATA)")
