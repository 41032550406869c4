"""Instructor presets: loading a plan in one call, hiding and locking controls."""

from __future__ import annotations

import json

import pytest

from vibench.widgets import CONTROLS, Workbench

from ._fake import FakeSession


def _preset(**settings) -> dict:
    return {
        "vibench": 1,
        "plan": {
            "groups": [
                {"id": "g1", "family": "scale-planar-loc", "variables": ["mu", "tau"]},
                {"id": "rest", "family": "full_rank", "variables": ["theta_tilde"]},
            ]
        },
        "settings": {"iterations": 700, "optimizer": "sgd", "learning_rate": 0.05, **settings},
    }


@pytest.fixture
def preset_file(tmp_path):
    path = tmp_path / "exercise.json"
    path.write_text(json.dumps(_preset()))
    return path


def _plan(session) -> list[tuple]:
    return [(g.id, list(g.variables), g.family) for g in session.groups]


def _close(wb):
    wb.close()


@pytest.mark.parametrize("as_dict", [False, True])
def test_a_preset_file_or_dict_loads_in_one_call(preset_file, as_dict):
    preset = json.loads(preset_file.read_text()) if as_dict else str(preset_file)
    s = FakeSession()
    wb = Workbench(session=s, preset=preset)
    assert ("g1", ["mu", "tau"], "scale-planar-loc") in _plan(s)
    assert next(g.family for g in s.groups if g.id == "rest") == "full_rank"
    assert wb.board.groups[0]["family"] == "scale-planar-loc"
    assert wb.iterations.value == 700
    assert wb.optimizer.value == "sgd"
    assert wb.learning_rate.value == pytest.approx(0.05)
    _close(wb)


def test_save_preset_round_trips(tmp_path):
    s = FakeSession()
    wb = Workbench(session=s)
    gid = s.add_group("full_rank", ["mu"])
    s.configure(iterations=1234)
    path = wb.save_preset(tmp_path / "p.json")
    wb2 = Workbench(session=FakeSession(), preset=path)
    assert (gid, ["mu"], "full_rank") in _plan(wb2.session)
    assert wb2.iterations.value == 1234
    _close(wb)
    _close(wb2)


def test_missing_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError, match=r"preset file not found: .*nope\.json") as info:
        Workbench(session=FakeSession(), preset=missing)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_bad_json_says_where(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"plan": {\n  "groups": [,]}}')
    with pytest.raises(ValueError, match=r"not valid JSON \(line 2, column"):
        Workbench(session=FakeSession(), preset=bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        Workbench(session=FakeSession(), preset=bad)


def test_a_preset_of_the_wrong_shape_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does not fit: a preset needs a 'plan'"):
        Workbench(session=FakeSession(), preset={"settings": {}})
    with pytest.raises(TypeError, match="path to a JSON file or a dict"):
        Workbench(session=FakeSession(), preset=42)


def test_a_preset_for_another_model_names_both():
    from vibench.session import PlanError, Session

    data = Session("eight_schools").to_dict()
    with pytest.raises(PlanError, match=r"made for variables .*'mu'.* this model has"):
        Workbench("funnel", preset=data)


def test_a_real_session_from_a_preset_uses_its_demo_model(tmp_path):
    from vibench.session import Session

    s = Session("eight_schools")
    gid = s.add_group("full_rank", ["mu", "tau"])
    s.configure(learning_rate=0.02)
    path = tmp_path / "eight.json"
    path.write_text(json.dumps(s.to_dict()))
    wb = Workbench(preset=path, lock=["groups"])
    assert (gid, ["mu", "tau"], "full_rank") in _plan(wb.session)
    assert wb.learning_rate.value == pytest.approx(0.02)
    _close(wb)


def test_unknown_control_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown control 'optimiser'; valid names are") as info:
        Workbench(session=FakeSession(), hide=["optimiser"])
    for name in CONTROLS:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="lock: unknown control"):
        Workbench(session=FakeSession(), lock="everything")


def test_hidden_controls_leave_the_layout_and_keep_the_preset_value(preset_file):
    s = FakeSession()
    wb = Workbench(session=s, preset=preset_file, hide=["optimizer", "seed", "export"])
    assert wb.optimizer not in wb._settings_row.children
    assert wb.seed not in wb._settings_row.children
    assert wb.iterations in wb._settings_row.children
    assert wb._tabs.titles == ("Runs",)
    # a front end cannot change a hidden setting either
    wb.optimizer.set_state({"index": wb.optimizer.options.index("adam")})
    assert wb.optimizer.value == "sgd"
    assert wb._read_settings()["optimizer"] == "sgd"
    _close(wb)


