"""``to_code()`` runs in a fresh interpreter; the session layer imports no UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from vibench.session import Session


def _run(code: str, env_extra: dict[str, str] | None = None, *, stderr: bool = False) -> Any:
    env = dict(os.environ)
    for key, value in (env_extra or {}).items():
        env[key] = ",".join(filter(None, [env.get(key, ""), value]))
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (proc.stdout, proc.stderr) if stderr else proc.stdout


@pytest.mark.slow
def test_to_code_rebuilds_the_same_groups_and_settings(session):
    gid = session.add_group("fr", ["mu"])
    session.add_group("scale-loc", ["tau"])
    session.fit(5, optimizer="rmsprop", learning_rate=0.02, obj_n_mc=2, seed=4)
    session.configure(iterations=30)
    code = session.to_code()
    compile(code, "<to_code>", "exec")
    probe = code + textwrap.dedent(
        """
        import json
        print(json.dumps({
            "groups": [
                [type(g).__name__, sorted(g.ordering)] for g in approx.groups
            ],
            "hist": len(inference.hist),
        }))
        """
    )
    out, err = _run(probe, {"PYTENSOR_FLAGS": "mode=FAST_COMPILE"}, stderr=True)
    # quiet: PyMC's "Finished [100%]: Average Loss = ..." log line is turned off
    assert "Finished [100%]" not in out + err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["groups"] == [
        ["FullRankGroup", ["mu"]],
        ["NormalizingFlowGroup", ["tau_log__"]],
        ["MeanFieldGroup", ["theta_tilde"]],
    ]
    assert result["hist"] == 30
    assert gid in code


def test_to_code_without_fit_only_builds():
    s = Session("funnel")
    code = s.to_code(fit=False)
    assert "inference" not in code
    assert "get_model('funnel')" in code


def test_to_code_for_a_user_model_takes_the_model_expression():
    from tests.session.conftest import normal_model

    s = Session(normal_model())
    code = s.to_code(model_code="build_model()")
    assert "model = build_model()" in code
    assert "model['mu']" not in code  # everything in the rest group


def test_session_layer_imports_no_widgets_or_plotting():
    out = _run(
        "import sys, vibench.session, vibench.models\n"
        "bad = [m for m in ('ipywidgets', 'anywidget', 'matplotlib', 'IPython') "
        "if m in sys.modules]\n"
        "print(bad)"
    )
    assert out.strip() == "[]"
