"""Validation at the door: bad input is refused where it enters, quickly and briefly.

Every path a plan, a flow formula or a fit setting comes in by (the Python API,
``Session.from_dict``, ``Workbench(preset=...)``, the Plan (JSON) tab, the board's
formula box) refuses out-of-range values with a short message naming the bound, and a
refused call leaves nothing set.
"""

from __future__ import annotations

import json
import time

import pymc as pm
import pytest

from vibench.engine.errors import FlowFormulaError
from vibench.engine.flows import (
    MAX_FLOW_LAYERS,
    MAX_FLOW_REPEAT,
    FlowStackTooLongError,
    parse_formula,
)
from vibench.session import PlanError, Session, SessionBusyError
from vibench.session._plan import MAX_PRESET_BYTES
from vibench.session._run import MAX_ITERATIONS, MAX_OBJ_N_MC, MAX_SEED, FitSettings

from .conftest import FAST

#: Refusals must not depend on the size of what is refused: well under a second each.
QUICK = 0.5
#: Messages quote a few names, never a whole list.
SHORT = 600


def _nested(depth: int) -> list:
    out: list = []
    cur = out
    for _ in range(depth):
        cur.append([])
        cur = cur[0]
    return out


def _plan(session: Session) -> list[tuple]:
    return [(g.id, list(g.variables), g.family, g.rowwise) for g in session.groups]


# -- flow formulas: bounded before they are expanded ---------------------------------------
@pytest.mark.parametrize(
    ("formula", "layers"),
    [
        (f"planar*{MAX_FLOW_REPEAT}", MAX_FLOW_REPEAT),
        (f"scale-planar*{MAX_FLOW_LAYERS - 2}-loc", MAX_FLOW_LAYERS),
        ("-".join(["hh"] * MAX_FLOW_LAYERS), MAX_FLOW_LAYERS),
        ("planar*007", 7),
    ],
)
def test_stacks_up_to_the_bounds_parse(formula, layers):
    assert len(parse_formula(formula)) == layers


@pytest.mark.parametrize(
    ("formula", "match"),
    [
        (f"planar*{MAX_FLOW_REPEAT + 1}", f"at most {MAX_FLOW_REPEAT} times"),
        ("planar*100000000", f"at most {MAX_FLOW_REPEAT} times"),
        ("planar*" + "9" * 100_000, f"at most {MAX_FLOW_REPEAT} times"),  # > int()'s digits
        ("scale-" + "-".join(["planar*2000"] * 31) + "-loc", f"at most {MAX_FLOW_REPEAT} times"),
        (f"scale-planar*{MAX_FLOW_LAYERS - 1}-loc", f"more than {MAX_FLOW_LAYERS} flows"),
        ("-".join(["radial"] * 10_000), f"more than {MAX_FLOW_LAYERS} flows"),
    ],
)
def test_stacks_beyond_the_bounds_are_refused_at_once(formula, match):
    start = time.perf_counter()
    with pytest.raises(FlowStackTooLongError, match=match) as info:
        parse_formula(formula)
    assert time.perf_counter() - start < QUICK
    assert isinstance(info.value, FlowFormulaError | KeyError | ValueError)
    assert len(str(info.value)) < SHORT


def test_the_engine_group_factory_refuses_a_long_stack():
    import vibench

    with pm.Model():
        x = pm.Normal("x", 0.0, 1.0, shape=2)
        with pytest.raises(FlowFormulaError, match=f"at most {MAX_FLOW_REPEAT} times"):
            vibench.Group([x], vfam="planar*2000")


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.set_family("rest", "planar*100000000"),
        lambda s: s.set_family("g1", f"scale-planar*{MAX_FLOW_LAYERS}-loc"),
        lambda s: s.add_group("planar*2000", ["theta_tilde"]),
    ],
)
def test_the_session_refuses_a_long_stack_with_a_plan_error(session, edit):
    session.add_group("full_rank", ["mu", "tau"])
    before = _plan(session)
    start = time.perf_counter()
    with pytest.raises(PlanError, match=f"flow stack too long: .*at most {MAX_FLOW_REPEAT}"):
        edit(session)
    assert time.perf_counter() - start < QUICK
    assert _plan(session) == before


