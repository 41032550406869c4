"""Normalizing-flow groups and the ``Group`` factory over PyMC's and vibench's families."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt
from pymc.model import Model
from pymc.pytensorf import floatX
from pymc.variational import opvi
from pymc.variational.opvi import GroupError, node_property
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.replace import graph_replace
from pytensor.tensor.variable import TensorVariable

from vibench.engine._init import initial_chain_values
from vibench.engine.batched import batched_group_class, check_batched_arguments
from vibench.engine.errors import (
    FlowFormulaError,
    FlowParamsError,
    UnknownFamilyError,
    UnsupportedGroupOptionError,
)
from vibench.engine.flows import (
    Flow,
    flow_class,
    format_formula,
    formula_from_params,
    is_flow_params,
    parse_formula,
    registered_flows,
)

__all__ = ["Group", "NormalizingFlowGroup", "pymc_family_names"]

_BATCH_OPTIONS = ("local", "rowwise")


def _batch_options(
    options: Mapping[str, Any] | None, kwargs: dict[str, Any]
) -> tuple[bool, bool, dict[str, Any]]:
    """Read (and remove) ``local`` / ``rowwise`` from the keywords and ``options``."""
    options = dict(options or {})
    flags = []
    for name in _BATCH_OPTIONS:
        flags.append(bool(kwargs.pop(name, False)) or bool(options.pop(name, False)))
    return flags[0], flags[1], options


def _refuse_unsupported(options: Mapping[str, Any] | None, kwargs: dict[str, Any]) -> None:
    """Raise for ``local=True`` / ``rowwise=True`` given to a group class directly."""
    for name in _BATCH_OPTIONS:
        for where, source in (("keyword", kwargs), ("options", options or {})):
            if source.get(name):
                raise UnsupportedGroupOptionError(
                    f"{name}=True ({where}) cannot be given to a group class directly: "
                    "create amortized and row-wise groups with vibench.Group(..., "
                    f"{name}=True). PyMC 6 accepts this option and silently ignores it, so "
                    "vibench refuses it here instead."
                )
        kwargs.pop(name, None)


def pymc_family_names() -> list[str]:
    """PyMC's registered group names and aliases (``mean_field``, ``mf``, ``full_rank``, ...)."""
    return sorted(opvi.Group._Group__name_registry)


