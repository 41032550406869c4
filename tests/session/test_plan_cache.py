"""The plan cache: builds of dropped plans kept (bounded), rewound when taken back."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from vibench.session._plan_cache import PlanCache


class _Step:
    def __init__(self, settled: bool) -> None:
        self.settled = threading.Event()
        if settled:
            self.settled.set()
        self.closed = False
        self.state = [np.zeros(3)]
        self.initial = [np.zeros(3)]

    def close(self) -> None:
        self.closed = True

    def restore_initial(self) -> None:
        self.state = [v.copy() for v in self.initial]

    def snapshot(self) -> list:
        return [v.copy() for v in self.state]


class _Approx:
    def __init__(self) -> None:
        self.rng = np.random.RandomState(0)


class _Built:
    def __init__(self, key: tuple, n: int = 4) -> None:
        self.plan_key = key
        self.approx = _Approx()
        self.initial_rng = self.approx.rng.get_state()
        self.initial_params = [np.zeros(n)]
        self.params = [np.zeros(n)]
        self.steps = {("adam",): _Step(settled=True), ("sgd",): _Step(settled=False)}
        self.elbo = [np.ones(5)]
        self.iteration = 5

    def set_params(self, values: list) -> None:
        self.params = [v.copy() for v in values]


def test_take_gives_back_a_rewound_build_and_forgets_unsettled_steps():
    cache = PlanCache()
    built = _Built(("mf",))
    unsettled = built.steps[("sgd",)]
    built.params = [np.ones(4)]
    built.steps[("adam",)].state = [np.ones(3)]
    first = built.approx.rng.randint(2**30)
    cache.keep(("mf",), built)
    assert unsettled.closed
    assert ("sgd",) not in built.steps
    assert cache.take(("other",)) is None
    got = cache.take(("mf",))
    assert got is built
    np.testing.assert_array_equal(got.params[0], np.zeros(4))
    np.testing.assert_array_equal(got.steps[("adam",)].state[0], np.zeros(3))
    assert got.elbo == []
    assert got.iteration == 0
    assert got.approx.rng.randint(2**30) == first
    assert cache.take(("mf",)) is None, "a build is given back once"
    assert cache.hits == 1


def test_least_recently_kept_goes_first_when_full():
    cache = PlanCache(max_plans=2)
    for name in ("a", "b", "c"):
        cache.keep((name,), _Built((name,)))
    assert len(cache) == 2
    assert cache.take(("a",)) is None
    assert cache.take(("b",)) is not None
    assert cache.take(("c",)) is not None


def test_bytes_bound_the_cache():
    small = _Built(("small",), n=10)
    big = _Built(("big",), n=10_000)
    cache = PlanCache(max_bytes=100_000)
    cache.keep(("small",), small)
    cache.keep(("big",), big)  # 10,000 float64 twice: over the bound alone
    assert cache.take(("big",)) is None
    assert cache.take(("small",)) is small
    cache = PlanCache(max_bytes=300_000)
    cache.keep(("small",), _Built(("small",), n=10))
    cache.keep(("big1",), _Built(("big1",), n=10_000))
    cache.keep(("big2",), _Built(("big2",), n=10_000))
    assert cache.nbytes <= 300_000
    assert cache.take(("small",)) is None
    assert cache.take(("big1",)) is None
    assert cache.take(("big2",)) is not None


def test_zero_keeps_nothing_and_bad_bounds_are_refused():
    cache = PlanCache(max_plans=0)
    built = _Built(("mf",))
    cache.keep(("mf",), built)
    assert len(cache) == 0
    assert cache.take(("mf",)) is None
    assert built.steps[("adam",)].closed is False
    with pytest.raises(ValueError, match="max_plans"):
        PlanCache(max_plans=-1)


def test_clear_forgets_everything():
    cache = PlanCache()
    cache.keep(("mf",), _Built(("mf",)))
    cache.clear()
    assert len(cache) == 0
    assert cache.nbytes == 0
