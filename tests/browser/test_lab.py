"""JupyterLab serves the getting-started notebook and it runs in a real browser."""

from __future__ import annotations

from ._lab import ARTIFACTS, cell_errors, open_notebook, run_all_cells


def test_getting_started_runs_in_lab(lab_server, page):
    open_notebook(page, lab_server, "01_getting_started.ipynb")
    run_all_cells(page)
    assert cell_errors(page) == []
    # The workbench rendered, with a chip per variable of the default model.
    for name in ("mu", "tau", "theta_tilde"):
        page.locator(f'.vb-chip[data-var="{name}"]').first.wait_for(state="visible")
    assert page.locator('.vb-group[data-group="rest"]').count() >= 1
    # The Python cells below it ran and printed their results.
    text = page.locator(".jp-Cell-outputArea").all_inner_texts()
    assert any("k-hat" in t for t in text)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "getting_started.png"))


def test_lab_saves_widget_state_with_notebooks(lab_server):
    """The project's JupyterLab settings keep the workbench's plots in saved notebooks."""
    plugin = lab_server.api("/lab/api/settings/@jupyter-widgets/jupyterlab-manager:plugin")
    # Overrides become the schema's default; the user may still turn it off.
    assert plugin["schema"]["properties"]["saveState"]["default"] is True
