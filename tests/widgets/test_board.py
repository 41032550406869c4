"""The board against a fake session: traits, actions, messages, refusals, sync."""

from __future__ import annotations

import types

import pytest
import traitlets

from vibench.widgets import FAMILIES, Board


def test_traits_show_the_session(session):
    board = Board(session)
    names = [v["name"] for v in board.variables]
    assert names == ["mu", "tau", "theta_tilde", "k"]
    theta = board.variables[2]
    assert theta["shape"] == [8]
    assert theta["size"] == 8
    k = board.variables[3]
    assert k["discrete"] is True
    assert "continuous" in k["note"]
    assert board.groups == [
        {"id": "rest", "family": "mean_field", "variables": ["mu", "tau", "theta_tilde"]}
    ]
    assert [f["value"] for f in board.families] == [f["value"] for f in FAMILIES]
    assert {"mean_field", "full_rank", "empirical", "flow"} <= {f["value"] for f in board.families}
    assert board.flow_names == ["planar", "radial", "hh", "scale", "loc"]


def test_every_trait_has_help():
    for name, trait in Board.class_traits(sync=True).items():
        if name.startswith("_") or name in {
            "comm",
            "keys",
            "log",
            "layout",
            "tabbable",
            "tooltip",
        }:
            continue
        if trait.this_class is not Board:
            continue
        assert trait.help, f"trait {name} has no help"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            {"kind": "new_group", "variable": "mu", "family": "full_rank"},
            {"g1": ("full_rank", ["mu"]), "rest": ("mean_field", ["tau", "theta_tilde"])},
        ),
        (
            {"kind": "new_group", "variable": None, "family": "full_rank"},
            {"g1": ("full_rank", []), "rest": ("mean_field", ["mu", "tau", "theta_tilde"])},
        ),
        (
            {"kind": "set_family", "group": "rest", "family": "full_rank"},
            {"rest": ("full_rank", ["mu", "tau", "theta_tilde"])},
        ),
    ],
)
def test_actions_change_the_session(session, action, expected):
    board = Board(session)
    assert board.apply(action) is True
    got = {g.id: (g.family, g.variables) for g in session.groups}
    assert got == expected
    assert board.groups == [
        {"id": gid, "family": fam, "variables": vs} for gid, (fam, vs) in expected.items()
    ]


def test_custom_message_path_moves_and_removes(session):
    """What the JavaScript sends goes through the widget's message handler."""
    board = Board(session)
    board._handle_custom_msg({"kind": "new_group", "variable": "mu", "family": "full_rank"}, [])
    board._handle_custom_msg({"kind": "move", "variable": "tau", "group": "g1"}, [])
    assert session.groups[0].variables == ["mu", "tau"]
    board._handle_custom_msg({"kind": "move", "variable": "mu", "group": "rest"}, [])
    assert session.groups[0].variables == ["tau"]
    board._handle_custom_msg({"kind": "remove_group", "group": "g1"}, [])
    assert [g.id for g in session.groups] == ["rest"]
    assert board.groups[-1]["variables"] == ["mu", "tau", "theta_tilde"]


def test_flow_formula_goes_to_the_session(session):
    board = Board(session)
    gid = session.add_group("full_rank", ["theta_tilde"])
    assert board.apply({"kind": "set_family", "group": gid, "family": "scale-planar*2-loc"})
    assert session.groups[0].family == "scale-planar*2-loc"
    assert board.groups[0]["family"] == "scale-planar*2-loc"


def test_refused_family_is_explained_inline_and_changes_nothing(session):
    board = Board(session)
    gid = session.add_group("full_rank", ["mu"])
    before = board.revision
    assert board.apply({"kind": "set_family", "group": gid, "family": "planar-wobble"}) is False
    assert "wobble" in board.errors[gid]
    assert session.groups[0].family == "full_rank"
    assert board.revision == before + 1  # the view redraws even though nothing changed
    # a later valid edit of the same group clears the message
    assert board.apply({"kind": "set_family", "group": gid, "family": "mean_field"})
    assert gid not in board.errors