def test_locked_settings_are_disabled_and_put_back(preset_file):
    s = FakeSession()
    wb = Workbench(session=s, preset=preset_file, lock=["iterations", "learning_rate", "reset"])
    assert wb.iterations.disabled
    assert wb.learning_rate.disabled
    assert wb.reset_button.disabled
    assert wb.iterations in wb._settings_row.children
    assert not wb.optimizer.disabled
    wb.iterations.set_state({"value": 5})
    wb.learning_rate.set_state({"value": 0.9})
    assert wb.iterations.value == 700
    assert wb.learning_rate.value == pytest.approx(0.05)
    # values the session sets still show
    s.configure(iterations=800)
    assert wb.iterations.value == 800
    wb.iterations.set_state({"value": 5})
    assert wb.iterations.value == 800
    wb.reset()
    assert "turned off" in wb.status.value
    _close(wb)


def test_locked_families_refuse_set_family_from_the_front_end(preset_file):
    s = FakeSession()
    wb = Workbench(session=s, preset=preset_file, lock=["families"])
    assert wb.board.locked == ["families"]
    before = _plan(s)
    # what the JS would send if someone re-enabled the picker in the DOM
    wb.board._on_msg(wb.board, {"kind": "set_family", "group": "g1", "family": "full_rank"}, [])
    assert _plan(s) == before
    assert "fixed for this exercise" in wb.board.notice
    # moving variables is still allowed
    assert wb.board.apply({"kind": "move", "variable": "mu", "group": "rest"})
    _close(wb)


def test_locked_or_hidden_groups_refuse_moves(preset_file):
    for how in ("hide", "lock"):
        s = FakeSession()
        wb = Workbench(session=s, preset=preset_file, **{how: ["groups"]})
        before = _plan(s)
        for action in (
            {"kind": "move", "variable": "mu", "group": "rest"},
            {"kind": "new_group", "variable": "theta_tilde", "family": "full_rank"},
            {"kind": "remove_group", "group": "g1"},
        ):
            assert wb.board.apply(action) is False
        assert _plan(s) == before
        # the family is still the student's to choose
        assert wb.board.apply({"kind": "set_family", "group": "rest", "family": "mean_field"})
        _close(wb)


def test_locked_flow_editor_refuses_stack_edits_only(preset_file):
    s = FakeSession()
    wb = Workbench(session=s, preset=preset_file, lock=["flow_editor"])
    edit = {"kind": "set_family", "group": "g1", "family": "scale-planar*2-loc"}
    assert wb.board.apply(edit) is False
    assert next(g.family for g in s.groups if g.id == "g1") == "scale-planar-loc"
    assert wb.board.apply({"kind": "set_family", "group": "rest", "family": "mean_field"})
    _close(wb)


def test_edits_refused_by_a_lock_are_not_queued_during_a_fit(preset_file):
    s = FakeSession(step_seconds=0.002)
    wb = Workbench(session=s, preset=preset_file, lock=["groups"], live_plots=False)
    wb.iterations.value = 700
    wb.fit()
    wb.board.apply({"kind": "move", "variable": "mu", "group": "rest"})
    assert wb.board.pending == []
    s.stop()
    wb.wait(timeout=20)
    _close(wb)


def test_loading_a_plan_is_refused_when_the_plan_is_locked(preset_file):
    s = FakeSession()
    wb = Workbench(session=s, preset=preset_file, lock=["families"])
    before = _plan(s)
    assert wb.load_button.disabled
    assert wb.apply_json_button.disabled
    assert wb.apply_plan_json(json.dumps({"vibench": 1, "plan": {"groups": []}})) is False
    assert "turned off" in wb.plan_message.value
    assert _plan(s) == before
    _close(wb)


def test_export_locked_disables_the_plan_tab(preset_file):
    wb = Workbench(session=FakeSession(), preset=preset_file, lock=["export"])
    assert wb.save_button.disabled
    assert wb.load_button.disabled
    assert wb.plan_json.disabled
    assert len(wb._tabs.children) == 3
    _close(wb)
