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

from vibench._smoothing import window_at
from vibench.plots import (
    ElboAxes,
    ElboTrace,
    elbo_figure,
    figure_to_png,
    marginal_densities,
    marginal_panels,
    placeholder_png,
)
from vibench.plots._style import CSS_DPI, RUN_COLORS
from vibench.plots.elbo import ELBO_WIDTH, MAX_OVERLAID, MIN_ELBO_WIDTH
from vibench.plots.live import LiveElboPlot, LiveMarginalsPlot, image_format
from vibench.plots.marginals import MAX_ELEMENTS, PANEL_SIZE
from vibench.session import trace_label
from vibench.widgets._budget import FrameBudget
from vibench.widgets._copy import CopyButton
from vibench.widgets._draws import posterior_draws
from vibench.widgets._labels import (
    all_empirical,
    khat_text,
    plan_label,
    run_titles,
    shown_variables,
    view_values,
)
from vibench.widgets._preset import BOARD_CONTROLS, CONTROLS, check_controls, read_preset
from vibench.widgets._runs import RunsTable, run_rows, runs_table_html
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
#: Size of the placeholders shown before a fit (inches; as wide as the plots).
_PLACEHOLDER = (ELBO_WIDTH, 1.0)
#: Particles of an empirical (SVGD) plan: the default and the range the session accepts.
DEFAULT_PARTICLES = 100
PARTICLE_RANGE = (2, 5000)
_MC_TOOLTIP = "Monte Carlo draws per gradient step of the ELBO"
#: The status line when the plan changes kind (ELBO plan, particle plan, mixed).
_PLAN_KIND_STATUS = {
    "elbo": "No empirical group: the plan is fitted by the ELBO. Press Fit.",
    "particles": (
        "Empirical plan: a cloud of particles moved by SVGD (set Particles and Temperature). "
        "The plot will show the mean log p of the particles, which is not an ELBO."
    ),
    "mixed": (
        "Empirical groups are fitted by SVGD, which moves every variable at once: make every "
        "group that holds variables empirical (or none) before pressing Fit."
    ),
}
_MC_PARTICLES_TOOLTIP = (
    "Not used by empirical plans: SVGD moves every particle at each step (no Monte Carlo draws)"
)


