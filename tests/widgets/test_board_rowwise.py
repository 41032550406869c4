"""The board with row-wise groups and groups built in Python (a real session, no compile)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from tests.engine._local_helpers import shared_data_vae, vae_data
from vibench.session import Session
from vibench.widgets import Board

FAST = {"mode": "FAST_COMPILE"}


def rows_model() -> pm.Model:
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0, shape=(8, 2))
        s = pm.HalfNormal("s", 1.0, shape=(8,))
        v = pm.Normal("v", 0.0, 1.0, shape=(3,))
        t = pm.Normal("t", 0.0, 1.0)
        pm.Normal("y", mu * s[:, None] + t + v.sum(), 1.0, observed=np.zeros((8, 2)))
    return model


@pytest.fixture
def session() -> Session:
    return Session(rows_model(), compile_kwargs=FAST)


def test_variables_carry_their_rows(session):
    board = Board(session)
    rows = {v["name"]: v["rows"] for v in board.variables}
    assert rows == {"mu": 8, "s": 8, "v": 3, "t": None}


def test_group_details_say_whether_rowwise_is_possible(session):
    good = session.add_group("fr", ["mu", "s"])
    mixed = session.add_group("mf", ["v", "t"])
    empty = session.add_group("mf")
    board = Board(session)
    d = board.group_details
    assert d[good] == {
        "rowwise": False,
        "rows": 8,
        "rowwise_ok": True,
        "rowwise_why": "",
        "custom": False,
        "label": "",
    }
    assert d[mixed]["rowwise_ok"] is False
    assert "t has none" in d[mixed]["rowwise_why"]
    assert d[empty]["rowwise_ok"] is False
    assert "Drop variables" in d[empty]["rowwise_why"]
    assert d["rest"]["rowwise_ok"] is False
    session.set_family(good, "empirical")
    board.refresh()
    assert "Empirical" in board.group_details[good]["rowwise_why"]


def test_message_from_the_front_end_sets_rowwise(session):
    gid = session.add_group("fr", ["mu", "s"])
    board = Board(session)
    rev = board.revision
    board._on_msg(board, {"kind": "set_rowwise", "group": gid, "rowwise": True}, [])
    assert session.group(gid).rowwise is True
    assert board.group_details[gid]["rowwise"] is True
    assert board.revision > rev
    board._on_msg(board, {"kind": "set_rowwise", "group": gid, "rowwise": False}, [])
    assert session.group(gid).rowwise is False


def test_python_calls_redraw_the_board(session):
    board = Board(session)
    session.on_change(lambda _s: board.refresh())
    gid = session.add_group("mf", ["mu"])
    session.set_rowwise(gid)
    assert board.group_details[gid]["rowwise"] is True
    assert board.group_details[gid]["rows"] == 8


def test_refused_rowwise_shows_the_reason_on_the_group(session):
    gid = session.add_group("mf", ["mu", "v"])
    board = Board(session)
    assert board.apply({"kind": "set_rowwise", "group": gid, "rowwise": True}) is False
    assert "same number of rows" in board.errors[gid]
    assert session.group(gid).rowwise is False
    assert board.apply({"kind": "set_rowwise", "group": gid, "rowwise": "yes"}) is False
    assert "boolean" in board.errors[gid]


def test_misfit_move_into_a_rowwise_group_is_refused(session):
    gid = session.add_group("mf", ["mu"])
    session.set_rowwise(gid)
    board = Board(session)
    assert board.apply({"kind": "move", "variable": "v", "group": gid}) is False
    assert "cannot join row-wise group" in board.notice
    assert board.apply({"kind": "move", "variable": "s", "group": gid}) is True


def test_locked_families_lock_rowwise(session):
    gid = session.add_group("mf", ["mu"])
    board = Board(session, locked=["families"])
    assert board.apply({"kind": "set_rowwise", "group": gid, "rowwise": True}) is False
    assert "fixed" in board.notice
    assert session.group(gid).rowwise is False


def test_set_state_round_trip_keeps_details(session):
    gid = session.add_group("fr", ["mu"])
    session.set_rowwise(gid)
    board = Board(session)
    other = Board(session)
    other.set_state({"group_details": board.group_details, "groups": board.groups})
    assert other.group_details == board.group_details


# -- a group built in Python ---------------------------------------------------------------
@pytest.fixture
def vae_board():
    data = vae_data()
    model, _x, group, weights = shared_data_vae("mf", data)
    session = Session(model, compile_kwargs=FAST)
    gid = session.add_custom_group(group, more_obj_params=[weights])
    return Board(session), session, gid


def test_custom_group_shows_read_only(vae_board):
    board, _session, gid = vae_board
    assert board.groups[0] == {"id": gid, "family": "mean_field", "variables": ["z"]}
    d = board.group_details[gid]
    assert d["custom"] is True
    assert d["label"] == "amortized mean-field"
    assert d["rowwise_ok"] is False
    assert "Python" in d["rowwise_why"]


@pytest.mark.parametrize(
    "action",
    [
        {"kind": "move", "variable": "z", "group": "rest"},
        {"kind": "move", "variable": "w", "group": "GID"},
        {"kind": "new_group", "variable": "z", "family": "full_rank"},
        {"kind": "set_family", "group": "GID", "family": "full_rank"},
        {"kind": "set_rowwise", "group": "GID", "rowwise": True},
        {"kind": "remove_group", "group": "GID"},
    ],
)
def test_board_edits_of_a_custom_group_are_refused(vae_board, action):
    board, session, gid = vae_board
    action = {k: (gid if v == "GID" else v) for k, v in action.items()}
    before = [(g.id, g.variables, g.family) for g in session.groups]
    assert board.apply(action) is False
    assert "built in Python" in board.notice
    assert [(g.id, g.variables, g.family) for g in session.groups] == before


def test_python_may_remove_the_custom_group(vae_board):
    board, session, gid = vae_board
    session.on_change(lambda _s: board.refresh())
    session.remove_group(gid)
    assert [g["id"] for g in board.groups] == ["rest"]
    assert gid not in board.group_details
