"""Models written as users write them fit on the fast path, headless.

The figures are in ``benchmarks/realistic_models.py``; these tests keep the slow paths
from coming back unseen: every realistic model steps, switches from the first tier to
a compiled backend running PyTensor's C loop with C code for every elementwise node,
and its draws come back in the model's own words.
"""

from __future__ import annotations

import numpy as np
import pytest

from vibench.models import REALISTIC_MODELS
from vibench.session import Session
from vibench.session._runner import _lost_c_thunks


@pytest.mark.parametrize("name", sorted(REALISTIC_MODELS))
def test_a_realistic_model_fits_on_the_compiled_c_loop(name):
    s = Session(name, backend="c")
    first = s.fit(50, seed=0)
    assert first.status == "finished", first.message
    assert first.backends[0][1] == "fast_compile"
    (step,) = s._fitted.steps.values()
    assert step.built.wait(600), "the C backend did not build"
    assert step.build_errors == {}
    run = s.fit(200, seed=1)
    assert run.status == "finished", run.message
    assert np.isfinite(run.elbo).all()
    assert step.backend == "c"
    assert type(step.fn.vm).__name__ == "CVM"  # the C loop, not the Python one
    assert not _lost_c_thunks(step.fn)
    draws = s.draws(20, seed=0, deterministics=True)
    assert all(np.isfinite(v).all() for v in draws.values())


def test_the_first_tier_runs_models_with_hundreds_of_scalar_variables():
    import pymc as pm

    with pm.Model() as model:
        xs = [pm.Normal(f"x{i}", 0.0, 1.0) for i in range(40)]
        pm.Normal("y", pm.math.stack(xs).sum(), 1.0, observed=1.0)
    # 40 log-density terms in one sum: more operands than Python's elementwise allows
    s = Session(model, backend="c")
    run = s.fit(5, seed=0)
    assert run.status == "finished", run.message
    assert run.backends[0][1] == "fast_compile"
