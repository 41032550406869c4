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

from vibench.session._errors import PlanError
from vibench.session._families import EMPIRICAL, canonical_family, is_particle_family

__all__ = [
    "DEFAULT_PARTICLES",
    "MAX_PARTICLES",
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
        A PyMC short name (``"mean_field"``, ``"full_rank"``) or a canonical flow formula.
    """

    id: str
    variables: list[str]
    family: str

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

    Any family may be set on any group while editing. Empirical groups (a particle
    cloud, fitted by SVGD) can only be fitted when *every* variable is in an empirical
    group; :meth:`check_fittable` refuses a plan that mixes them with other families.
    The plan's :attr:`particles` is the size of the particle cloud.
    """

    def __init__(self, variables: list[VariableInfo], rest_family: str = "mean_field") -> None:
        self._variables = {v.name: v for v in variables}
        self._order = [v.name for v in variables]
        self._groups: dict[str, tuple[list[str], str]] = {}
        self._rest_family = canonical_family(rest_family)
        self._next = 1
        self._particles = DEFAULT_PARTICLES

    # -- reading -----------------------------------------------------------------
    @property
    def variables(self) -> list[VariableInfo]:
        """The model's free variables, in model order."""
        return [self._variables[n] for n in self._order]

    @property
    def groups(self) -> list[GroupSpec]:
        """The groups in creation order, the rest group last."""
        out = [GroupSpec(gid, list(vs), fam) for gid, (vs, fam) in self._groups.items()]
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
                f"unknown variable {name!r}; the model's free variables are {self._order}"
            )
        return self._variables[name]

    def _check_group(self, group_id: Any) -> None:
        if group_id != REST and group_id not in self._groups:
            raise PlanError(f"unknown group {group_id!r}; groups are {self.group_ids()}")

    def group_ids(self) -> list[str]:
        """Ids of all groups, the rest group last."""
        return [*self._groups, REST]

    def check_fittable(self) -> None:
        """Raise :class:`PlanError` unless the plan can be built into an approximation."""
        discrete = [v.name for v in self.variables if v.discrete]
        if discrete:
            raise PlanError(
                f"the model has discrete free variables {discrete}; variational inference "
                "here fits continuous variables only"
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
            raise PlanError(f"variables {names} list a variable twice")
        gid = f"g{self._next}"
        while gid in self._groups:
            self._next += 1
            gid = f"g{self._next}"
        self._next += 1
        for vs, _ in self._groups.values():
            vs[:] = [v for v in vs if v not in names]
        self._groups[gid] = (self._sorted(names), fam)
        return gid

    def move(self, variable: str, group_id: str) -> None:
        """Move ``variable`` into group ``group_id`` (``"rest"`` for the rest group)."""
        info = self._check_variable(variable)
        self._check_group(group_id)
        if info.discrete:
            raise PlanError(
                f"variable {variable!r} is discrete; VI groups take continuous variables"
            )
        for vs, _ in self._groups.values():
            if variable in vs:
                vs.remove(variable)
        if group_id != REST:
            vs, _ = self._groups[group_id]
            vs.append(variable)
            vs[:] = self._sorted(vs)

    def set_family(self, group_id: str, family: str) -> None:
        """Set the family of group ``group_id``."""
        self._check_group(group_id)
        fam = canonical_family(family)
        if group_id == REST:
            self._rest_family = fam
        else:
            vs, _ = self._groups[group_id]
            self._groups[group_id] = (vs, fam)

    def set_particles(self, particles: int) -> None:
        """Set the number of particles of the empirical groups (2 to :data:`MAX_PARTICLES`)."""
        self._particles = _check_particles(particles)

    def remove_group(self, group_id: str) -> None:
        """Remove group ``group_id``; its variables go back to the rest group."""
        if group_id == REST:
            raise PlanError("the rest group cannot be removed")
        self._check_group(group_id)
        del self._groups[group_id]

    def _sorted(self, names: list[str]) -> list[str]:
        return [n for n in self._order if n in set(names)]

    # -- copying and serialising --------------------------------------------------
    def copy(self) -> Plan:
        """An independent copy."""
        return copy.deepcopy(self)

    def key(self) -> tuple:
        """A hashable value equal for plans that build the same approximation."""
        key = (
            tuple((gid, tuple(vs), fam) for gid, (vs, fam) in self._groups.items()),
            self._rest_family,
        )
        if self.has_particles():
            key += (("particles", self._particles),)
        return key

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: ``{"groups": [{"id", "family", "variables"}, ...]}``.

        A plan with an empirical group (or a particle count other than the default)
        also has ``"particles"``, the size of the particle cloud.
        """
        out: dict[str, Any] = {
            "groups": [
                {"id": g.id, "family": g.family, "variables": list(g.variables)}
                for g in self.groups
            ]
        }
        if self.has_particles() or self._particles != DEFAULT_PARTICLES:
            out["particles"] = self._particles
        return out

    @classmethod
    def from_dict(cls, variables: list[VariableInfo], data: Any) -> Plan:
        """Rebuild a plan from untrusted :meth:`to_dict` output.

        Raises
        ------
        PlanError
            Malformed input, unknown or duplicated variables or ids, bad families.
        """
        if not isinstance(data, dict):
            raise PlanError(f"a plan must be a JSON object, got {type(data).__name__}")
        groups = data.get("groups")
        if not isinstance(groups, list):
            raise PlanError("a plan needs a 'groups' list")
        if len(groups) > 10_000:
            raise PlanError("too many groups")
        plan = cls(variables)
        seen_ids: set[str] = set()
        seen_vars: dict[str, str] = {}
        rest_seen = False
        max_num = 0
        for i, g in enumerate(groups):
            if not isinstance(g, dict):
                raise PlanError(f"group #{i} must be a JSON object, got {type(g).__name__}")
            extra = set(g) - {"id", "family", "variables"}
            if extra:
                raise PlanError(f"group #{i} has unknown keys {sorted(map(str, extra))}")
            gid, fam, vs = g.get("id"), g.get("family"), g.get("variables", [])
            if not isinstance(gid, str) or not _ID_PATTERN.match(gid):
                raise PlanError(
                    f"group #{i} has a bad id {gid!r}: use 1-64 letters, digits, '_' or '-'"
                )
            if gid in seen_ids:
                raise PlanError(f"group id {gid!r} appears twice")
            seen_ids.add(gid)
            if not isinstance(fam, str):
                raise PlanError(f"group {gid!r} needs a 'family' string, got {fam!r}")
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
                rest_seen = True
                plan._rest_family = canonical_family(fam)
                rest_vars = list(vs)
            else:
                plan._groups[gid] = (plan._sorted(list(vs)), canonical_family(fam))
                m = re.fullmatch(r"g(\d{1,9})", gid)
                if m:
                    max_num = max(max_num, int(m.group(1)))
        if not rest_seen:
            raise PlanError("a plan needs a group with id 'rest'")
        expected = plan.rest_variables()
        if sorted(rest_vars) != sorted(expected):
            raise PlanError(
                f"the rest group lists {rest_vars} but the variables in no other group are "
                f"{expected}"
            )
        plan._next = max_num + 1
        if "particles" in data:
            plan._particles = _check_particles(data["particles"])
        return plan


def _check_particles(value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not 2 <= value <= MAX_PARTICLES
    ):
        raise PlanError(
            f"particles must be an int from 2 to {MAX_PARTICLES} (SVGD needs at least two "
            f"particles to spread them), got {value!r}"
        )
    return int(value)
