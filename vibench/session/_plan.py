"""The plan: which variable sits in which group and each group's variational family.

A :class:`Plan` is plain data (no PyTensor objects) that a :class:`~vibench.Session`
edits, validates and serialises. Every edit is validated before it is applied, so a
bad edit raises :class:`PlanError` and leaves the plan unchanged.
"""

from __future__ import annotations

import copy
import re
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
from pymc.vartypes import discrete_types

from vibench.session._checks import int_in_range, short_repr
from vibench.session._errors import PlanError
from vibench.session._families import EMPIRICAL, canonical_family, is_particle_family

__all__ = [
    "DEFAULT_PARTICLES",
    "MAX_EXTRA_GROUPS",
    "MAX_PARTICLES",
    "MAX_PRESET_BYTES",
    "REST",
    "GroupSpec",
    "Plan",
    "PlanError",
    "VariableInfo",
]

REST = "rest"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
#: Particles of an empirical (SVGD) plan by default (PyMC's ``SVGD(n_particles=100)``).
DEFAULT_PARTICLES = 100
#: The most particles a plan may ask for (SVGD's kernel matrix is particles x particles).
MAX_PARTICLES = 5000
#: A preset (JSON text or file) larger than this is refused before it is parsed. A
#: preset lists each free variable about twice (in ``model`` and in its group), some
#: 60-80 bytes a variable: 4 MiB holds a model with ~50,000 free variables, far more
#: than a board can show.
MAX_PRESET_BYTES = 4 * 2**20
#: How many groups a loaded plan may have beyond one per variable (empty groups are
#: allowed while a plan is edited, so a preset may hold a few).
MAX_EXTRA_GROUPS = 16
#: A preset listing more names than the model has variables plus this many is refused
#: before any name is looked at; a smaller surplus gets the message that names the
#: duplicated or unknown variable.
LISTING_SLACK = 100


def listing(names: Any, limit: int = 8) -> str:
    """``['a', 'b', ... and 12 more]``: a list for a message, at most ``limit`` items."""
    names = list(names)
    shown = ", ".join(short_repr(n) for n in names[:limit])
    more = f", ... and {len(names) - limit} more" if len(names) > limit else ""
    return f"[{shown}{more}]"


@dataclass(frozen=True)
class VariableInfo:
    """A free variable of the model, as the workbench shows it.

    Attributes
    ----------
    name : str
        The variable's name in the model (``model[name]``).
    shape : tuple of int
        Its shape in the constrained space.
    size : int
        Number of scalar components (the product of ``shape``).
    discrete : bool
        Whether it is discrete; discrete variables cannot be fitted by VI.
    """

    name: str
    shape: tuple[int, ...]
    size: int
    discrete: bool

    @property
    def rows(self) -> int | None:
        """Length of the first axis (the rows a row-wise group fits one by one), or ``None``.

        ``None`` for a scalar, which has no rows and cannot be in a row-wise group.
        """
        return self.shape[0] if self.shape else None


@dataclass(frozen=True)
class GroupSpec:
    """One group of the plan, as a read-only snapshot.

    Attributes
    ----------
    id : str
        The group's id (``"rest"`` for the rest group).
    variables : list of str
        Names of the variables in the group, in model order.
    family : str
        A PyMC short name (``"mean_field"``, ``"full_rank"``, ``"empirical"``) or a
        canonical flow formula. For a group built in Python (``custom``), the family of
        the group object as the engine names it.
    rowwise : bool
        Whether every row of the group's variables (their first axis) gets its own,
        independent approximation (``vibench.Group(..., rowwise=True)``).
    custom : bool
        Whether the group was built in Python and added with
        :meth:`~vibench.Session.add_custom_group` (e.g. an amortized group). The plan
        keeps it as it is: its variables cannot be moved, its family cannot be changed.
    label : str
        How a custom group is described (e.g. ``"amortized mean-field"``); ``""`` for
        the other groups, which are described by their family.
    """

    id: str
    variables: list[str]
    family: str
    rowwise: bool = False
    custom: bool = False
    label: str = ""

    @property
    def is_rest(self) -> bool:
        """Whether this is the rest group (``Group(None, vfam=family)``)."""
        return self.id == REST


_VARIABLES_CACHE: weakref.WeakKeyDictionary[pm.Model, tuple[int, list[VariableInfo]]] = (
    weakref.WeakKeyDictionary()
)


