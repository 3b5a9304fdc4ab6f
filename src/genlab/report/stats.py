"""Seed statistics of a study: mean, standard deviation and a 95% Student-t interval per model.

One training run says little: FID moves by several percent between seeds of one GAN. A study
trained over seeds reports, per model and number, the mean over seeds, their standard
deviation (n - 1) and the 95% interval of the mean, mean ± t(0.975, n - 1) · sd / √n, and
calls a best value only when its interval does not overlap the runner-up's. The t quantile is
computed here (scipy is a test dependency only) from the closed form of Student's t
distribution function for whole degrees of freedom, by bisection.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

LEVEL = 0.95


def t_two_sided(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with ``df`` degrees of freedom (Abramowitz & Stegun
    26.7.3/26.7.4: a finite series in cos θ, θ = atan(t / √df))."""
    theta = math.atan(t / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2:  # odd: (2/π)(θ + sin θ cos θ (1 + 2/3 cos² θ + ...))
        term, total = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        return 2 / math.pi * (theta + s * math.cos(theta) * total)
    term, total = 1.0, 1.0  # even: sin θ (1 + 1/2 cos² θ + 1·3/(2·4) cos⁴ θ + ...)
    for k in range(1, df // 2):
        term *= c2 * (2 * k - 1) / (2 * k)
        total += term
    return s * total


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``df`` >= 1 degrees of freedom."""
    if df < 1 or not 0.5 < p < 1:
        raise ValueError(f"t_quantile needs df >= 1 and 0.5 < p < 1, got df={df}, p={p}")
    target, low, high = 2 * p - 1, 0.0, 1.0
    while t_two_sided(high, df) < target:
        high *= 2
    for _ in range(200):  # bisection to the last bit of a double
        mid = (low + high) / 2
        if mid in (low, high):
            break
        low, high = (mid, high) if t_two_sided(mid, df) < target else (low, mid)
    return (low + high) / 2


@dataclass(frozen=True)
class Spread:
    """A number over seeds: n runs, their mean and sd, the 95% interval of the mean (None
    with one run) and the evaluation noise of a single run (its standard error, if known)."""

    n: int
    mean: float
    sd: float | None
    low: float | None
    high: float | None
    eval_se: float | None = None

    def bounds(self) -> tuple[float, float]:
        """The interval; a single run's is its one value."""
        if self.low is None or self.high is None:
            return self.mean, self.mean
        return self.low, self.high

    def overlaps(self, other: Spread) -> bool:
        """Whether the two intervals share a point."""
        (a, b), (c, d) = self.bounds(), other.bounds()
        return a <= d and c <= b

    def as_dict(self) -> dict[str, float | int | None]:
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "ci95_low": self.low,
                "ci95_high": self.high, "eval_se": self.eval_se}


def spread(values: Sequence[float], eval_se: Sequence[float] = ()) -> Spread:
    """The seed statistics of ``values`` (one per seed); ``eval_se``: each run's evaluation
    standard error, whose root mean square is reported as a single run's noise."""
    n, mean = len(values), statistics.fmean(values)
    noise = math.sqrt(statistics.fmean([e * e for e in eval_se])) if eval_se else None
    if n < 2:
        return Spread(n, mean, None, None, None, noise)
    sd = statistics.stdev(values)
    half = t_quantile((1 + LEVEL) / 2, n - 1) * sd / math.sqrt(n)
    return Spread(n, mean, sd, mean - half, mean + half, noise)


def best_and_tied(spreads: dict[int, Spread], lower_is_better: bool) -> tuple[set[int], set[int]]:
    """(bold, tied) indices: the best model alone when its interval clears the runner-up's,
    else no bold and every model whose interval overlaps the best's marked tied. Single runs
    (no intervals): the best value bold, ties all bold. Fewer than two models: nothing."""
    if len(spreads) < 2:
        return set(), set()
    order = sorted(spreads, key=lambda i: spreads[i].mean, reverse=not lower_is_better)
    best, runner_up = spreads[order[0]], spreads[order[1]]
    if best.sd is None or runner_up.sd is None:  # no intervals: the best value, ties all bold
        return {i for i in order if spreads[i].mean == best.mean}, set()
    if not best.overlaps(runner_up):
        return {order[0]}, set()
    return set(), {i for i in order if spreads[i].overlaps(best)}
