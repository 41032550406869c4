"""Helpers for the browser tier: the JupyterLab server handle and notebook driving."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class LabServer:
    """A running JupyterLab: where it listens and the folder it serves."""

    url: str
    token: str
    root: Path

    def api(self, path: str, method: str = "GET") -> object:
        """Call the server's REST API and return the decoded JSON (or None)."""
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def lab_url(self, notebook: str) -> str:
        """The address that opens ``notebook`` in a fresh workspace."""
        return f"{self.url}/lab/tree/{notebook}?token={self.token}&reset"


def open_notebook(page, server: LabServer, notebook: str) -> None:
    """Open ``notebook`` and wait until its kernel is connected and idle."""
    page.goto(server.lab_url(notebook))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session
                && w.sessionContext.session.kernel;
            return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
        }""",
        timeout=120_000,
    )


def run_all_cells(page, timeout_ms: int = 300_000) -> None:
    """Run every cell and wait until each code cell has run and the kernel is idle."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp.shell.currentWidget;
            const k = w.sessionContext.session.kernel;
            const cells = w.content.widgets.filter(c => c.model.type === 'code');
            return k.status === 'idle'
                && cells.every(c => c.model.executionCount !== null);
        }""",
        timeout=timeout_ms,
        polling=500,
    )


def cell_errors(page) -> list[str]:
    """The error outputs currently shown in the notebook, as text."""
    return page.locator(
        ".jp-Cell-outputArea .jp-RenderedText[data-mime-type*='error']"
    ).all_inner_texts()


def kernel_eval(page, code: str, timeout_ms: int = 60_000) -> str:
    """Run ``code`` in the open notebook's kernel (no new cell) and return its stdout.

    The code runs as a silent execute request on the same kernel, so it sees the
    notebook's variables (``wb``) and what the front end did to them.
    """
    return page.evaluate(
        """async ([code, timeout]) => {
            const w = window.jupyterapp.shell.currentWidget;
            const kernel = w.sessionContext.session.kernel;
            const future = kernel.requestExecute({code, silent: false, store_history: false});
            let out = "";
            let err = null;
            future.onIOPub = (msg) => {
                const t = msg.header.msg_type;
                if (t === "stream") out += msg.content.text;
                if (t === "error") err = msg.content.ename + ": " + msg.content.evalue;
            };
            const done = future.done;
            const timer = new Promise((_, reject) =>
                setTimeout(() => reject(new Error("kernel_eval timed out")), timeout));
            await Promise.race([done, timer]);
            if (err) throw new Error(err);
            return out;
        }""",
        [code, timeout_ms],
    )


def write_notebook(path: Path, cells: list[str]) -> None:
    """Write a notebook of code cells at ``path`` (with a Python 3 kernelspec)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, str(path))
