"""Seed statistics against scipy.stats: the t quantile, the interval, the best-or-tied rule."""

from __future__ import annotations

import pytest
import scipy.stats

from genlab.report.stats import Spread, best_and_tied, spread, t_quantile, t_two_sided


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 7, 10, 29, 30, 100])
def test_the_t_quantile_and_distribution_match_scipy(df: int) -> None:
    for p in (0.6, 0.9, 0.975, 0.995):
        assert t_quantile(p, df) == pytest.approx(scipy.stats.t.ppf(p, df), rel=1e-9)
    for t in (0.1, 1.0, 2.5, 12.0):  # P(|T| < t)
        expected = scipy.stats.t.cdf(t, df) - scipy.stats.t.cdf(-t, df)
        assert t_two_sided(t, df) == pytest.approx(expected, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("values", [[12.0, 14.5], [3.1, 2.9, 3.4], [80.2, 79.9, 81.0, 80.4, 80.0]])
def test_the_interval_of_the_mean_matches_scipy(values: list[float]) -> None:
    s = spread(values)
    sem = scipy.stats.sem(values)
    low, high = scipy.stats.t.interval(0.95, len(values) - 1, loc=sum(values) / len(values),
                                       scale=sem)
    assert s.n == len(values)
    assert s.mean == pytest.approx(sum(values) / len(values), rel=1e-12)
    assert s.sd == pytest.approx(scipy.stats.tstd(values), rel=1e-12)
    assert (s.low, s.high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))


def test_one_run_has_no_interval_and_eval_noise_is_a_root_mean_square() -> None:
    assert spread([4.0]) == Spread(1, 4.0, None, None, None, None)
    assert spread([1.0, 2.0], eval_se=[3.0, 4.0]).eval_se == pytest.approx(12.5 ** 0.5, rel=1e-12)
    with pytest.raises(ValueError, match="df >= 1"):
        t_quantile(0.975, 0)


def test_bold_only_when_the_intervals_do_not_overlap_else_the_tied_are_marked() -> None:
    apart = {0: spread([10.0, 10.2, 9.9]), 1: spread([5.0, 5.1, 4.9]), 2: spread([7.0, 7.2, 6.9])}
    assert best_and_tied(apart, lower_is_better=True) == ({1}, set())
    assert best_and_tied(apart, lower_is_better=False) == ({0}, set())
    close = {0: spread([5.0, 6.0, 4.0]), 1: spread([5.2, 5.4, 5.0]), 2: spread([9.0, 9.1, 9.2])}
    assert best_and_tied(close, lower_is_better=True) == (set(), {0, 1})
    single = {0: spread([3.0]), 1: spread([3.0]), 2: spread([4.0])}
    assert best_and_tied(single, lower_is_better=True) == ({0, 1}, set())  # ties all bold
    assert best_and_tied({0: spread([1.0])}, lower_is_better=True) == (set(), set())
