"""``Session.to_code()``: PyMC + vibench code that rebuilds a plan and its fit."""

from __future__ import annotations

from typing import Any

from vibench.session._families import is_particle_plan
from vibench.session._run import FitSettings

__all__ = ["plan_to_code"]


def plan_to_code(
    plan: dict[str, Any],
    settings: FitSettings,
    *,
    demo: str | None,
    model_code: str | None,
    fit: bool,
    custom: dict[str, dict[str, bool]] | None = None,
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
    custom : dict, optional
        Per group built in Python (``"custom": true`` in the plan), whether it came with
        ``"more_obj_params"`` and ``"more_replacements"`` (booleans).

    Returns
    -------
    str

    Notes
    -----
    A particle plan (every group empirical) becomes plain PyMC: ``pm.SVGD`` with the
    plan's particle count and the settings' temperature, one particle cloud over all
    variables (several empirical groups are one cloud to SVGD, so nothing is lost).

    A row-wise group becomes ``vibench.Group([...], vfam=..., rowwise=True)``. A group
    built in Python cannot be written out: the code expects it in a variable
    ``custom_group_<id>`` and says so in a comment, with the fit arguments it came with
    (``more_obj_params``, ``more_replacements``) expected the same way.
    """
    if is_particle_plan(plan):
        return _particle_code(plan, settings, demo=demo, model_code=model_code, fit=fit)
    lines = ['"""Rebuild a vibench plan: the same groups and fit settings."""', ""]
    lines += ["import logging", ""] if fit else []
    lines += ["from pymc.variational import KLqp, updates", "", "import vibench"]
    lines += _model_lines(demo, model_code)
    lines += _quiet_lines() if fit else []
    customs = [g for g in plan["groups"] if g.get("custom")]
    wants = {"more_obj_params": False, "more_replacements": False}
    for g in customs:
        for k, v in (custom or {}).get(g["id"], {}).items():
            wants[k] = wants.get(k, False) or bool(v)
    lines += _custom_comment(customs, wants)
    lines += ["", "with model:", "    groups = ["]
    for g in plan["groups"]:
        if g["id"] == "rest":
            if not g["variables"]:
                continue
            lines.append(
                f"        vibench.Group(None, vfam={g['family']!r}),"
                f"  # rest: {', '.join(g['variables'])}"
            )
        elif g.get("custom"):
            lines.append(
                f"        {_custom_name(g['id'])},  # {g['id']}: {g.get('label', '')}, built in "
                f"Python ({', '.join(g['variables'])})"
            )
        else:
            members = ", ".join(f"model[{v!r}]" for v in g["variables"])
            rowwise = ", rowwise=True" if g.get("rowwise") else ""
            lines.append(
                f"        vibench.Group([{members}], vfam={g['family']!r}{rowwise}),  # {g['id']}"
            )
    lines.append("    ]")
    lines.append(f"    approx = vibench.Approximation(groups, random_seed={settings.seed!r})")
    if fit:
        lines += [
            "    inference = KLqp(approx)",
            "    approx = inference.fit(",
            f"        n={settings.iterations!r},",
            f"        obj_optimizer=updates.{settings.optimizer}(learning_rate={settings.learning_rate!r}),",
            f"        obj_n_mc={settings.obj_n_mc!r},",
            *[f"        {k}={k}," for k, wanted in wants.items() if wanted],
            "        progressbar=False,",
            "    )",
        ]
    return "\n".join(lines) + "\n"


#: The logger of PyMC's ``Inference.fit``, which writes "Finished [100%]: Average Loss
#: = ..." at INFO level (shown on stderr) even with ``progressbar=False``.
PYMC_FIT_LOGGER = "pymc.variational.inference"


def _quiet_lines() -> list[str]:
    """Lines that keep the fit quiet (PyMC's end-of-fit log line), with a comment why."""
    return [
        "",
        '# PyMC logs "Finished [100%]: Average Loss = ..." even with progressbar=False;',
        "# this keeps the fit quiet (delete the line to see it).",
        f"logging.getLogger({PYMC_FIT_LOGGER!r}).setLevel(logging.WARNING)",
    ]


def _custom_name(group_id: str) -> str:
    return "custom_group_" + "".join(c if c.isalnum() else "_" for c in group_id)


def _custom_comment(customs: list[dict[str, Any]], wants: dict[str, bool]) -> list[str]:
    """Comment lines naming what the code expects for groups built in Python."""
    if not customs:
        return []
    lines = [
        "",
        "# Groups built in Python (Session.add_custom_group) cannot be written out as code.",
        "# Build them as you did for the session and name them before running this code:",
    ]
    for g in customs:
        lines.append(
            f"#   {_custom_name(g['id'])}: the {g.get('label', 'custom')} group over "
            f"{', '.join(g['variables'])}, e.g. vibench.Group([z], params=..., local=True)"
        )
    if wants.get("more_obj_params"):
        lines.append("#   more_obj_params: the extra parameters to train (e.g. encoder weights)")
    if wants.get("more_replacements"):
        lines.append(
            "#   more_replacements: the fit's replacements (e.g. {data: pm.Minibatch(...)})"
        )
    return lines


def _model_lines(demo: str | None, model_code: str | None) -> list[str]:
    if demo is not None:
        return ["from vibench import models", "", f"model = models.get_model({demo!r})"]
    if model_code is not None:
        return ["", f"model = {model_code}"]
    return ["", "# `model` must be your PyMC model (the one the session was built on)."]


def _particle_code(
    plan: dict[str, Any],
    settings: FitSettings,
    *,
    demo: str | None,
    model_code: str | None,
    fit: bool,
) -> str:
    """Plain PyMC code for a particle plan: Stein variational gradient descent."""
    particles = int(plan.get("particles", 100))
    groups = [g for g in plan["groups"] if g["variables"]]
    names = [v for g in groups for v in g["variables"]]
    lines = ['"""Rebuild a vibench plan: particles moved by SVGD, same settings."""', ""]
    lines += ["import logging", ""] if fit else []
    lines += ["import pymc as pm", "from pymc.variational import updates", ""]
    lines += _model_lines(demo, model_code)
    lines += _quiet_lines() if fit else []
    lines += [
        "",
        "with model:",
        f"    # empirical: one cloud of {particles} particles over {', '.join(names)},",
        "    # moved by Stein variational gradient descent (the KSD operator, RBF kernel).",
    ]
    if len(groups) > 1:
        lines.append(
            f"    # The plan's {len(groups)} empirical groups "
            f"({', '.join(g['id'] for g in groups)}) are one cloud to SVGD."
        )
    lines += [
        "    inference = pm.SVGD(",
        f"        n_particles={particles!r},",
        "        jitter=1.0,",
        f"        temperature={settings.temperature!r},",
        f"        random_seed={settings.seed!r},",
        "    )",
        "    approx = inference.approx",
    ]
    if fit:
        lines += [
            "    approx = inference.fit(",
            f"        n={settings.iterations!r},",
            f"        obj_optimizer=updates.{settings.optimizer}(learning_rate={settings.learning_rate!r}),",
            "        progressbar=False,",
            "    )",
        ]
    return "\n".join(lines) + "\n"