def _preset_with_family(family: str) -> dict:
    data = Session().to_dict()
    data["plan"]["groups"][-1]["family"] = family
    return data


def test_a_preset_with_a_long_stack_is_refused_by_from_dict():
    data = _preset_with_family("scale-planar*100000000-loc")
    start = time.perf_counter()
    with pytest.raises(PlanError, match=f"at most {MAX_FLOW_REPEAT} times"):
        Session.from_dict(None, data)
    with pytest.raises(PlanError, match=f"at most {MAX_FLOW_REPEAT} times"):
        Session.from_dict(None, json.dumps(data))
    assert time.perf_counter() - start < QUICK


def test_a_preset_with_a_long_stack_is_refused_by_the_workbench(tmp_path):
    from vibench.widgets import Workbench

    path = tmp_path / "long.json"
    path.write_text(json.dumps(_preset_with_family("planar*2000")))
    for preset in (path, str(path), _preset_with_family("planar*2000")):
        with pytest.raises(PlanError, match=f"does not fit: .*at most {MAX_FLOW_REPEAT}"):
            Workbench(preset=preset, compile_kwargs=FAST)


def test_the_plan_json_tab_refuses_a_long_stack_and_keeps_the_plan():
    from vibench.widgets import Workbench

    wb = Workbench(compile_kwargs=FAST, live_plots=False)
    try:
        gid = wb.session.add_group("full_rank", ["mu", "tau"])
        before = _plan(wb.session)
        assert wb.apply_plan_json(json.dumps(_preset_with_family("planar*100000000"))) is False
        assert f"at most {MAX_FLOW_REPEAT} times" in wb.plan_message.value
        assert _plan(wb.session) == before
        assert wb.session.group(gid).family == "full_rank"
    finally:
        wb.close()


def test_the_board_formula_box_refuses_a_long_stack(session):
    """What the JavaScript formula box sends, through the widget's message handler."""
    from vibench.widgets.board import Board

    board = Board(session)
    gid = session.add_group("scale-loc", ["mu"])
    board._handle_custom_msg({"kind": "set_family", "group": gid, "family": "planar*2000"}, [])
    assert f"at most {MAX_FLOW_REPEAT} times" in board.errors[gid]
    assert session.group(gid).family == "scale-loc"
    ok = board.apply({"kind": "set_family", "group": gid, "family": f"planar*{MAX_FLOW_REPEAT}"})
    assert ok
    assert session.group(gid).family == f"planar*{MAX_FLOW_REPEAT}"
    assert gid not in board.errors


# -- fit settings: in range or refused, and a refusal sets nothing -------------------------
BAD_SETTINGS = [
    ("iterations", MAX_ITERATIONS + 1, "iterations must be from 0 to 10,000,000"),
    ("iterations", 10**12, "iterations must be from 0 to 10,000,000"),
    ("iterations", -1, "iterations must be from 0"),
    ("iterations", 2.5, "iterations must be an int"),
    ("seed", MAX_SEED + 1, r"seed must be None or an int from 0 to 2\*\*32 - 1"),
    ("seed", 2**64, r"seed must be None or an int from 0 to 2\*\*32 - 1"),
    ("seed", -1, "seed must be None or an int"),
    ("obj_n_mc", MAX_OBJ_N_MC + 1, f"obj_n_mc must be an int from 1 to {MAX_OBJ_N_MC}"),
    ("obj_n_mc", 0, "obj_n_mc must be an int from 1"),
    ("window", MAX_ITERATIONS + 1, "window must be an int from 1 to 10,000,000"),
    ("learning_rate", float("inf"), "learning_rate must be a positive number"),
    ("optimizer", ["adam"], "unknown optimizer"),
    ("iterations", _nested(5000), r"iterations must be an int, got \[\[\[\["),
]
GOOD_SETTINGS = [
    ("iterations", MAX_ITERATIONS),
    ("iterations", 0),
    ("seed", MAX_SEED),
    ("seed", 0),
    ("obj_n_mc", MAX_OBJ_N_MC),
    ("window", MAX_ITERATIONS),
]


