"""A multi-group ``Approximation`` that PyMC 6 can fit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytensor
import pytensor.tensor as pt
import xarray as xr
from pymc.model import Model, modelcontext
from pymc.model.transform_values import constrain_values
from pymc.variational import opvi
from pymc.variational.opvi import GroupError, VIState, node_property

__all__ = ["Approximation"]


def _var_names(model: Model, rvs) -> list[str]:
    return [rv.name for rv in rvs]


class Approximation(opvi.Approximation):
    """PyMC's grouped ``Approximation``, made fit-able and a little more helpful.

    In PyMC 6.4, ``pymc.variational.KLqp(pymc.variational.opvi.Approximation([...])).fit()``
    raises ``AttributeError: 'Approximation' object has no attribute 'rng'``: the
    objective draws the step function's seed from ``approx.rng``, which only
    single-group approximations proxy from their group. This subclass owns an ``rng``,
    so any mixture of PyMC's groups (mean-field, full-rank, ...) and vibench's
    :class:`~vibench.NormalizingFlowGroup` is fitted by ``KLqp(approx).fit(...)``.

    It also names the offending variables when groups overlap or leave variables
    uncovered, and offers ``mean`` / ``std`` / ``cov`` / ``state`` over all groups (as
    PyMC's single-group approximations do).

    Parameters
    ----------
    groups : sequence of pymc.variational.opvi.Group
        The groups; together they must cover every free variable of the model exactly
        once. At most one group may be ``Group(None, ...)``: it takes the rest.
    model : pymc.Model, optional
        The model; defaults to the model on the context stack.
    random_seed : int, optional
        Seed of ``approx.rng``, from which the fit's step function is seeded. When
        omitted, the first group's generator is used (as a single-group PyMC
        approximation does), so seeding the groups makes the fit reproducible.

    Raises
    ------
    pymc.variational.opvi.GroupError
        Duplicated or uncovered variables, or more than one rest group (a ``TypeError``).
    pymc.variational.opvi.ParametrizationError
        A discrete variable lands in a group (PyMC's own error, a ``ValueError``).

    Examples
    --------
    >>> import pymc as pm
    >>> import vibench
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu", 0, 1)
    ...     sigma = pm.HalfNormal("sigma", 1)
    ...     y = pm.Normal("y", mu, sigma, observed=[0.1, -0.3, 0.4])
    ...     approx = vibench.Approximation(
    ...         [vibench.Group([mu], vfam="fr"), vibench.Group(None, vfam="mf")],
    ...         random_seed=1,
    ...     )
    ...     approx = pm.variational.KLqp(approx).fit(200, progressbar=False)
    >>> approx.sample(100).posterior["mu"].shape
    (1, 100)

    See Also
    --------
    vibench.Group : builds the groups (PyMC's families and normalizing flows).
    """

    def __init__(
        self,
        groups: Sequence[opvi.Group],
        model: Model | None = None,
        random_seed: int | None = None,
    ) -> None:
        groups = list(groups)
        if not groups:
            raise GroupError("Approximation needs at least one group")
        model = modelcontext(model)
        self._check_cover(groups, model)
        super().__init__(groups, model=model)
        # PyMC's objective seeds the step function from ``approx.rng``
        if random_seed is not None:
            self.rng = np.random.RandomState(random_seed)
        else:
            self.rng = self.groups[0].rng

    @staticmethod
    def _check_cover(groups: list[opvi.Group], model: Model) -> None:
        """Raise ``GroupError`` naming duplicated or uncovered variables."""
        free = list(model.free_RVs)
        seen: dict = {}
        rest = [g for g in groups if g.group is None]
        if len(rest) > 1:
            raise GroupError(
                f"More than one group is specified for the rest variables ({len(rest)} groups "
                "were created with group=None); keep one."
            )
        for index, g in enumerate(groups):
            if g.group is None:
                continue
            for rv in g.group:
                if rv in seen and seen[rv] != index:
                    raise GroupError(
                        f"Variable {rv.name!r} appears in groups {seen[rv]} and {index}: "
                        "every variable must belong to exactly one group."
                    )
                if rv in seen:
                    raise GroupError(f"Variable {rv.name!r} appears twice in group {index}.")
                seen[rv] = index
        unknown = [rv for rv in seen if rv not in free]
        if unknown:
            raise GroupError(
                f"Variables {_var_names(model, unknown)} are not free variables of the model "
                f"(free variables: {_var_names(model, free)})."
            )
        uncovered = [rv for rv in free if rv not in seen]
        if uncovered and not rest:
            raise GroupError(
                f"No approximation is specified for the rest variables: "
                f"{_var_names(model, uncovered)} are in no group. Add them to a group or add "
                "a Group(None, vfam=...) for the rest."
            )

    @property
    def sample_dict_fn(self):
        """*Dev* - draws by value-variable name, in the model's order of value variables.

        PyMC's ``sample`` hands these draws to a trace function that reads them by
        position in ``model.value_vars``; PyMC returns them in group order, which
        mismatches variables (or fails on shapes) as soon as the groups do not follow the
        model's order. vibench reorders them.
        """
        return self._ordered_sample_dict_fn

    @node_property
    def _ordered_sample_dict_fn(self):
        by_group = opvi.Approximation.sample_dict_fn.fget(self)
        order = [v.name for v in self.model.value_vars]

        def inner(draws=100, *, random_seed=None):
            samples = by_group(draws, random_seed=random_seed)
            return {name: samples[name] for name in order if name in samples}

        return inner

    @property
    def mean(self) -> pt.TensorVariable:
        """Mean of the flat latent vector, groups concatenated (unconstrained space)."""
        return pt.concatenate([g.mean for g in self.groups])

    @property
    def std(self) -> pt.TensorVariable:
        """Standard deviation of the flat latent vector, groups concatenated."""
        return pt.concatenate([g.std for g in self.groups])

    @property
    def cov(self) -> pt.TensorVariable:
        """Covariance of the flat latent vector: block diagonal, one block per group."""
        return pt.linalg.block_diag(*[g.cov for g in self.groups])

    def _flat_to_dataset(self, flat: np.ndarray) -> xr.Dataset:
        """Split a flat vector (groups concatenated) into one array per value variable."""
        arrays = {}
        offset = 0
        rv_names = {self.model.rvs_to_values[rv].name: rv.name for rv in self.model.free_RVs}
        for g in self.groups:
            for name, slc, shape, dtype in g.ordering.values():
                dims = self.model.named_vars_to_dims.get(name)
                if dims is None:
                    # ArviZ's naming, after the model variable (``b``, not ``b_log__``)
                    label = rv_names.get(name, name)
                    dims, coords = [f"{label}_dim_{i}" for i in range(len(shape))], None
                else:
                    coords = {d: np.asarray(self.model.coords[d]) for d in dims}
                values = flat[offset + slc.start : offset + slc.stop].reshape(shape).astype(dtype)
                arrays[name] = xr.DataArray(values, dims=dims, coords=coords, name=name)
            offset += g.ddim
        return xr.Dataset(arrays)

    @property
    def state(self) -> VIState:
        """Posterior mean and std of each variable, over all groups (constrained space).

        PyMC's ``Group.state`` pushes a group's flat mean through the model's transforms,
        which needs every free variable, so it fails for a group of a multi-group
        approximation; this property transforms all groups at once. As in PyMC, ``std``
        is the unconstrained std pushed through the same transforms, ``None`` when a
        group has no explicit density (``Empirical``); flow groups contribute Monte Carlo
        estimates. After ``fit(..., include_transformed=True)`` the unconstrained values
        are included too.
        """
        has_std = self.has_logq
        outputs = [self.mean, self.std] if has_std else [self.mean]
        values = pytensor.function([], outputs, mode="FAST_COMPILE")()

        def constrain(flat: np.ndarray) -> tuple[xr.Dataset, xr.Dataset]:
            raw = self._flat_to_dataset(np.asarray(flat))
            ds = constrain_values(
                raw.expand_dims("__sample__"),
                model=self.model,
                sample_dims=("__sample__",),
                compile_kwargs={"mode": "FAST_COMPILE"},
            ).squeeze("__sample__", drop=True)
            return ds, raw

        include_transformed = any(getattr(g, "include_transformed", False) for g in self.groups)
        mean, mean_raw = constrain(values[0])
        std = std_raw = None
        if has_std:
            std, std_raw = constrain(values[1])
        if include_transformed:
            mean = mean.merge(mean_raw, compat="override")
            if std is not None:
                std = std.merge(std_raw, compat="override")
        return VIState(mean=mean, std=std)
