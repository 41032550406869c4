"""``to_dict`` / ``Session.from_dict``: JSON round trip and untrusted input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vibench import models
from vibench.session import PlanError, Session

MODEL = models.eight_schools()
NAMES = ["mu", "tau", "theta_tilde"]
FAMILIES = ["mf", "mean_field", "fr", "full_rank", "planar", "scale-hh*2-loc", "radial*2"]

edit = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(FAMILIES), st.lists(st.sampled_from(NAMES))),
    st.tuples(st.just("move"), st.sampled_from(NAMES), st.integers(0, 5)),
    st.tuples(st.just("family"), st.integers(0, 5), st.sampled_from(FAMILIES)),
    st.tuples(st.just("remove"), st.integers(0, 5)),
)


def _apply(s: Session, op) -> None:
    ids = [g.id for g in s.groups]
    try:
        if op[0] == "add":
            s.add_group(op[1], list(dict.fromkeys(op[2])))
        elif op[0] == "move":
            s.move(op[1], ids[op[2] % len(ids)])
        elif op[0] == "family":
            s.set_family(ids[op[1] % len(ids)], op[2])
        else:
            s.remove_group(ids[op[1] % len(ids)])
    except PlanError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edit, max_size=8), st.sampled_from(["adam", "sgd", "adagrad_window"]))
def test_plan_round_trips_through_json(ops, optimizer):
    s = Session(MODEL)
    for op in ops:
        _apply(s, op)
    s.configure(optimizer=optimizer, learning_rate=0.1, seed=3)
    data = s.to_dict()
    text = json.dumps(data)
    again = Session.from_dict(MODEL, json.loads(text))
    assert again.to_dict() == data
    assert [(g.id, g.variables, g.family) for g in again.groups] == [
        (g.id, g.variables, g.family) for g in s.groups
    ]
    assert again.settings == s.settings
    # new groups after a load get fresh ids
    new = again.add_group("mf")
    assert new not in [g.id for g in s.groups]


def test_from_dict_accepts_a_json_string():
    s = Session(MODEL)
    s.add_group("fr", ["mu", "tau"])
    again = Session.from_dict(MODEL, json.dumps(s.to_dict()))
    assert again.to_dict() == s.to_dict()


def _good() -> dict:
    s = Session(MODEL)
    s.add_group("fr", ["mu", "tau"])
    return s.to_dict()


def _with(path, value):
    d = json.loads(json.dumps(_good()))
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return d


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2], "JSON object"),
        ("{not json", "not valid JSON"),
        ({"plan": {"groups": []}, "extra": 1}, "unknown keys"),
        ({"settings": {}}, "no 'plan'"),
        ({"vibench": 99, "plan": {"groups": []}}, "format"),
        (_with(["plan", "groups"], "x"), "'groups' list"),
        (_with(["plan", "groups", 0], 5), "JSON object"),
        (_with(["plan", "groups", 0, "id"], "../etc"), "bad id"),
        (_with(["plan", "groups", 0, "id"], "rest"), "twice"),
        (_with(["plan", "groups", 0, "family"], "__import__('os')"), "unknown family"),
        (_with(["plan", "groups", 0, "family"], None), "'family' string"),
        (_with(["plan", "groups", 0, "variables"], ["mu", "nope"]), "unknown variable"),
        (_with(["plan", "groups", 0, "variables"], "mu"), "list of names"),
        (_with(["plan", "groups", 1, "variables"], ["theta_tilde", "mu"]), "both group"),
        (_with(["plan", "groups", 1, "variables"], []), "rest group lists"),
        (_with(["plan", "groups", 0, "extra"], 1), "unknown keys"),
        (_with(["settings", "optimizer"], "os.system"), "unknown optimizer"),
        (_with(["settings", "learning_rate"], -1), "learning_rate"),
        (_with(["settings", "nope"], 1), "unknown fit settings"),
        (_with(["model", "variables"], [{"name": "a", "shape": []}]), "made for variables"),
        (
            _with(["model", "variables", 2], {"name": "theta_tilde", "shape": [7]}),
            "shape",
        ),
    ],
)
def test_from_dict_rejects_malformed_or_mismatched_input(data, match):
    with pytest.raises(PlanError, match=match):
        Session.from_dict(MODEL, data)


def test_from_dict_never_evaluates_its_input(tmp_path: Path):
    marker = tmp_path / "pwned"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    for path in (["plan", "groups", 0, "family"], ["settings", "optimizer"]):
        with pytest.raises(PlanError):
            Session.from_dict(MODEL, _with(path, payload))
    assert not marker.exists()


def test_preset_for_another_model_is_refused():
    data = _good()
    with pytest.raises(PlanError, match="made for variables"):
        Session.from_dict(models.funnel(), data)


def test_from_dict_without_a_model_uses_the_demo_the_preset_names():
    s = Session("banana")
    s.set_family("rest", "full_rank")
    again = Session.from_dict(None, s.to_dict())
    assert models.demo_name(again.model) == "banana"
    assert again.group("rest").family == "full_rank"
    bad = s.to_dict()
    bad["model"]["name"] = "os.system"
    with pytest.raises(PlanError, match="unknown demo model"):
        Session.from_dict(None, bad)
