"""The Binder environment agrees with the package, and the README with the notebooks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"binder pins exact versions, not {line!r}"
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    "requirement",
    _project()["dependencies"] + _project()["optional-dependencies"]["lab"],
)
def test_binder_pins_satisfy_pyproject(requirement):
    req = Requirement(requirement)
    pins = _pins()
    name = canonicalize_name(req.name)
    assert name in pins, f"{req.name} is required by pyproject.toml but not pinned for Binder"
    assert req.specifier.contains(pins[name], prereleases=True), (
        f"binder pins {req.name}=={pins[name]}, outside pyproject's {req.specifier}"
    )


def test_binder_runtime_and_postbuild():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.12"
    post = (ROOT / "binder" / "postBuild").read_text().splitlines()
    body = [line for line in post if line.strip() and not line.startswith("#")]
    assert body[0] == "set -e"
    assert any("pip install" in line and " ." in line for line in body)


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\(notebooks/([\w.-]+\.ipynb)\)", readme))
    present = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert linked == present


def test_readme_binder_badge_opens_getting_started():
    readme = (ROOT / "README.md").read_text()
    assert "lab/tree/notebooks/01_getting_started.ipynb" in readme