#: Controls whose values a loaded plan would change: with any of them hidden or locked
#: the Plan (JSON) tab cannot load a plan.
_PLAN_CONTROLS = {
    "iterations",
    "optimizer",
    "learning_rate",
    "obj_n_mc",
    "seed",
    "particles",
    "temperature",
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


def _as_error(body: str) -> str:
    """``body`` (escaped HTML) in the theme's error colour, after a warning sign."""
    return f"<span style='color: var(--jp-error-color1, #cf222e)'>⚠ {body}</span>"


def _note_html(text: str, *, error: bool = False) -> str:
    """``text`` escaped for an HTML widget; in the error colour with ``error``."""
    import html

    body = html.escape(text, quote=False)
    return _as_error(body) if error else body


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
        ``"obj_n_mc"``, ``"seed"``, ``"particles"``, ``"temperature"`` (the last two
        shown for empirical plans only), ``"reset"``, ``"families"``, ``"flow_editor"``,
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
    frames : dict
        Live frames drawn in the current run: ``{"elbo": int, "marginals": int}``.
    frame_costs : dict
        Kernel time in seconds of every live frame of the current run, in order:
        ``{"elbo": [...], "marginals": [...]}``. A frame is drawn on the fitting thread
        (between chunks), so its cost is time the fit does not step: an ELBO frame
        (blitted lines, JPEG) takes ~8-10 ms and a marginals frame (300 draws, binned
        KDE, blitted densities, JPEG) ~10-15 ms on two cores; the first frame of a run
        also redraws the axes. Both lists are emptied at each Fit (like ``frames``):
        read them after ``wb.wait()`` to benchmark live plotting.

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
        #: What the current run records per iteration (``vibench.session.trace_label``).
        self._trace_name = "ELBO"
        self._kind_shown: str | None = None
        self._points: list[tuple[int, float, float]] = []
        self._fit_started = 0.0
        # live frames are drawn on the fitting thread: together they may take at most
        # 7 % of its time, so live plots cost the fit at most 7 % of its speed (the
        # issue allows 10 %; see benchmarks/instant_feedback.py). Frames carry two
        # pixels per CSS pixel and are encoded as JPEG (a PNG at 2x costs 15-25 ms): a
        # blitted ELBO frame costs ~8-10 ms (more for traces of 100k+ iterations) and a
        # marginals frame (300 draws from the session's cheap ``draws``, binned KDE,
        # blit, JPEG) ~10-15 ms (``frame_costs`` records them): the progress events
        # (4 a second) then get an ELBO frame most of the time and a marginals frame
        # often. The grace pays for the first frame's background redraw.
        self._elbo_budget = FrameBudget(fraction=0.025, min_interval=0.2, cost=0.009, grace=0.06)
        self._marg_budget = FrameBudget(fraction=0.045, min_interval=0.24, cost=0.014, grace=0.03)
        # live ELBO frames at 1.5 pixels per CSS pixel (~6-9 ms a frame, against ~8-12 at
        # 2x); the final figure of a fit, the one saved in the notebook, is drawn at 2x
        self._live_elbo = LiveElboPlot(dpi=1.5 * CSS_DPI)
        #: Width of the ELBO plot in inches: the board's width (the cell's) when the
        #: front end has measured it, so the plot's text is not scaled down to nothing.
        self._elbo_width = ELBO_WIDTH
        self._live_marginals = LiveMarginalsPlot()
        self._elbo_axes = ElboAxes()
        self._sampler_ready = False
        self._plan_key = self._current_plan_key()
        #: k-hat per run (``id(run)``): a ``Khat`` (a float with ``.available``) or None.
        self._khats: dict[int, Any] = {}
        self._reference: dict[str, np.ndarray] | None = None
        self._reference_future: Any = None
        self._reference_unsubscribe: Any = None
        self._reference_was_given = getattr(session, "given_reference", None)
        self._reference_densities: tuple[tuple[str, ...], list] | None = None
        self._last_draws: dict[str, np.ndarray] | None = None
        self._finalizing = False
        #: Fit pressed while the last run's k-hat was computed: it starts right after.
        self._fit_queued = False
        #: Runs (``id(run)``) left out of the ELBO plot and the marginals.
        self._hidden_runs: set[int] = set()
        #: Runs whose k-hat is being computed (the table says so).
        self._khat_pending: set[int] = set()
        #: The final marginal draws of each run (``id(run)``), for overlays.
        self._run_draws: dict[int, dict[str, np.ndarray]] = {}
        #: Runs (``id(run)``) whose marginals are drawn over the current ones.
        self._overlay_runs: set[int] = set()
        self._overlay_densities: dict[int, tuple[tuple[str, ...], list]] = {}
        self._starter: threading.Thread | None = None
        #: Live frames drawn in the current run (a test and benchmark hook).
        self.frames = {"elbo": 0, "marginals": 0}
        #: Kernel time (seconds, on the fitting thread) of every live frame of the current
        #: run, per plot: sampling, densities, drawing, encoding and the widget update
        #: (a benchmark hook; reset at each Fit like :attr:`frames`).
        self.frame_costs: dict[str, list[float]] = {"elbo": [], "marginals": []}

        self.board = Board(session)
        self.board.observe(self._on_board_width, "width")
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
        self._synced: tuple[Any, Any] | None = None
        self._sync_settings_from_session()  # the controls show the session's settings
        self._held: dict[str, Any] = {}
        self._apply_restrictions()
        self._update_particle_controls()
        self._say_if_unfittable()
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
            tooltip=_MC_TOOLTIP,
        )
        self.particles = widgets.BoundedIntText(
            value=int(getattr(self.session, "particles", DEFAULT_PARTICLES)),
            min=PARTICLE_RANGE[0],
            max=PARTICLE_RANGE[1],
            step=10,
            description="Particles",
            tooltip=(
                "Size of the particle cloud of the empirical groups (2-5000); a new count "
                "starts a new cloud"
            ),
            style=style,
            layout=widgets.Layout(width="150px"),
        )
        self.temperature = widgets.BoundedFloatText(
            value=float(getattr(settings, "temperature", 1.0)),
            min=0.01,
            max=1000.0,
            step=0.1,
            description="Temperature",
            tooltip=(
                "SVGD targets p^(1/T): 1 is the posterior; above 1 spreads the particles, "
                "below 1 draws them together"
            ),
            style=style,
            layout=widgets.Layout(width="160px"),
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
            (self.particles, "vb-particles"),
            (self.temperature, "vb-temperature"),
        ]:
            w.add_class(cls)
        self.particles.observe(self._on_particles, "value")
        self._settings_row = widgets.HBox(
            [
                self.iterations,
                self.optimizer,
                self.learning_rate,
                self.mc_samples,
                self.seed,
                self.particles,
                self.temperature,
            ],
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
            b.layout.min_width = "90px"  # a narrow notebook wraps the row, never cuts labels
        self.fit_button.on_click(lambda _b: self.fit())
        self.stop_button.on_click(lambda _b: self.stop())
        self.reset_button.on_click(lambda _b: self.reset())
        self.progress = widgets.IntProgress(
            value=0, min=0, max=1, layout=widgets.Layout(width="260px", min_width="160px")
        )
        self.progress.add_class("vb-progress")
        self.progress_text = widgets.Label("", layout=widgets.Layout(min_width="260px"))
        self.progress_text.add_class("vb-progress-text")
        self._buttons_row = widgets.HBox(
            [
                self.fit_button,
                self.stop_button,
                self.reset_button,
                self.progress,
                self.progress_text,
            ],
            layout=widgets.Layout(align_items="center", margin="4px 0", flex_flow="row wrap"),
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
            tooltip=(
                "Overlay NUTS draws (sampled once per model, in the background; "
                "untick to cancel), or the posterior given with session.set_reference"
            ),
        )
        self.show_reference.add_class("vb-reference")
        #: What the NUTS reference is doing (sampling, ready, failed): next to its box,
        #: so the status line keeps the run's summary.
        self.reference_note = widgets.HTML("")
        self.reference_note.add_class("vb-reference-note")
        #: Stops a NUTS reference that is being sampled (shown only then).
        self.reference_cancel = widgets.Button(
            description="Cancel",
            tooltip="Stop sampling the NUTS reference",
            layout=widgets.Layout(width="auto", display="none"),
        )
        self.reference_cancel.add_class("vb-reference-cancel")
        self.reference_cancel.on_click(self._on_reference_cancel)
        #: What the marginals show, per value of the Deterministics box (the model's
        #: words: see ``_labels.shown_variables``).
        self._views_cache: dict[bool, list[Any]] = {}
        extra = len(self._views(True)) > len(self._views(False))
        self.show_deterministics = widgets.Checkbox(
            value=False,
            description="Deterministics",
            indent=False,
            disabled=not extra,
            tooltip=(
                "Also show the model's Deterministics in the marginals (computed from "
                "the same draws)"
                if extra
                else "The model has no other Deterministics to show"
            ),
        )
        self.show_deterministics.add_class("vb-deterministics")
        # a vector too long for panels is one forest panel; this picker adds the density
        # of one element, chosen by its coordinate name
        self.element_variable = widgets.Dropdown(
            options=[""],
            description="Element of",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="200px"),
        )
        self.element_index = widgets.Dropdown(
            options=[("(forest only)", -1)],
            value=-1,
            description="",
            layout=widgets.Layout(width="170px"),
            tooltip="Show this element's density beside the forest panel",
        )
        self.element_variable.add_class("vb-element-variable")
        self.element_index.add_class("vb-element-index")
        #: Per long vector, the position (in its shown elements) of the element whose
        #: density is shown beside its forest panel; absent or -1: none.
        self._element_choice: dict[str, int] = {}
        self._update_element_picker()
        self.log_scale.observe(lambda _c: self._redraw_elbo(), "value")
        self.show_reference.observe(self._on_reference_toggle, "value")
        self.show_deterministics.observe(self._on_deterministics_toggle, "value")
        self.element_variable.observe(self._on_element_variable, "value")
        self.element_index.observe(self._on_element_index, "value")
        self._plot_options = widgets.HBox(
            [
                self.log_scale,
                self.show_reference,
                self.reference_note,
                self.reference_cancel,
                self.show_deterministics,
                self.element_variable,
                self.element_index,
            ],
            layout=widgets.Layout(align_items="center"),
        )
        self._plot_options.add_class("vb-row")
        # the images carry two pixels per CSS pixel and are shown at their CSS width
        # (``_show``): as wide as the workbench, sharp on HiDPI screens and projectors
        self.elbo_image = self._plot_image("vb-elbo")
        self.marginals_image = self._plot_image("vb-marginals")
        self._show(
            self.elbo_image,
            placeholder_png("Press Fit to see the ELBO", _PLACEHOLDER),
            _PLACEHOLDER[0],
        )
        self._show(
            self.marginals_image,
            placeholder_png("Marginal posteriors appear after a fit", _PLACEHOLDER),
            _PLACEHOLDER[0],
        )
        # the plots scale down to the cell's width (a narrow notebook beside the file
        # browser): never cut off, never a sideways scroll bar
        self._plots_row = widgets.VBox(
            [self.elbo_image, self.marginals_image],
            layout=widgets.Layout(width="100%", max_width="100%"),
        )
        self._plots_row.add_class("vb-row")
        self._plots_row.add_class("vb-plots")

    @staticmethod
    def _plot_image(cls: str) -> widgets.Image:
        image = widgets.Image(
            format="png",
            layout=widgets.Layout(
                width="100%", height="auto", margin="2px 0", object_fit="contain"
            ),
        )
        image.add_class(cls)
        image.add_class("vb-plot")  # the dark theme's CSS adapts these
        return image

    @staticmethod
    def _show(image: widgets.Image, data: bytes, width: float) -> None:
        """Show ``data`` (PNG, or JPEG for a live frame) of a plot ``width`` inches wide.

        The image fills the workbench's width up to its CSS size (``width * CSS_DPI``
        CSS px, half its pixels): never blown up past it, scaled down (its height
        following) when the cell is narrower.
        """
        fmt = image_format(data)
        css = f"{round(width * CSS_DPI)}px"  # and width 100%: never wider than the cell
        if image.layout.max_width != css:
            image.layout.max_width = css
        with image.hold_sync():
            if image.format != fmt:
                image.format = fmt
            image.value = data

    def _build_tabs(self) -> None:
        #: The runs, newest first, each with a *show* box and a *remove* button.
        self.runs_table = RunsTable(on_action=self._on_run_action)
        self.runs_table.add_class("vb-runs")
        self.code = widgets.Textarea(
            value="",
            layout=widgets.Layout(width="100%", height="260px"),
            tooltip="Select all and copy",
        )
        self.code.add_class("vb-code")
        #: Copies the code to the clipboard (a tiny anywidget: the browser's clipboard).
        self.copy_button = CopyButton(label="Copy code")
        self.copy_button.add_class("vb-copy-code")
        code_help = widgets.HBox(
            [
                self.copy_button,
                widgets.HTML(
                    "Runnable PyMC + vibench code for the current plan and settings "
                    "(or click in the box, Ctrl+A, Ctrl+C)."
                ),
            ],
            layout=widgets.Layout(align_items="center"),
        )
        self.plan_json = widgets.Textarea(
            value="", layout=widgets.Layout(width="100%", height="200px")
        )
        self.plan_json.add_class("vb-plan-json")
        self.plan_path = widgets.Text(
            value="vibench-plan.json", description="File", layout=widgets.Layout(width="320px")
        )
        self.plan_path.add_class("vb-plan-path")
        auto = {"width": "auto", "min_width": "max-content"}  # never cut a label
        self.save_button = widgets.Button(
            description="Save plan",
            icon="save",
            tooltip="Write the plan and settings to the file",
            layout=widgets.Layout(**auto),
        )
        self.load_button = widgets.Button(
            description="Load plan",
            icon="folder-open",
            tooltip="Read a plan from the file and apply it",
            layout=widgets.Layout(**auto),
        )
        self.apply_json_button = widgets.Button(
            description="Apply JSON above",
            icon="check",
            tooltip="Apply the plan in the box above to the session",
            layout=widgets.Layout(**auto),
        )
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
        self._tabs.add_class("vb-tabs")

    # ------------------------------------------------------------------ session sync
    def _current_plan_key(self) -> tuple:
        groups = tuple((g.id, tuple(g.variables), g.family) for g in self.session.groups)
        return (*groups, ("particles", getattr(self.session, "particles", None)))

    def _is_particle_plan(self) -> bool:
        """Whether the session's plan is fitted by SVGD (every group with variables empirical)."""
        return all_empirical(self.session.groups)

    def _update_particle_controls(self) -> None:
        """Particles and temperature only for particle plans; MC samples only for the others.

        A control hidden or locked by a preset stays as the preset set it.
        """
        particles = self._is_particle_plan()
        restricted = self._restricted
        running = bool(self.session.running)
        for name, w in (("particles", self.particles), ("temperature", self.temperature)):
            w.layout.display = "" if particles else "none"
            if name not in restricted:
                w.disabled = not particles or (running and name == "particles")
        if "obj_n_mc" not in restricted:
            self.mc_samples.disabled = particles
            self.mc_samples.tooltip = _MC_PARTICLES_TOOLTIP if particles else _MC_TOOLTIP
        self.log_scale.description = "log scale" if particles else "ELBO log scale"
        kind = self._plan_kind()
        if kind != self._kind_shown:
            first = self._kind_shown is None
            self._kind_shown = kind
            # not over a fit's final status (edits queued during the fit land then)
            if (
                not (first and kind == "elbo")
                and not running
                and not self._finalizing
                and not self._unfittable_reason()
            ):
                self._set_status(_PLAN_KIND_STATUS[kind])

    def _plan_kind(self) -> str:
        """``"particles"`` (all empirical), ``"mixed"`` (some empirical: not fittable) or ``"elbo"``."""
        held = [g for g in self.session.groups if list(g.variables)]
        empirical = sum(g.family == "empirical" for g in held)
        if not empirical:
            return "elbo"
        return "particles" if empirical == len(held) else "mixed"

    def _on_particles(self, change: dict) -> None:
        """The Particles box: a plan edit (``session.set_particles``), refused while fitting."""
        if self._syncing or "particles" in self._restricted:
            return
        s = self.session
        setter = getattr(s, "set_particles", None)
        current = getattr(s, "particles", DEFAULT_PARTICLES)
        if setter is None or int(change["new"]) == current:
            return
        try:
            setter(int(change["new"]))
        except (ValueError, TypeError, RuntimeError) as err:
            self._syncing = True
            try:
                self.particles.value = int(current)
            finally:
                self._syncing = False
            self._set_status(f"Particles not changed: {_message(err)}", error=True)
            return
        self._set_status(
            f"{int(change['new'])} particles: the next fit starts a new particle cloud."
        )

    def _on_session_change(self, _session: Any = None) -> None:
        self.board.refresh()
        self._sync_given_reference()
        key = self._current_plan_key()
        if key != self._plan_key:
            self._plan_key = key
            self._sampler_ready = False
        if not self.session.running:
            self._sync_settings_from_session()
            self._update_particle_controls()
            self._refresh_tabs()

    def _sync_settings_from_session(self) -> None:
        """Show the session's settings in the controls, when they changed there.

        A plan edit (a drag, a family) also reports a change; the settings the person
        typed but has not fitted with yet must survive it, so the controls are only
        rewritten when the session's settings (or particle count) differ from those
        shown at the last sync: a ``configure`` from Python, a loaded plan, a fit.
        """
        settings = getattr(self.session, "settings", None)
        if settings is None:
            return
        particles = getattr(self.session, "particles", None)
        if (settings, particles) == getattr(self, "_synced", None):
            return
        self._synced = (settings, particles)
        self._syncing = True  # values from the session also move locked controls
        try:
            self.iterations.value = int(settings.iterations)
            if settings.optimizer in OPTIMIZERS:
                self.optimizer.value = settings.optimizer
            self.learning_rate.value = float(settings.learning_rate)
            self.mc_samples.value = int(settings.obj_n_mc)
            self.seed.value = "" if settings.seed is None else str(settings.seed)
            if hasattr(settings, "temperature"):
                self.temperature.value = float(settings.temperature)
            particles = getattr(self.session, "particles", None)
            if particles is not None:
                self.particles.value = int(particles)
        finally:
            self._syncing = False

    def _refresh_tabs(self) -> None:
        s = self.session
        self._refresh_runs_table()
        try:
            self.code.value = s.to_code()
        except Exception as err:  # the plan may be unfinished (an empty group)
            self.code.value = f"# no code for this plan yet: {err}"
        self.copy_button.text = self.code.value
        self.plan_json.value = json.dumps(s.to_dict(), indent=2)

    def _refresh_runs_table(self) -> None:
        rows = run_rows(
            self.session.runs,
            self._khats,
            hidden=self._hidden_runs,
            pending=self._khat_pending,
            overlaid=self._overlay_runs,
            overlayable=set(self._run_draws) - {id(self._latest_run())},
        )
        self.runs_table.set_rows(rows)

    # ------------------------------------------------------------------ runs shown
    def _find_run(self, run: Any) -> Any:
        """The session's run ``run``: a run object, or its number in the table (from 1)."""
        runs = list(self.session.runs)
        if isinstance(run, int) and not isinstance(run, bool):
            if not 1 <= run <= len(runs):
                raise ValueError(f"no run #{run}: the table has runs 1 to {len(runs)}")
            return runs[run - 1]
        for r in runs:
            if r is run:
                return r
        raise ValueError("not a run of this session (a run joins the table when it ends)")

    def show_runs(self, runs: Any = None) -> None:
        """Show ``runs`` (run objects or table numbers; all runs when ``None``) in the plots.

        Shown runs are drawn in the ELBO plot (the latest run as the current line, the
        others as thin lines) and overlaid in the marginals.
        """
        targets = list(self.session.runs) if runs is None else [self._find_run(r) for r in runs]
        for r in targets:
            self._hidden_runs.discard(id(r))
        self._runs_changed()

    def hide_runs(self, runs: Any) -> None:
        """Leave ``runs`` (run objects or table numbers) out of the ELBO plot and marginals.

        They stay in the Runs table (with their *show* box unticked) and in
        ``session.runs``; :meth:`show_runs` brings them back.
        """
        for r in [self._find_run(r) for r in runs]:
            self._hidden_runs.add(id(r))
        self._runs_changed()

    def show_run(self, run: Any) -> None:
        """Show one run (a run object or its table number) in the plots."""
        self.show_runs([run])

    def hide_run(self, run: Any) -> None:
        """Leave one run (a run object or its table number) out of the plots."""
        self.hide_runs([run])

    def overlay_runs(self, runs: Any, overlay: bool = True) -> None:
        """Draw (or, with ``overlay=False``, stop drawing) ``runs``' marginals over q's.

        Each earlier run is drawn as a thin line in its colour of the ELBO plot, from
        the draws taken when it finished; hidden runs and the latest run (q itself) are
        not overlaid. ``runs`` are run objects or table numbers.
        """
        for r in [self._find_run(r) for r in runs]:
            if overlay:
                self._overlay_runs.add(id(r))
            else:
                self._overlay_runs.discard(id(r))
        self._runs_changed()

    def shown_runs(self) -> list[Any]:
        """The runs drawn in the plots (oldest first)."""
        return [r for r in self.session.runs if id(r) not in self._hidden_runs]

    def remove_run(self, run: Any) -> bool:
        """Remove a run (a run object or its table number) from the table and the plots.

        The session forgets it (``session.remove_run``; a session without that method
        keeps it, hidden); the fitted parameters stay as they are. Refused while a fit
        runs or finishes (the status line says so).

        Returns
        -------
        bool
            Whether the run was removed.
        """
        if self.session.running or self._finalizing:
            self._set_status("Stop the fit before removing a run.")
            return False
        target = self._find_run(run)
        remover = getattr(self.session, "remove_run", None)
        if callable(remover):
            remover(target)
            self._hidden_runs.discard(id(target))
            self._overlay_runs.discard(id(target))
            self._overlay_densities.pop(id(target), None)
            self._khats.pop(id(target), None)
            self._run_draws.pop(id(target), None)
            if self._run is target:
                self._run = None
        else:
            self._hidden_runs.add(id(target))
        self._runs_changed()
        return True

    def _runs_changed(self) -> None:
        """Redraw the table and, when no fit runs, the ELBO plot and the marginals."""
        self._refresh_runs_table()
        if self.session.running or self._finalizing:
            return  # the next frame (or the final plots) shows the change
        self._elbo_axes.reset()
        self._redraw_elbo()
        self._render_marginals()

    def _latest_run(self) -> Any:
        """The run whose parameters q holds now (the one fitting, else the last one)."""
        return self._run if self._run is not None else (self.session.runs or [None])[-1]

    def _latest_hidden(self) -> bool:
        run = self._latest_run()
        return run is not None and id(run) in self._hidden_runs

    def _marginal_overlays(self, panels: list) -> list[tuple[str, list]]:
        """``(colour, densities)`` of the chosen earlier runs, coloured as in the ELBO plot.

        The colours follow the ELBO plot's earlier runs (shown runs of the same kind,
        the last :data:`~vibench.plots.elbo.MAX_OVERLAID`); densities are estimated once
        per run and set of panels.
        """
        if not self._overlay_runs:
            return []
        kind = self._trace_name
        runs = [
            r
            for r in self.session.runs
            if r is not self._run
            and r.iterations
            and trace_label(r.plan) == kind
            and id(r) not in self._hidden_runs
        ][-MAX_OVERLAID:]
        labels = tuple(p.label for p in panels)
        out = []
        for i, r in enumerate(runs):
            draws = self._run_draws.get(id(r))
            if id(r) not in self._overlay_runs or draws is None:
                continue
            cached = self._overlay_densities.get(id(r))
            if cached is None or cached[0] != labels:
                cached = (labels, marginal_densities(panels, draws))
                self._overlay_densities[id(r)] = cached
            out.append((RUN_COLORS[i % len(RUN_COLORS)], cached[1]))
        return out

    def _on_run_action(self, msg: dict[str, Any]) -> None:
        """A click in the Runs table: ``show`` (ticked or not) or ``remove`` run ``msg["run"]``."""
        try:
            if msg["kind"] == "show":
                (self.show_run if msg["shown"] else self.hide_run)(msg["run"])
            elif msg["kind"] == "overlay":
                self.overlay_runs([msg["run"]], overlay=msg["shown"])
            elif msg["kind"] == "remove":
                self.remove_run(msg["run"])
        except ValueError as err:
            self._set_status(_message(err), error=True)
            self._refresh_runs_table()

    # ------------------------------------------------------------------ fitting
    def _read_settings(self) -> dict[str, Any]:
        text = self.seed.value.strip()
        if text and not text.isdigit():
            raise ValueError(f"the seed must be a whole number >= 0 or empty, got {text!r}")
        out = {
            "optimizer": self.optimizer.value,
            "learning_rate": float(self.learning_rate.value),
            "obj_n_mc": int(self.mc_samples.value),
            "seed": int(text) if text else None,
        }
        if self._is_particle_plan():
            # only particle plans use it (and it is part of the compiled step: passing
            # it to other plans would compile them again for nothing)
            out["temperature"] = float(self.temperature.value)
        return out

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
            if self._finalizing and not self.session.running:
                # the last run's final plots and k-hat are being made: start right after
                self._fit_queued = True
                self._set_status("Fit starts as soon as the last run's k-hat is computed…")
                return None
            if self.session.running or self._finalizing:
                self._set_status("A fit is already running.")
                return None
            reason = self._unfittable_reason()
            if reason:
                self._set_status(f"Cannot fit: {reason}", error=True)
                return None
            try:
                settings = self._read_settings()
            except ValueError as err:
                self._set_status(str(err), error=True)
                return None
            n = int(self.iterations.value)
            self._points = []
            self._run = None
            self._trace_name = trace_label(self.session.to_dict()["plan"])
            self.frames = {"elbo": 0, "marginals": 0}
            self.frame_costs = {"elbo": [], "marginals": []}
            self._resize_live_elbo()
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
                    target=self._compile_live_draws,
                    args=(run,),
                    name="vibench-draws",
                    daemon=True,
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
        self._trace_name = trace_label(run.plan)
        return run

    def _compile_live_draws(self, run: Any) -> None:
        """Helper thread: compile the draws of the live marginals beside the fit.

        Waits for the fit's first step: compiling both at once would split the
        interpreter between them and delay the first ELBO point.
        """
        key = self._plan_key
        while run.iterations == 0 and self.session.running:
            time.sleep(0.02)
        try:
            self._live_draws(1)
        except Exception:
            logger.debug("vibench: compiling the live draws failed", exc_info=True)
            return
        if key == self._plan_key:
            self._sampler_ready = True

    def _live_draws(self, draws: int) -> dict[str, np.ndarray]:
        """Draws for a live frame: the session's cheap ``draws`` when it has one."""
        views = self._views()
        names = {v.name for v in self.session.variables if not v.discrete}
        names |= {v.name for v in views} | {v.source for v in views if v.source}
        need = any(v.kind == "deterministic" for v in views)  # derived: from free ones
        quick = getattr(self.session, "draws", None)
        if callable(quick):
            values = quick(draws, seed=0, deterministics=True) if need else quick(draws, seed=0)
            return {k: np.asarray(v) for k, v in values.items() if k in names}
        return posterior_draws(self.session.sample(draws, seed=0), sorted(names))

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
        self._show(
            self.marginals_image,
            placeholder_png("Reset: parameters are back at their start. Press Fit.", _PLACEHOLDER),
            _PLACEHOLDER[0],
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

    def _unfittable_reason(self) -> str:
        """Why no plan of this model can be fitted (``""`` when one can).

        A model with discrete free variables: ``vibench.Session`` refuses it at Fit
        (``Plan.check_fittable`` raises ``PlanError`` with these words), so the
        workbench says it up front. A session that can fit them says so with a true
        ``fits_discrete`` attribute.
        """
        if getattr(self.session, "fits_discrete", False):
            return ""
        names = [v.name for v in self.session.variables if v.discrete]
        if not names:
            return ""
        return (
            f"the model has discrete free variables {names}; variational inference "
            "here fits continuous variables only"
        )

    def _say_if_unfittable(self) -> None:
        """Disable Fit and say why, in the status line and the plan tab, when it cannot work."""
        reason = self._unfittable_reason()
        if not reason:
            return
        self.fit_button.disabled = True
        self.fit_button.tooltip = (
            f"Cannot fit: {reason}. Marginalize them out of the model (or make them "
            "continuous) to fit it with vibench."
        )
        self._set_status(
            f"Cannot fit this model: {reason}. Marginalize them out (or make them continuous) "
            "to fit it; the board still shows the variables.",
            error=True,
        )
        self._plan_note(f"Fit is off for this model: {reason}.", error=True)

    def _plan_note(self, text: str, *, error: bool = False) -> None:
        """A message under the Plan (JSON) tab's buttons (escaped; red with ``error``)."""
        self.plan_message.value = _note_html(text, error=error)

    def _set_running(self, running: bool) -> None:
        self.fit_button.disabled = running or bool(self._unfittable_reason())
        self.stop_button.disabled = not running
        self.reset_button.disabled = running or "reset" in self._restricted
        self.board.running = running
        if "particles" not in self._restricted:
            self.particles.disabled = running or not self._is_particle_plan()

    def _set_status(self, text: str, *, error: bool = False) -> None:
        import html

        # a long line wraps between its " · " parts, not inside a short one ("k-hat n/a")
        body = " · ".join(
            f"<span style='white-space: nowrap'>{html.escape(part)}</span>"
            if len(part) <= 60
            else html.escape(part)
            for part in text.split(" · ")
        )
        if error:
            body = _as_error(body)
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
            f"Fitting · iteration {_fmt_int(p.iteration)} · {self._trace_name} {p.elbo:.4g}"
            f" (smoothed {p.smoothed_elbo:.4g}) · {_fmt_int(p.its_per_second)} it/s"
        )
        if not self.live_plots:
            return
        if self._elbo_budget.due(now):
            t0 = time.perf_counter()
            self._live_elbo_frame()
            cost = time.perf_counter() - t0
            self._elbo_budget.spend(cost)
            self.frames["elbo"] += 1
            self.frame_costs["elbo"].append(cost)
        if self._sampler_ready and self._marg_budget.due(time.perf_counter()):
            t0 = time.perf_counter()
            drawn = self._draw_marginals(LIVE_MARGINAL_DRAWS, live=True)
            cost = time.perf_counter() - t0
            self._marg_budget.spend(cost)
            if drawn:
                self.frames["marginals"] += 1
                self.frame_costs["marginals"].append(cost)

    def _current_title(self, run: Any) -> str:
        """``"#3 (continues #2)"`` for the run being fitted (it is not in ``runs`` yet)."""
        runs = list(self.session.runs)
        if run is not None and not any(r is run for r in runs):
            runs.append(run)
        titles = run_titles(runs)
        for r, t in zip(runs, titles, strict=True):
            if r is run:
                return t
        return f"#{len(runs)}"

    def _current_trace(self) -> ElboTrace | None:
        run = self._run
        label = plan_label(run.plan) if run is not None else "this run"
        if run is not None and "continues" in (title := self._current_title(run)):
            label = f"{title.split(' ', 1)[1]} {label}"
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

    def _previous_traces(self, exclude: Any = None, kind: str | None = None) -> list[ElboTrace]:
        """Earlier runs' traces of the same ``kind`` (trace label) as the current run.

        ELBO traces and particle traces (mean log p) are not comparable, so a plot
        shows only one kind; :meth:`_hidden_note` says how many runs it left out.
        """
        out = []
        kind = self._trace_name if kind is None else kind
        runs = list(self.session.runs)
        for r, title in zip(runs, run_titles(runs), strict=True):
            if r is exclude or not r.iterations or trace_label(r.plan) != kind:
                continue
            if id(r) in self._hidden_runs:  # unticked in the Runs table
                continue
            out.append(
                ElboTrace(
                    f"{title} {plan_label(r.plan)}",
                    np.asarray(r.elbo),
                    int(getattr(r, "start_iteration", 0) or 0),
                    status=str(getattr(r, "status", "")),
                )
            )
        return out

    def _hidden_note(self, kind: str, exclude: Any = None) -> str:
        """Which earlier runs the plot leaves out because their trace is of another kind."""
        others = [
            trace_label(r.plan)
            for r in self.session.runs
            if r is not exclude and r.iterations and trace_label(r.plan) != kind
        ]
        if not others:
            return ""
        n = len(others)
        runs = f"{n} run{'s' if n != 1 else ''}"
        if kind == "ELBO":
            return f"{runs} of particles not shown (mean log p is not an ELBO)"
        return f"{runs} with an ELBO not shown (not comparable with mean log p)"

    def _live_elbo_frame(self) -> None:
        current = self._current_trace()
        if current is None:
            return
        kind = self._trace_name
        frame = self._live_elbo.frame(
            current,
            self._previous_traces(kind=kind),
            log_scale=self.log_scale.value,
            window=self._window(),
            total=int(self.progress.max),
            ylabel=kind,
            note=self._hidden_note(kind),
        )
        self._show(self.elbo_image, frame, float(self._live_elbo.fig.get_size_inches()[0]))

    def _window(self) -> int:
        settings = getattr(self.session, "settings", None)
        return int(getattr(settings, "window", 100) or 100)

    def _redraw_elbo(self, final: bool = False) -> None:
        run = self._run
        if run is None and self.session.runs and not final:
            run = self.session.runs[-1]
        current = None
        if run is not None and run.iterations and id(run) not in self._hidden_runs:
            current = ElboTrace(
                f"{self._current_title(run)} {plan_label(run.plan)}",
                np.asarray(run.elbo),
                int(getattr(run, "start_iteration", 0) or 0),
                status=str(getattr(run, "status", "")),
            )
        elif self.session.running:
            current = self._current_trace()
        if run is not None:
            kind = trace_label(run.plan)
        elif not self.session.running and self.session.runs:
            kind = trace_label(self.session.runs[-1].plan)
        else:
            kind = self._trace_name
        previous = self._previous_traces(exclude=run, kind=kind)
        if current is None and not previous:
            hidden = any(id(r) in self._hidden_runs for r in self.session.runs)
            text = (
                "Every run is hidden: tick 'show' in the Runs table"
                if hidden
                else "Press Fit to see the ELBO"
            )
            self._show(self.elbo_image, placeholder_png(text, _PLACEHOLDER), _PLACEHOLDER[0])
            return
        fig = elbo_figure(
            current,
            previous,
            log_scale=self.log_scale.value,
            window=self._window(),
            axes=self._elbo_axes,
            ylabel=kind,
            note=self._hidden_note(kind, exclude=run),
            figsize=(self._elbo_width, 3.2),
        )
        self._show(self.elbo_image, figure_to_png(fig), self._elbo_width)

    def _on_board_width(self, change: dict) -> None:
        """The cell's width changed: draw the ELBO plot that wide (5-10 inches)."""
        px = int(change["new"] or 0)  # 0: a wide cell, full-size plots
        inches = ELBO_WIDTH
        cols = 5
        if px > 0:
            inches = min(max(round(px / CSS_DPI * 4) / 4, MIN_ELBO_WIDTH), ELBO_WIDTH)
            # marginal panels a row: as many as fit the cell at their size (2 to 5)
            cols = min(max(int(px // (PANEL_SIZE[0] * CSS_DPI)), 2), 5)
        if inches == self._elbo_width and cols == getattr(self, "_marginal_cols", 5):
            return
        self._elbo_width = inches
        self._marginal_cols = cols
        if not (self.session.running or self._finalizing):
            self._resize_live_elbo()
            if self._run is not None or self.session.runs:
                self._elbo_axes.reset()
                self._redraw_elbo()
                self._render_marginals()

    def _resize_live_elbo(self) -> None:
        """New live figures when the cell's width changed (never during a fit)."""
        if float(self._live_elbo.fig.get_size_inches()[0]) != self._elbo_width:
            self._live_elbo = LiveElboPlot(figsize=(self._elbo_width, 3.2), dpi=1.5 * CSS_DPI)
        cols = getattr(self, "_marginal_cols", None)
        if cols is not None and self._live_marginals.ncols != cols:
            self._live_marginals.ncols = cols
            self._live_marginals.reset()

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
            if run is not None:
                self._trace_name = trace_label(run.plan)
            if status == "failed":
                self._set_status(f"The fit failed: {p.message}", error=True)
            else:
                self._set_status(self._final_status(p, None) + " · computing k-hat…")
            self._elbo_axes.reset()
            wants_khat = status != "failed" and run is not None and bool(run.iterations)
            if wants_khat:
                self._khat_pending.add(id(run))
            # the run is in the table at once, and Fit is pressable again (a press now
            # starts the next fit as soon as the k-hat below is done)
            self._refresh_runs_table()
            self._set_fit_ready()
            if run is not None and run.iterations:
                self._redraw_elbo()
            khat = None
            if wants_khat:
                self._draw_marginals(MARGINAL_DRAWS, live=False)
                if self._last_draws is not None:
                    self._run_draws[id(run)] = self._last_draws
                khat = self._khat(run)
                self._set_status(self._final_status(p, khat))
        except Exception as err:  # never leave the UI stuck on a plotting error
            logger.exception("vibench: finishing a run failed")
            self._set_status(f"Could not draw the final plots: {err}", error=True)
        finally:
            self._khat_pending.clear()
            self.board.apply_pending()
            self._refresh_tabs()
            with self._lock:  # a Fit pressed meanwhile is either queued or sees the end
                self._finalizing = False
                self._set_running(False)
                queued, self._fit_queued = self._fit_queued, False
        if queued:
            self.fit()

    def _set_fit_ready(self) -> None:
        """Fit pressable and Stop off while a finished run's last plots and k-hat are made.

        Board edits stay queued until then (they would change the plan the k-hat reads).
        """
        self.fit_button.disabled = bool(self._unfittable_reason())
        self.stop_button.disabled = True

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
            parts.append(
                f"{self._trace_name} {p.smoothed_elbo:.4g} (smoothed: median of the last "
                f"{int(window_at(max(int(p.iteration) - 1, 0), self._window()))})"
            )
        if p.its_per_second:
            parts.append(f"{_fmt_int(p.its_per_second)} it/s")
        trend = self._trend()
        if trend:
            parts.append(trend)
        if khat is not None:
            parts.append(khat_text(khat, long=True))
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
        # short: the full trace label came just before in the status line
        name = "ELBO" if trace_label(run.plan) == "ELBO" else "mean log p"
        return f"{name} flat (converging)" if change < 1e-3 else f"{name} still moving"

    def _khat(self, run: Any) -> Any:
        try:
            diag = getattr(run, "diagnostics", None)
            value = diag if diag is not None else run.khat
        except Exception as err:
            logger.debug("vibench: k-hat failed: %s", err)
            return None
        self._khats[id(run)] = value
        return value

    # ------------------------------------------------------------------ marginals
    def _views(self, deterministics: bool | None = None) -> list[Any]:
        """What the marginals show (cached): the model's words, Deterministics on request."""
        if deterministics is None:
            box = getattr(self, "show_deterministics", None)
            deterministics = bool(box.value) if box is not None else False
        views = self._views_cache.get(deterministics)
        if views is None:
            try:
                views = shown_variables(self.session, deterministics)
            except Exception:
                logger.debug("vibench: reading the model's variables failed", exc_info=True)
                views = shown_variables(_PlainVariables(self.session), deterministics)
            self._views_cache[deterministics] = views
        return views

    def _panels(self):
        """Panels of the shown variables; a long vector is a forest panel (coord labels).

        Cached per shown variables and element choice: every live frame asks.
        """
        views = self._views()
        key = (id(views), tuple(sorted(self._element_choice.items())))
        cached = getattr(self, "_panels_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        panels = marginal_panels(
            {v.name: tuple(v.shape) for v in views},
            index={k: (None if i < 0 else i) for k, i in self._element_choice.items()},
            labels={v.name: v.labels for v in views if v.shape},
            elements={v.name: v.elements for v in views if v.shape},
            forest=True,
        )
        self._panels_cache = (key, panels)
        return panels

    def _update_element_picker(self) -> None:
        """Offer the long vectors of the shown variables, their elements by coord name."""
        big = [v for v in self._views() if v.shape and v.size > MAX_ELEMENTS]
        names = [v.name for v in big]
        shown = "" if big else "none"
        self.element_variable.layout.display = shown
        self.element_index.layout.display = shown
        if tuple(names or [""]) != tuple(self.element_variable.options):
            self.element_variable.options = names or [""]
        self._fill_element_index(self.element_variable.value)

    def _fill_element_index(self, name: str) -> None:
        view = next((v for v in self._views() if v.name == name), None)
        options = [("(forest only)", -1)]
        if view is not None:
            options += [(label, k) for k, label in enumerate(view.labels)]
        value = self._element_choice.get(name, -1)
        if value >= len(options) - 1:
            value = -1
        with self.element_index.hold_trait_notifications():
            if list(self.element_index.options) != options:
                self.element_index.options = options
            self.element_index.value = value

    def _draw_marginals(self, draws: int, *, live: bool) -> bool:
        """Sample, estimate densities and show them; ``False`` if there was nothing."""
        draws = self.session.affordable_draws(draws)
        try:
            if live:
                values = self._live_draws(draws)
            else:
                # every variable the model has (the Deterministics box may change later)
                values = posterior_draws(self.session.sample(draws, seed=0))
        except Exception as err:
            logger.debug("vibench: sampling for the marginals failed: %s", err)
            return False
        if not values:
            return False
        if self._is_particle_plan():
            # draws of a particle plan resample its particles: many repeats, which a KDE
            # would read as a large sample (narrow spikes); estimate from the particles
            values = {k: np.unique(np.asarray(v), axis=0) for k, v in values.items()}
        # by name of what is shown, too (an LKJ factor's derived stds and correlations)
        self._last_draws = view_values(self._views(), values)
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
        title = "marginal posteriors of q"
        if self._is_particle_plan():
            n = getattr(self.session, "particles", None)
            title = f"marginal posteriors of q (density of the {n} particles)"
        if not self.session.running and self._latest_hidden():
            dens = [None] * len(panels)  # the latest run (q now) is unticked in the table
        overlays = self._marginal_overlays(panels)
        frame = self._live_marginals.frame(
            panels, dens, ref, title=title, live=live, overlays=overlays
        )
        fig = self._live_marginals.fig
        self._show(self.marginals_image, frame, float(fig.get_size_inches()[0]) if fig else 10.0)

    def _on_element_variable(self, change: dict) -> None:
        self._fill_element_index(change["new"])

    def _on_element_index(self, change: dict) -> None:
        name = self.element_variable.value
        if name and change["new"] is not None:
            self._element_choice[name] = int(change["new"])
            if not self.session.running:
                self._render_marginals()

    def _on_deterministics_toggle(self, _change: dict) -> None:
        """Show or hide the model's other Deterministics (the next frame, or now)."""
        self._update_element_picker()
        self._reference_densities = None
        if any(v.kind == "deterministic" for v in self._views()) and self.live_plots:
            # live frames now draw Deterministics too: a function of its own, compiled
            # on a helper thread (now during a fit, else when the next fit starts)
            self._sampler_ready = False
            if self.session.running and self._run is not None:
                threading.Thread(
                    target=self._compile_live_draws,
                    args=(self._run,),
                    name="vibench-draws",
                    daemon=True,
                ).start()
        if self.session.running or self._last_draws is None:
            return  # the next live frame draws them (its draws include them)
        self._last_draws = view_values(self._views(), self._last_draws)
        if not all(v.name in self._last_draws for v in self._views()):
            self._draw_marginals(MARGINAL_DRAWS, live=False)  # drawn before: sample again
        else:
            self._render_marginals()

    def _say_reference(self, text: str, *, error: bool = False) -> None:
        """A short note next to the NUTS box (the status line keeps the run's summary)."""
        self.reference_note.value = _note_html(text, error=error)

    def _reference_running(self) -> bool:
        future = self._reference_future
        return future is not None and not future.done()

    def _show_reference_cancel(self, shown: bool) -> None:
        self.reference_cancel.layout.display = "" if shown else "none"

    def _on_reference_toggle(self, change: dict) -> None:
        """Ticked: show the reference, sampling it first; unticked: hide it, cancel NUTS."""
        if not change["new"]:
            if self._reference_running():
                self._cancel_reference()
            else:
                self._say_reference("")
            self._render_marginals()
            return
        if self._reference is not None:
            self._say_reference(f"{self._reference_name()}: dashed lines in the marginals")
            self._render_marginals()
            return
        if self._reference_running():  # still sampling: keep watching it
            self._show_reference_cancel(True)
            return
        self._say_reference("NUTS reference: starting…")
        try:
            future = self.session.reference(background=True)
        except Exception as err:
            self._say_reference(f"NUTS reference failed: {_message(err)}", error=True)
            return
        self._reference_future = future
        subscribe = getattr(future, "subscribe", None)
        if callable(subscribe) and not future.done():
            self._show_reference_cancel(True)
            self._reference_unsubscribe = subscribe(
                lambda p, f=future: self._on_reference_progress(f, p)
            )
        future.add_done_callback(self._on_reference_done)

    def _reference_name(self) -> str:
        if getattr(self.session, "reference_given", False):
            return "Your reference posterior"
        return "NUTS reference"

    def _on_reference_progress(self, future: Any, progress: Any) -> None:
        """A live line: ``NUTS reference: 640/2000 draws, 0 divergences, ... · Cancel``."""
        if future is not self._reference_future or future.done() or progress.finished:
            return
        text = f"NUTS reference: {progress.text}"
        if getattr(progress, "slow", False):
            text += " (long: Cancel, or give a posterior you have with session.set_reference)"
        self._say_reference(text)

    def _on_reference_cancel(self, _button: Any = None) -> None:
        """The Cancel button: untick the box, which stops the sampler."""
        if self.show_reference.value:
            self.show_reference.value = False  # _on_reference_toggle cancels
        else:
            self._cancel_reference()

    def _cancel_reference(self) -> None:
        future = self._reference_future
        self._show_reference_cancel(False)
        if future is None or future.done():
            return
        unsubscribe = getattr(self, "_reference_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
            self._reference_unsubscribe = None
        if future.cancel():
            self._say_reference("NUTS reference cancelled (tick the box to sample again)")
        else:
            self._say_reference("NUTS reference: could not cancel it", error=True)

    def _on_reference_done(self, future: Any) -> None:
        if future is not self._reference_future:
            return  # an older job (cancelled, or the reference changed since)
        self._show_reference_cancel(False)
        if future.cancelled():
            return  # _cancel_reference said so
        try:
            tree = future.result()
        except Exception as err:
            self._say_reference(f"NUTS reference failed: {_message(err)}", error=True)
            return
        # every variable of the reference (its Deterministics too) and what is derived
        # from them, so the Deterministics box needs no new reference
        self._reference = view_values(self._views(True), posterior_draws(tree))
        self._reference_densities = None
        if not self.show_reference.value:
            return
        name = self._reference_name()
        self._say_reference(f"{name} ready: dashed lines in the marginals")
        if not self.session.running:  # else the next frame of the fit shows it
            self._render_marginals()

    def _sync_given_reference(self) -> None:
        """After ``session.set_reference``: drop the old reference, show the new one."""
        if not hasattr(self.session, "given_reference"):
            return
        given = self.session.given_reference
        if given is self._reference_was_given:
            return
        self._reference_was_given = given
        self._cancel_reference()
        self._reference_future = None
        self._reference = None
        self._reference_densities = None
        if self.show_reference.value:
            self._on_reference_toggle({"new": True})
        elif given is not None:
            self._say_reference("Your reference posterior is set: tick the box to show it")

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
            self._plan_note(f"Could not save: {err}", error=True)
            raise
        self._plan_note(f"Saved to {p}.")
        return p

    def load_plan(self, path: str | Path) -> bool:
        """Read a plan saved by :meth:`save_plan` and apply it; ``False`` (and a message) on error."""
        try:
            text = Path(path).read_text()
        except OSError as err:
            self._plan_note(f"Could not read {path}: {err}", error=True)
            return False
        return self.apply_plan_json(text, source=str(path))

    def apply_plan_json(self, text: str | dict, *, source: str | None = None) -> bool:
        """Apply a plan given as JSON text (or a dict) to the session.

        The JSON is validated first (by ``Session.from_dict`` on the same model): a bad
        plan changes nothing and the message says why. Should applying the validated
        plan still fail, the previous plan is put back and the message says so; no
        error escapes to the notebook's log unseen.

        Parameters
        ----------
        text : str or dict
            The plan (``Session.to_dict()`` form).
        source : str, optional
            Where it came from (a file name), for the message.

        Returns
        -------
        bool
            Whether the plan was loaded (the Plan (JSON) tab's message says either way).
        """
        s = self.session
        if self._restricted & _PLAN_CONTROLS:
            self._plan_note("Loading a plan is turned off for this exercise.", error=True)
            return False
        if s.running or self._finalizing:
            self._plan_note("Stop the fit before loading a plan.", error=True)
            return False
        try:
            # text goes to from_dict as it is: it refuses oversized text before parsing
            checked = type(s).from_dict(getattr(s, "model", None), text)
        except Exception as err:
            self._plan_note(f"Plan not loaded: {_message(err)}", error=True)
            return False
        try:
            before = s.to_dict()
        except Exception:
            before = None
        try:
            self._apply_checked(checked)
        except Exception as err:
            logger.debug("vibench: applying a plan failed", exc_info=True)
            back = self._restore_plan(before)
            self.board.refresh()
            self._refresh_tabs()
            if isinstance(text, str):
                self.plan_json.value = text  # keep what the person typed, to fix it
            tail = " The previous plan is back." if back else ""
            self._plan_note(f"Plan not loaded: {_message(err)}.{tail}", error=True)
            return False
        self.board.refresh()
        self._refresh_tabs()
        where = f"from {source}" if source else "from the JSON above"
        self._plan_note(f"Loaded the plan {where}: {plan_label(s.to_dict()['plan'])}.")
        return True

    def _restore_plan(self, before: dict | None) -> bool:
        """Put back the plan ``before`` (``session.to_dict()``) after a failed load."""
        if before is None:
            return False
        s = self.session
        try:
            self._apply_checked(type(s).from_dict(getattr(s, "model", None), before))
        except Exception:
            logger.debug("vibench: restoring the plan failed", exc_info=True)
            return False
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
                gid = s.add_group(g.family, list(g.variables))
                if getattr(g, "rowwise", False) and hasattr(s, "set_rowwise"):
                    s.set_rowwise(gid, True)
        particles = getattr(checked, "particles", None)
        if particles is not None and hasattr(s, "set_particles"):
            s.set_particles(particles)
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
            "particles": (self.particles, self._settings_row),
            "temperature": (self.temperature, self._settings_row),
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
        """Unsubscribe from the session, cancel a NUTS reference it is sampling, close."""
        if hasattr(self, "reference_cancel"):
            self._cancel_reference()
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

        def img(image: widgets.Image, alt: str) -> str:
            data = bytes(image.value)
            b64 = base64.b64encode(data).decode("ascii")
            mime = f"image/{image_format(data)}"  # a live frame is a JPEG
            # at its CSS size: the picture carries two pixels per CSS pixel
            style = f"width:100%;max-width:{image.layout.max_width or '100%'}"
            return f"<img alt='{alt}' src='data:{mime};base64,{b64}' style='{style}'/>"

        status = self.status.value
        return HTML(
            "<div class='vb-snapshot'>"
            f"<div><b>vibench</b> · {html.escape(plan_label(self.session.to_dict()['plan']))}"
            "</div>"
            f"<div style='font-family: monospace'>{status}</div>"
            f"{img(self.elbo_image, html.escape(self._trace_name))}<br/>{img(self.marginals_image, 'marginals')}"
            # the table without its show / overlay / remove controls (a static picture)
            f"{runs_table_html(run_rows(self.session.runs, self._khats, hidden=self._hidden_runs))}"
            "</div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = f"vibench.Workbench({self.session!r})"
        return bundle


class _PlainVariables:
    """A session seen through its free variables only (when reading its model fails)."""

    def __init__(self, session: Any) -> None:
        self.variables = session.variables
