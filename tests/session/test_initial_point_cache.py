"""Building plans compiles the model's initial-point function once, not per plan."""

from __future__ import annotations

import numpy as np
import pymc as pm

from vibench.session import Session
from vibench.session._initial_point import cached_initial_point


def _counting(monkeypatch):
    calls = []
    original = pm.Model._make_initial_point

    def counted(self, **kw):
        calls.append(kw)
        return original(self, **kw)

    monkeypatch.setattr(pm.Model, "_make_initial_point", counted)
    return calls


def test_new_plans_reuse_the_compiled_initial_point(monkeypatch):
    calls = _counting(monkeypatch)
    s = Session("eight_schools", compile_kwargs={"mode": "FAST_COMPILE"})
    s.build()
    s.set_family("rest", "full_rank")
    s.build()
    s.add_group("mean_field", ["mu"])
    s.build()
    plain = [c for c in calls if not c.get("overrides") and not c.get("jitter_rvs")]
    assert len(plain) == 1
    assert "_make_initial_point" not in vars(s.model)  # nothing left on the model


def test_the_cache_follows_the_model_and_agrees_with_pymc(monkeypatch):
    with pm.Model() as model:
        x = pm.Normal("x", 0.0, 1.0, initval=0.5)
        pm.HalfNormal("s", 1.0)
    expected = model.initial_point(0)
    with cached_initial_point(model):
        got = model.initial_point(0)
    assert got.keys() == expected.keys()
    for k in got:
        np.testing.assert_allclose(got[k], expected[k])
    model.set_initval(x, 2.0)  # a new initial value: a new function
    with cached_initial_point(model):
        assert float(model.initial_point(0)["x"]) == 2.0
