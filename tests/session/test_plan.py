"""Plan editing and validation through the public Session API."""

from __future__ import annotations

import pytest

from tests.session.conftest import FAST, discrete_model
from vibench.session import PlanError, Session


def _snapshot(s: Session):
    return [(g.id, list(g.variables), g.family) for g in s.groups]


def test_new_session_has_only_the_rest_group(session):
    (rest,) = session.groups
    assert rest.id == "rest"
    assert rest.family == "mean_field"
    assert rest.variables == ["mu", "tau", "theta_tilde"]


def test_add_move_set_family_remove(session):
    gid = session.add_group("fr", ["tau", "mu"])
    assert gid != "rest"
    g = session.group(gid)
    assert g.variables == ["mu", "tau"]  # model order
    assert g.family == "full_rank"
    assert session.group("rest").variables == ["theta_tilde"]

    session.move("theta_tilde", gid)
    assert session.group(gid).variables == ["mu", "tau", "theta_tilde"]
    assert session.group("rest").variables == []
    session.move("mu", "rest")
    assert session.group("rest").variables == ["mu"]

    session.set_family(gid, "MF")
    assert session.group(gid).family == "mean_field"
    session.set_family("rest", "full_rank")
    assert session.group("rest").family == "full_rank"

    gid2 = session.add_group("mean_field", ["tau"])  # taken from gid
    assert session.group(gid).variables == ["theta_tilde"]
    assert session.group(gid2).variables == ["tau"]
    assert gid2 != gid

    session.remove_group(gid)
    assert [g.id for g in session.groups] == [gid2, "rest"]
    assert session.group("rest").variables == ["mu", "theta_tilde"]


def test_every_variable_is_in_exactly_one_group(session):
    session.add_group("fr", ["mu"])
    session.add_group("mf", ["theta_tilde"])
    names = [v for g in session.groups for v in g.variables]
    assert sorted(names) == sorted(v.name for v in session.variables)


def test_flow_formula_family_is_made_canonical(session):
    gid = session.add_group("Planar * 2 - LOC", ["mu", "tau"])
    assert session.group(gid).family == "planar*2-loc"


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (lambda s: s.move("nope", "rest"), "unknown variable 'nope'"),
        (lambda s: s.move("mu", "g99"), "unknown group 'g99'"),
        (lambda s: s.set_family("g99", "mf"), "unknown group"),
        (lambda s: s.remove_group("g99"), "unknown group"),
        (lambda s: s.remove_group("rest"), "cannot be removed"),
        (lambda s: s.add_group("fr", ["mu", "nope"]), "unknown variable"),
        (lambda s: s.add_group("fr", ["mu", "mu"]), "twice"),
        (lambda s: s.add_group("planar*0", ["mu"]), "planar"),
        (lambda s: s.add_group("scale-bogus", ["mu"]), "bogus"),
        (lambda s: s.set_family("rest", "histogramm"), "empirical"),
        (lambda s: s.set_family("rest", 3), "string"),
        (lambda s: s.set_family("rest", ""), "family"),
    ],
)
def test_bad_edit_raises_clearly_and_leaves_the_plan_unchanged(session, action, match):
    session.add_group("fr", ["mu", "tau"])
    before = _snapshot(session)
    with pytest.raises(PlanError, match=match):
        action(session)
    assert _snapshot(session) == before


def test_plan_error_is_a_value_error():
    assert issubclass(PlanError, ValueError)


def test_discrete_variables_are_listed_but_cannot_be_grouped_or_fitted():
    s = Session(discrete_model(), compile_kwargs=FAST)
    flags = {v.name: v.discrete for v in s.variables}
    assert flags == {"n": True, "a": False, "b": False}
    assert "n" not in s.group("rest").variables
    with pytest.raises(PlanError, match="discrete"):
        s.move("n", "rest")
    with pytest.raises(PlanError, match="discrete"):
        s.add_group("fr", ["n"])
    with pytest.raises(PlanError, match="discrete"):
        s.fit(5)


def test_empty_group_is_allowed_while_editing_but_not_fitted(session):
    gid = session.add_group("full_rank")
    assert session.group(gid).variables == []
    with pytest.raises(PlanError, match=f"group '{gid}' is empty"):
        session.fit(5)
    session.move("mu", gid)
    run = session.fit(5)
    assert run.status == "finished"


def test_editing_the_plan_discards_the_built_approximation(session):
    session.fit(5)
    assert session.approximation is not None
    session.set_family("rest", "mean_field")  # no change: kept
    assert session.approximation is not None
    session.add_group("fr", ["mu"])
    assert session.approximation is None


def test_on_change_is_called_after_edits(session):
    seen = []
    unsubscribe = session.on_change(lambda s: seen.append([g.id for g in s.groups]))
    gid = session.add_group("fr", ["mu"])
    assert seen[-1] == [gid, "rest"]
    unsubscribe()
    session.remove_group(gid)
    assert len(seen) == 1


def test_an_edit_that_takes_a_groups_last_variable_removes_that_group(session):
    """The notebook story: a board group holds mu and tau; add_group takes both."""
    board = session.add_group("mean_field", ["mu", "tau"])
    kept = session.add_group("full_rank")  # empty already: an edit in progress, kept
    new = session.add_group("full_rank", ["mu", "tau"])
    assert [g.id for g in session.groups] == [kept, new, "rest"]
    assert board not in [g["id"] for g in session.to_dict()["plan"]["groups"]]
    session.move("mu", kept)
    session.move("tau", kept)  # new lost its last variable
    assert [g.id for g in session.groups] == [kept, "rest"]
    assert session.group(kept).variables == ["mu", "tau"]
    session.move("mu", "rest")
    assert [g.id for g in session.groups] == [kept, "rest"]
    session.move("tau", "rest")
    assert [g.id for g in session.groups] == ["rest"]


def test_a_dropped_group_id_is_not_reused(session):
    first = session.add_group("full_rank", ["mu"])
    session.move("mu", "rest")
    second = session.add_group("full_rank", ["mu"])
    assert second != first


def test_a_rowwise_group_left_empty_goes_with_its_rowwise_flag(session):
    gid = session.add_group("mean_field", ["theta_tilde"])
    session.set_rowwise(gid, True)
    other = session.add_group("full_rank", ["theta_tilde"])
    assert [g.id for g in session.groups] == [other, "rest"]
    assert not session.group(other).rowwise
    assert all(g.get("id") != gid for g in session.to_dict()["plan"]["groups"])
