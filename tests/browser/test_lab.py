"""JupyterLab serves the getting-started notebook and it runs in a real browser."""

from __future__ import annotations

from ._lab import ARTIFACTS, cell_errors, open_notebook, run_all_cells


def test_getting_started_runs_in_lab(lab_server, page):
    open_notebook(page, lab_server, "01_getting_started.ipynb")
    run_all_cells(page)
    assert cell_errors(page) == []
    outputs = page.locator(".jp-Cell-outputArea")
    assert outputs.count() > 0
    assert outputs.first.inner_text().strip() or outputs.first.locator("img").count()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "getting_started.png"))
