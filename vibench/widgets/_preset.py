"""Instructor presets: reading a preset file, and the controls that can be hidden or locked."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vibench.session._plan import MAX_PRESET_BYTES

__all__ = ["BOARD_CONTROLS", "CONTROLS", "check_controls", "read_preset"]

#: Controls a preset can hide or lock (``Workbench(hide=..., lock=...)``), with what they are.
CONTROLS: dict[str, str] = {
    "iterations": "the Iterations box",
    "optimizer": "the Optimizer picker",
    "learning_rate": "the Learning rate box",
    "obj_n_mc": "the MC samples box",
    "particles": "the Particles box (empirical plans)",
    "temperature": "the Temperature box (empirical plans)",
    "seed": "the Seed box",
    "reset": "the Reset button",
    "families": "each group's family picker",
    "flow_editor": "the flow-stack editor of flow groups",
    "groups": "dragging variables, the New group zone and the remove-group buttons",
    "reference": "the NUTS reference overlay",
    "log_scale": "the ELBO log-scale checkbox",
    "export": "the Code and Plan (JSON) tabs (save, load, apply a plan)",
}
#: The controls that live on the board (its JavaScript honours them, Python enforces them).
BOARD_CONTROLS = ("families", "flow_editor", "groups")


def check_controls(names: Any, what: str) -> tuple[str, ...]:
    """The control names in ``names`` (a name or an iterable of names), checked.

    Raises
    ------
    ValueError
        A name that is not in :data:`CONTROLS`; the message lists the valid names.
    """
    if isinstance(names, str):
        names = (names,)
    if not isinstance(names, Iterable):
        raise TypeError(f"{what} must be a list of control names, got {type(names).__name__}")
    out: list[str] = []
    for name in names:
        if not isinstance(name, str) or name not in CONTROLS:
            raise ValueError(
                f"{what}: unknown control {name!r}; valid names are {', '.join(CONTROLS)}"
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def read_preset(preset: Any) -> dict[str, Any]:
    """A preset as a dict: ``preset`` is a path to a JSON file (``str`` / ``Path``) or a dict.

    Only the JSON syntax is checked here; ``Session.from_dict`` checks the content. The
    file's size is checked before it is read: a preset is a few kilobytes, and one over
    ``MAX_PRESET_BYTES`` (4 MiB) is refused without parsing it.

    Raises
    ------
    FileNotFoundError
        No file at that path.
    ValueError
        The file is too large, not JSON (or nested too deeply to be a preset), or its
        top level is not a JSON object.
    TypeError
        ``preset`` is neither a path nor a dict.
    """
    if isinstance(preset, Mapping):
        return dict(preset)
    if not isinstance(preset, str | Path):
        raise TypeError(
            f"preset must be a path to a JSON file or a dict, got {type(preset).__name__}"
        )
    path = Path(preset)
    try:
        size = path.stat().st_size if path.is_file() else 0
    except OSError:
        size = 0  # reading it below says what is wrong
    if size > MAX_PRESET_BYTES:
        raise ValueError(
            f"preset {str(path)!r} is too large for a preset ({size:,} bytes; at most "
            f"{MAX_PRESET_BYTES:,})"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"preset file not found: {str(path)!r}") from None
    except IsADirectoryError:
        raise ValueError(f"preset {str(path)!r} is a folder, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"could not read preset {str(path)!r}: {err}") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(
            f"preset {str(path)!r} is nested too deeply to be a vibench preset"
        ) from None
    except ValueError as err:
        raise ValueError(
            f"preset {str(path)!r} is not valid JSON (line {err.lineno}, column {err.colno}:"
            f" {err.msg})"
            if isinstance(err, json.JSONDecodeError)
            else f"preset {str(path)!r} is not valid JSON: {err}"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(
            f"preset {str(path)!r} must hold a JSON object, got a {type(data).__name__}"
        )
    return data
