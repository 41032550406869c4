"""The workbench's marginals in the model's words (fake session: no compile)."""

from __future__ import annotations

import pytest

from vibench.widgets import Workbench

from ._fake import FakeSession, WordsFakeSession


@pytest.fixture
def words():
    s = WordsFakeSession()
    wb = Workbench(session=s)
    yield s, wb
    if s.running:
        s.stop()
        wb.wait(timeout=10)
    wb.close()


def _fit(wb, n=300):
    wb.iterations.value = n
    wb.fit_button.click()
    run = wb.wait(timeout=30)
    assert run is not None
    return run


def _titles(wb):
    fig = wb._live_marginals.fig
    return [ax.get_title() or ax.get_title(loc="left") for ax in fig.axes]


def test_panels_use_coord_names_and_the_deterministic_for_a_hidden_variable(words):
    _s, wb = words
    panels = wb._panels()
    assert [p.label for p in panels] == [
        "mu",
        "sigma",
        "z[…]",
        "w[low]",
        "w[mid]",
        "w[high]",
        "f[…]",
    ]
    z = panels[2]
    assert z.kind == "forest"
    assert z.element_labels == WordsFakeSession.COUNTIES
    assert "f_raw_" not in [p.variable for p in panels]


def test_element_picker_is_a_dropdown_of_coord_names(words):
    _s, wb = words
    assert wb.element_variable.options == ("z", "f")
    labels = [label for label, _ in wb.element_index.options]
    assert labels[0] == "(forest only)"
    assert labels[1:4] == ["z[county_00]", "z[county_01]", "z[county_02]"]
    wb.element_index.value = 3
    assert [p.label for p in wb._panels()][2:4] == ["z[…]", "z[county_03]"]
    wb.element_variable.value = "f"
    assert wb.element_index.value == -1  # f has no element chosen yet
    assert [label for label, _ in wb.element_index.options][1] == "f[0]"
    wb.element_variable.value = "z"
    assert wb.element_index.value == 3  # remembered per variable


def test_final_marginals_show_titles_and_forest_ticks(words):
    _s, wb = words
    _fit(wb)
    titles = _titles(wb)
    assert titles[:2] == ["mu", "sigma"]
    assert titles[2].startswith("z: mean, 50 % and 94 % intervals")
    assert "w[low]" in titles
    forest = wb._live_marginals.fig.axes[2]
    ticks = [t.get_text() for t in forest.get_xticklabels()]
    assert ticks == list(WordsFakeSession.COUNTIES)
    assert wb.marginals_image.value  # an image was shown


def test_deterministics_box_adds_them_to_the_marginals_and_the_live_draws(words):
    s, wb = words
    assert not wb.show_deterministics.disabled
    assert "vb-deterministics" in wb.show_deterministics._dom_classes
    _fit(wb)
    before = _titles(wb)
    assert "z_mean" not in before
    wb.show_deterministics.value = True
    after = _titles(wb)
    assert "z_mean" in after
    assert any(t.startswith("a: mean") for t in after)
    assert "a" in wb.element_variable.options
    # a Deterministic needs draws with deterministics: live frames asked for them
    assert s.draw_calls
    assert all(s.draw_calls)  # f (standing for f_raw_) is a Deterministic from the start
    wb.show_deterministics.value = False
    assert "z_mean" not in _titles(wb)
    assert "a" not in wb.element_variable.options


def test_live_frames_draw_the_forest(words):
    s, wb = words
    wb._marg_budget.fraction = 1.0  # every progress event may draw a marginals frame
    _fit(wb, n=3000)
    assert wb.frames["marginals"] >= 1
    assert s.draw_calls


def test_without_other_deterministics_the_box_is_disabled():
    wb = Workbench(session=FakeSession())
    assert wb.show_deterministics.disabled
    assert wb.element_variable.layout.display == "none"  # no long vector
    wb.close()


@pytest.mark.parametrize(
    ("name", "expected", "hidden"),
    [
        ("gp_latent", ["ell", "eta", "f[…]", "sigma"], "f_rotated_"),
        (
            "mixture_lkj",
            [
                *("w[low]", "w[mid]", "w[high]", "means[low]", "means[mid]", "means[high]"),
                *("sd", "chol_corr[0, 1]", "chol_corr[0, 2]", "chol_corr[1, 2]"),
                *("chol_stds[0]", "chol_stds[1]", "chol_stds[2]"),
            ],
            "chol",
        ),
    ],
)
def test_real_session_marginals_in_the_models_words(name, expected, hidden):
    from vibench import models
    from vibench.session import Session

    fast = {"mode": "FAST_COMPILE"}
    model = models.gp_latent(n=12) if name == "gp_latent" else models.mixture_lkj()
    s = Session(model, compile_kwargs=fast, sample_compile_kwargs=fast)
    wb = Workbench(session=s, live_plots=False)
    try:
        assert [p.label for p in wb._panels()] == expected
        assert hidden not in [p.variable for p in wb._panels()]
        _fit(wb, n=30)
        titles = _titles(wb)
        assert len(titles) == len(expected)
        if name == "gp_latent":
            assert titles[2].startswith("f: mean")
            ticks = [t.get_text() for t in wb._live_marginals.fig.axes[2].get_xticklabels()]
            assert ticks[:2] == ["0", "0.91"]  # the coords of dim "x"
        else:
            assert titles[7] == "chol_corr[0, 1]"
            corr = wb._last_draws["chol_corr"]
            assert corr.shape[1:] == (3, 3)
    finally:
        wb.close()


def test_reference_bars_beside_q_in_the_forest(words):
    s, wb = words
    _fit(wb)
    wb.show_reference.value = True
    s.reference_jobs[-1].finish()
    fig = wb._live_marginals.fig
    forest = fig.axes[2]
    assert forest.get_title(loc="left").startswith("z: mean")
    # NUTS's means (grey, in the background) sit right of each element, q's bars left
    ref_means = [ln for ln in forest.lines if ln.get_marker() == "o" and ln.get_visible()]
    assert len(ref_means) == 1
    assert ref_means[0].get_xdata()[0] > 0
    _, (_outer, _inner, q_means, shift), _ = wb._live_marginals._artists[2]
    assert shift < 0
    assert q_means.get_xdata()[0] < 0
    assert fig.legends  # q / NUTS
    # the Deterministics box needs no new reference: a's bars come from the same job
    wb.show_deterministics.value = True
    fig = wb._live_marginals.fig
    a_ax = next(ax for ax in fig.axes if ax.get_title(loc="left").startswith("a: mean"))
    assert [ln for ln in a_ax.lines if ln.get_marker() == "o" and ln.get_visible()]
    assert len(s.reference_jobs) == 1
