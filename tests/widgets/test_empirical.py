"""Empirical (particle) plans in the workbench: controls, labels, k-hat n/a, mixed plans.

Most tests drive the fake session; the last ones fit a real :class:`vibench.Session`
(FAST_COMPILE, 20 particles) through the board and the Fit button.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vibench.plots import ElboTrace, elbo_figure
from vibench.plots.live import LiveElboPlot
from vibench.widgets import Workbench
from vibench.widgets._labels import khat_text
from vibench.widgets._runs import run_rows, runs_table_html

from ._fake import FakeSession

LABEL = "mean log p of the particles"


def _all_empirical(wb: Workbench) -> None:
    """Through the board, as a user would: the rest group (every variable) to empirical."""
    assert wb.board.apply({"kind": "set_family", "group": "rest", "family": "empirical"})


def _shown(w) -> bool:
    return w.layout.display != "none"


def _fit(wb: Workbench, n: int = 400):
    wb.iterations.set_state({"value": n})
    wb.fit_button.click()
    return wb.wait(timeout=120)


# ---------------------------------------------------------------- controls
def test_particle_controls_only_for_particle_plans(workbench, session):
    wb = workbench
    assert "vb-particles" in wb.particles._dom_classes
    assert "vb-temperature" in wb.temperature._dom_classes
    assert not _shown(wb.particles)
    assert not _shown(wb.temperature)
    assert wb.particles.disabled
    assert not wb.mc_samples.disabled
    assert (wb.particles.value, wb.particles.min, wb.particles.max) == (100, 2, 5000)
    assert wb.temperature.value == 1.0
    _all_empirical(wb)
    assert _shown(wb.particles)
    assert _shown(wb.temperature)
    assert not wb.particles.disabled
    assert not wb.temperature.disabled
    assert wb.mc_samples.disabled
    assert "SVGD" in wb.mc_samples.tooltip
    assert wb.log_scale.description == "log scale"
    assert "mean log p of the particles, which is not an ELBO" in wb.status.value
    # a mean-field group next to the particles: not a particle plan (refused at Fit),
    # and the status line says so before Fit is pressed
    gid = session.add_group("mean_field", ["mu"])
    assert not _shown(wb.particles)
    assert not wb.mc_samples.disabled
    assert "make every group that holds variables empirical" in wb.status.value
    session.set_family(gid, "empirical")
    assert _shown(wb.particles)
    session.set_family(gid, "full_rank")
    session.set_family("rest", "mean_field")
    assert "fitted by the ELBO" in wb.status.value
    assert wb.log_scale.description == "ELBO log scale"


def test_particles_box_is_a_plan_edit(workbench, session):
    wb = workbench
    _all_empirical(wb)
    wb.particles.set_state({"value": 20})
    assert session.particles == 20
    assert ("set_particles", 20) in session.calls
    assert "new particle cloud" in wb.status.value
    assert '"particles": 20' in wb.plan_json.value
    # and Python edits reach the box
    session.set_particles(35)
    assert wb.particles.value == 35


def test_temperature_goes_to_the_fit_of_particle_plans_only(workbench, session):
    wb = workbench
    _fit(wb, 100)
    first = [c for c in session.calls if c[0] == "start"][-1]
    assert "temperature" not in first[2]  # an ELBO plan compiles no step for it
    _all_empirical(wb)
    wb.temperature.set_state({"value": 2.5})
    _fit(wb, 100)
    second = [c for c in session.calls if c[0] == "start"][-1]
    assert second[2]["temperature"] == 2.5
    assert session.settings.temperature == 2.5


def test_mixed_plan_is_explained_when_fit_is_pressed(workbench, session):
    wb = workbench
    _all_empirical(wb)
    assert wb.board.apply({"kind": "new_group", "variable": "mu", "family": "mean_field"})
    wb.fit_button.click()
    status = wb.status.value
    assert "Cannot fit" in status
    assert "group &#x27;rest&#x27; is empirical" in status  # escaped text, one line
    assert "SVGD" in status
    assert "Traceback" not in status
    assert not session.running
    assert session.runs == []
    assert not wb.fit_button.disabled


# ---------------------------------------------------------------- labels
def test_particle_run_is_labelled_as_such(workbench, session):
    wb = workbench
    _all_empirical(wb)
    _fit(wb, 1000)
    status = wb.status.value
    assert "Finished after 1,000 iterations" in status
    assert f"{LABEL} " in status
    assert "ELBO" not in status
    assert "mean log p flat (converging)" in status or "mean log p still moving" in status
    assert "k-hat n/a (particles)" in status
    assert "nan" not in status
    table = wb.runs_table.value
    assert "n/a (particles)" in table
    assert "nan" not in table
    assert "final mean log p of the particles (smoothed)" in table


def test_live_status_uses_the_trace_label(session):
    session.step_seconds = 0.002
    wb = Workbench(session=session, live_plots=False)
    _all_empirical(wb)
    seen = []
    session.subscribe(lambda p: seen.append(wb.status.value))
    _fit(wb, 600)
    live = [s for s in seen if "Fitting" in s]
    assert live
    assert all(LABEL in s and "ELBO" not in s for s in live)
    wb.close()


def test_elbo_and_particle_runs_are_not_overlaid(workbench, session):
    wb = workbench
    _fit(wb, 300)
    _fit(wb, 300)
    _all_empirical(wb)
    _fit(wb, 300)
    elbo_run, _, particle_run = session.runs
    assert [t.label for t in wb._previous_traces(exclude=particle_run)] == []
    assert wb._hidden_note(LABEL, exclude=particle_run) == (
        "2 runs with an ELBO not shown (not comparable with mean log p)"
    )
    assert [t.label for t in wb._previous_traces(kind="ELBO")] == [
        "#1 mean-field(rest)",
        "#2 (continues #1) mean-field(rest)",  # Fit again without Reset
    ]
    assert wb._hidden_note("ELBO") == "1 run of particles not shown (mean log p is not an ELBO)"
    # the table keeps all three, stars only an ELBO run and says what each value is
    table = wb.runs_table.value
    assert "final ELBO / mean log p (smoothed)" in table
    assert table.count("★") == 1
    assert "vb-particle-value" in table
    assert elbo_run.khat == 0.42


def test_khat_text():
    from vibench.session import NOT_AVAILABLE, Khat

    assert khat_text(None) == "–"
    assert khat_text(0.4213) == "0.42"
    assert khat_text(Khat(0.3, draws=1000), long=True) == "k-hat 0.30 (good)"
    assert khat_text(Khat(float("nan"), NOT_AVAILABLE, 10), long=True) == "k-hat n/a (particles)"
    assert khat_text(Khat(float("nan"), NOT_AVAILABLE, 10)) == "n/a (particles)"
    assert khat_text(Khat(float("nan"), draws=10), long=True) == "k-hat – (do not trust)"


def test_runs_table_for_a_particle_run_without_khat():
    run = SimpleNamespace(
        plan={
            "groups": [
                {"id": "g1", "family": "empirical", "variables": ["<b>x</b>"]},
                {"id": "rest", "family": "empirical", "variables": []},
            ],
            "particles": 20,
        },
        status="finished",
        seconds=1.0,
        iterations=3,
        elbo=np.array([-3.0, -2.0, -1.0]),
    )
    html = runs_table_html(run_rows([run], {}))
    assert "n/a (particles)" in html
    assert "<b>x</b>" not in html
    assert "empirical(&lt;b&gt;x&lt;/b&gt;)" in html
    assert "vb-trace-kind" not in html  # no ELBO run to tell it apart from


def test_plots_take_the_trace_label():
    trace = ElboTrace("#1 empirical(rest)", -np.linspace(50.0, 5.0, 300))
    fig = elbo_figure(trace, ylabel=LABEL, note="1 run with an ELBO not shown")
    ax = fig.axes[0]
    assert ax.get_ylabel() == LABEL
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["#1 empirical(rest)", "1 run with an ELBO not shown"]
    fig = elbo_figure(trace, ylabel=LABEL, log_scale=True)
    assert fig.axes[0].get_ylabel() == f"−({LABEL}), log scale"
    assert elbo_figure(trace).axes[0].get_ylabel() == "ELBO"
    live = LiveElboPlot()
    live.frame(trace, ylabel=LABEL, total=1000)
    assert live.ax.get_ylabel() == LABEL
    redraws = live.redraws
    live.frame(trace, ylabel="ELBO", total=1000)  # another kind of trace: new background
    assert live.redraws == redraws + 1
    assert live.ax.get_ylabel() == "ELBO"


# ---------------------------------------------------------------- presets
def test_particle_controls_can_be_hidden_or_locked(session):
    session.set_family("rest", "empirical")
    wb = Workbench(session=session, hide=["temperature"], lock=["particles"])
    assert wb.temperature not in wb._settings_row.children
    assert wb.particles in wb._settings_row.children
    assert wb.particles.disabled
    wb.particles.set_state({"value": 50})
    assert wb.particles.value == 100
    assert session.particles == 100
    wb.close()


def test_preset_with_particles_round_trips(session, tmp_path):
    session.set_family("rest", "empirical")
    session.set_particles(42)
    session.configure(temperature=1.5)
    wb = Workbench(session=session)
    path = wb.save_preset(tmp_path / "particles.json")
    other = FakeSession()
    wb2 = Workbench(session=other, preset=path)
    assert other.particles == 42
    assert wb2.particles.value == 42
    assert wb2.temperature.value == 1.5
    assert _shown(wb2.particles)
    wb.close()
    wb2.close()


# ---------------------------------------------------------------- a real session
@pytest.fixture(scope="module")
def real_fit():
    """Eight schools, every variable empirical through the board, 20 particles, 300 steps."""
    from vibench.session import Session

    s = Session(compile_kwargs={"mode": "FAST_COMPILE"})
    wb = Workbench(session=s)
    _all_empirical(wb)
    wb.particles.set_state({"value": 20})
    wb.learning_rate.set_state({"value": 0.05})
    wb.seed.set_state({"value": "1"})
    run = _fit(wb, 300)
    yield s, wb, run
    wb.close()


def test_real_particle_fit_through_the_workbench(real_fit):
    s, wb, run = real_fit
    assert s.particles == 20
    assert run.status == "finished"
    assert run.iterations == 300
    assert run.plan["particles"] == 20
    assert s.approximation.groups[0].histogram.get_value().shape[0] == 20
    status = wb.status.value
    assert "Finished after 300 iterations" in status
    assert f"{LABEL} " in status
    assert "k-hat n/a (particles)" in status
    assert "nan" not in status
    assert "ELBO" not in status
    table = wb.runs_table.value
    assert "empirical(rest)" in table
    assert "n/a (particles)" in table
    assert "nan" not in table
    assert bytes(wb.elbo_image.value).startswith(b"\x89PNG")


def test_real_particle_draws_are_the_particles(real_fit):
    s, wb, _ = real_fit
    draws = wb._live_draws(200)  # what the live marginals draw from (session.draws)
    assert set(draws) == {"mu", "tau", "theta_tilde"}
    assert draws["theta_tilde"].shape == (200, 8)
    # every draw is one of the 20 particles (a resample of the cloud), in the live
    # draws and in the final sample alike
    cloud = np.unique(wb._live_draws(5000)["mu"])
    assert 10 < len(cloud) <= 20
    assert np.isin(draws["mu"], cloud).all()
    final = s.sample(100, seed=0).posterior["mu"].values.ravel()
    assert np.isin(final, cloud).all()
    assert np.isfinite(draws["tau"]).all()
    assert (draws["tau"] > 0).all()


def test_empirical_picked_during_a_fit_keeps_the_final_status(session):
    session.step_seconds = 0.002
    wb = Workbench(session=session, live_plots=False)
    wb.iterations.set_state({"value": 400})
    wb.fit_button.click()
    # queued by the board while the fit runs, applied when it ends
    assert wb.board.apply({"kind": "set_family", "group": "rest", "family": "empirical"}) is False
    wb.wait(timeout=30)
    assert session.groups[-1].family == "empirical"
    assert "Finished after 400 iterations" in wb.status.value
    assert "ELBO" in wb.status.value  # the run that finished was an ELBO run
    assert _shown(wb.particles)
    assert not wb.particles.disabled
    assert wb.mc_samples.disabled
    wb.close()
