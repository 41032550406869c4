"""``Session.to_code()``: PyMC + vibench code that rebuilds a plan and its fit."""

from __future__ import annotations

from typing import Any

from vibench.session._run import FitSettings

__all__ = ["plan_to_code"]


def plan_to_code(
    plan: dict[str, Any],
    settings: FitSettings,
    *,
    demo: str | None,
    model_code: str | None,
    fit: bool,
) -> str:
    """Python source that rebuilds the plan's groups and runs its fit.

    Parameters
    ----------
    plan : dict
        ``Plan.to_dict()`` output.
    settings : FitSettings
        Fit settings to write out.
    demo : str or None
        Registry name of a demo model (the code then builds it itself).
    model_code : str or None
        Source of an expression that builds the model, for models that are not demos.
        When both are ``None`` the code expects a variable ``model`` to exist.
    fit : bool
        Whether to end with the fit (otherwise only ``approx`` is built).

    Returns
    -------
    str
    """
    lines = ['"""Rebuild a vibench plan: the same groups and fit settings."""', ""]
    lines += ["from pymc.variational import KLqp, updates", "", "import vibench"]
    if demo is not None:
        lines += ["from vibench import models", "", f"model = models.get_model({demo!r})"]
    elif model_code is not None:
        lines += ["", f"model = {model_code}"]
    else:
        lines += ["", "# `model` must be your PyMC model (the one the session was built on)."]
    lines += ["", "with model:", "    groups = ["]
    for g in plan["groups"]:
        if g["id"] == "rest":
            if not g["variables"]:
                continue
            lines.append(
                f"        vibench.Group(None, vfam={g['family']!r}),"
                f"  # rest: {', '.join(g['variables'])}"
            )
        else:
            members = ", ".join(f"model[{v!r}]" for v in g["variables"])
            lines.append(f"        vibench.Group([{members}], vfam={g['family']!r}),  # {g['id']}")
    lines.append("    ]")
    lines.append(f"    approx = vibench.Approximation(groups, random_seed={settings.seed!r})")
    if fit:
        lines += [
            "    inference = KLqp(approx)",
            "    approx = inference.fit(",
            f"        n={settings.iterations!r},",
            f"        obj_optimizer=updates.{settings.optimizer}(learning_rate={settings.learning_rate!r}),",
            f"        obj_n_mc={settings.obj_n_mc!r},",
            "        progressbar=False,",
            "    )",
        ]
    return "\n".join(lines) + "\n"