@pytest.mark.parametrize(("name", "value", "match"), BAD_SETTINGS)
def test_bad_settings_are_refused_with_a_short_message(name, value, match):
    with pytest.raises(ValueError, match=match) as info:
        FitSettings(**{name: value})
    assert len(str(info.value)) < SHORT


@pytest.mark.parametrize(("name", "value"), GOOD_SETTINGS)
def test_settings_at_the_bounds_are_accepted(name, value):
    assert getattr(FitSettings(**{name: value}), name) == value


@pytest.mark.parametrize(("name", "value", "match"), BAD_SETTINGS)
@pytest.mark.parametrize("call", ["configure", "fit", "start"])
def test_a_refused_setting_leaves_every_setting_as_it_was(session, call, name, value, match):
    session.configure(learning_rate=0.05, seed=3, iterations=20)
    before = session.settings
    kwargs = {"tolerance": 1e-3, name: value}  # a good change next to the bad one
    if call != "configure" and name == "iterations":
        kwargs.pop("iterations")
        args = (value,)
    else:
        args = ()
    with pytest.raises(ValueError, match=match):
        getattr(session, call)(*args, **kwargs)
    assert session.settings == before
    assert not session.running
    assert session.runs == []


def test_fit_of_a_trillion_iterations_is_a_value_error_and_later_fits_work(session):
    with pytest.raises(ValueError, match="10,000,000"):
        session.fit(10**12)
    assert session.settings.iterations == FitSettings().iterations
    with pytest.raises(ValueError, match=r"2\*\*32"):
        session.fit(5, seed=2**32)
    assert session.settings.seed is None
    run = session.fit(5, seed=MAX_SEED)  # the largest seed fits
    assert run.status == "finished"
    assert session.fit(5).status == "finished"


@pytest.mark.parametrize(("name", "value", "match"), BAD_SETTINGS)
def test_a_preset_with_a_bad_setting_is_a_plan_error(name, value, match):
    data = Session().to_dict()
    data["settings"][name] = value
    with pytest.raises(PlanError, match=f"preset settings: .*{match}"):
        Session.from_dict(None, data)


def test_a_workbench_preset_with_a_trillion_iterations_is_refused(tmp_path):
    """The box showed 10,000,000 while the session held 10**12: now neither."""
    from vibench.widgets import Workbench

    data = Session().to_dict()
    data["settings"]["iterations"] = 10**12
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match=r"does not fit: preset settings: .*10,000,000"):
        Workbench(preset=path, compile_kwargs=FAST)
    data["settings"]["iterations"] = MAX_ITERATIONS
    wb = Workbench(preset=data, compile_kwargs=FAST, live_plots=False)
    try:
        assert wb.session.settings.iterations == MAX_ITERATIONS
        assert wb.iterations.value == MAX_ITERATIONS
    finally:
        wb.close()


# -- presets: sizes checked early, nesting refused, messages short ------------------------
def _at(data: dict, path: str, value) -> dict:
    data = json.loads(json.dumps(data))
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    target = data
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = value
    return data


DEEP = _nested(10_000)  # plain repr() of it raises RecursionError


@pytest.mark.parametrize(
    "where",
    [
        "vibench",
        "model.name",
        "model.variables.0.shape",
        "plan.groups.0.id",
        "plan.groups.0.family",
        "plan.groups.0.rowwise",
        "plan.groups.0.variables",
        "plan.particles",
        "settings.seed",
        "settings.optimizer",
    ],
)
def test_deeply_nested_values_are_a_plan_error(where):
    data = _at(Session().to_dict(), where, DEEP)
    with pytest.raises(PlanError) as info:
        Session.from_dict(None, data)
    assert len(str(info.value)) < SHORT