def test_empirical_is_a_family_the_board_sets(session):
    # any family may be set while editing; a mixed plan is refused at Fit (see
    # test_empirical.py), not here
    board = Board(session)
    assert board.apply({"kind": "new_group", "variable": "mu", "family": "full_rank"})
    assert board.apply({"kind": "set_family", "group": "rest", "family": "empirical"}) is True
    assert "rest" not in board.errors
    assert session.groups[-1].family == "empirical"
    assert board.groups[-1]["family"] == "empirical"


@pytest.mark.parametrize(
    "action",
    [
        {"kind": "move", "variable": "k", "group": "rest"},  # discrete
        {"kind": "move", "variable": "nope", "group": "rest"},
        {"kind": "move", "variable": "mu", "group": "g99"},
        {"kind": "move", "variable": 3, "group": "rest"},
        {"kind": "explode"},
        {"kind": "remove_group", "group": "rest"},
    ],
)
def test_bad_actions_become_a_notice_not_a_traceback(session, action):
    board = Board(session)
    before = [(g.id, g.variables, g.family) for g in session.groups]
    assert board.apply(action) is False
    assert board.notice
    assert [(g.id, g.variables, g.family) for g in session.groups] == before


def test_groups_trait_keeps_rest_last(session):
    board = Board(session)
    with pytest.raises(traitlets.TraitError):
        board.groups = [{"id": "rest", "family": "mean_field", "variables": []}, {"id": "g1"}]
    with pytest.raises(traitlets.TraitError):
        board.groups = [{"id": "g1", "family": "full_rank", "variables": []}]


def test_state_round_trip(session):
    board = Board(session)
    board.apply({"kind": "new_group", "variable": "tau", "family": "full_rank"})
    state = board.get_state()
    other = Board(session)
    other.set_state({k: state[k] for k in ("variables", "groups", "errors", "notice")})
    assert other.groups == board.groups
    assert other.variables == board.variables


def test_edits_during_a_fit_are_shown_queued_then_cleared(session):
    """The view gets the queued edits (to show them pending) and loses them once applied."""
    session.step_seconds = 0.002
    board = Board(session)
    session.start(100_000)
    try:
        move = {"kind": "new_group", "variable": "mu", "family": "full_rank"}
        fam = {"kind": "set_family", "group": "rest", "family": "full_rank"}
        assert board.apply(move) is False
        assert board.apply(fam) is False
        assert board.queued == [move, fam]
        assert board.get_state()["queued"] == [move, fam]
        assert "2 queued" in board.notice
        assert [g.id for g in session.groups] == ["rest"]  # nothing applied yet
    finally:
        session.stop()
        session.wait(timeout=30)
    board.apply_pending()
    assert board.queued == []
    assert board.pending == []
    assert [(g["id"], g["family"], g["variables"]) for g in board.groups] == [
        ("g1", "full_rank", ["mu"]),
        ("rest", "full_rank", ["tau", "theta_tilde"]),
    ]


def test_chips_carry_the_model_dims(session):
    """Dims come from the PyMC model when the session has one; none without a model."""
    assert [v["dims"] for v in Board(session).variables] == [[], [], [], []]

    session.model = types.SimpleNamespace(
        named_vars_to_dims={"theta_tilde": ("school",), "mu": (), "k": (None,)}
    )
    dims = {v["name"]: v["dims"] for v in Board(session).variables}
    assert dims == {"mu": [], "tau": [], "theta_tilde": ["school"], "k": []}


def test_real_model_dims_reach_the_board():
    from vibench import Session

    board = Board(Session())
    dims = {v["name"]: v["dims"] for v in board.variables}
    assert dims == {"mu": [], "tau": [], "theta_tilde": ["school"]}
