"""Row-wise groups in the plan: validation, build, fit, draws, presets and code."""

from __future__ import annotations

import threading

import numpy as np
import pymc as pm
import pytest

from tests.session.conftest import FAST
from vibench.engine import BatchedFullRankGroup, BatchedMeanFieldGroup
from vibench.session import PlanError, Session, SessionBusyError
from vibench.session._session import _describe_bad_params


def rows_model() -> pm.Model:
    """3 independent rows (conjugate normal means), a vector of 3 and a scalar."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0, shape=(3, 2))
        s = pm.HalfNormal("s", 1.0, shape=(3,))
        v = pm.Normal("v", 0.0, 1.0, shape=(4,))
        t = pm.Normal("t", 0.0, 1.0)
        pm.Normal("y", mu + t, 0.5, observed=np.ones((3, 2)))
        pm.Normal("y2", s[:, None] * 0.1 + v[:3, None], 1.0, observed=np.zeros((3, 2)))
    return model


@pytest.fixture
def session() -> Session:
    return Session(rows_model(), compile_kwargs=FAST)


def _snapshot(s: Session):
    return [(g.id, list(g.variables), g.family, g.rowwise) for g in s.groups]


def test_variable_rows_and_default_not_rowwise(session):
    rows = {v.name: v.rows for v in session.variables}
    assert rows == {"mu": 3, "s": 3, "v": 4, "t": None}
    gid = session.add_group("mf", ["mu"])
    assert session.group(gid).rowwise is False
    assert session.group("rest").rowwise is False


def test_set_rowwise_and_back(session):
    gid = session.add_group("fr", ["mu", "s"])
    calls = []
    session.on_change(lambda s: calls.append(1))
    session.set_rowwise(gid)
    assert session.group(gid).rowwise is True
    assert calls  # the board redraws
    session.set_rowwise(gid, False)
    assert session.group(gid).rowwise is False


@pytest.mark.parametrize(
    ("variables", "family", "match"),
    [
        (["t"], "mf", "no first axis"),
        (["mu", "v"], "mf", "same number of rows"),
        (["mu"], "empirical", "cannot be row-wise"),
    ],
)
def test_bad_rowwise_groups_are_refused_and_leave_the_plan(session, variables, family, match):
    gid = session.add_group(family, variables)
    before = _snapshot(session)
    with pytest.raises(PlanError, match=match):
        session.set_rowwise(gid)
    assert _snapshot(session) == before


def test_rest_group_cannot_be_rowwise(session):
    with pytest.raises(PlanError, match="rest group cannot be row-wise"):
        session.set_rowwise("rest")
    with pytest.raises(PlanError, match="unknown group"):
        session.set_rowwise("nope")


def test_rowwise_flag_must_be_a_bool(session):
    gid = session.add_group("mf", ["mu"])
    with pytest.raises(PlanError, match="True or False"):
        session.set_rowwise(gid, "yes")


def test_moving_a_misfit_into_a_rowwise_group_is_refused(session):
    gid = session.add_group("mf", ["mu"])
    session.set_rowwise(gid)
    before = _snapshot(session)
    with pytest.raises(PlanError, match=r"'t' \(a scalar\) cannot join row-wise group"):
        session.move("t", gid)
    with pytest.raises(PlanError, match=r"same number of rows.*mu: 3, v: 4"):
        session.move("v", gid)
    assert _snapshot(session) == before
    session.move("s", gid)  # 3 rows like mu
    assert session.group(gid).variables == ["mu", "s"]
    session.move("mu", "rest")  # leaving is always fine
    session.move("v", "rest")
    assert session.group(gid).variables == ["s"]


def test_empirical_family_refused_on_a_rowwise_group(session):
    gid = session.add_group("mf", ["mu"])
    session.set_rowwise(gid)
    with pytest.raises(PlanError, match=r"row-wise.*empirical"):
        session.set_family(gid, "empirical")
    assert session.group(gid).family == "mean_field"
    session.set_family(gid, "scale-planar-loc")  # flows are fine
    assert session.group(gid).family == "scale-planar-loc"


def test_busy_session_refuses_set_rowwise(session):
    gid = session.add_group("mf", ["mu"])
    gate = threading.Event()
    session._busy = True  # as during a fit
    try:
        with pytest.raises(SessionBusyError):
            session.set_rowwise(gid)
    finally:
        session._busy = False
        gate.set()
    assert session.group(gid).rowwise is False


def test_build_uses_the_batched_group_and_fits(session):
    gid = session.add_group("fr", ["mu", "s"])
    session.set_rowwise(gid)
    approx = session.build()
    assert type(approx.groups[0]) is BatchedFullRankGroup
    assert approx.groups[0].rowwise
    run = session.fit(200, learning_rate=0.05, seed=1)
    assert run.status == "finished"
    assert np.isfinite(run.elbo).all()
    assert run.plan["groups"][0]["rowwise"] is True

    tree = session.sample(50, seed=0)
    assert tree.posterior["mu"].shape == (1, 50, 3, 2)
    assert tree.posterior["s"].shape == (1, 50, 3)
    assert np.isfinite(tree["vi"]["log_q"].values).all()
    draws = session.draws(7, seed=0)
    assert draws["mu"].shape == (7, 3, 2)
    assert draws["t"].shape == (7,)
    assert np.isfinite(float(session.khat(200, seed=0)))
    assert np.isfinite(float(run.khat))


def test_toggling_rowwise_rebuilds(session):
    gid = session.add_group("mf", ["mu"])
    first = session.build()
    session.set_rowwise(gid)
    second = session.build()
    assert second is not first
    assert type(second.groups[0]) is BatchedMeanFieldGroup


def test_rowwise_recovers_each_row_conjugate():
    y = np.array([[-2.0], [0.0], [3.0]])
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0, shape=(3, 1))
        pm.Normal("y", mu, 0.5, observed=y)
    s = Session(model, compile_kwargs=FAST)
    gid = s.add_group("mf", ["mu"])
    s.set_rowwise(gid)
    s.fit(3000, learning_rate=0.05, seed=0)
    post = s.sample(2000, seed=1).posterior["mu"]
    # prior N(0, 1), noise sd 0.5: posterior mean 0.8 y, sd sqrt(1/5)
    np.testing.assert_allclose(post.mean(("chain", "draw")).values[:, 0], 0.8 * y[:, 0], atol=0.15)
    np.testing.assert_allclose(post.std(("chain", "draw")).values[:, 0], np.sqrt(0.2), atol=0.1)


def test_describe_bad_params_names_the_rows(session):
    gid = session.add_group("mf", ["mu"])
    session.set_rowwise(gid)
    approx = session.build()
    group = approx.groups[0]
    mu = group.shared_params["mu"]
    value = mu.get_value()
    value[1, 0] = np.nan
    mu.set_value(value)
    text = _describe_bad_params(approx, session.model)
    assert "'mu'" in text
    assert "row 1" in text
    assert "not finite" in text
    value[:] = 1e9
    mu.set_value(value)
    assert "mu exploded" in _describe_bad_params(approx, session.model)


def test_to_dict_from_dict_round_trip(session):
    gid = session.add_group("fr", ["mu", "s"])
    session.set_rowwise(gid)
    other = session.add_group("mf", ["v"])
    data = session.to_dict()
    groups = {g["id"]: g for g in data["plan"]["groups"]}
    assert groups[gid]["rowwise"] is True
    assert "rowwise" not in groups[other]  # optional key: old presets look the same
    again = Session.from_dict(session.model, data, compile_kwargs=FAST)
    assert _snapshot(again) == _snapshot(session)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"rowwise": "yes"}, "must be true or false"),
        ({"rowwise": 1}, "must be true or false"),
        ({"variables": ["mu", "v"]}, "same number of rows"),
        ({"variables": ["t"]}, "no first axis"),
        ({"family": "empirical"}, "cannot be row-wise"),
        ({"label": "x"}, "only a custom group"),
    ],
)
def test_from_dict_checks_rowwise(session, change, match):
    gid = session.add_group("fr", ["mu"])
    session.set_rowwise(gid)
    data = session.to_dict()
    data["model"].pop("name", None)
    group = data["plan"]["groups"][0]
    group.update(change)
    rest = data["plan"]["groups"][-1]
    rest["variables"] = [v.name for v in session.variables if v.name not in group["variables"]]
    with pytest.raises(PlanError, match=match):
        Session.from_dict(session.model, data, compile_kwargs=FAST)


def test_from_dict_refuses_a_rowwise_rest(session):
    data = session.to_dict()
    data["plan"]["groups"][-1]["rowwise"] = True
    with pytest.raises(PlanError, match="rest group cannot be row-wise"):
        Session.from_dict(session.model, data, compile_kwargs=FAST)


def test_old_presets_without_rowwise_still_load(session):
    data = {
        "vibench": 1,
        "plan": {
            "groups": [
                {"id": "g1", "family": "mean_field", "variables": ["mu"]},
                {"id": "rest", "family": "mean_field", "variables": ["s", "v", "t"]},
            ]
        },
    }
    again = Session.from_dict(session.model, data, compile_kwargs=FAST)
    assert again.group("g1").rowwise is False


def test_to_code_emits_rowwise_and_runs(session):
    gid = session.add_group("fr", ["mu", "s"])
    session.set_rowwise(gid)
    session.configure(iterations=20, seed=3)
    code = session.to_code()
    assert "rowwise=True" in code
    namespace = {"model": session.model}
    exec(compile(code, "<to_code>", "exec"), namespace)
    approx = namespace["approx"]
    assert type(approx.groups[0]) is BatchedFullRankGroup
    assert approx.groups[0].rowwise
    assert len(approx.hist) == 20