def test_deeply_nested_json_text_is_a_plan_error():
    text = '{"plan": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(PlanError, match="nested too deeply"):
        Session.from_dict(None, text)


NAMES = [f"v{i}" for i in range(1_500_000)]


@pytest.mark.parametrize(
    ("where", "value", "match"),
    [
        ("plan.groups.0.variables", NAMES, "lists 1,500,000 variables, but the model has 3"),
        (
            "model.variables",
            [{"name": n, "shape": []} for n in NAMES],
            "made for a model with 1,500,000 variables, but this model has 3 free",
        ),
        (
            "plan.groups",
            [{"id": f"g{i}", "family": "mf", "variables": []} for i in range(100_000)],
            "has 100,000 groups, but a model with 3 free variables takes at most 20",
        ),
        ("plan.groups.0.variables", ["mu", "nope"], "unknown variable 'nope'"),
        (
            "model.variables",
            [{"name": n, "shape": []} for n in ["a", "b", *NAMES[:1]]],
            r"made for variables \['a', 'b', 'v0'\], but this model has",
        ),
    ],
)
def test_huge_presets_are_refused_quickly_with_short_messages(where, value, match):
    data = _at(Session().to_dict(), where, [])
    target = data
    keys = [int(k) if k.isdigit() else k for k in where.split(".")]
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = value  # not through json: building 1.5 M names twice is slow
    start = time.perf_counter()
    with pytest.raises(PlanError, match=match) as info:
        Session.from_dict(None, data)
    assert time.perf_counter() - start < QUICK
    assert len(str(info.value)) < SHORT


def test_messages_about_a_large_model_name_a_few_variables():
    with pm.Model() as model:
        for i in range(30):
            pm.Normal(f"x{i}", 0.0, 1.0)
    s = Session(model, compile_kwargs=FAST)
    with pytest.raises(PlanError, match=r"'x7', \.\.\. and 22 more\]") as info:
        s.move("nope", "rest")
    assert "'x8'" not in str(info.value)
    data = _at(s.to_dict(), "plan.groups.0.variables", ["x1", "x2"])
    with pytest.raises(PlanError, match=r"the rest group lists \[.*, \.\.\. and 22 more\]"):
        Session.from_dict(model, data)


def test_preset_text_over_the_size_cap_is_refused_before_parsing():
    text = " " * (MAX_PRESET_BYTES + 1)
    start = time.perf_counter()
    with pytest.raises(PlanError, match="preset is too large"):
        Session.from_dict(None, text)
    assert time.perf_counter() - start < QUICK


