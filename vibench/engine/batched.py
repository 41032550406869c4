"""Amortized (``local=True``, AEVB) and row-wise (``rowwise=True``) groups.

Both kinds are *batched*: the group's variable has a leading axis of rows, and every row
gets its own member of the family (mean-field, full-rank or a flow chain), independent of
the other rows.

- **Row-wise** (``Group([v], vfam="fr", rowwise=True)``): the group owns one set of
  parameters per row of ``v`` (shared variables with a leading axis of ``v.shape[0]``),
  fitted like any other group.
- **Amortized** (``Group([z], params={...}, local=True)``): the parameters are tensors
  computed from data by an encoder, with a leading batch axis; the number of rows follows
  the tensors at run time, so one encoder gives q(z | x) for any rows x. The encoder's
  weights are passed to ``fit(..., more_obj_params=[...])``.

Internally a group's draws are handled as *rows*: shape ``(s, n, D)`` for ``s`` draws,
``n`` rows and ``D`` numbers per row. PyMC sees them flattened, ``(s, n * D)``.

References
----------
.. [1] Kingma, D. P. & Welling, M. (2014). Auto-Encoding Variational Bayes. ICLR.
   https://arxiv.org/abs/1312.6114
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pytensor
import pytensor.tensor as pt
from pymc.distributions.distribution import _support_point, support_point
from pymc.distributions.transforms import _default_transform
from pymc.model import Model, modelcontext
from pymc.pytensorf import floatX
from pymc.variational import opvi
from pymc.variational.minibatch_rv import (
    MinibatchRandomVariable,
    create_minibatch_rv,
    get_scaling,
)
from pymc.variational.opvi import node_property
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.replace import clone_replace, graph_replace, vectorize_graph
from pytensor.raise_op import Assert
from pytensor.tensor.variable import TensorVariable
from xarray import DataArray, Dataset

from vibench.engine._init import initial_chain_values
from vibench.engine.errors import (
    AmortizedGroupError,
    BatchedGroupError,
    FlowParamsError,
    RowwiseGroupError,
    UnbatchableFamilyError,
)
from vibench.engine.flows import (
    Flow,
    flow_class,
    format_formula,
    formula_from_params,
    is_flow_params,
    parse_formula,
)

__all__ = [
    "BatchedFlowGroup",
    "BatchedFullRankGroup",
    "BatchedGroup",
    "BatchedMeanFieldGroup",
    "batched_group_class",
    "minibatch_latent",
]

_DISCRETE = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool")
_LOG_2PI = float(np.log(2.0 * np.pi))
_SAME_BATCH = Assert("every parameter of a local group must have the same batch size (rows)")


@_support_point.register(MinibatchRandomVariable)
def _minibatch_support_point(op, rv, inner, *total_size):
    """A minibatch latent starts where the distribution it wraps starts."""
    return support_point(inner)


def minibatch_latent(
    name: str,
    dist: TensorVariable,
    total_size: int | Sequence[int | None],
    *,
    model: Model | None = None,
    dims: Sequence[str] | None = None,
) -> TensorVariable:
    """Register a free (latent) variable whose log-density is scaled to ``total_size``.

    PyMC 6 accepts ``total_size`` on observed variables only. The latent variable of an
    amortized model lives on the same minibatch rows as the data, so its prior must be
    scaled the same way (``total_size / batch size``); this helper wraps ``dist`` in
    PyMC's own minibatch scaling and registers it as a free variable of the model. An
    amortized group over such a variable scales its ``logq`` by the same factor.

    Parameters
    ----------
    name : str
        Name of the variable in the model.
    dist : TensorVariable
        An unregistered distribution, e.g. ``pm.Normal.dist(0, 1, shape=(X.shape[0], 2))``,
        with the rows on its first axis.
    total_size : int or sequence
        Number of rows in the full data set (as for observed variables).
    model : pymc.Model, optional
        Defaults to the model on the context stack.
    dims : sequence of str, optional
        Dimension names.

    Returns
    -------
    TensorVariable
        The registered variable (use it like any PyMC variable).

    Examples
    --------
    >>> import numpy as np
    >>> import pymc as pm
    >>> import vibench
    >>> data = np.zeros((100, 3))
    >>> with pm.Model():
    ...     x = pm.Minibatch(data, batch_size=10)
    ...     z = vibench.minibatch_latent("z", pm.Normal.dist(0, 1, shape=(10, 2)), 100)
    >>> z.name
    'z'
    """
    model = modelcontext(model)
    transform = _default_transform(dist.owner.op, dist)
    rv = create_minibatch_rv(dist, total_size)
    return model.register_rv(rv, name, dims=dims, default_transform=transform)


def _collect_shared(params: Any) -> list[SharedVariable]:
    """Shared variables in a (possibly nested) params dict, in key order."""
    if isinstance(params, Mapping):
        out: list[SharedVariable] = []
        for key in sorted(params, key=str):
            out.extend(_collect_shared(params[key]))
        return out
    return [params] if isinstance(params, SharedVariable) else []


class BatchedGroup(opvi.Group):
    """Base of the amortized and row-wise groups: one independent member per row.

    Subclasses give the per-row parameter shapes (:meth:`row_param_shapes`), per-row
    initial values for row-wise groups (:meth:`row_init_values`) and the map from base
    draws to draws (:meth:`push_rows`).

    Parameters
    ----------
    group : list of PyMC variables
        Row-wise: one or more variables sharing the size of their first axis (row ``i``
        of the group is row ``i`` of every variable, approximated jointly). Amortized:
        exactly one variable.
    vfam : str, optional
        Row-wise only: the family (``"mf"``, ``"fr"`` or a flow formula).
    params : dict, optional
        Parameters with a leading axis of rows. Required for amortized groups (the
        encoder's outputs); optional for row-wise groups.
    random_seed : int, optional
        Seed of the group's generator.
    model : pymc.Model, optional
        Defaults to the model on the context stack.
    options : dict, optional
        Group options (``local`` / ``rowwise`` may be given here too).
    local, rowwise : bool
        Exactly one must be true.
    **kwargs
        ``start`` (row-wise: the start point) and ``jitter`` (row-wise flows).

    Attributes
    ----------
    local : bool
        Amortized (parameters computed from data).
    rowwise : bool
        Independent parameters per row, owned by the group.
    row_shapes : dict
        Per variable (value-variable name), the shape of one row.
    row_size : int
        ``D``, the numbers in one row (summed over the group's variables).
    """

    has_logq = True
    #: Family name shown to users (``mean_field``, ``full_rank`` or a flow formula).
    family: ClassVar[str] = ""

    def __init__(
        self,
        group: Sequence[Any] | None = None,
        vfam: str | None = None,
        params: Mapping[Any, Any] | None = None,
        random_seed: int | None = None,
        model: Model | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        local: bool = False,
        rowwise: bool = False,
        **kwargs: Any,
    ) -> None:
        options = dict(options or {})
        local = bool(local or options.pop("local", False))
        rowwise = bool(rowwise or options.pop("rowwise", False))
        check_batched_arguments(group, vfam, params, local=local, rowwise=rowwise)
        self.local = local
        self.rowwise = rowwise
        jitter = float(kwargs.pop("jitter", 0.01))
        if not np.isfinite(jitter) or jitter < 0:
            raise ValueError(f"jitter must be a finite number >= 0, got {jitter}")
        kwargs["jitter"] = jitter
        super().__init__(
            list(group),
            vfam=vfam,
            params=params,
            random_seed=random_seed,
            model=model,
            options=options,
            **kwargs,
        )

    # -- what a family provides ----------------------------------------------------------
    def row_param_shapes(self, d: int) -> dict[Any, Any]:
        """Per-row shape of each parameter (nested for flows), for rows of size ``d``."""
        raise NotImplementedError

    def row_init_values(self, start: np.ndarray, rng: np.random.Generator) -> dict[Any, Any]:
        """Initial raw values of a row-wise group, each with a leading axis of rows.

        Parameters
        ----------
        start : numpy.ndarray
            The start point as rows, shape ``(n, D)``.
        rng : numpy.random.Generator
            The group's generator.
        """
        raise NotImplementedError

    def push_rows(self, z0: TensorVariable) -> tuple[TensorVariable, TensorVariable]:
        """Map base draws ``z0`` (``(s, n, D)``, N(0, I)) to draws of the group.

        Returns
        -------
        z : TensorVariable
            Draws, ``(s, n, D)``.
        log_det : TensorVariable
            ``log|det dz/dz0|`` per draw summed over rows, ``(s,)``.
        """
        raise NotImplementedError

    # -- layout ------------------------------------------------------------------------------
    def __init_group__(self, group):
        if not group:
            raise opvi.GroupError("Got empty group")
        self.group = list(group)
        point = self.model.initial_point(0)
        self.input = pt.vector(type(self).__name__ + "_symbolic_input")
        self.row_shapes: dict[str, tuple[int, ...]] = {}
        self._columns: dict[str, slice] = {}
        leading = None
        column = start_idx = 0
        for var in self.group:
            if var.type.numpy_dtype.name in _DISCRETE:
                raise opvi.ParametrizationError(
                    f"Discrete variables are not supported by VI: {var}"
                )
            value_var = self.model.rvs_to_values[var]
            value = np.asarray(point[value_var.name])
            kind = "an amortized" if self.local else "a row-wise"
            if value.ndim < 1:
                raise BatchedGroupError(
                    f"variable {var.name!r} is a scalar: {kind} group needs a variable "
                    "with a leading axis of rows"
                )
            if self.rowwise and leading is not None and value.shape[0] != leading:
                raise RowwiseGroupError(
                    f"the variables of a row-wise group must have the same number of rows "
                    f"(first axis): {var.name!r} has {value.shape[0]}, the first has {leading}"
                )
            leading = value.shape[0]
            row_shape = tuple(int(x) for x in value.shape[1:])
            k = int(np.prod(row_shape, dtype=int))
            self.row_shapes[value_var.name] = row_shape
            self._columns[value_var.name] = slice(column, column + k)
            column += k
            if self.local:
                replacement = self.input.reshape((-1, *row_shape)).astype(value.dtype)
                self.ordering[value_var.name] = (
                    value_var.name,
                    slice(0, None),
                    (-1, *row_shape),
                    value.dtype,
                )
            else:
                size = value.size
                piece = self.input[start_idx : start_idx + size]
                replacement = piece.reshape(value.shape).astype(value.dtype)
                self.ordering[value_var.name] = (
                    value_var.name,
                    slice(start_idx, start_idx + size),
                    value.shape,
                    value.dtype,
                )
                start_idx += size
            replacement.name = value_var.name + "_vi_replacement"
            self.replacements[value_var] = replacement
        self.row_size = column
        self._rows_static = None if self.local else int(leading)
        width = None if self.local else self._rows_static * self.row_size
        self.symbolic_initial = pt.matrix(
            type(self).__name__ + "_symbolic_initial_tensor", shape=(None, width)
        )
        if self.local:
            self._check_local_scaling()
            self._setup_local_params()
        else:
            self._setup_rowwise_params()
        self._moment_seed = int(self.rng.randint(2**31))
        self._finalize_init()

    def _batched_param(self, value: Any, row_shape: tuple[int, ...], label: str):
        """A user parameter as a tensor of shape ``(rows, *row_shape)``."""
        x = pt.as_tensor_variable(value)
        if x.ndim < 1 or (x.ndim == 1 and row_shape):
            raise FlowParamsError(
                f"parameter {label!r} needs a leading axis of rows followed by the per-row "
                f"shape {row_shape}; got a tensor with {x.ndim} dimension(s)"
            )
        static = x.type.shape
        rest = static[1:]
        need = int(np.prod(row_shape, dtype=int))
        if all(s is not None for s in rest) and int(np.prod(rest, dtype=int)) != need:
            raise FlowParamsError(
                f"parameter {label!r} has per-row shape {tuple(rest)}, expected {row_shape} "
                f"(or anything with {need} elements per row)"
            )
        rows = self._rows_static
        if rows is not None and static[0] is not None and static[0] != rows:
            raise FlowParamsError(
                f"parameter {label!r} has {static[0]} rows; the variable has {rows}"
            )
        if static[1:] == row_shape:
            return x
        return x.reshape((x.shape[0], *row_shape))

    def _map_params(self, params: Mapping[Any, Any], shapes: Mapping[Any, Any], fn, prefix=""):
        """Apply ``fn(value, shape, label)`` over a (nested) params dict."""
        given, needed = set(params), set(shapes)
        if given != needed:
            raise FlowParamsError(
                f"{type(self).__name__} needs parameters {sorted(map(str, needed))}, got "
                f"{sorted(map(str, given))}"
            )
        out = {}
        for key, shape in shapes.items():
            label = f"{prefix}{key}"
            if isinstance(shape, Mapping):
                out[key] = self._map_params(params[key], shape, fn, prefix=f"{label}.")
            else:
                out[key] = fn(params[key], tuple(shape), label)
        return out

    def _check_local_scaling(self) -> None:
        """Refuse a local variable without ``total_size`` in a minibatched model."""
        var = self.group[0]
        if isinstance(var.owner.op, MinibatchRandomVariable):
            return
        minibatched = [
            obs.name
            for obs in self.model.observed_RVs
            if isinstance(obs.owner.op, MinibatchRandomVariable)
        ]
        if minibatched:
            raise AmortizedGroupError(
                f"the model scales {minibatched} to total_size (minibatches) but the local "
                f"variable {var.name!r} has no total_size, so its prior and logq would be "
                "weighted differently from the data. Create it with "
                f"vibench.minibatch_latent({var.name!r}, pm.Normal.dist(...), total_size=N)."
            )

    def _setup_local_params(self) -> None:
        shapes = self.row_param_shapes(self.row_size)
        self._user_params = self._map_params(self.user_params, shapes, self._batched_param)
        leaves = _leaves(self._user_params)
        batch = leaves[0].shape[0]
        for other in leaves[1:]:
            batch = _SAME_BATCH(batch, pt.eq(batch, other.shape[0]))
        self._batch_size = batch

    def _setup_rowwise_params(self) -> None:
        shapes = self.row_param_shapes(self.row_size)
        if self.user_params is not None:
            self._user_params = self._map_params(self.user_params, shapes, self._batched_param)
        else:
            start = self._prepare_start(self._kwargs.get("start"))
            rng = np.random.default_rng(self.rng.randint(2**31))
            values = self.row_init_values(self._flat_to_rows_np(start), rng)

            def make(value, shape, label):
                arr = floatX(np.asarray(value))
                return pytensor.shared(arr, label.replace(".", "_"), shape=arr.shape)

            self.shared_params = self._map_params(values, shapes, make)
        self._batch_size = pt.constant(self._rows_static, dtype="int64")

    # -- public description ----------------------------------------------------------------
    @property
    def batch_size(self) -> TensorVariable:
        """The number of rows: symbolic for amortized groups (it follows the params)."""
        return self._batch_size

    @property
    def ddim(self):
        """Size of one flat draw: an ``int`` (row-wise) or a symbolic scalar (amortized)."""
        if self.local:
            return self._batch_size * self.row_size
        return self._rows_static * self.row_size

    @property
    def params(self) -> list[SharedVariable]:
        """Shared variables the optimizer updates (none for encoder outputs).

        As in PyMC, user-supplied tensors are not collected: pass the encoder's weights
        to ``fit(..., more_obj_params=[...])``.
        """
        source = self.user_params if self.user_params is not None else self.shared_params
        return _collect_shared(source or {})

    # -- rows <-> flat ---------------------------------------------------------------------------
    def _flat_to_rows(self, flat: TensorVariable) -> TensorVariable:
        """``(..., n * D)`` in PyMC's variable-by-variable layout -> ``(..., n, D)``."""
        lead = [flat.shape[i] for i in range(flat.ndim - 1)]
        if self.local or len(self._columns) == 1:
            return flat.reshape((*lead, -1, self.row_size))
        n = self._rows_static
        pieces = []
        for name, (_, slc, _, _) in self.ordering.items():
            k = self._columns[name].stop - self._columns[name].start
            pieces.append(flat[..., slc].reshape((*lead, n, k)))
        return pt.concatenate(pieces, axis=-1)

    def _rows_to_flat(self, rows: TensorVariable) -> TensorVariable:
        """``(..., n, D)`` -> ``(..., n * D)`` in PyMC's variable-by-variable layout."""
        lead = [rows.shape[i] for i in range(rows.ndim - 2)]
        if self.local or len(self._columns) == 1:
            return rows.reshape((*lead, -1))
        pieces = [rows[..., cols].reshape((*lead, -1)) for cols in self._columns.values()]
        return pt.concatenate(pieces, axis=-1)

    def _flat_to_rows_np(self, flat: np.ndarray) -> np.ndarray:
        n = self._rows_static
        pieces = [
            flat[slc].reshape(n, cols.stop - cols.start)
            for (_, slc, _, _), cols in zip(
                self.ordering.values(), self._columns.values(), strict=True
            )
        ]
        return np.concatenate(pieces, axis=-1)

    # -- the distribution ------------------------------------------------------------------------
    @node_property
    def _pushed_initial(self):
        z0 = self._flat_to_rows(self.symbolic_initial)
        z, log_det = self.push_rows(z0)
        return self._rows_to_flat(z), log_det

    @node_property
    def symbolic_random(self):
        """Draws of the group, flat: ``(s, n * D)``."""
        return self._pushed_initial[0]

    @node_property
    def symbolic_logq_not_scaled(self):
        """``log q`` of each draw in ``symbolic_random`` (summed over rows), ``(s,)``."""
        z0 = self.symbolic_initial
        log_base = -0.5 * pt.sum(z0**2, axis=-1) - 0.5 * _LOG_2PI * z0.shape[-1]
        return log_base - self._pushed_initial[1]

    @node_property
    def total_size_scaling(self):
        """``total_size / rows`` of the variable (1 without ``total_size``), symbolic.

        The factor PyMC applies to the variable's log-density on a minibatch; an amortized
        group multiplies its ``logq`` by it.
        """
        var = self.group[0]
        if not isinstance(var.owner.op, MinibatchRandomVariable):
            return pt.constant(floatX(1.0))
        value_name = self.model.rvs_to_values[var].name
        shape = (self._batch_size, *self.row_shapes[value_name])
        return floatX(get_scaling(var.owner.inputs[1:], shape))

    @node_property
    def symbolic_normalizing_constant(self):
        """*Dev* - ``total_size / rows`` for amortized groups (PyMC's rule otherwise)."""
        if self.local:
            return self.total_size_scaling
        return super().symbolic_normalizing_constant

    @node_property
    def symbolic_logq(self):
        """``symbolic_logq_not_scaled``, scaled by ``total_size / rows`` when amortized."""
        if self.local:
            return self.symbolic_logq_not_scaled * self.total_size_scaling
        return self.symbolic_logq_not_scaled

    # -- moments -------------------------------------------------------------------------------
    def _row_moments(self):
        """Exact ``(mean, std)`` rows ``(n, D)``, or ``None`` for Monte Carlo moments."""
        return None

    @node_property
    def _moment_sample(self):
        draws = 1000
        rng = pytensor.shared(np.random.default_rng(self._moment_seed))
        _, base = pt.random.normal(size=(draws, self.ddim), rng=rng, return_next_rng=True)
        return graph_replace(self.symbolic_random, {self.symbolic_initial: base}, strict=False)

    @node_property
    def mean(self):
        """Mean of the flat draws (unconstrained space), ``(n * D,)``."""
        exact = self._row_moments()
        if exact is not None:
            return self._rows_to_flat(exact[0])
        return self._moment_sample.mean(0)

    @node_property
    def std(self):
        """Standard deviation of the flat draws, ``(n * D,)``."""
        exact = self._row_moments()
        if exact is not None:
            return self._rows_to_flat(exact[1])
        return self._moment_sample.std(0, ddof=1)

    @node_property
    def cov(self):
        """Covariance of the flat draws: zero between rows, ``(n * D, n * D)``."""
        exact = self._row_cov()
        if exact is None:
            centred = self._moment_sample - self.mean
            return centred.T.dot(centred) / (centred.shape[0] - 1)
        n = exact.shape[0]
        d = self.row_size
        eye = pt.eye(n, dtype=exact.dtype)
        full = (eye[:, None, :, None] * exact[:, :, None, :]).reshape((n * d, n * d))
        if self.local or len(self._columns) == 1:
            return full
        perm = self._flat_to_rows_np(np.arange(self._rows_static * d)).reshape(-1)
        order = np.argsort(perm)
        return full[order][:, order]

    def _row_cov(self):
        """Exact per-row covariances ``(n, D, D)``, or ``None`` for Monte Carlo."""
        return None

    def var_to_data(self, shared):
        """As PyMC's, evaluated with a quickly compiled function; rows follow the data."""
        if not isinstance(shared, SharedVariable | pt.TensorConstant):
            shared = pt.constant(pytensor.function([], shared, mode="FAST_COMPILE")())
        flat = np.asarray(shared.data if hasattr(shared, "data") else shared.get_value())
        result = {}
        for name, slc, shape, dtype in self.ordering.values():
            values = flat[slc].reshape(shape).astype(dtype)
            dims = self.model.named_vars_to_dims.get(name)
            coords = None
            if dims is not None:
                coords = {d: np.asarray(self.model.coords[d]) for d in dims}
                if any(len(c) != n for c, n in zip(coords.values(), values.shape, strict=True)):
                    dims = coords = None
            result[name] = DataArray(values, coords=coords, dims=dims, name=name)
        return Dataset(result)

    # -- amortized helpers ---------------------------------------------------------------------
    def sample_latent(
        self,
        draws: int = 100,
        replacements: Mapping[Any, Any] | None = None,
        random_seed: int | None = None,
    ) -> np.ndarray:
        """Draw the group's (first) variable, rows following the current parameters.

        For an amortized group this is q(z | x) for the rows the encoder currently sees;
        ``replacements`` swaps the encoder's input (``{x_data: x_new}``) without refitting.

        Parameters
        ----------
        draws : int
            Number of draws.
        replacements : dict, optional
            Graph replacements applied to the parameters (e.g. new encoder inputs).
        random_seed : int, optional
            Seed of the draws.

        Returns
        -------
        numpy.ndarray
            Shape ``(draws, rows, *row_shape)``, in the model's (constrained) space.
        """
        var = self.group[0]
        value_var = self.model.rvs_to_values[var]
        _, slc, shape, dtype = self.ordering[value_var.name]
        flat = self.symbolic_random
        out = flat[:, slc].reshape((flat.shape[0], *shape)).astype(dtype)
        transform = self.model.rvs_to_transforms.get(var)
        if transform is not None:
            out = transform.backward(out, *var.owner.inputs)
        rng = pytensor.shared(np.random.default_rng(random_seed))
        _, base = pt.random.normal(size=(draws, self.ddim), rng=rng, return_next_rng=True)
        out = graph_replace(out, {self.symbolic_initial: base}, strict=False)
        if replacements:
            # rebuild_strict=False lets a new input have another number of rows than the
            # one it replaces (a pm.Minibatch has a fixed batch size in its type)
            out = clone_replace(
                out,
                {k: pt.as_tensor_variable(v) for k, v in replacements.items()},
                rebuild_strict=False,
            )
        return np.asarray(pytensor.function([], out, mode="FAST_COMPILE")())

    def __str__(self) -> str:
        rows = "?" if self.local else str(self._rows_static)
        kind = "local" if self.local else "rowwise"
        return f"{type(self).__name__}[{self.family}; {kind}; {rows} x {self.row_size}]"


def _leaves(params: Mapping[Any, Any]) -> list[TensorVariable]:
    out = []
    for key in sorted(params, key=str):
        value = params[key]
        out.extend(_leaves(value) if isinstance(value, Mapping) else [value])
    return out


def _softplus_inv(x: np.ndarray) -> np.ndarray:
    return np.log(np.expm1(x))


class BatchedMeanFieldGroup(BatchedGroup):
    """Mean-field Gaussian per row: ``z[i] = mu[i] + softplus(rho[i]) * eps``.

    Parameters ``mu`` and ``rho`` have shape ``(rows, *row_shape)`` (PyMC's mean-field
    parametrization, one row per row of the variable). Row-wise groups start at the
    model's initial point with scale ``softplus(0) = 0.69``, like PyMC's mean-field.
    See :class:`BatchedGroup` for the parameters.
    """

    family = "mean_field"

    def row_param_shapes(self, d):
        return {"mu": (d,), "rho": (d,)}

    def row_init_values(self, start, rng):
        return {"mu": start, "rho": np.zeros_like(start)}

    def _row_moments(self):
        p = self.params_dict
        return p["mu"], pt.softplus(p["rho"])

    def _row_cov(self):
        std = self._row_moments()[1]
        return std[:, :, None] * pt.eye(self.row_size, dtype=std.dtype) * std[:, None, :]

    def push_rows(self, z0):
        mu, std = self._row_moments()
        return mu + std * z0, pt.log(std).sum() + pt.zeros((z0.shape[0],), dtype=z0.dtype)


class BatchedFullRankGroup(BatchedGroup):
    """Full-rank Gaussian per row: ``z[i] = mu[i] + L[i] eps`` (a covariance per row).

    ``L_tril`` holds, per row, the ``D (D + 1) / 2`` lower-triangle entries of ``L[i]``
    in row-major order, its diagonal passed through ``softplus`` (PyMC's full-rank
    parametrization). Row-wise groups start like PyMC's full-rank group. See
    :class:`BatchedGroup` for the parameters.
    """

    family = "full_rank"

    def row_param_shapes(self, d):
        return {"mu": (d,), "L_tril": (d * (d + 1) // 2,)}

    def row_init_values(self, start, rng):
        d = self.row_size
        tril = np.eye(d)[np.tril_indices(d)]
        return {"mu": start, "L_tril": np.tile(tril, (start.shape[0], 1))}

    @node_property
    def L(self):
        """Cholesky factors, ``(rows, D, D)``."""
        d = self.row_size
        tril = self.params_dict["L_tril"]
        rows, cols = np.tril_indices(d)
        L = pt.zeros((tril.shape[0], d, d), dtype=tril.dtype)
        L = pt.set_subtensor(L[:, rows, cols], tril)
        diag = np.arange(d)
        return pt.set_subtensor(L[:, diag, diag], pt.softplus(L[:, diag, diag]))

    def _row_cov(self):
        L = self.L
        return pt.matmul(L, L.transpose(0, 2, 1))

    def _row_moments(self):
        cov = self._row_cov()
        return self.params_dict["mu"], pt.sqrt(pt.diagonal(cov, axis1=1, axis2=2))

    def push_rows(self, z0):
        L = self.L
        d = self.row_size
        z = self.params_dict["mu"] + pt.sum(L[None] * z0[:, :, None, :], axis=-1)
        diag = np.arange(d)
        log_det = pt.log(L[:, diag, diag]).sum()
        return z, log_det + pt.zeros((z0.shape[0],), dtype=z0.dtype)


class BatchedFlowGroup(BatchedGroup):
    """A normalizing-flow chain per row: each row has its own flow parameters.

    Parameters are the int-keyed nested dict of :class:`~vibench.NormalizingFlowGroup`
    (``{0: {"rho": ...}, 1: {"loc": ...}}``, index 0 = the flow applied first), each
    value with a leading axis of rows: ``(rows, *shape)`` where ``shape`` is the flow's
    own (``(D,)`` for ``loc``, ``()`` for a planar ``b``...). Row-wise groups start each
    row's chain as :class:`~vibench.NormalizingFlowGroup` does (near the model's initial
    point). The chain is written once for one row and vectorized over rows, so registered
    custom flows work too. See :class:`BatchedGroup` for the other parameters.
    """

    def __init__(self, group=None, vfam=None, params=None, *args, **kwargs):
        if params is not None:
            names = formula_from_params(params)
        else:
            names = parse_formula("scale-loc" if vfam is None else vfam)
        self._flow_names = tuple(names)
        super().__init__(
            group, None if params is not None else self.formula, params, *args, **kwargs
        )

    @property
    def formula(self) -> str:
        """The canonical formula of every row's chain."""
        return format_formula(self._flow_names)

    @property
    def family(self) -> str:  # type: ignore[override]
        """The flow formula."""
        return self.formula

    @property
    def flow_names(self) -> tuple[str, ...]:
        """Short names of the flows in the order they are applied."""
        return self._flow_names

    @property
    def flows(self) -> list[Flow]:
        """One row's flows (on placeholder parameters), in the order they are applied."""
        return list(self._template_flows)

    def row_param_shapes(self, d):
        return {k: flow_class(name).param_shapes(d) for k, name in enumerate(self._flow_names)}

    def row_init_values(self, start, rng):
        classes = [flow_class(name) for name in self._flow_names]
        rows = [
            initial_chain_values(classes, self.row_size, row, rng, self._kwargs["jitter"])
            for row in start
        ]
        return {
            k: {name: np.stack([r[k][name] for r in rows]) for name in rows[0][k]}
            for k in range(len(classes))
        }

    def push_rows(self, z0):
        template = self._template
        params = self.params_dict
        replace = {template["z"]: z0.transpose(1, 0, 2)}
        for k, holders in template["params"].items():
            for name, holder in holders.items():
                replace[holder] = params[k][name]
        z, log_det = vectorize_graph([template["out"], template["log_det"]], replace)
        return z.transpose(1, 0, 2), log_det.sum(0)

    @node_property
    def _template(self):
        """One row's chain on placeholders: input ``(s, D)``, parameters unbatched."""
        d = self.row_size
        z = pt.matrix("row_z", shape=(None, d))
        holders = {}
        flows = []
        for k, name in enumerate(self._flow_names):
            cls = flow_class(name)
            holders[k] = {
                p: pt.tensor(f"flow{k}_{p}", shape=shape, dtype=pytensor.config.floatX)
                for p, shape in cls.param_shapes(d).items()
            }
            flows.append(cls(d, holders[k]))
        out = z
        total = pt.zeros((z.shape[0],), dtype=z.dtype)
        for flow in flows:
            out, log_det = flow.forward_and_log_det(out)
            total = total + log_det
        return {"z": z, "params": holders, "out": out, "log_det": total, "flows": flows}

    @property
    def _template_flows(self):
        return self._template["flows"]


def check_batched_arguments(
    group: Any, vfam: Any, params: Any, *, local: bool, rowwise: bool
) -> None:
    """Raise a clear error for any misuse of ``local`` / ``rowwise``.

    Raises
    ------
    vibench.engine.errors.BatchedGroupError
        Both ``local`` and ``rowwise``, or neither.
    vibench.engine.errors.AmortizedGroupError
        ``local=True`` without ``params``, with ``vfam``, with ``group=None`` or with more
        than one variable.
    vibench.engine.errors.RowwiseGroupError
        ``rowwise=True`` with ``group=None``.
    """
    if local and rowwise:
        raise BatchedGroupError(
            "local=True and rowwise=True cannot be combined: an amortized (local) group's "
            "parameters come from an encoder, a row-wise group owns one set per row"
        )
    if not (local or rowwise):
        raise BatchedGroupError("a batched group needs local=True or rowwise=True")
    if local:
        if vfam is not None:
            raise AmortizedGroupError(
                f"an amortized (local=True) group takes params, not vfam={vfam!r}: pass "
                "the encoder's outputs, e.g. params={'mu': mu_x, 'rho': rho_x}, each with "
                "a leading batch axis"
            )
        if params is None:
            raise AmortizedGroupError(
                "an amortized (local=True) group needs params: the encoder's outputs, "
                "e.g. {'mu': mu_x, 'rho': rho_x}, each with a leading batch axis"
            )
        if group is None:
            raise AmortizedGroupError(
                "an amortized (local=True) group needs its variable: Group([z], params=..., "
                "local=True) (group=None, the rest of the model, is not allowed)"
            )
        if len(list(group)) != 1:
            raise AmortizedGroupError(
                f"an amortized (local=True) group takes exactly one variable, got "
                f"{len(list(group))}: make one local group per variable"
            )
    if rowwise and group is None:
        raise RowwiseGroupError(
            "a row-wise group needs its variables: Group([v], vfam=..., rowwise=True) "
            "(group=None, the rest of the model, is not allowed)"
        )


def batched_group_class(
    vfam: str | None = None,
    params: Mapping[Any, Any] | None = None,
    *,
    local: bool = False,
    rowwise: bool = False,
) -> type[BatchedGroup]:
    """The batched group class for a family, for ``local`` or ``rowwise`` groups.

    Parameters
    ----------
    vfam : str, optional
        ``"mf"``/``"mean_field"``, ``"fr"``/``"full_rank"`` or a flow formula.
    params : dict, optional
        ``{"mu", "rho"}``, ``{"mu", "L_tril"}`` or int-keyed flow params.
    local, rowwise : bool
        Which kind of batched group.

    Raises
    ------
    vibench.engine.errors.UnbatchableFamilyError
        Empirical (a set of particles cannot be amortized or split into rows).
    vibench.engine.errors.FlowParamsError
        A params dict that matches no family.
    """
    kind = "local=True (amortized)" if local else "rowwise=True"
    if params is not None:
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict, got {type(params).__name__}")
        if is_flow_params(params):
            formula_from_params(params)
            return BatchedFlowGroup
        keys = set(params)
        if keys == {"mu", "rho"}:
            return BatchedMeanFieldGroup
        if keys == {"mu", "L_tril"}:
            return BatchedFullRankGroup
        if keys == {"histogram"}:
            raise UnbatchableFamilyError(
                f"the empirical family cannot be used with {kind}: it is a set of "
                "particles, with no parameters to compute per row"
            )
        raise FlowParamsError(
            f"no batched family has exactly the parameters {sorted(map(str, keys))}; "
            "use {mu, rho} (mean-field), {mu, L_tril} (full-rank) or {0: {...}, ...} "
            "(flows), each value with a leading axis of rows"
        )
    name = "".join(str(vfam).split()).lower()
    if name in ("mf", "mean_field"):
        return BatchedMeanFieldGroup
    if name in ("fr", "full_rank"):
        return BatchedFullRankGroup
    if name == "empirical":
        raise UnbatchableFamilyError(
            f"the empirical family cannot be used with {kind}: it is a set of particles, "
            "with no parameters to compute per row"
        )
    parse_formula(vfam)  # raises a FlowFormulaError naming the bad token
    return BatchedFlowGroup