def model_variables(model: pm.Model) -> list[VariableInfo]:
    """List the free variables of ``model`` in model order (cached per model).

    Parameters
    ----------
    model : pymc.Model

    Returns
    -------
    list of VariableInfo
    """
    cached = _VARIABLES_CACHE.get(model)
    if cached is not None and cached[0] == len(model.free_RVs):
        return list(cached[1])
    out = _model_variables(model)
    _VARIABLES_CACHE[model] = (len(model.free_RVs), out)
    return list(out)


def _model_variables(model: pm.Model) -> list[VariableInfo]:
    out = []
    for rv in model.free_RVs:
        # constrained shape: static when known, else evaluated (it depends on data only)
        static = rv.type.shape
        if all(s is not None for s in static):
            shape = tuple(int(s) for s in static)
        else:
            shape = tuple(int(s) for s in rv.shape.eval())
        size = 1
        for s in shape:
            size *= s
        out.append(
            VariableInfo(
                name=rv.name,
                shape=shape,
                size=size,
                discrete=rv.type.numpy_dtype.name in discrete_types,
            )
        )
    return out


class Plan:
    """Groups of variables and their families; edited only through validated methods.

    Parameters
    ----------
    variables : list of VariableInfo
        The model's free variables.
    rest_family : str
        Family of the rest group.

    Notes
    -----
    Non-rest groups may be empty while a plan is being edited (a new group is often
    created first and filled by a drag); :meth:`check_fittable` refuses empty groups.
    A group that :meth:`add_group` or :meth:`move` takes the last variable from is
    removed, though: it was not asked to be empty, and an edit made from Python (say in
    a notebook, after the board was used) would otherwise leave a plan that cannot be
    fitted.

    Any family may be set on any group while editing. Empirical groups (a particle
    cloud, fitted by SVGD) can only be fitted when *every* variable is in an empirical
    group; :meth:`check_fittable` refuses a plan that mixes them with other families.
    The plan's :attr:`particles` is the size of the particle cloud.

    A non-rest group may be *row-wise* (:meth:`set_rowwise`): each row of its variables
    (their first axis, of the same length for all of them) is approximated on its own.
    A *custom* group (:meth:`add_custom`) stands for a group object built in Python; the
    plan only records which variables it holds and refuses to edit it.
    """

    def __init__(self, variables: list[VariableInfo], rest_family: str = "mean_field") -> None:
        self._variables = {v.name: v for v in variables}
        self._order = [v.name for v in variables]
        self._groups: dict[str, tuple[list[str], str]] = {}
        self._rest_family = canonical_family(rest_family)
        self._next = 1
        self._particles = DEFAULT_PARTICLES
        self._rowwise: set[str] = set()
        #: id -> label of the groups built in Python
        self._custom: dict[str, str] = {}

    # -- reading -----------------------------------------------------------------
    @property
    def variables(self) -> list[VariableInfo]:
        """The model's free variables, in model order."""
        return [self._variables[n] for n in self._order]

    @property
    def groups(self) -> list[GroupSpec]:
        """The groups in creation order, the rest group last."""
        out = [
            GroupSpec(
                gid,
                list(vs),
                fam,
                rowwise=gid in self._rowwise,
                custom=gid in self._custom,
                label=self._custom.get(gid, ""),
            )
            for gid, (vs, fam) in self._groups.items()
        ]
        out.append(GroupSpec(REST, self.rest_variables(), self._rest_family))
        return out

    def group(self, group_id: str) -> GroupSpec:
        """Return the group with id ``group_id``; :class:`PlanError` if there is none."""
        self._check_group(group_id)
        for g in self.groups:
            if g.id == group_id:
                return g
        raise AssertionError("unreachable")

    @property
    def particles(self) -> int:
        """Number of particles of the empirical groups (all share one particle cloud)."""
        return self._particles

    def has_particles(self) -> bool:
        """Whether any group (the rest group included) has the empirical family."""
        return is_particle_family(self._rest_family) or any(
            is_particle_family(fam) for _, fam in self._groups.values()
        )

    def is_particle_plan(self) -> bool:
        """Whether the groups that hold variables are all empirical (an SVGD plan)."""
        fitted = self._fitted_families()
        return bool(fitted) and all(is_particle_family(fam) for _, fam in fitted)

    def _fitted_families(self) -> list[tuple[str, str]]:
        """``(id, family)`` of the groups a build would create (the rest group if non-empty)."""
        out = [(gid, fam) for gid, (vs, fam) in self._groups.items() if vs]
        if self.rest_variables():
            out.append((REST, self._rest_family))
        return out

    def rest_variables(self) -> list[str]:
        """Continuous variables in no explicit group (those the rest group takes)."""
        taken = {v for vs, _ in self._groups.values() for v in vs}
        return [n for n in self._order if n not in taken and not self._variables[n].discrete]

    def group_of(self, variable: str) -> str:
        """Id of the group holding ``variable``."""
        self._check_variable(variable)
        for gid, (vs, _) in self._groups.items():
            if variable in vs:
                return gid
        return REST

    # -- checks ------------------------------------------------------------------
    def _check_variable(self, name: Any) -> VariableInfo:
        if not isinstance(name, str) or name not in self._variables:
            raise PlanError(
                f"unknown variable {short_repr(name)}; the model's free variables are "
                f"{listing(self._order)}"
            )
        return self._variables[name]

    def _check_group(self, group_id: Any) -> None:
        if group_id != REST and group_id not in self._groups:
            raise PlanError(
                f"unknown group {short_repr(group_id)}; groups are {listing(self.group_ids())}"
            )

    def _custom_refusal(self, group_id: str, what: str) -> PlanError:
        label = self._custom[group_id]
        return PlanError(
            f"group {group_id!r} ({label}) was built in Python and added with "
            f"Session.add_custom_group, so {what}. Remove it from Python with "
            f"Session.remove_group({group_id!r}) (its variables go back to the rest group) "
            "and add a new one if it should change."
        )

    def _check_not_custom_variable(self, name: str, what: str) -> None:
        for gid in self._custom:
            if name in self._groups[gid][0]:
                raise self._custom_refusal(gid, f"{what} ({name!r} belongs to it)")

    def _rowwise_problem(self, names: list[str]) -> str:
        """Why ``names`` cannot share a row-wise group ("" if they can)."""
        scalars = [n for n in names if self._variables[n].rows is None]
        if scalars:
            return (
                f"{_names(scalars)} {'has' if len(scalars) == 1 else 'have'} no first axis "
                "(a scalar); a row-wise group approximates each row of its variables' first "
                "axis on its own, so it needs variables with a batch dimension"
            )
        rows = {n: self._variables[n].rows for n in names}
        if len(set(rows.values())) > 1:
            listed = ", ".join(f"{n}: {r}" for n, r in rows.items())
            return (
                f"the variables of a row-wise group must have the same number of rows "
                f"(first-axis length), got {listed}"
            )
        return ""

    @staticmethod
    def _rowwise_family_problem(family: str) -> str:
        """Why ``family`` cannot be row-wise ("" if it can)."""
        if is_particle_family(family):
            return (
                f"the {EMPIRICAL!r} family (a particle cloud moved by SVGD) cannot be "
                "row-wise; row-wise groups are mean-field, full-rank or a flow"
            )
        return ""

    def group_ids(self) -> list[str]:
        """Ids of all groups, the rest group last."""
        return [*self._groups, REST]

    def check_fittable(self) -> None:
        """Raise :class:`PlanError` unless the plan can be built into an approximation."""
        discrete = [v.name for v in self.variables if v.discrete]
        if discrete:
            raise PlanError(
                f"the model has discrete free variables {listing(discrete)}; variational "
                "inference here fits continuous variables only"
            )
        for gid, (vs, _) in self._groups.items():
            if not vs:
                raise PlanError(f"group {gid!r} is empty; move a variable into it or remove it")
        if not self.rest_variables() and not self._groups:
            raise PlanError("the plan has no variables to fit")
        self._check_particles_alone()

    def _check_particles_alone(self) -> None:
        """Empirical groups are fitted by SVGD only when every variable is in one.

        SVGD (PyMC's ``KSD`` operator) moves each particle with the gradient of the
        model's log density at that particle, which needs a value of *every* variable
        per particle. A mean-field, full-rank or flow group next to it would have to be
        fitted by the ELBO, and the ELBO needs log q, which particles do not have. So
        an empirical plan has only empirical groups; several empirical groups are one
        particle cloud (PyMC joins their histograms) with :attr:`particles` particles.
        """
        fitted = self._fitted_families()
        particles = [gid for gid, fam in fitted if is_particle_family(fam)]
        if not particles or len(particles) == len(fitted):
            return
        others = [f"group {gid!r} ({fam})" for gid, fam in fitted if not is_particle_family(fam)]
        if len(particles) == 1:
            which, verb, it = f"group {particles[0]!r}", "is", "it"
        else:
            which, verb, it = f"groups {particles}", "are", "they"
        raise PlanError(
            f"{which} {verb} empirical: a particle cloud fitted by SVGD, which moves the "
            f"particles of the whole posterior at once, so {it} cannot be fitted next to "
            f"{', '.join(others)} (fitted by the ELBO, which particles cannot be). Either "
            f"set every group to {EMPIRICAL!r} (e.g. put all variables in the rest group "
            f"and make it {EMPIRICAL!r}), or give {which} another family."
        )

    # -- edits (each validates first, then applies) ------------------------------
    def add_group(
        self, family: str = "full_rank", variables: tuple[str, ...] | list[str] = ()
    ) -> str:
        """Add a group holding ``variables`` (taken from their current groups).

        A non-rest group that this leaves empty (all its variables moved to the new
        group) is removed; groups that were empty already are kept.

        Returns
        -------
        str
            The new group's id.
        """
        fam = canonical_family(family)
        if isinstance(variables, str):
            variables = [variables]
        names = list(variables)
        for n in names:
            info = self._check_variable(n)
            if info.discrete:
                raise PlanError(f"variable {n!r} is discrete; VI groups take continuous variables")
        if len(set(names)) != len(names):
            raise PlanError(f"variables {listing(names)} list a variable twice")
        for n in names:
            self._check_not_custom_variable(n, "its variables cannot be moved")
        gid = self._new_id()
        emptied = self._take(names)
        self._groups[gid] = (self._sorted(names), fam)
        self._drop(emptied)
        return gid

    def _take(self, names: list[str]) -> list[str]:
        """Take ``names`` out of the groups; return the ids of the groups left empty."""
        emptied = []
        for gid, (vs, _) in self._groups.items():
            if any(v in names for v in vs):
                vs[:] = [v for v in vs if v not in names]
                if not vs:
                    emptied.append(gid)
        return emptied

    def _drop(self, group_ids: list[str]) -> None:
        for gid in group_ids:
            del self._groups[gid]
            self._rowwise.discard(gid)

    def _new_id(self) -> str:
        gid = f"g{self._next}"
        while gid in self._groups:
            self._next += 1
            gid = f"g{self._next}"
        self._next += 1
        return gid

    def add_custom(self, variables: list[str], family: str, label: str) -> str:
        """Add a group built in Python holding ``variables``; return its id.

        The plan records the variables (taken from their current groups), the family
        and the label; the group object itself stays with the session. The group cannot
        be edited afterwards, only removed (:meth:`remove_group`). Like
        :meth:`add_group`, it removes the groups it takes the last variable from.
        """
        names = list(variables)
        if not names:
            raise PlanError("a group built in Python must hold at least one variable")
        if len(set(names)) != len(names):
            raise PlanError(f"variables {listing(names)} list a variable twice")
        for n in names:
            info = self._check_variable(n)
            if info.discrete:
                raise PlanError(f"variable {n!r} is discrete; VI groups take continuous variables")
            self._check_not_custom_variable(n, "its variables cannot join another group")
        gid = self._new_id()
        emptied = self._take(names)
        self._groups[gid] = (self._sorted(names), str(family))
        self._custom[gid] = str(label)
        self._drop(emptied)
        return gid

    def move(self, variable: str, group_id: str) -> None:
        """Move ``variable`` into group ``group_id`` (``"rest"`` for the rest group).

        The group it leaves is removed if it was its last variable (the rest group
        always stays).
        """
        info = self._check_variable(variable)
        self._check_group(group_id)
        if info.discrete:
            raise PlanError(
                f"variable {variable!r} is discrete; VI groups take continuous variables"
            )
        if group_id in self._custom:
            raise self._custom_refusal(group_id, "no variable can be moved into it")
        if group_id == self.group_of(variable):
            return
        self._check_not_custom_variable(variable, "its variables cannot be moved")
        if group_id in self._rowwise:
            members = [v for v in self._groups[group_id][0] if v != variable]
            problem = self._rowwise_problem([*members, variable])
            if problem:
                raise PlanError(
                    f"{variable!r} {shape_text(info.shape)} cannot join row-wise group "
                    f"{group_id!r}: {problem}"
                )
        emptied = self._take([variable])
        if group_id != REST:
            vs, _ = self._groups[group_id]
            vs.append(variable)
            vs[:] = self._sorted(vs)
        self._drop(emptied)

    def set_family(self, group_id: str, family: str) -> None:
        """Set the family of group ``group_id``."""
        self._check_group(group_id)
        if group_id in self._custom:
            raise self._custom_refusal(group_id, "its family cannot be changed")
        fam = canonical_family(family)
        if group_id in self._rowwise:
            problem = self._rowwise_family_problem(fam)
            if problem:
                raise PlanError(
                    f"group {group_id!r} is row-wise: {problem}. Turn row-wise off first."
                )
        if group_id == REST:
            self._rest_family = fam
        else:
            vs, _ = self._groups[group_id]
            self._groups[group_id] = (vs, fam)

    def set_rowwise(self, group_id: str, rowwise: bool = True) -> None:
        """Make group ``group_id`` row-wise (one approximation per row) or not.

        Raises
        ------
        PlanError
            The rest group, a custom group, an empirical group, or variables without a
            common first axis (a scalar, or different numbers of rows).
        """
        self._check_group(group_id)
        if not isinstance(rowwise, bool | np.bool_):
            raise PlanError(f"rowwise must be True or False, got {short_repr(rowwise)}")
        if group_id == REST:
            raise PlanError(
                "the rest group cannot be row-wise: it takes whatever variables are left, "
                "and rows need variables with the same first axis. Put the variables in a "
                "group of their own and make that group row-wise."
            )
        if group_id in self._custom:
            raise self._custom_refusal(group_id, "it cannot be made row-wise from the plan")
        if not rowwise:
            self._rowwise.discard(group_id)
            return
        names, fam = self._groups[group_id]
        problem = self._rowwise_family_problem(fam) or self._rowwise_problem(names)
        if problem:
            raise PlanError(f"group {group_id!r} cannot be row-wise: {problem}")
        self._rowwise.add(group_id)

    def set_particles(self, particles: int) -> None:
        """Set the number of particles of the empirical groups (2 to :data:`MAX_PARTICLES`)."""
        self._particles = _check_particles(particles)

    def remove_group(self, group_id: str) -> None:
        """Remove group ``group_id``; its variables go back to the rest group."""
        if group_id == REST:
            raise PlanError("the rest group cannot be removed")
        self._check_group(group_id)
        del self._groups[group_id]
        self._rowwise.discard(group_id)
        self._custom.pop(group_id, None)

    def _sorted(self, names: list[str]) -> list[str]:
        return [n for n in self._order if n in set(names)]

    # -- copying and serialising --------------------------------------------------
    def copy(self) -> Plan:
        """An independent copy."""
        return copy.deepcopy(self)

    def key(self) -> tuple:
        """A hashable value equal for plans that build the same approximation."""
        key = (
            tuple(
                (gid, tuple(vs), fam, gid in self._rowwise, gid in self._custom)
                for gid, (vs, fam) in self._groups.items()
            ),
            self._rest_family,
        )
        if self.has_particles():
            key += (("particles", self._particles),)
        return key

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: ``{"groups": [{"id", "family", "variables"}, ...]}``.

        A row-wise group also has ``"rowwise": true``; a group built in Python has
        ``"custom": true`` and its ``"label"`` (such a plan cannot be loaded back:
        :meth:`from_dict` refuses it). A plan with an empirical group (or a particle
        count other than the default) also has ``"particles"``, the size of the
        particle cloud.
        """
        out: dict[str, Any] = {"groups": [_group_dict(g) for g in self.groups]}
        if self.has_particles() or self._particles != DEFAULT_PARTICLES:
            out["particles"] = self._particles
        return out

    @classmethod
    def from_dict(cls, variables: list[VariableInfo], data: Any) -> Plan:
        """Rebuild a plan from untrusted :meth:`to_dict` output.

        Sizes are checked before contents: a plan with more groups than the model has
        variables (plus :data:`MAX_EXTRA_GROUPS`), or listing more variables than the
        model has, is refused at once, and messages quote at most a few names.

        Raises
        ------
        PlanError
            Malformed input, unknown or duplicated variables or ids, bad families, too
            many groups or variables.
        """
        if not isinstance(data, dict):
            raise PlanError(f"a plan must be a JSON object, got {type(data).__name__}")
        extra = set(data) - {"groups", "particles"}
        if extra:
            raise PlanError(f"a plan has unknown keys {listing(sorted(map(str, extra)))}")
        groups = data.get("groups")
        if not isinstance(groups, list):
            raise PlanError("a plan needs a 'groups' list")
        most = len(variables) + 1 + MAX_EXTRA_GROUPS
        if len(groups) > most:
            raise PlanError(
                f"the plan has {len(groups):,} groups, but a model with {len(variables)} free "
                f"variables takes at most {most} (one per variable, the rest group and "
                f"{MAX_EXTRA_GROUPS} empty ones)"
            )
        listed = sum(len(g["variables"]) for g in groups if _has_variable_list(g))
        if listed > len(variables) + LISTING_SLACK:
            raise PlanError(
                f"the plan lists {listed:,} variables, but the model has {len(variables)} "
                "free variables (each can be in one group only)"
            )
        plan = cls(variables)
        seen_ids: set[str] = set()
        seen_vars: dict[str, str] = {}
        rest_seen = False
        max_num = 0
        for i, g in enumerate(groups):
            if not isinstance(g, dict):
                raise PlanError(f"group #{i} must be a JSON object, got {type(g).__name__}")
            extra = set(g) - {"id", "family", "variables", "rowwise", "custom", "label"}
            if extra:
                raise PlanError(f"group #{i} has unknown keys {listing(sorted(map(str, extra)))}")
            gid, fam, vs = g.get("id"), g.get("family"), g.get("variables", [])
            if not isinstance(gid, str) or not _ID_PATTERN.match(gid):
                raise PlanError(
                    f"group #{i} has a bad id {short_repr(gid)}: use 1-64 letters, digits, "
                    "'_' or '-'"
                )
            if gid in seen_ids:
                raise PlanError(f"group id {gid!r} appears twice")
            seen_ids.add(gid)
            if not isinstance(fam, str):
                raise PlanError(f"group {gid!r} needs a 'family' string, got {short_repr(fam)}")
            if g.get("custom", False) is not False:
                label = g.get("label")
                what = f" ({short_repr(label)[1:-1]})" if isinstance(label, str) and label else ""
                raise PlanError(
                    f"group {gid!r}{what} was built in Python (Session.add_custom_group); "
                    "a preset cannot rebuild it, since it holds Python objects (e.g. an "
                    "encoder). Delete that group from the preset, load it, then build the "
                    "group in Python again and add it with Session.add_custom_group."
                )
            if "label" in g:
                raise PlanError(f"group {gid!r}: only a custom group has a 'label'")
            rowwise = g.get("rowwise", False)
            if not isinstance(rowwise, bool):
                raise PlanError(
                    f"group {gid!r}: 'rowwise' must be true or false, got {short_repr(rowwise)}"
                )
            if not isinstance(vs, list) or not all(isinstance(v, str) for v in vs):
                raise PlanError(f"group {gid!r}: 'variables' must be a list of names")
            for v in vs:
                info = plan._check_variable(v)
                if v in seen_vars:
                    raise PlanError(
                        f"variable {v!r} is in both group {seen_vars[v]!r} and group {gid!r}"
                    )
                seen_vars[v] = gid
                if info.discrete:
                    raise PlanError(f"variable {v!r} is discrete; it cannot be in a group")
            if gid == REST:
                if rowwise:
                    raise PlanError("the rest group cannot be row-wise")
                rest_seen = True
                plan._rest_family = canonical_family(fam)
                rest_vars = list(vs)
            else:
                plan._groups[gid] = (plan._sorted(list(vs)), canonical_family(fam))
                if rowwise:
                    plan.set_rowwise(gid, True)
                m = re.fullmatch(r"g(\d{1,9})", gid)
                if m:
                    max_num = max(max_num, int(m.group(1)))
        if not rest_seen:
            raise PlanError("a plan needs a group with id 'rest'")
        expected = plan.rest_variables()
        if sorted(rest_vars) != sorted(expected):
            raise PlanError(
                f"the rest group lists {listing(rest_vars)} but the variables in no other "
                f"group are {listing(expected)}"
            )
        plan._next = max_num + 1
        if "particles" in data:
            plan._particles = _check_particles(data["particles"])
        return plan


def _has_variable_list(group: Any) -> bool:
    return isinstance(group, dict) and isinstance(group.get("variables"), list)


def _group_dict(g: GroupSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"id": g.id, "family": g.family, "variables": list(g.variables)}
    if g.rowwise:
        out["rowwise"] = True
    if g.custom:
        out["custom"] = True
        out["label"] = g.label
    return out


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def shape_text(shape: tuple[int, ...]) -> str:
    """``(shape (3, 2))`` or ``(a scalar)``, for messages."""
    return f"(shape {tuple(shape)})" if shape else "(a scalar)"


def _check_particles(value: Any) -> int:
    if not int_in_range(value, 2, MAX_PARTICLES):
        raise PlanError(
            f"particles must be an int from 2 to {MAX_PARTICLES} (SVGD needs at least two "
            f"particles to spread them), got {short_repr(value)}"
        )
    return int(value)
