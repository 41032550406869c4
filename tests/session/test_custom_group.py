"""Groups built in Python (e.g. amortized) in a session: pinned, fitted with their extras."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

import vibench
from tests.engine._local_helpers import LATENT, shared_data_vae, vae_data
from tests.session.conftest import FAST
from vibench.session import PlanError, Session
from vibench.session._session import _describe_bad_params


@pytest.fixture
def vae():
    data = vae_data()
    model, x, group, weights = shared_data_vae("mf", data)
    session = Session(model, compile_kwargs=FAST)
    return session, data, x, group, weights


def _snapshot(s: Session):
    return [(g.id, list(g.variables), g.family, g.custom, g.label) for g in s.groups]


def test_custom_group_is_pinned_in_the_plan(vae):
    session, _data, _x, group, weights = vae
    session.add_group("fr", ["z", "w"])
    gid = session.add_custom_group(group, more_obj_params=[weights])
    spec = session.group(gid)
    assert spec.custom
    assert spec.label == "amortized mean-field"
    assert spec.variables == ["z"]
    assert spec.family == "mean_field"
    assert next(g.variables for g in session.groups if g.id != gid) == ["w"]  # z left g1
    before = _snapshot(session)
    for edit, match in [
        (lambda: session.move("z", "rest"), "built in Python"),
        (lambda: session.move("w", gid), "no variable can be moved into it"),
        (lambda: session.set_family(gid, "fr"), "family cannot be changed"),
        (lambda: session.set_rowwise(gid), "built in Python"),
        (lambda: session.add_group("mf", ["z"]), "cannot be moved"),
        (lambda: session.add_custom_group(group), "cannot join another group"),
    ]:
        with pytest.raises(PlanError, match=match):
            edit()
        assert _snapshot(session) == before
    session.remove_group(gid)  # from Python it may go
    assert "z" in session.group("rest").variables
    assert session._custom_groups == {}


def test_bad_custom_groups_are_refused(vae):
    session, *_ = vae
    with pytest.raises(TypeError, match="group object"):
        session.add_custom_group("mf")
    with session.model:
        rest = vibench.Group(None, vfam="mf")
    with pytest.raises(PlanError, match="rest group"):
        session.add_custom_group(rest)
    with pm.Model():
        other = vibench.Group([pm.Normal("q", 0.0, 1.0, shape=(2,))], vfam="mf")
    with pytest.raises(PlanError, match="another model"):
        session.add_custom_group(other)
    with session.model:
        emp = pm.variational.opvi.Group([session.model["w"]], vfam="empirical", size=5)
    with pytest.raises(PlanError, match="empirical"):
        session.add_custom_group(emp)
    with session.model:
        fine = vibench.Group([session.model["w"]], vfam="fr")
    with pytest.raises(TypeError, match="shared variables"):
        session.add_custom_group(fine, more_obj_params=[1.0])
    with pytest.raises(TypeError, match="must be a dict"):
        session.add_custom_group(fine, more_replacements=[1])
    with pytest.raises(TypeError, match="label"):
        session.add_custom_group(fine, label="")
    with pytest.raises(TypeError, match="label"):
        session.add_custom_group(fine, label="two\nlines")
    assert session.add_custom_group(fine, label="my full-rank")  # a PyMC group is fine too
    assert session.groups[0].label == "my full-rank"


def test_vae_fits_end_to_end_with_minibatches(vae):
    session, data, x, group, weights = vae
    gid = session.add_custom_group(
        group,
        more_obj_params=[weights],
        more_replacements={x: pm.Minibatch(data, batch_size=20)},
    )
    approx = session.build()
    assert approx.groups[0] is group  # the user's object, as it is
    before = weights.get_value().copy()
    run = session.fit(300, learning_rate=0.02, seed=0)
    assert run.status == "finished"
    assert np.isfinite(run.elbo).all()
    assert run.elbo[-50:].mean() > run.elbo[:50].mean()
    assert not np.allclose(weights.get_value(), before)  # the encoder was trained
    assert run.plan["groups"][0] == {
        "id": gid,
        "family": "mean_field",
        "variables": ["z"],
        "custom": True,
        "label": "amortized mean-field",
    }

    draws = session.draws(5, seed=0)
    assert draws["z"].shape == (5, data.shape[0], LATENT)
    tree = session.sample(20, seed=0)
    assert tree.posterior["z"].shape == (1, 20, data.shape[0], LATENT)
    assert np.isfinite(tree["vi"]["log_q"].values).all()
    x.set_value(data[:7])  # rows follow the encoder's input
    assert session.sample(4, seed=0).posterior["z"].shape == (1, 4, 7, LATENT)
    assert np.isfinite(float(session.khat(100, seed=0)))
    x.set_value(data)

    session.reset()  # the encoder starts afresh too
    np.testing.assert_allclose(weights.get_value(), before)


def test_describe_bad_params_with_an_amortized_group(vae):
    session, _data, _x, group, weights = vae
    session.add_custom_group(group, more_obj_params=[weights])
    approx = session.build()
    text = _describe_bad_params(approx, session.model, [weights])
    assert "log density is not finite" in text
    w = weights.get_value()
    w[0, 0] = np.nan
    weights.set_value(w)
    text = _describe_bad_params(approx, session.model, [weights])
    assert "enc_w" in text
    assert "not finite" in text


def test_plan_edits_elsewhere_rebuild_with_the_same_group(vae):
    session, _data, _x, group, weights = vae
    session.add_custom_group(group, more_obj_params=[weights])
    first = session.build()
    session.set_family("rest", "fr")
    second = session.build()
    assert second is not first
    assert second.groups[0] is group
    run = session.fit(20, seed=0)
    assert run.status == "finished"


def test_to_dict_marks_it_and_from_dict_refuses(vae):
    session, _data, _x, group, weights = vae
    gid = session.add_custom_group(group, more_obj_params=[weights])
    data_ = session.to_dict()
    entry = next(g for g in data_["plan"]["groups"] if g["id"] == gid)
    assert entry["custom"] is True
    assert entry["label"] == "amortized mean-field"
    with pytest.raises(PlanError, match=r"built in Python.*add_custom_group"):
        Session.from_dict(session.model, data_, compile_kwargs=FAST)


def test_to_code_expects_the_group_and_runs(vae):
    session, data, x, group, weights = vae
    gid = session.add_custom_group(
        group,
        more_obj_params=[weights],
        more_replacements={x: pm.Minibatch(data, batch_size=20)},
    )
    session.configure(iterations=15, seed=1)
    code = session.to_code()
    assert f"custom_group_{gid}" in code
    assert "# Groups built in Python" in code
    assert "more_obj_params=more_obj_params" in code
    assert "more_replacements=more_replacements" in code
    # the user's own objects, built again as for the session
    model, x2, group2, weights2 = shared_data_vae("mf", data)
    namespace = {
        "model": model,
        f"custom_group_{gid}": group2,
        "more_obj_params": [weights2],
        "more_replacements": {x2: pm.Minibatch(data, batch_size=20)},
    }
    before = weights2.get_value().copy()
    exec(compile(code, "<to_code>", "exec"), namespace)
    assert namespace["approx"].groups[0] is group2
    assert len(namespace["approx"].hist) == 15
    assert not np.allclose(weights2.get_value(), before)
