"""The workbench: board, fit controls, live plots, runs table and export, in one widget."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np

from vibench.plots import (
    ElboAxes,
    ElboTrace,
    elbo_figure,
    figure_to_png,
    marginal_densities,
    marginal_panels,
    placeholder_png,
)
from vibench.plots.live import LiveElboPlot, LiveMarginalsPlot
from vibench.plots.marginals import MAX_ELEMENTS
from vibench.widgets._budget import FrameBudget
from vibench.widgets._draws import posterior_draws
from vibench.widgets._labels import plan_label
from vibench.widgets._preset import BOARD_CONTROLS, CONTROLS, check_controls, read_preset
from vibench.widgets._runs import run_rows, runs_table_html
from vibench.widgets.board import Board

__all__ = ["CONTROLS", "OPTIMIZERS", "Workbench"]

logger = logging.getLogger(__name__)

#: Optimizers offered by the picker (PyMC's ``pymc.variational.updates``).
OPTIMIZERS = (
    "adam",
    "adagrad_window",
    "adamax",
    "rmsprop",
    "adagrad",
    "adadelta",
    "sgd",
    "momentum",
    "nesterov_momentum",
)
#: Draws used for the marginal densities (live frames use fewer).
MARGINAL_DRAWS = 1000
LIVE_MARGINAL_DRAWS = 300
_DPI = 80
_PLACEHOLDER = (6.4, 1.2)


#: Controls whose values a loaded plan would change: with any of them hidden or locked
#: the Plan (JSON) tab cannot load a plan.
_PLAN_CONTROLS = {
    "iterations",
    "optimizer",
    "learning_rate",
    "obj_n_mc",
    "seed",
    "families",
    "flow_editor",
    "groups",
    "export",
}


def _with_context(err: BaseException, prefix: str) -> BaseException:
    """``err`` again (same type when possible) with ``prefix`` before its message."""
    text = prefix + _message(err)
    try:
        out = type(err)(text)
    except Exception:
        out = ValueError(text)
    if isinstance(err, KeyError):  # a KeyError's str() adds quotes: say it as a ValueError
        out = ValueError(text)
    return out


def _row(children: list[widgets.Widget]) -> widgets.HBox:
    box = widgets.HBox(children, layout=widgets.Layout(flex_flow="row wrap"))
    box.add_class("vb-row")
    return box


def _message(err: BaseException) -> str:
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    return str(err) or type(err).__name__


def _fmt_int(n: float) -> str:
    return f"{int(n):,}"


def _fmt_seconds(s: float) -> str:
    if not math.isfinite(s) or s < 0:
        return "–"
    if s < 60:
        return f"{s:.0f} s" if s >= 1 else f"{s:.1f} s"
    return f"{int(s // 60)} min {int(s % 60):02d} s"


class Workbench(widgets.VBox):
    """Variational inference on a PyMC model, by drag and drop.

    Parameters
    ----------
    model : pymc.Model or str, optional
        The model, or the name of a demo model; ``None`` uses the default demo model.
    session : SessionProtocol, optional
        A session to drive instead of creating one (then ``model`` must be ``None``).
    preset : str, pathlib.Path or dict, optional
        An instructor preset: a JSON file (or its dict) written by :meth:`save_preset`
        (or the Plan (JSON) tab's *Save plan*) holding the groups, their families and
        the fit settings. It is read as untrusted data through ``Session.from_dict``:
        nothing in it is evaluated. With ``model=None`` the demo model the preset names
        is used. With ``session=``, the preset is applied to that session.
    hide : sequence of str
        Controls not shown (and whose actions are refused), by name; see
        :data:`CONTROLS`: ``"iterations"``, ``"optimizer"``, ``"learning_rate"``,
        ``"obj_n_mc"``, ``"seed"``, ``"reset"``, ``"families"``, ``"flow_editor"``,
        ``"groups"`` (dragging, the New group zone, removing groups), ``"reference"``,
        ``"log_scale"``, ``"export"`` (the Code and Plan (JSON) tabs).
    lock : sequence of str
        Controls shown disabled, by the same names. Locks are enforced in Python: a
        board message or widget state that would change a locked control is refused
        (the board says why). They keep a class on the exercise; they are not a
        security boundary (Python code in the notebook can still edit the session).
    live_plots : bool
        Redraw the ELBO and marginals while fitting (within a small time budget).
    **session_kwargs
        Passed to :class:`vibench.Session` (e.g. ``compile_kwargs={"mode":
        "FAST_COMPILE"}``).

    Attributes
    ----------
    session : SessionProtocol
        The session the workbench drives. Calling its methods updates the board.
    board : Board
        The drag-and-drop board.

    Raises
    ------
    FileNotFoundError
        ``preset`` names a file that does not exist.
    ValueError
        ``preset`` is not valid JSON or does not fit the model (``PlanError``, a
        ``ValueError``), or ``hide`` / ``lock`` name an unknown control (the message
        lists the valid names).

    Examples
    --------
    >>> import vibench
    >>> wb = vibench.Workbench()  # doctest: +SKIP
    >>> wb  # doctest: +SKIP

    An instructor arranges the groups, then saves a preset:

    >>> wb.save_preset("funnel-exercise.json")  # doctest: +SKIP

    and hands out a focused exercise: the groups are fixed, the optimizer hidden, and
    the students only pick each group's family and the learning rate:

    >>> vibench.Workbench(
    ...     preset="funnel-exercise.json",
    ...     hide=["optimizer", "seed", "export"],
    ...     lock=["groups", "iterations"],
    ... )  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any = None,
        *,
        session: Any = None,
        preset: str | Path | dict | None = None,
        hide: Any = (),
        lock: Any = (),
        live_plots: bool = True,
        **session_kwargs: Any,
    ) -> None:
        #: Controls hidden / locked by the instructor (names from :data:`CONTROLS`).
        self.hidden = check_controls(hide, "hide")
        self.locked = tuple(n for n in check_controls(lock, "lock") if n not in self.hidden)
        if session is not None and (model is not None or session_kwargs):
            raise TypeError("pass either a model (and session options) or a session, not both")
        checked = None
        if preset is not None:
            data = read_preset(preset)
            where = f"{str(preset)!r}" if isinstance(preset, str | Path) else "(dict)"
            factory = type(session) if session is not None else None
            if factory is None:
                from vibench.session import Session as factory
            target = getattr(session, "model", None) if session is not None else model
            kwargs = session_kwargs if session is None else {}
            try:
                checked = factory.from_dict(target, data, **kwargs)
            except (ValueError, KeyError, TypeError) as err:
                raise _with_context(err, f"preset {where} does not fit: ") from None
            if session is None:
                session, checked = checked, None
        elif session is None:
            from vibench.session import Session

            session = Session(model, **session_kwargs)
        self.session = session
        if checked is not None:
            self._apply_checked(checked)
        self.live_plots = bool(live_plots)
        self._lock = threading.RLock()
        self._run: Any = None
        self._points: list[tuple[int, float, float]] = []
        self._fit_started = 0.0
        # live frames are drawn on the fitting thread: together they may take at most
        # 8 % of its time, so live plots cost the fit at most 8 % of its speed (the
        # issue allows 10 %; see benchmarks/instant_feedback.py). A blitted ELBO frame
        # costs ~3-5 ms and a marginals frame (300 draws from the session's cheap
        # ``draws``, binned KDE, blit, 64-colour PNG) ~10-15 ms: the progress events
        # (4 a second) then each get an ELBO frame and most a marginals frame. The
        # grace pays for the first frame's background redraw.
        self._elbo_budget = FrameBudget(fraction=0.03, min_interval=0.2, cost=0.005, grace=0.06)
        self._marg_budget = FrameBudget(fraction=0.05, min_interval=0.24, cost=0.012, grace=0.03)
        self._live_elbo = LiveElboPlot(dpi=_DPI)
        self._live_marginals = LiveMarginalsPlot(dpi=_DPI)
        self._elbo_axes = ElboAxes()
        self._sampler_ready = False
        self._plan_key = self._current_plan_key()
        self._khats: dict[int, float | None] = {}
        self._reference: dict[str, np.ndarray] | None = None
        self._reference_future: Any = None
        self._reference_densities: tuple[tuple[str, ...], list] | None = None
        self._last_draws: dict[str, np.ndarray] | None = None
        self._finalizing = False
        self._starter: threading.Thread | None = None
        #: Live frames drawn in the current run (a test and benchmark hook).
        self.frames = {"elbo": 0, "marginals": 0}

        self.board = Board(session)
        self._build_controls()
        self._build_plots()
        self._build_tabs()
        header = widgets.HTML(self._header_html())
        header.add_class("vb-header")
        super().__init__(
            children=[
                header,
                self.board,
                self._settings_row,
                self._buttons_row,
                self.status,
                self._plot_options,
                self._plots_row,
                self._tabs,
            ]
        )
        self.add_class("vb-workbench")
        self._syncing = False
        self._held: dict[str, Any] = {}
        self._apply_restrictions()
        self._unsubscribe = [
            session.subscribe(self._on_progress),
            session.on_change(self._on_session_change),
        ]
        self._refresh_tabs()

    # ------------------------------------------------------------------ building
    def _header_html(self) -> str:
        import html

        s = self.session
        model = getattr(s, "model", None)
        name = None
        if model is not None:
            from vibench import models

            name = models.demo_name(model)
        n = len([v for v in s.variables if not v.discrete])
        what = f"demo model <b>{html.escape(name)}</b>" if name else "your model"
        exercise = (
            " · <span class='vb-exercise'>exercise: some controls are set by the preset</span>"
            if self.hidden or self.locked
            else ""
        )
        return (
            f"<div class='vb-title'><b>vibench</b> · {what} · {n} continuous free "
            f"variable{'s' if n != 1 else ''}{exercise}</div>"
        )

    def _build_controls(self) -> None:
        settings = getattr(self.session, "settings", None)
        style = {"description_width": "initial"}
        self.iterations = widgets.BoundedIntText(
            value=int(getattr(settings, "iterations", 10_000)),
            min=1,
            max=10_000_000,
            step=1000,
            description="Iterations",
            style=style,
            layout=widgets.Layout(width="170px"),
        )
        self.optimizer = widgets.Dropdown(
            options=list(OPTIMIZERS),
            value=str(getattr(settings, "optimizer", "adam")),
            description="Optimizer",
            style=style,
            layout=widgets.Layout(width="210px"),
        )
        self.learning_rate = widgets.BoundedFloatText(
            value=float(getattr(settings, "learning_rate", 0.01)),
            min=1e-6,
            max=10.0,
            step=0.005,
            description="Learning rate",
            style=style,
            layout=widgets.Layout(width="190px"),
        )
        self.mc_samples = widgets.BoundedIntText(
            value=int(getattr(settings, "obj_n_mc", 1)),
            min=1,
            max=1000,
            description="MC samples",
            style=style,
            layout=widgets.Layout(width="150px"),
        )
        seed = getattr(settings, "seed", None)
        self.seed = widgets.Text(
            value="" if seed is None else str(seed),
            placeholder="none",
            description="Seed",
            style=style,
            layout=widgets.Layout(width="130px"),
        )
        for w, cls in [
            (self.iterations, "vb-iterations"),
            (self.optimizer, "vb-optimizer"),
            (self.learning_rate, "vb-learning-rate"),
            (self.mc_samples, "vb-mc-samples"),
            (self.seed, "vb-seed"),
        ]:
            w.add_class(cls)
        self._settings_row = widgets.HBox(
            [self.iterations, self.optimizer, self.learning_rate, self.mc_samples, self.seed],
            layout=widgets.Layout(flex_flow="row wrap", margin="6px 0 0 0"),
        )
        self._settings_row.add_class("vb-row")
        self.fit_button = widgets.Button(
            description="Fit", button_style="primary", icon="play", tooltip="Start fitting"
        )
        self.stop_button = widgets.Button(
            description="Stop", icon="stop", disabled=True, tooltip="Stop the running fit"
        )
        self.reset_button = widgets.Button(
            description="Reset",
            icon="undo",
            tooltip="Back to the initial parameters (earlier runs stay in the table)",
        )
        self.fit_button.add_class("vb-fit")
        self.stop_button.add_class("vb-stop")
        self.reset_button.add_class("vb-reset")
        for b in (self.fit_button, self.stop_button, self.reset_button):
            b.layout.width = "90px"
        self.fit_button.on_click(lambda _b: self.fit())
        self.stop_button.on_click(lambda _b: self.stop())
        self.reset_button.on_click(lambda _b: self.reset())
        self.progress = widgets.IntProgress(
            value=0, min=0, max=1, layout=widgets.Layout(width="260px")
        )
        self.progress.add_class("vb-progress")
        self.progress_text = widgets.Label("")
        self.progress_text.add_class("vb-progress-text")
        self._buttons_row = widgets.HBox(
            [
                self.fit_button,
                self.stop_button,
                self.reset_button,
                self.progress,
                self.progress_text,
            ],
            layout=widgets.Layout(align_items="center", margin="4px 0"),
        )
        self._buttons_row.add_class("vb-row")
        self.status = widgets.HTML("Ready. Arrange the groups, then press <b>Fit</b>.")
        self.status.add_class("vb-status")

    def _build_plots(self) -> None:
        self.log_scale = widgets.Checkbox(value=False, description="ELBO log scale", indent=False)
        self.log_scale.add_class("vb-log-scale")
        has_ref = callable(getattr(self.session, "reference", None))
        self.show_reference = widgets.Checkbox(
            value=False,
            description="NUTS reference",
            indent=False,
            disabled=not has_ref,
            tooltip="Overlay NUTS draws (sampled once per model, in the background)",
        )
        self.show_reference.add_class("vb-reference")
        big = [v.name for v in self.session.variables if not v.discrete and v.size > MAX_ELEMENTS]
        self.element_variable = widgets.Dropdown(
            options=big or [""],
            description="Element of",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="200px", display="" if big else "none"),
        )
        self.element_index = widgets.BoundedIntText(
            value=0,
            min=0,
            max=max([v.size - 1 for v in self.session.variables if v.name in big] or [0]),
            description="index",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="120px", display="" if big else "none"),
        )
        self.element_variable.add_class("vb-element-variable")
        self.element_index.add_class("vb-element-index")
        self._element_choice: dict[str, int] = {}
        self.log_scale.observe(lambda _c: self._redraw_elbo(), "value")
        self.show_reference.observe(self._on_reference_toggle, "value")
        self.element_variable.observe(self._on_element_variable, "value")
        self.element_index.observe(self._on_element_index, "value")
        self._plot_options = widgets.HBox(
            [self.log_scale, self.show_reference, self.element_variable, self.element_index],
            layout=widgets.Layout(align_items="center"),
        )
        self._plot_options.add_class("vb-row")
        self.elbo_image = widgets.Image(
            value=placeholder_png("Press Fit to see the ELBO", _PLACEHOLDER, _DPI),
            format="png",
        )
        self.elbo_image.add_class("vb-elbo")
        self.marginals_image = widgets.Image(
            value=placeholder_png("Marginal posteriors appear after a fit", _PLACEHOLDER, _DPI),
            format="png",
        )
        self.marginals_image.add_class("vb-marginals")
        self._plots_row = widgets.HBox(
            [self.elbo_image, self.marginals_image],
            layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"),
        )
        self._plots_row.add_class("vb-row")

    def _build_tabs(self) -> None:
        self.runs_table = widgets.HTML()
        self.runs_table.add_class("vb-runs")
        self.code = widgets.Textarea(
            value="",
            layout=widgets.Layout(width="100%", height="260px"),
            tooltip="Select all and copy",
        )
        self.code.add_class("vb-code")
        code_help = widgets.HTML(
            "Runnable PyMC + vibench code for the current plan and settings: "
            "click in the box, select all (Ctrl+A) and copy."
        )
        self.plan_json = widgets.Textarea(
            value="", layout=widgets.Layout(width="100%", height="200px")
        )
        self.plan_json.add_class("vb-plan-json")
        self.plan_path = widgets.Text(
            value="vibench-plan.json", description="File", layout=widgets.Layout(width="320px")
        )
        self.plan_path.add_class("vb-plan-path")
        self.save_button = widgets.Button(description="Save plan", icon="save")
        self.load_button = widgets.Button(description="Load plan", icon="folder-open")
        self.apply_json_button = widgets.Button(description="Apply JSON above", icon="check")
        self.save_button.add_class("vb-save-plan")
        self.load_button.add_class("vb-load-plan")
        self.apply_json_button.add_class("vb-apply-plan")
        self.plan_message = widgets.HTML("")
        self.plan_message.add_class("vb-plan-message")
        self.save_button.on_click(lambda _b: self.save_plan(self.plan_path.value))
        self.load_button.on_click(lambda _b: self.load_plan(self.plan_path.value))
        self.apply_json_button.on_click(lambda _b: self.apply_plan_json(self.plan_json.value))
        plan_box = widgets.VBox(
            [
                widgets.HTML("The plan and fit settings as JSON: save it, share it, load it."),
                self.plan_json,
                _row([self.apply_json_button, self.plan_path, self.save_button, self.load_button]),
                self.plan_message,
            ]
        )
        self._tabs = widgets.Tab(
            children=[self.runs_table, widgets.VBox([code_help, self.code]), plan_box]
        )
        for i, title in enumerate(["Runs", "Code", "Plan (JSON)"]):
            self._tabs.set_title(i, title)

    # ------------------------------------------------------------------ session sync
    def _current_plan_key(self) -> tuple:
        return tuple((g.id, tuple(g.variables), g.family) for g in self.session.groups)

    def _on_session_change(self, _session: Any = None) -> None:
        self.board.refresh()
        key = self._current_plan_key()
        if key != self._plan_key:
            self._plan_key = key
            self._sampler_ready = False
        if not self.session.running:
            self._sync_settings_from_session()
            self._refresh_tabs()

    def _sync_settings_from_session(self) -> None:
        settings = getattr(self.session, "settings", None)
        if settings is None:
            return
        self._syncing = True  # values from the session also move locked controls
        try:
            self.iterations.value = int(settings.iterations)
            if settings.optimizer in OPTIMIZERS:
                self.optimizer.value = settings.optimizer
            self.learning_rate.value = float(settings.learning_rate)
            self.mc_samples.value = int(settings.obj_n_mc)
            self.seed.value = "" if settings.seed is None else str(settings.seed)
        finally:
            self._syncing = False

    def _refresh_tabs(self) -> None:
        s = self.session
        self.runs_table.value = runs_table_html(run_rows(s.runs, self._khats))
        try:
            self.code.value = s.to_code()
        except Exception as err:  # the plan may be unfinished (an empty group)
            self.code.value = f"# no code for this plan yet: {err}"
        self.plan_json.value = json.dumps(s.to_dict(), indent=2)

    # ------------------------------------------------------------------ fitting
    def _read_settings(self) -> dict[str, Any]:
        text = self.seed.value.strip()
        if text and not text.isdigit():
            raise ValueError(f"the seed must be a whole number >= 0 or empty, got {text!r}")
        return {
            "optimizer": self.optimizer.value,
            "learning_rate": float(self.learning_rate.value),
            "obj_n_mc": int(self.mc_samples.value),
            "seed": int(text) if text else None,
        }

    def fit(self) -> Any:
        """Start a fit in the background with the settings in the controls (the Fit button).

        The session starts stepping at once (a new plan first steps with a function
        that builds in a fraction of a second, while its fast backend compiles beside
        it). When live plots are on and the plan is new, the function that draws the
        live marginals is compiled on a helper thread meanwhile; marginal frames start
        when it is ready.

        Returns
        -------
        Run or None
            The run being fitted; ``None`` if it could not start (the status line says
            why).
        """
        with self._lock:
            if self.session.running or self._finalizing:
                self._set_status("A fit is already running.")
                return None
            try:
                settings = self._read_settings()
            except ValueError as err:
                self._set_status(str(err), error=True)
                return None
            n = int(self.iterations.value)
            self._points = []
            self._run = None
            self.frames = {"elbo": 0, "marginals": 0}
            self._live_elbo.reset()
            self._fit_started = time.perf_counter()
            self.progress.max = max(n, 1)
            self.progress.value = 0
            self.progress.bar_style = ""
            self.progress_text.value = f"0 / {_fmt_int(n)}"
            self._set_running(True)
            self._set_status("Building the approximation and its step function…")
            run = self._start(n, settings)
            if run is not None and self.live_plots and not self._sampler_ready:
                self._starter = threading.Thread(
                    target=self._compile_live_draws, name="vibench-draws", daemon=True
                )
                self._starter.start()
            return run

    def _start(self, n: int, settings: dict[str, Any]) -> Any:
        self._elbo_budget.start()
        self._marg_budget.start()
        self._fit_started = time.perf_counter()
        try:
            run = self.session.start(n, **settings)
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            self._set_running(False)
            self._set_status(f"Cannot fit: {_message(err)}", error=True)
            return None
        self._run = run
        return run

    def _compile_live_draws(self) -> None:
        """Helper thread: compile the draws of the live marginals beside the fit."""
        key = self._plan_key
        try:
            self._live_draws(1)
        except Exception:
            logger.debug("vibench: compiling the live draws failed", exc_info=True)
            return
        if key == self._plan_key:
            self._sampler_ready = True

    def _live_draws(self, draws: int) -> dict[str, np.ndarray]:
        """Draws for a live frame: the session's cheap ``draws`` when it has one."""
        names = [v.name for v in self.session.variables if not v.discrete]
        quick = getattr(self.session, "draws", None)
        if callable(quick):
            values = quick(draws, seed=0)
            return {k: np.asarray(v) for k, v in values.items() if k in names}
        return posterior_draws(self.session.sample(draws, seed=0), names)

    def stop(self) -> None:
        """Ask the running fit to stop (the Stop button); it ends within a fraction of a second."""
        if self.session.running:
            self.session.stop()
            self._set_status("Stopping…")

    def reset(self) -> None:
        """Initial parameters again (the Reset button); earlier runs stay in the table."""
        if "reset" in self._restricted:
            self._set_status("Reset is turned off for this exercise.")
            return
        if self.session.running or self._finalizing:
            self._set_status("Stop the fit before resetting.")
            return
        try:
            self.session.reset()
        except (ValueError, RuntimeError) as err:
            self._set_status(str(err), error=True)
            return
        self._points = []
        self._run = None
        self._live_elbo.reset()
        self._elbo_axes.reset()
        self._live_marginals.reset()
        self._last_draws = None
        self.progress.value = 0
        self.progress_text.value = ""
        self._redraw_elbo(final=True)
        self.marginals_image.value = placeholder_png(
            "Reset: parameters are back at their start. Press Fit.", _PLACEHOLDER, _DPI
        )
        self._set_status("Reset: parameters and optimizer state are back at their start.")

    def wait(self, timeout: float | None = None) -> Any:
        """Wait until the running fit and its final plots are done; return the run."""
        deadline = None if timeout is None else time.monotonic() + timeout
        run = self.session.wait(timeout)
        while self._finalizing:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the final plots were not done in time")
            time.sleep(0.01)
        return run

    def _set_running(self, running: bool) -> None:
        self.fit_button.disabled = running
        self.stop_button.disabled = not running
        self.reset_button.disabled = running or "reset" in self._restricted
        self.board.running = running

    def _set_status(self, text: str, *, error: bool = False) -> None:
        import html

        body = html.escape(text)
        if error:
            body = f"<span style='color: var(--jp-error-color1, #cf222e)'>⚠ {body}</span>"
        self.status.value = body

    # ------------------------------------------------------------------ progress (worker thread)
    def _on_progress(self, p: Any) -> None:
        if p.done:
            self._finish(p)
            return
        now = time.perf_counter()
        self._points.append((int(p.iteration), float(p.elbo), float(p.smoothed_elbo)))
        total = max(int(p.total), 1)
        left = (total - p.iteration) / p.its_per_second if p.its_per_second > 0 else math.nan
        self.progress.value = min(int(p.iteration), self.progress.max)
        self.progress_text.value = (
            f"{_fmt_int(p.iteration)} / {_fmt_int(total)} · {_fmt_int(p.its_per_second)} it/s"
            f" · {_fmt_seconds(left)} left"
        )
        self._set_status(
            f"Fitting · iteration {_fmt_int(p.iteration)} · ELBO {p.elbo:.4g}"
            f" (smoothed {p.smoothed_elbo:.4g}) · {_fmt_int(p.its_per_second)} it/s"
        )
        if not self.live_plots:
            return
        if self._elbo_budget.due(now):
            t0 = time.perf_counter()
            self._live_elbo_frame()
            self._elbo_budget.spend(time.perf_counter() - t0)
            self.frames["elbo"] += 1
        if self._sampler_ready and self._marg_budget.due(time.perf_counter()):
            t0 = time.perf_counter()
            if self._draw_marginals(LIVE_MARGINAL_DRAWS, live=True):
                self.frames["marginals"] += 1
            self._marg_budget.spend(time.perf_counter() - t0)

    def _current_trace(self) -> ElboTrace | None:
        run = self._run
        label = plan_label(run.plan) if run is not None else "this run"
        start = int(getattr(run, "start_iteration", 0) or 0) if run is not None else 0
        elbo = np.asarray(run.elbo) if run is not None else np.empty(0)
        if elbo.size >= max(len(self._points), 1) * 2:
            return ElboTrace(f"now: {label}", elbo, start)
        if not self._points:
            return None
        pts = np.asarray(self._points, dtype=float)
        return ElboTrace(
            f"now: {label}", pts[:, 1], start, x=start + pts[:, 0], smoothed=pts[:, 2]
        )

    def _previous_traces(self, exclude: Any = None) -> list[ElboTrace]:
        out = []
        runs = list(self.session.runs)
        for i, r in enumerate(runs, start=1):
            if r is exclude or not r.iterations:
                continue
            out.append(
                ElboTrace(
                    f"#{i} {plan_label(r.plan)}",
                    np.asarray(r.elbo),
                    int(getattr(r, "start_iteration", 0) or 0),
                )
            )
        return out

    def _live_elbo_frame(self) -> None:
        current = self._current_trace()
        if current is None:
            return
        self.elbo_image.value = self._live_elbo.frame(
            current,
            self._previous_traces(),
            log_scale=self.log_scale.value,
            window=self._window(),
            total=int(self.progress.max),
        )

    def _window(self) -> int:
        settings = getattr(self.session, "settings", None)
        return int(getattr(settings, "window", 100) or 100)

    def _redraw_elbo(self, final: bool = False) -> None:
        run = self._run
        if run is None and self.session.runs and not final:
            run = self.session.runs[-1]
        current = None
        if run is not None and run.iterations:
            current = ElboTrace(
                f"#{len(self.session.runs)} {plan_label(run.plan)}",
                np.asarray(run.elbo),
                int(getattr(run, "start_iteration", 0) or 0),
            )
        elif self.session.running:
            current = self._current_trace()
        previous = self._previous_traces(exclude=run)
        if current is None and not previous:
            self.elbo_image.value = placeholder_png(
                "Press Fit to see the ELBO", _PLACEHOLDER, _DPI
            )
            return
        fig = elbo_figure(
            current,
            previous,
            log_scale=self.log_scale.value,
            window=self._window(),
            axes=self._elbo_axes,
        )
        self.elbo_image.value = figure_to_png(fig, dpi=_DPI)

    def _finish(self, p: Any) -> None:
        """The last progress event of a run: final plots, k-hat, table, queued edits."""
        self._finalizing = True
        try:
            run = self._run
            if run is None and self.session.runs:
                run = self.session.runs[-1]
                self._run = run
            status = str(p.status)
            self.progress.value = min(int(p.iteration), self.progress.max)
            self.progress.bar_style = {
                "finished": "success",
                "converged": "success",
                "stopped": "warning",
            }.get(status, "danger")
            elapsed = time.perf_counter() - self._fit_started
            self.progress_text.value = (
                f"{_fmt_int(p.iteration)} / {_fmt_int(p.total)} · "
                f"{_fmt_int(p.its_per_second)} it/s · {_fmt_seconds(elapsed)}"
            )
            if status == "failed":
                self._set_status(f"The fit failed: {p.message}", error=True)
            else:
                self._set_status(self._final_status(p, None) + " · computing k-hat…")
            self._elbo_axes.reset()
            if run is not None and run.iterations:
                self._redraw_elbo()
            khat = None
            if status != "failed" and run is not None and run.iterations:
                self._draw_marginals(MARGINAL_DRAWS, live=False)
                khat = self._khat(run)
                self._set_status(self._final_status(p, khat))
        except Exception as err:  # never leave the UI stuck on a plotting error
            logger.exception("vibench: finishing a run failed")
            self._set_status(f"Could not draw the final plots: {err}", error=True)
        finally:
            self.board.apply_pending()
            self._refresh_tabs()
            self._finalizing = False
            self._set_running(False)

    def _final_status(self, p: Any, khat: Any) -> str:
        words = {
            "finished": "Finished",
            "stopped": "Stopped",
            "converged": "Converged",
            "diverged": "Diverged",
        }
        head = words.get(str(p.status), str(p.status).capitalize())
        parts = [f"{head} after {_fmt_int(p.iteration)} iterations"]
        if math.isfinite(p.smoothed_elbo):
            parts.append(f"ELBO {p.smoothed_elbo:.4g} (mean of the last {self._window()})")
        if p.its_per_second:
            parts.append(f"{_fmt_int(p.its_per_second)} it/s")
        trend = self._trend()
        if trend:
            parts.append(trend)
        if khat is not None:
            value = getattr(khat, "khat", khat)
            reading = getattr(khat, "reading", "")
            parts.append(f"k-hat {value:.2f}" + (f" ({reading})" if reading else ""))
        if p.status == "diverged" and p.message:
            parts.append(str(p.message))
        return " · ".join(parts)

    def _trend(self) -> str:
        run = self._run
        if run is None:
            return ""
        y = np.asarray(run.elbo, dtype=float)
        w = self._window()
        if y.size < 4 * w:
            return ""
        last, prev = np.nanmean(y[-w:]), np.nanmean(y[-2 * w : -w])
        change = abs(last - prev) / max(1.0, abs(prev))
        return "ELBO flat (converging)" if change < 1e-3 else "ELBO still moving"

    def _khat(self, run: Any) -> Any:
        try:
            diag = getattr(run, "diagnostics", None)
            value = diag if diag is not None else run.khat
        except Exception as err:
            logger.debug("vibench: k-hat failed: %s", err)
            return None
        k = getattr(value, "khat", value)
        self._khats[id(run)] = None if k is None else float(k)
        return value

    # ------------------------------------------------------------------ marginals
    def _panels(self):
        shapes = {v.name: tuple(v.shape) for v in self.session.variables if not v.discrete}
        return marginal_panels(shapes, index=self._element_choice)

    def _draw_marginals(self, draws: int, *, live: bool) -> bool:
        """Sample, estimate densities and show them; ``False`` if there was nothing."""
        try:
            if live:
                values = self._live_draws(draws)
            else:
                names = [v.name for v in self.session.variables if not v.discrete]
                values = posterior_draws(self.session.sample(draws, seed=0), names)
        except Exception as err:
            logger.debug("vibench: sampling for the marginals failed: %s", err)
            return False
        if not values:
            return False
        self._last_draws = values
        self._render_marginals(live=live)
        return True

    def _render_marginals(self, *, live: bool = False) -> None:
        values = self._last_draws
        if values is None:
            return
        panels = self._panels()
        dens = marginal_densities(panels, values, fast=live)
        ref = None
        if self.show_reference.value and self._reference is not None:
            labels = tuple(p.label for p in panels)
            cached = self._reference_densities
            if cached is None or cached[0] != labels:
                cached = (labels, marginal_densities(panels, self._reference))
                self._reference_densities = cached
            ref = cached[1]
        # live and final frames share one figure: the same limits (no jump when the fit
        # ends) and a background that is ready when the next fit starts
        self.marginals_image.value = self._live_marginals.frame(
            panels, dens, ref, title="marginal posteriors of q", live=live
        )

    def _on_element_variable(self, change: dict) -> None:
        name = change["new"]
        size = next((v.size for v in self.session.variables if v.name == name), 1)
        self.element_index.max = max(size - 1, 0)
        self.element_index.value = self._element_choice.get(name, 0)

    def _on_element_index(self, change: dict) -> None:
        name = self.element_variable.value
        if name:
            self._element_choice[name] = int(change["new"])
            if not self.session.running:
                self._render_marginals()

    def _on_reference_toggle(self, change: dict) -> None:
        if not change["new"]:
            self._render_marginals()
            return
        if self._reference is not None:
            self._render_marginals()
            return
        self._set_status("Sampling the NUTS reference in the background (once per model)…")
        future = self.session.reference(background=True)
        self._reference_future = future
        future.add_done_callback(self._on_reference_done)

    def _on_reference_done(self, future: Any) -> None:
        try:
            tree = future.result()
        except Exception as err:
            self._set_status(f"NUTS reference failed: {err}", error=True)
            return
        names = [v.name for v in self.session.variables if not v.discrete]
        self._reference = posterior_draws(tree, names)
        if not self.session.running:
            self._render_marginals()
            self._set_status("NUTS reference ready: dashed lines in the marginals.")

    # ------------------------------------------------------------------ plan files
    def plan_dict(self) -> dict[str, Any]:
        """The plan and settings as a JSON-ready dict (``session.to_dict()``)."""
        return self.session.to_dict()

    def save_plan(self, path: str | Path) -> Path:
        """Write the plan and settings to ``path`` as JSON; return the path."""
        p = Path(path)
        try:
            p.write_text(json.dumps(self.plan_dict(), indent=2) + "\n")
        except OSError as err:
            self.plan_message.value = f"Could not save: {err}"
            raise
        self.plan_message.value = f"Saved to {p}."
        return p

    def load_plan(self, path: str | Path) -> bool:
        """Read a plan saved by :meth:`save_plan` and apply it; ``False`` (and a message) on error."""
        try:
            text = Path(path).read_text()
        except OSError as err:
            self.plan_message.value = f"Could not read {path}: {err}"
            return False
        return self.apply_plan_json(text)

    def apply_plan_json(self, text: str | dict) -> bool:
        """Apply a plan given as JSON text (or a dict) to the session.

        The JSON is validated first (by ``Session.from_dict`` on the same model): a bad
        plan changes nothing and the message says why.
        """
        import html

        s = self.session
        if self._restricted & _PLAN_CONTROLS:
            self.plan_message.value = "Loading a plan is turned off for this exercise."
            return False
        if s.running:
            self.plan_message.value = "Stop the fit before loading a plan."
            return False
        try:
            data = json.loads(text) if isinstance(text, str) else text
            checked = type(s).from_dict(getattr(s, "model", None), data)
        except (ValueError, KeyError, TypeError) as err:
            self.plan_message.value = f"Plan not loaded: {html.escape(str(err))}"
            return False
        self._apply_checked(checked)
        self.board.refresh()
        self._refresh_tabs()
        self.plan_message.value = "Plan loaded."
        return True

    def _apply_checked(self, checked: Any) -> None:
        """Give the session the groups and settings of ``checked`` (a validated session)."""
        s = self.session
        for g in list(s.groups):
            if g.id != "rest":
                s.remove_group(g.id)
        for g in checked.groups:
            if g.id == "rest":
                s.set_family("rest", g.family)
            else:
                s.add_group(g.family, list(g.variables))
        settings = getattr(checked, "settings", None)
        configure = getattr(s, "configure", None)
        if settings is not None and configure is not None:
            configure(**settings.to_dict())

    def save_preset(self, path: str | Path) -> Path:
        """Save the current plan and settings as an instructor preset (a JSON file).

        The same file as the Plan (JSON) tab's *Save plan*; hand it out and open it with
        ``Workbench(model, preset=path, hide=[...], lock=[...])``.

        Returns
        -------
        pathlib.Path
            Where it was written.

        Raises
        ------
        OSError
            The file could not be written.
        """
        return self.save_plan(path)

    # ------------------------------------------------------------------ hide / lock
    @property
    def _restricted(self) -> set[str]:
        return set(getattr(self, "hidden", ())) | set(getattr(self, "locked", ()))

    def _apply_restrictions(self) -> None:
        """Hide (take out of the layout) or disable the controls the preset names.

        Both are enforced in Python: a widget state from the front end that changes a
        hidden or locked setting is put back, and the board refuses their actions.
        """
        hidden, locked = set(self.hidden), set(self.locked)
        self.board.hidden = [n for n in BOARD_CONTROLS if n in hidden]
        self.board.locked = [n for n in BOARD_CONTROLS if n in locked]
        controls = {
            "iterations": (self.iterations, self._settings_row),
            "optimizer": (self.optimizer, self._settings_row),
            "learning_rate": (self.learning_rate, self._settings_row),
            "obj_n_mc": (self.mc_samples, self._settings_row),
            "seed": (self.seed, self._settings_row),
            "reset": (self.reset_button, self._buttons_row),
            "reference": (self.show_reference, self._plot_options),
            "log_scale": (self.log_scale, self._plot_options),
        }
        for name, (w, box) in controls.items():
            if name not in hidden and name not in locked:
                continue
            w.disabled = True
            w.tooltip = "Locked for this exercise"
            w.add_class("vb-locked")
            if name in hidden:
                box.children = tuple(c for c in box.children if c is not w)
            if name != "reset":
                self._hold(name, w)
        if "export" in hidden:
            self._tabs.children = (self._tabs.children[0],)
            self._tabs.titles = ("Runs",)
        if "export" in locked:
            for w in (self.plan_json, self.plan_path):
                w.disabled = True
        if ({"export"} | _PLAN_CONTROLS) & (hidden | locked):
            for b in (self.load_button, self.apply_json_button):
                b.disabled = True
                b.tooltip = "Loading a plan is turned off for this exercise"
        if "export" in locked:
            self.save_button.disabled = True

    def _hold(self, name: str, w: widgets.Widget) -> None:
        """Put back any change of ``w`` that does not come from the session."""
        self._held[name] = w.value

        def put_back(change: dict) -> None:
            if self._syncing:
                self._held[name] = change["new"]
            elif change["new"] != self._held[name]:
                w.value = self._held[name]

        w.observe(put_back, "value")

    # ------------------------------------------------------------------ static view
    def close(self) -> None:
        """Unsubscribe from the session and close every widget."""
        for unsubscribe in getattr(self, "_unsubscribe", []):
            unsubscribe()
        self._unsubscribe = []
        super().close()

    def snapshot(self) -> Any:
        """A static picture of the workbench: status, ELBO, marginals and the runs table.

        Display it in a cell (``wb.snapshot()``) to keep the results in the saved
        notebook as ordinary output, readable without a kernel or widget state.

        Returns
        -------
        IPython.display.HTML
        """
        import base64
        import html

        from IPython.display import HTML

        def img(data: Any, alt: str) -> str:
            b64 = base64.b64encode(bytes(data)).decode("ascii")
            return f"<img alt='{alt}' src='data:image/png;base64,{b64}' style='max-width:100%'/>"

        status = self.status.value
        return HTML(
            "<div class='vb-snapshot'>"
            f"<div><b>vibench</b> · {html.escape(plan_label(self.session.to_dict()['plan']))}"
            "</div>"
            f"<div style='font-family: monospace'>{status}</div>"
            f"{img(self.elbo_image.value, 'ELBO')}<br/>{img(self.marginals_image.value, 'marginals')}"
            f"{self.runs_table.value}</div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = f"vibench.Workbench({self.session!r})"
        return bundle
