"""The NUTS reference on the board: a live progress line, Cancel, a posterior you have."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import xarray as xr

from vibench.widgets import Workbench

from ._fake import FakeSession


def _fit(wb: Workbench, n: int = 200):
    wb.iterations.set_state({"value": n})
    wb.fit_button.click()
    return wb.wait(timeout=120)


def _cancel_shown(wb: Workbench) -> bool:
    return wb.reference_cancel.layout.display != "none"


def test_ticking_the_box_shows_live_nuts_progress_then_the_overlay(workbench, session):
    wb = workbench
    _fit(wb)
    assert not _cancel_shown(wb)
    wb.show_reference.value = True
    job = session.reference_jobs[-1]
    assert ("reference", 500, True) in session.calls
    assert "NUTS reference: starting" in wb.reference_note.value
    assert _cancel_shown(wb)
    job.advance(640, divergences=0)
    assert "NUTS reference: 640/2000 draws, 0 divergences" in wb.reference_note.value
    assert "about 30 s left" in wb.reference_note.value
    job.advance(1200, divergences=3)
    assert "1200/2000 draws, 3 divergences, chain 2/2" in wb.reference_note.value
    assert not wb._live_marginals.fig.legends  # no reference drawn yet
    job.finish()
    assert "NUTS reference ready" in wb.reference_note.value
    assert not _cancel_shown(wb)
    assert wb._live_marginals.fig.legends  # dashed lines: the legend says so


def test_a_long_reference_says_so(workbench, session):
    workbench.show_reference.value = True
    session.reference_jobs[-1].advance(40, seconds_left=900)
    note = workbench.reference_note.value
    assert "about 15 min left" in note
    assert "long: Cancel" in note
    assert "set_reference" in note


def test_unticking_the_box_cancels_the_reference_and_ticking_again_starts_anew(workbench, session):
    wb = workbench
    wb.show_reference.value = True
    first = session.reference_jobs[-1]
    first.advance(100)
    wb.show_reference.value = False
    assert first.cancelled()
    assert first.progress.state == "cancelled"
    assert "cancelled" in wb.reference_note.value
    assert not _cancel_shown(wb)
    first.advance(200)  # a late event from the old job changes nothing
    assert "200/2000" not in wb.reference_note.value
    wb.show_reference.value = True
    second = session.reference_jobs[-1]
    assert second is not first
    assert not second.done()
    assert _cancel_shown(wb)
    second.finish()
    assert "ready" in wb.reference_note.value


def test_the_cancel_button_stops_the_reference_and_unticks_the_box(workbench, session):
    wb = workbench
    wb.show_reference.value = True
    job = session.reference_jobs[-1]
    job.advance(300)
    wb.reference_cancel.click()
    assert job.cancelled()
    assert wb.show_reference.value is False
    assert "NUTS reference cancelled" in wb.reference_note.value
    assert not _cancel_shown(wb)


def test_a_failed_reference_says_why(workbench, session):
    wb = workbench
    wb.show_reference.value = True
    session.reference_jobs[-1].fail(RuntimeError("bad initial energy"))
    assert "NUTS reference failed: bad initial energy" in wb.reference_note.value
    assert not _cancel_shown(wb)


def test_closing_the_workbench_cancels_its_reference():
    session = FakeSession()
    wb = Workbench(session=session)
    wb.show_reference.value = True
    job = session.reference_jobs[-1]
    wb.close()
    assert job.cancelled()


def test_a_posterior_set_from_python_is_the_overlay(workbench, session):
    wb = workbench
    _fit(wb)
    wb.show_reference.value = True
    job = session.reference_jobs[-1]
    mine = session.sample(300, seed=5)
    session.set_reference(mine)
    assert job.cancelled()  # the NUTS job is no longer wanted
    assert "Your reference posterior ready" in wb.reference_note.value
    assert wb._live_marginals.fig.legends
    assert wb._reference is not None
    xr.testing.assert_equal(
        xr.DataArray(wb._reference["mu"]).squeeze(drop=True),
        xr.DataArray(mine["posterior"]["mu"].values.reshape(-1)).squeeze(drop=True),
    )
    other = session.sample(300, seed=6)
    session.set_reference(other)  # another posterior replaces the first
    np.testing.assert_array_equal(
        np.asarray(wb._reference["mu"]).reshape(-1), other["posterior"]["mu"].values.reshape(-1)
    )
    session.set_reference(None)  # back to NUTS: a new job
    assert wb._reference is None
    assert not session.reference_jobs[-1].done()


def test_a_posterior_set_before_ticking_is_shown_when_ticked(workbench, session):
    wb = workbench
    session.set_reference(session.sample(200, seed=2))
    assert "tick the box to show it" in wb.reference_note.value
    wb.show_reference.value = True
    assert "Your reference posterior ready" in wb.reference_note.value
    assert not getattr(session, "reference_jobs", [])  # no NUTS sampled


@pytest.mark.slow
def test_unticking_the_box_ends_a_real_nuts_process():
    from tests.session.conftest import FAST
    from vibench import Session, models

    session = Session(models.gp_latent(), compile_kwargs=FAST)
    wb = Workbench(session=session)
    try:
        wb.show_reference.value = True
        job = wb._reference_future
        assert job.mode == "process"
        for _ in range(1200):  # until it samples (the note then counts draws)
            if "draws" in wb.reference_note.value:
                break
            time.sleep(0.1)
        assert "/2000 draws" in wb.reference_note.value
        assert _cancel_shown(wb)
        wb.show_reference.value = False
        assert job.join(timeout=15)
        assert job.cancelled()
        assert not os.path.exists(f"/proc/{job.pid}")
        assert not [t for t in threading.enumerate() if t.name == "vibench-reference"]
        assert "cancelled" in wb.reference_note.value
    finally:
        wb.close()