class NormalizingFlowGroup(opvi.Group):
    r"""A PyMC ``Group`` whose distribution is N(0, I) pushed through a chain of flows.

    With :math:`z_0 \sim N(0, I)` and :math:`z_k = f_k(z_{k-1})`,

    .. math::

        \log q(z_K) = \log N(z_0; 0, I) - \sum_k \log|\det \partial f_k / \partial z_{k-1}|.

    ``symbolic_random`` is :math:`z_K` (rows are samples), ``symbolic_logq_not_scaled``
    the line above per sample, ``has_logq = True``; the group mixes with PyMC's groups in
    :class:`vibench.Approximation` and is fitted by ``pymc.variational.KLqp``.

    Parameters
    ----------
    group : list of PyMC variables or None
        The variables; ``None`` for delayed initialization (the rest of the model, filled
        in by :class:`vibench.Approximation`).
    vfam : str, optional
        A flow formula, e.g. ``"scale-hh*2-planar-radial-loc"`` (see
        :func:`vibench.flows.parse_formula`). Default ``"scale-loc"`` when neither
        ``vfam`` nor ``params`` is given (the mean-field family).
    params : dict, optional
        ``{0: {...}, ..., k-1: {...}}``, index 0 = the flow applied first; each value holds
        one flow's parameters (``{"u", "w", "b"}`` planar, ``{"a", "b", "z_ref"}`` radial,
        ``{"loc"}``, ``{"rho"}`` scale, ``{"v"}`` Householder) as anything reshapable to
        the flow's shapes. As in PyMC, shared variables among them are optimized; other
        tensors (expressions of shared variables) are not: pass their shared variables to
        ``fit(..., more_obj_params=[...])``.
    random_seed : int, optional
        Seeds the group's generator: initial values (and the start point's jitter).
    model : pymc.Model, optional
        Defaults to the model on the context stack.
    options : dict, optional
        PyMC group options. ``local`` / ``rowwise`` are refused.
    start : dict, optional
        Point (by value-variable name, unconstrained space) at which the chain starts;
        default the model's initial point.
    jitter : float, default 0.01
        Scale of the random perturbations of the near-identity initial flows.

    Raises
    ------
    TypeError
        Both ``vfam`` and ``params``.
    vibench.engine.errors.FlowFormulaError
        A formula that does not parse (a ``ValueError`` and ``KeyError``).
    vibench.engine.errors.FlowParamsError
        A params dict that describes no chain, or values of the wrong size.
    vibench.engine.errors.UnsupportedGroupOptionError
        ``local=True`` or ``rowwise=True``.
    pymc.variational.opvi.ParametrizationError
        A discrete variable in the group (PyMC's own check).

    Notes
    -----
    Initialization: scale flows start at ``softplus(0) = 0.69`` (PyMC's mean-field
    scale), planar and radial flows within ``jitter`` of the identity, reflections at
    random (they leave an isotropic distribution unchanged), and the last ``loc`` so that
    the chain is centred at the model's initial point (or ``start``). A fresh
    ``"scale-loc"`` group is exactly PyMC's fresh mean-field N(start, 0.69^2 I), and
    deeper chains start within ``jitter`` of it, so their first ELBO is mean-field's.

    ``mean``, ``std`` and ``cov`` are Monte Carlo estimates from ``moment_draws``
    antithetic draws of a fixed base sample (common random numbers: they change only
    when the parameters do). ``state`` uses them.

    Examples
    --------
    >>> import pymc as pm
    >>> import vibench
    >>> with pm.Model():
    ...     x = pm.Normal("x", 0, 1, shape=3)
    ...     g = vibench.Group([x], vfam="scale-hh*2-planar-loc", random_seed=0)
    >>> g.formula, [f.short_name for f in g.flows]
    ('scale-hh*2-planar-loc', ['scale', 'hh', 'hh', 'planar', 'loc'])
    >>> sorted(g.params_dict[3])
    ['b', 'u', 'w']

    References
    ----------
    .. [1] Rezende, D. J. & Mohamed, S. (2015). Variational Inference with Normalizing
       Flows. ICML. https://arxiv.org/abs/1505.05770
    .. [2] Tomczak, J. M. & Welling, M. (2016). Improving Variational Auto-Encoders
       using Householder Flow. https://arxiv.org/abs/1611.09630
    """

    short_name = "normalizing_flow"
    has_logq = True
    default_formula = "scale-loc"
    #: Number of draws behind the Monte Carlo ``mean`` / ``std`` / ``cov``.
    moment_draws = 1000

    def __init__(
        self,
        group: Sequence[Any] | None = None,
        vfam: str | None = None,
        params: Mapping[int, Mapping[str, Any]] | None = None,
        random_seed: int | None = None,
        model: Model | None = None,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        _refuse_unsupported(options, kwargs)
        if vfam is not None and params is not None:
            raise TypeError("Cannot create a group with both `vfam` and `params` provided")
        if params is not None:
            names = formula_from_params(params)
        else:
            names = parse_formula(self.default_formula if vfam is None else vfam)
        self._flow_names: tuple[str, ...] = tuple(names)
        self._flows: list[Flow] | None = None
        jitter = float(kwargs.pop("jitter", 0.01))
        if not np.isfinite(jitter) or jitter < 0:
            raise ValueError(f"jitter must be a finite number >= 0, got {jitter}")
        super().__init__(
            group,
            vfam=None if params is not None else self.formula,
            params=params,
            random_seed=random_seed,
            model=model,
            options=dict(options or {}),
            jitter=jitter,
            **kwargs,
        )

    # -- public description ----------------------------------------------------------------
    @property
    def formula(self) -> str:
        """The canonical formula of the chain, e.g. ``"scale-hh*2-planar-loc"``."""
        return format_formula(self._flow_names)

    @property
    def flow_names(self) -> tuple[str, ...]:
        """Short names of the flows in the order they are applied (known before init)."""
        return self._flow_names

    @property
    def flows(self) -> list[Flow]:
        """The flow objects in the order they are applied (index 0 acts on N(0, I)).

        Raises
        ------
        pymc.variational.opvi.GroupError
            The group was created with ``group=None`` and is not initialized yet.
        """
        if self._flows is None:
            raise GroupError(
                f"the flows of a delayed group ({self.formula}) are created when the group "
                "is initialized: pass it to vibench.Approximation first (flow_names is "
                "available now)"
            )
        return list(self._flows)

    # -- initialization ----------------------------------------------------------------------
    def __init_group__(self, group):
        super().__init_group__(group)
        d = self.ddim
        classes = [flow_class(name) for name in self._flow_names]
        if self.user_params is not None:
            self._user_params = {}
            flows = []
            for k, cls in enumerate(classes):
                flow = cls(d, self.user_params[k])
                self._user_params[k] = dict(flow.params)
                flows.append(flow)
        else:
            start = self._prepare_start(self._kwargs.get("start"))
            rng = np.random.default_rng(self.rng.randint(2**31))
            values = initial_chain_values(classes, d, start, rng, self._kwargs["jitter"])
            self.shared_params = {
                k: {
                    name: pytensor.shared(
                        floatX(np.asarray(value)),
                        f"flow{k}_{cls.short_name}_{name}",
                        shape=np.shape(value),
                    )
                    for name, value in vals.items()
                }
                for k, (cls, vals) in enumerate(zip(classes, values, strict=True))
            }
            flows = [cls(d, self.shared_params[k]) for k, cls in enumerate(classes)]
        self._flows = flows
        self._moment_seed = int(self.rng.randint(2**31))
        self._finalize_init()

    @property
    def params(self) -> list[SharedVariable]:
        """Shared variables the optimizer updates, ordered by flow index then name."""
        source = self.user_params if self.user_params is not None else self.shared_params
        if not source:
            return []
        return [
            value
            for k in sorted(source)
            for _, value in sorted(source[k].items())
            if isinstance(value, SharedVariable)
        ]

    # -- the distribution --------------------------------------------------------------------
    def push(self, z0: TensorVariable) -> tuple[TensorVariable, TensorVariable]:
        """Push base draws through the chain.

        Parameters
        ----------
        z0 : TensorVariable
            Base draws, shape ``(s, d)``.

        Returns
        -------
        z : TensorVariable
            The pushed draws, shape ``(s, d)``.
        log_det : TensorVariable
            ``sum_k log|det J_k|`` per draw, shape ``(s,)``.
        """
        z = z0
        total = pt.zeros((z0.shape[0],), dtype=z0.dtype)
        for flow in self.flows:
            z, log_det = flow.forward_and_log_det(z)
            total = total + log_det
        return z, total

    @node_property
    def _pushed_initial(self):
        return self.push(self.symbolic_initial)

    @node_property
    def symbolic_random(self):
        """Draws of the group: ``symbolic_initial`` pushed through the chain, ``(s, d)``."""
        return self._pushed_initial[0]

    @node_property
    def symbolic_logq_not_scaled(self):
        """``log q`` of each draw in ``symbolic_random`` by the change of variables, ``(s,)``."""
        z0 = self.symbolic_initial
        log_base = -0.5 * pt.sum(z0**2, axis=-1) - 0.5 * self.ddim * np.log(2.0 * np.pi)
        return log_base - self._pushed_initial[1]

    # -- moments (Monte Carlo) ------------------------------------------------------------------
    @node_property
    def _moment_sample(self):
        half = max(1, self.moment_draws // 2)
        base = np.random.default_rng(self._moment_seed).standard_normal((half, self.ddim))
        z0 = pt.constant(floatX(np.concatenate([base, -base])))
        return graph_replace(self.symbolic_random, {self.symbolic_initial: z0}, strict=False)

    @node_property
    def mean(self):
        """Monte Carlo mean of the flat latent vector (unconstrained space), ``(d,)``."""
        return self._moment_sample.mean(0)

    @node_property
    def cov(self):
        """Monte Carlo covariance of the flat latent vector, ``(d, d)``."""
        centred = self._moment_sample - self.mean
        return centred.T.dot(centred) / (centred.shape[0] - 1)

    @node_property
    def std(self):
        """Monte Carlo standard deviation of the flat latent vector, ``(d,)``."""
        return pt.sqrt(pt.diag(self.cov))

    def var_to_data(self, shared):
        """As PyMC's, evaluating Monte Carlo moments with a quickly compiled function."""
        if not isinstance(shared, SharedVariable | pt.TensorConstant):
            value = pytensor.function([], shared, mode="FAST_COMPILE")()
            shared = pt.constant(value)
        return super().var_to_data(shared)

    def __str__(self) -> str:
        size = "undefined" if self.group is None else str(self.ddim)
        return f"{type(self).__name__}[{self.formula}; {size}]"


class _GroupFactoryMeta(type):
    """Makes ``Group(...)`` dispatch, and ``isinstance(g, Group)`` mean any PyMC group."""

    def __call__(
        cls,
        group: Sequence[Any] | None = None,
        vfam: str | None = None,
        params: Mapping[Any, Any] | None = None,
        random_seed: int | None = None,
        model: Model | None = None,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> opvi.Group:
        local, rowwise, options = _batch_options(options, kwargs)
        if local or rowwise:
            check_batched_arguments(group, vfam, params, local=local, rowwise=rowwise)
        group_class = cls.resolve(vfam=vfam, params=params, local=local, rowwise=rowwise)
        if local or rowwise:
            kwargs.update(local=local, rowwise=rowwise)
        return group_class(
            group,
            vfam=vfam,
            params=params,
            random_seed=random_seed,
            model=model,
            options=options,
            **kwargs,
        )

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, opvi.Group)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, opvi.Group)


class Group(metaclass=_GroupFactoryMeta):
    """Create a variational group: PyMC's families or a normalizing-flow chain.

    ``Group(...)`` returns an instance of a subclass of
    ``pymc.variational.opvi.Group``, chosen from ``vfam`` or from the keys of ``params``
    (exactly one of the two):

    - ``vfam`` a PyMC family (``"mean_field"``/``"mf"``, ``"full_rank"``/``"fr"``,
      ``"empirical"``; case-insensitive) -> PyMC's own group, unchanged;
    - ``vfam`` a flow formula (``"planar"``, ``"scale-hh*2-planar-radial-loc"``) ->
      :class:`NormalizingFlowGroup`;
    - ``params`` keyed ``{"mu", "rho"}``, ``{"mu", "L_tril"}`` or ``{"histogram"}`` ->
      PyMC's mean-field, full-rank or empirical group;
    - ``params`` keyed ``{0, ..., k-1}`` with one flow's parameters per index (index 0 =
      the flow applied first) -> :class:`NormalizingFlowGroup` of depth ``k``.

    ``isinstance(g, vibench.Group)`` holds for every PyMC group.

    Parameters
    ----------
    group : list of PyMC variables or None
        The group's variables, or ``None`` for the rest of the model (delayed init).
    vfam : str, optional
        Family name or flow formula.
    params : dict, optional
        Family parameters. As in PyMC, shared variables among them are collected by the
        optimizer, other tensors are not: pass those as ``more_obj_params``.
    random_seed : int, optional
        Seed of the group's generator (its initial values).
    model : pymc.Model, optional
        Defaults to the model on the context stack.
    options : dict, optional
        Group options (``local`` / ``rowwise`` may be given here too).
    local : bool, default False
        Amortized (AEVB) group: ``params`` are encoder outputs with a leading batch axis.
    rowwise : bool, default False
        An independent approximation for every row of the variables' first axis.
    **kwargs
        Passed to the group (``start``, ``start_sigma``, ``trace``, ``size``, ``jitter``...).

    Returns
    -------
    pymc.variational.opvi.Group

    Raises
    ------
    TypeError
        Both ``vfam`` and ``params``, or neither; ``vfam`` not a string.
    vibench.engine.errors.UnknownFamilyError
        ``vfam`` is neither a PyMC family nor a valid formula (a ``KeyError`` and
        ``ValueError``; the message names the bad token and lists valid names).
    vibench.engine.errors.FlowParamsError
        ``params`` matches no family (partial parametrization is refused by design).
    vibench.engine.errors.BatchedGroupError
        ``local=True`` together with ``rowwise=True``, or a variable without rows.
    vibench.engine.errors.AmortizedGroupError
        ``local=True`` with ``vfam``, without ``params``, or not exactly one variable.
    vibench.engine.errors.RowwiseGroupError
        ``rowwise=True`` with ``group=None`` or variables with different row counts.
    vibench.engine.errors.UnbatchableFamilyError
        ``local`` / ``rowwise`` with the empirical family.

    Notes
    -----
    **Amortized groups** (``local=True``, autoencoding VB): ``params`` are tensors with a
    leading batch axis computed by an encoder from data (``{"mu", "rho"}``,
    ``{"mu", "L_tril"}`` or int-keyed flow params); the group's single variable has its
    rows on its first axis, and the number of rows follows the tensors at run time.
    ``logq`` is scaled by ``total_size / rows`` when the variable carries a
    ``total_size`` (see :func:`vibench.minibatch_latent`). Pass the encoder's weights to
    ``fit(..., more_obj_params=[...])``.

    **Row-wise groups** (``rowwise=True``): ``vfam`` (``"mf"``, ``"fr"`` or a flow
    formula) gives every row of the variables' first axis its own independent member of
    the family. See :mod:`vibench.engine.batched` and ``docs/amortized.md``.

    Examples
    --------
    >>> import pymc as pm
    >>> import vibench
    >>> with pm.Model():
    ...     a = pm.Normal("a", 0, 1)
    ...     b = pm.Normal("b", a, 1, shape=2)
    ...     c = pm.Normal("c", b.sum(), 1)
    ...     groups = [
    ...         vibench.Group([a], vfam="fr"),
    ...         vibench.Group([b], vfam="scale-hh*2-planar-radial-loc"),
    ...         vibench.Group(None, vfam="mf"),
    ...     ]
    >>> [type(g).__name__ for g in groups]
    ['FullRankGroup', 'NormalizingFlowGroup', 'MeanFieldGroup']
    """

    @staticmethod
    def resolve(
        vfam: str | None = None,
        params: Mapping[Any, Any] | None = None,
        *,
        local: bool = False,
        rowwise: bool = False,
    ) -> type[opvi.Group]:
        """The group class ``Group(vfam=..., params=...)`` would create, without creating it.

        Parameters
        ----------
        vfam : str, optional
            Family name or flow formula.
        params : dict, optional
            Family parameters.
        local, rowwise : bool
            Resolve the amortized / row-wise class of the family
            (:class:`~vibench.engine.batched.BatchedGroup` subclasses).

        Returns
        -------
        type
            A subclass of ``pymc.variational.opvi.Group``.

        Raises
        ------
        TypeError, UnknownFamilyError, FlowParamsError
            As for :class:`Group`.
        """
        if vfam is not None and params is not None:
            raise TypeError("Cannot call Group with both `vfam` and `params` provided")
        if vfam is None and params is None:
            raise TypeError("Need to call Group with either `vfam` or `params` provided")
        if vfam is not None and not isinstance(vfam, str):
            raise TypeError(f"vfam must be a str, got {type(vfam).__name__}")
        if local or rowwise:
            if local and rowwise:
                check_batched_arguments(None, vfam, params, local=True, rowwise=True)
            try:
                return batched_group_class(vfam, params, local=local, rowwise=rowwise)
            except FlowFormulaError as err:
                if isinstance(err, FlowParamsError):
                    raise
                raise UnknownFamilyError(
                    f"{err}. PyMC families: mean_field (mf), full_rank (fr)"
                ) from None
        if vfam is not None:
            if not isinstance(vfam, str):
                raise TypeError(f"vfam must be a str, got {type(vfam).__name__}")
            name = "".join(vfam.split()).lower()
            if name in pymc_family_names():
                return opvi.Group.group_for_short_name(name)
            try:
                parse_formula(vfam)
            except FlowFormulaError as err:
                raise UnknownFamilyError(
                    f"{err}. PyMC families (used alone): {', '.join(pymc_family_names())}"
                ) from None
            return NormalizingFlowGroup
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict, got {type(params).__name__}")
        if is_flow_params(params):
            formula_from_params(params)
            return NormalizingFlowGroup
        try:
            return opvi.Group.group_for_params(params)
        except KeyError:
            pymc_sets = "; ".join(
                "{" + ", ".join(sorted(map(str, keys))) + "}"
                for keys in opvi.Group._Group__param_registry
            )
            flows = ", ".join(sorted(registered_flows()))
            raise FlowParamsError(
                f"no variational family has exactly the parameters "
                f"{sorted(map(str, params))}; PyMC families take {pymc_sets}; flow groups "
                f"take {{0, ..., k-1}} with one flow's parameters each ({flows}). "
                "Partial parametrization is refused by design."
            ) from None
