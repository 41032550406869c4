"""The shapes of the data exchanged between the board's JavaScript and Python."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

__all__ = [
    "BoardAction",
    "FamilyOption",
    "GroupState",
    "MoveAction",
    "NewGroupAction",
    "RemoveGroupAction",
    "SetFamilyAction",
    "VariableState",
]


class VariableState(TypedDict):
    """One chip (Python -> JS, trait ``variables``)."""

    name: str
    shape: list[int]
    size: int
    discrete: bool
    transform: str
    note: str
    #: The variable's dimension names (``model.named_vars_to_dims``), ``None`` per
    #: unnamed dimension; absent when the model names none.
    dims: NotRequired[list[str | None]]


class GroupState(TypedDict):
    """One group column (Python -> JS, trait ``groups``)."""

    id: str
    family: str
    variables: list[str]


class FamilyOption(TypedDict):
    """An entry of the family picker (Python -> JS, trait ``families``)."""

    value: str
    label: str
    title: NotRequired[str]
    disabled: NotRequired[bool]


class MoveAction(TypedDict):
    """JS -> Python: a chip was dropped on (or chosen for) a group."""

    kind: Literal["move"]
    variable: str
    group: str


class NewGroupAction(TypedDict):
    """JS -> Python: a chip was dropped on the new-group zone (or the zone clicked)."""

    kind: Literal["new_group"]
    variable: str | None
    family: str


class SetFamilyAction(TypedDict):
    """JS -> Python: a family was picked or a flow stack edited."""

    kind: Literal["set_family"]
    group: str
    family: str


class RemoveGroupAction(TypedDict):
    """JS -> Python: a group's remove button was pressed."""

    kind: Literal["remove_group"]
    group: str


BoardAction = MoveAction | NewGroupAction | SetFamilyAction | RemoveGroupAction
