"""The shapes of the data exchanged between the board's JavaScript and Python."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

__all__ = [
    "AddedColumn",
    "BoardAction",
    "ColumnView",
    "FamilyOption",
    "FlowStep",
    "GroupState",
    "MoveAction",
    "NewGroupAction",
    "PlanView",
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
    #: For ``"flow"``: the formula a group gets when the entry is picked.
    formula: NotRequired[str]


class FlowStep(TypedDict):
    """One step of a flow stack: a registered flow's short name, applied ``count`` times.

    Read by Python from the session's parse of the formula (the front end never
    parses one): ``"scale-planar*2-loc"`` is ``scale``, ``planar`` twice, ``loc``.
    """

    name: str
    count: int


class ColumnView(TypedDict):
    """One group column of :class:`PlanView` (Python -> JS).

    A :class:`GroupState` with its ``group_details`` entry (``rowwise``, ``rows``,
    ``rowwise_ok``, ``rowwise_why``, ``custom``, ``label``), its flow stack and what
    the edits queued during a fit change. ``family``, ``variables`` and ``rowwise`` are
    as they will be once the queue is applied.
    """

    id: str
    family: str
    variables: list[str]
    rowwise: bool
    rows: int | None
    rowwise_ok: bool
    rowwise_why: str
    custom: bool
    label: str
    #: Whether the family is a flow formula (the column shows the flow editor).
    flow: bool
    #: The flow stack (``[]`` for a PyMC family or a formula the parser refuses).
    flow_steps: list[FlowStep]
    #: A queued edit changes the family or the row-wise switch.
    pending_family: bool
    #: A queued edit removes the group.
    removing: bool
    #: Variables a queued edit moves into this group.
    pending_variables: list[str]


class AddedColumn(TypedDict):
    """A group a queued edit creates (no id yet), in :class:`PlanView`."""

    family: str
    variables: list[str]
    pending_variables: list[str]


class PlanView(TypedDict):
    """What the board draws (Python -> JS, trait ``plan_view``): one serialised view.

    The session's groups (rest last) with the queued edits applied and marked, and the
    groups queued for creation, shown before the rest group.
    """

    groups: list[ColumnView]
    added: list[AddedColumn]


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