def test_a_preset_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path):
    from vibench.widgets import Workbench
    from vibench.widgets._preset import read_preset

    path = tmp_path / "big.json"
    with path.open("wb") as f:  # sparse: no 4 MiB written
        f.truncate(MAX_PRESET_BYTES + 1)
    with pytest.raises(ValueError, match="too large for a preset"):
        read_preset(path)
    with pytest.raises(ValueError, match="too large for a preset"):
        Workbench(preset=path, compile_kwargs=FAST)
    deep = tmp_path / "deep.json"
    deep.write_text('{"plan": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ValueError, match="nested too deeply"):
        read_preset(deep)


def test_a_plan_with_unknown_keys_is_refused():
    data = _at(Session().to_dict(), "plan.rest_family", "full_rank")
    with pytest.raises(PlanError, match=r"a plan has unknown keys \['rest_family'\]"):
        Session.from_dict(None, data)


def test_a_good_preset_still_round_trips():
    s = Session()
    gid = s.add_group("scale-planar*3-loc", ["mu", "tau"])
    s.configure(iterations=MAX_ITERATIONS, seed=MAX_SEED)
    back = Session.from_dict(None, json.dumps(s.to_dict()))
    assert _plan(back) == _plan(s)
    assert back.group(gid).family == "scale-planar*3-loc"
    assert back.settings == s.settings


# -- clear_plan and reset: what each keeps --------------------------------------------------
def _play_on_the_board(s: Session) -> None:
    """What a reader might do on the board before running the later cells."""
    g = s.add_group("mean_field", ["mu", "tau"])
    s.set_family(g, "scale-planar*2-loc")
    s.set_family("rest", "full_rank")
    s.configure(optimizer="sgd", learning_rate=0.05, obj_n_mc=2)
    s.fit(5, seed=7)
    s.add_group("full_rank")  # an empty group, left for later


def test_reset_keeps_the_plan_and_settings_and_clears_the_parameters(session):
    _play_on_the_board(session)
    plan, settings, runs = _plan(session), session.settings, list(session.runs)
    session.reset()
    assert session.iteration == 0
    assert session.elbo.size == 0
    assert _plan(session) == plan
    assert session.settings == settings
    assert session.runs == runs


def test_clear_plan_gives_the_plan_of_a_new_session(session):
    _play_on_the_board(session)
    runs = list(session.runs)
    settings = session.settings
    seen = []
    session.on_change(lambda s: seen.append([g.id for g in s.groups]))
    session.clear_plan()
    assert seen[-1] == ["rest"]
    assert _plan(session) == _plan(Session())
    assert session.to_dict()["plan"] == Session().to_dict()["plan"]
    assert session.approximation is None
    assert session.runs == runs  # the history stays
    assert session.settings == settings  # settings stay unless asked
    session.clear_plan(settings=True)
    assert session.settings == FitSettings()
    assert session.add_group("full_rank", ["mu", "tau"]) == "g1"  # ids start again


def test_after_clear_plan_a_fit_gives_the_numbers_of_a_new_session(session):
    fresh = Session(compile_kwargs=FAST).fit(30, learning_rate=0.01, seed=1)
    session.fit(10, learning_rate=0.01, seed=1)  # the clean plan, already fitted
    _play_on_the_board(session)
    session.clear_plan(settings=True)
    again = session.fit(30, learning_rate=0.01, seed=1)
    assert again.elbo.tolist() == pytest.approx(fresh.elbo.tolist())


def test_the_notebook_cell_that_failed_now_fits(session):
    """Issue 15: board groups, then reset + add_group emptied g1 and Fit raised."""
    session.add_group("mean_field", ["mu", "tau"])  # g1, made on the board
    session.reset()
    session.add_group("full_rank", ["mu", "tau"])  # empties g1: it goes
    assert [g.id for g in session.groups] == ["g2", "rest"]
    assert session.fit(5, seed=1).status == "finished"


def test_clear_plan_removes_groups_built_in_python(session):
    with session.model:
        group = pm.variational.opvi.Group([session.model["mu"]], vfam="mf")
    session.add_custom_group(group)
    session.clear_plan()
    assert [g.id for g in session.groups] == ["rest"]
    assert session._custom_groups == {}
    assert session.fit(5, seed=1).status == "finished"


def test_clear_plan_refuses_while_a_fit_runs(session):
    session.start(100_000, seed=1)
    try:
        with pytest.raises(SessionBusyError, match="stop it before clearing the plan"):
            session.clear_plan()
    finally:
        session.stop()
        session.wait(timeout=120)
    session.clear_plan()


def test_the_plan_json_tab_refuses_oversized_text_before_parsing():
    from vibench.session._plan import MAX_PRESET_BYTES
    from vibench.widgets import Workbench

    wb = Workbench("eight_schools", compile_kwargs={"mode": "FAST_COMPILE"})
    before = wb.session.to_dict()
    huge = '{"plan": ' + "[" * 10 + " " * (MAX_PRESET_BYTES + 10) + "]" * 10 + "}"
    assert wb.apply_plan_json(huge) is False
    assert "too large" in wb.plan_message.value
    assert wb.session.to_dict() == before
