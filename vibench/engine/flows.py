"""Normalizing flows for :class:`~vibench.NormalizingFlowGroup`, and their registry.

A flow is a small bijection ``f: R^d -> R^d`` with a cheap log-determinant. A flow
*group* pushes draws of N(0, I) through a chain of flows; the chain is written as a
formula such as ``"scale-hh*2-planar-radial-loc"`` (tokens joined by ``-``, applied left
to right, ``name*N`` repeats a flow ``N`` times, case and spaces ignored).

Samples are rows: every map takes ``z`` of shape ``(s, d)`` and returns ``(s, d)``;
log-determinants have shape ``(s,)``.

Adding a flow of your own takes one class: subclass :class:`Flow`, give it a
``short_name``, ``param_names``, :meth:`Flow.param_shapes`, :meth:`Flow.init_values`,
:meth:`Flow.forward` and :meth:`Flow.log_det`, and decorate it with
:func:`register_flow`. See ``docs/custom_flows.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from vibench.engine.errors import FlowFormulaError, FlowParamsError

__all__ = [
    "MAX_FLOW_LAYERS",
    "MAX_FLOW_REPEAT",
    "Flow",
    "FlowStackTooLongError",
    "HouseholderFlow",
    "LocFlow",
    "PlanarFlow",
    "RadialFlow",
    "ScaleFlow",
    "flow_class",
    "flow_class_for_params",
    "format_formula",
    "formula_from_params",
    "is_flow_params",
    "parse_formula",
    "register_flow",
    "registered_flows",
    "unregister_flow",
]

#: ``softplus(_SOFTPLUS_INV_ONE) == 1``: the raw value of a unit scale.
_SOFTPLUS_INV_ONE = float(np.log(np.expm1(1.0)))
_EPS = 1e-8
#: keeps ``w . u_hat`` of a planar flow strictly above -1 in floating point
_MARGIN = 1e-7
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

_REGISTRY: dict[str, type[Flow]] = {}


def _softplus_np(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


class Flow:
    """Base class of a normalizing flow: one bijection with its parameters.

    Subclasses set the class attributes ``short_name`` (the formula token) and
    ``param_names``, and implement :meth:`param_shapes`, :meth:`init_values`,
    :meth:`forward` and :meth:`log_det` (or :meth:`forward_and_log_det`, when the two
    share work).

    Parameters
    ----------
    d : int
        Dimension of the space the flow acts on (the group's flattened size).
    params : mapping of str to tensor-like
        One value per name in ``param_names``, of the shape :meth:`param_shapes` gives
        (anything that reshapes to it: NumPy arrays, shared variables, expressions).

    Raises
    ------
    vibench.engine.errors.FlowParamsError
        Missing or extra parameter names, or a value of the wrong size.
    """

    short_name: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, d: int, params: Mapping[str, Any]) -> None:
        self.d = int(d)
        if self.d < 1:
            raise ValueError(f"a flow needs d >= 1, got {d}")
        given, needed = set(params), set(self.param_names)
        if given != needed:
            raise FlowParamsError(
                f"{type(self).__name__} ({self.short_name!r}) needs parameters "
                f"{sorted(needed)}, got {sorted(given)}"
            )
        shapes = self.param_shapes(self.d)
        self.params: dict[str, TensorVariable] = {
            name: _as_param(params[name], shapes[name], f"{self.short_name}.{name}")
            for name in self.param_names
        }

    # -- what a subclass provides -------------------------------------------------------
    @classmethod
    def param_shapes(cls, d: int) -> dict[str, tuple[int, ...]]:
        """Shape of each parameter for a flow acting on ``R^d``.

        Parameters
        ----------
        d : int
            Dimension of the space.

        Returns
        -------
        dict of str to tuple of int
        """
        raise NotImplementedError

    @classmethod
    def init_values(cls, d: int, rng: np.random.Generator, jitter: float) -> dict[str, np.ndarray]:
        """Initial raw parameter values, close to the identity map where one exists.

        Parameters
        ----------
        d : int
            Dimension of the space.
        rng : numpy.random.Generator
            The group's generator (seeded by its ``random_seed``).
        jitter : float
            Scale of the small random perturbations that break symmetries.

        Returns
        -------
        dict of str to numpy.ndarray
            One array per parameter, shaped as :meth:`param_shapes` says.
        """
        return {
            name: jitter * rng.standard_normal(shape)
            for name, shape in cls.param_shapes(d).items()
        }

    def forward(self, z: TensorVariable) -> TensorVariable:
        """Apply the flow to the rows of ``z`` (shape ``(s, d)``)."""
        return self.forward_and_log_det(z)[0]

    def log_det(self, z: TensorVariable) -> TensorVariable:
        """``log|det df/dz|`` at each row of ``z``; shape ``(s,)``."""
        return self.forward_and_log_det(z)[1]

    def forward_and_log_det(self, z: TensorVariable) -> tuple[TensorVariable, TensorVariable]:
        """Both :meth:`forward` and :meth:`log_det` at the rows of ``z``.

        Subclasses override either this method or both of the others.
        """
        if type(self).forward is Flow.forward or type(self).log_det is Flow.log_det:
            raise NotImplementedError(
                f"{type(self).__name__} must implement forward() and log_det(), "
                "or forward_and_log_det()"
            )
        return self.forward(z), self.log_det(z)

    # -- optional hooks used to place a fresh chain at the model's start ------------------
    @classmethod
    def init_push(cls, values: Mapping[str, np.ndarray], center: np.ndarray) -> np.ndarray:
        """Where the initial flow sends the centre of its input (NumPy, approximate).

        The default assumes :meth:`init_values` is close to the identity.
        """
        return center

    @classmethod
    def init_pull(cls, values: Mapping[str, np.ndarray], target: np.ndarray) -> np.ndarray:
        """Which input point the initial flow sends to ``target`` (NumPy, approximate)."""
        return target

    @classmethod
    def init_recenter(
        cls, values: dict[str, np.ndarray], center: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Adapt initial values to inputs centred at ``center`` (default: unchanged)."""
        return values

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d})"


def _as_param(value: Any, shape: tuple[int, ...], label: str) -> TensorVariable:
    """Turn a user or shared value into a tensor of exactly ``shape``."""
    x = pt.as_tensor_variable(value)
    static = x.type.shape
    if static == shape:
        return x
    size = int(np.prod(shape, dtype=int))
    if all(s is not None for s in static) and int(np.prod(static, dtype=int)) != size:
        raise FlowParamsError(
            f"parameter {label!r} has shape {tuple(static)}, expected {shape} "
            f"(or anything with {size} elements)"
        )
    return x.reshape(shape)


def _rows(z: TensorVariable) -> TensorVariable:
    """A zero per row of ``z``: the shape of a log-determinant."""
    return pt.zeros((z.shape[0],), dtype=z.dtype)


class LocFlow(Flow):
    r"""Translation: :math:`f(z) = z + \mathrm{loc}`, :math:`\log|\det J| = 0`.

    Parameters
    ----------
    d : int
        Dimension.
    params : mapping
        ``loc`` of shape ``(d,)``.

    Notes
    -----
    Initialized at zero; a flow group moves its last ``loc`` so that the fresh chain
    is centred at the model's initial point (or ``start``).

    References
    ----------
    .. [1] Rezende, D. J. & Mohamed, S. (2015). Variational Inference with Normalizing
       Flows. ICML. https://arxiv.org/abs/1505.05770
    """

    short_name = "loc"
    param_names = ("loc",)

    @classmethod
    def param_shapes(cls, d: int) -> dict[str, tuple[int, ...]]:
        return {"loc": (d,)}

    @classmethod
    def init_values(cls, d: int, rng: np.random.Generator, jitter: float) -> dict[str, np.ndarray]:
        return {"loc": np.zeros(d)}

    def forward_and_log_det(self, z: TensorVariable) -> tuple[TensorVariable, TensorVariable]:
        return z + self.params["loc"], _rows(z)

    @classmethod
    def init_push(cls, values, center):
        return center + values["loc"]

    @classmethod
    def init_pull(cls, values, target):
        return target - values["loc"]


class ScaleFlow(Flow):
    r"""Elementwise positive scaling: :math:`f(z) = z \odot \mathrm{softplus}(\rho)`.

    :math:`\log|\det J| = \sum_i \log \mathrm{softplus}(\rho_i)`.

    Parameters
    ----------
    d : int
        Dimension.
    params : mapping
        ``rho`` of shape ``(d,)``; any real value gives a positive scale.

    Notes
    -----
    Initialized at ``rho = 0``, scale ``log 2 = 0.69``: the scale PyMC's mean-field group
    starts with, so a fresh ``"scale-loc"`` chain *is* PyMC's fresh mean-field
    approximation. ``"scale-loc"`` is the mean-field Gaussian family.

    References
    ----------
    .. [1] Rezende, D. J. & Mohamed, S. (2015). Variational Inference with Normalizing
       Flows. ICML. https://arxiv.org/abs/1505.05770
    """

    short_name = "scale"
    param_names = ("rho",)

    @classmethod
    def param_shapes(cls, d: int) -> dict[str, tuple[int, ...]]:
        return {"rho": (d,)}

    @classmethod
    def init_values(cls, d: int, rng: np.random.Generator, jitter: float) -> dict[str, np.ndarray]:
        # softplus(0) = log 2 = 0.69: PyMC's mean-field starts with the same scale
        return {"rho": np.zeros(d)}

    def forward_and_log_det(self, z: TensorVariable) -> tuple[TensorVariable, TensorVariable]:
        scale = pt.softplus(self.params["rho"])
        return z * scale, _rows(z) + pt.log(scale).sum()

    @classmethod
    def init_push(cls, values, center):
        return center * _softplus_np(values["rho"])

    @classmethod
    def init_pull(cls, values, target):
        return target / _softplus_np(values["rho"])


class HouseholderFlow(Flow):
    r"""Householder reflection: :math:`f(z) = H z`, :math:`H = I - 2 v v^T / (\|v\|^2 + \epsilon)`.

    :math:`\log|\det J| = 0` (a reflection; :math:`\epsilon = 10^{-8}` guards
    :math:`v = 0`). Chains of reflections rotate a mean-field base, which lets the group
    capture correlations.

    Parameters
    ----------
    d : int
        Dimension.
    params : mapping
        ``v`` of shape ``(d,)``, the normal of the reflecting hyperplane.

    Notes
    -----
    Initialized with ``v ~ N(0, I)``: a reflection is never close to the identity, but
    it leaves an isotropic input distribution unchanged.

    References
    ----------
    .. [1] Tomczak, J. M. & Welling, M. (2016). Improving Variational Auto-Encoders
       using Householder Flow. https://arxiv.org/abs/1611.09630
    """

    short_name = "hh"
    param_names = ("v",)

    @classmethod
    def param_shapes(cls, d: int) -> dict[str, tuple[int, ...]]:
        return {"v": (d,)}

    @classmethod
    def init_values(cls, d: int, rng: np.random.Generator, jitter: float) -> dict[str, np.ndarray]:
        return {"v": rng.standard_normal(d)}

    def forward_and_log_det(self, z: TensorVariable) -> tuple[TensorVariable, TensorVariable]:
        v = self.params["v"]
        coef = 2.0 / (pt.dot(v, v) + _EPS)
        return z - coef * pt.outer(pt.dot(z, v), v), _rows(z)

    @staticmethod
    def _reflect(v: np.ndarray, x: np.ndarray) -> np.ndarray:
        return x - 2.0 * v * (x @ v) / (v @ v + _EPS)

    @classmethod
    def init_push(cls, values, center):
        return cls._reflect(values["v"], center)

    @classmethod
    def init_pull(cls, values, target):
        return cls._reflect(values["v"], target)


class PlanarFlow(Flow):
    r"""Planar flow: :math:`f(z) = z + \hat u \tanh(w^T z + b)`.

    With :math:`m(x) = -1 + \mathrm{softplus}(x)`,
    :math:`\hat u = u + (m(w^T u) - w^T u)\, w / \|w\|^2`, so that
    :math:`w^T \hat u = m(w^T u) > -1` and the map is invertible for any raw ``u``,
    ``w``, ``b``. (In code ``m`` has a margin of 1e-7 above -1, which survives rounding,
    and :math:`\|w\|^2` is floored at 1e-8.)
    :math:`\log|\det J| = \log|1 + \hat u^T \psi(z)|`,
    :math:`\psi(z) = (1 - \tanh^2(w^T z + b))\, w`.

    Parameters
    ----------
    d : int
        Dimension.
    params : mapping
        ``u`` and ``w`` of shape ``(d,)``, ``b`` a scalar (shape ``()``).

    Notes
    -----
    Initialized near the identity: ``w ~ N(0, I/d)``, ``b ~ N(0, 1)`` (an offset breaks
    the symmetry that stalls ``u`` on symmetric targets) and ``u`` chosen so that
    ``u_hat`` is a small random vector (``u = eps + log(e - 1) w / |w|^2``).

    References
    ----------
    .. [1] Rezende, D. J. & Mohamed, S. (2015). Variational Inference with Normalizing
       Flows. ICML, appendix A.1. https://arxiv.org/abs/1505.05770
    """

    short_name = "planar"
    param_names = ("u", "w", "b")

    @classmethod
    def param_shapes(cls, d: int) -> dict[str, tuple[int, ...]]:
        return {"u": (d,), "w": (d,), "b": ()}

    @classmethod
    def init_values(cls, d: int, rng: np.random.Generator, jitter: float) -> dict[str, np.ndarray]:
        w = rng.standard_normal(d) / np.sqrt(d)
        # m(w.u) = 0 <=> w.u = log(e - 1): then u_hat = u - log(e - 1) w / |w|^2 = eps
        u = jitter * rng.standard_normal(d) + _SOFTPLUS_INV_ONE * w / (w @ w)
        # a random offset: with b = 0 a symmetric target gives u a zero gradient
        return {"u": u, "w": w, "b": np.array(rng.standard_normal())}

    @property
    def u_hat(self) -> TensorVariable:
        """The constrained ``u`` (``w . u_hat > -1``)."""
        u, w = self.params["u"], self.params["w"]
        wu = pt.dot(w, u)
        # m(x) = -1 + softplus(x), kept off -1 where softplus underflows (x < -16 or so);
        # the squared norm is floored, not shifted, so that w . u_hat == m(w . u)
        m = -1.0 + _MARGIN + pt.softplus(wu)
        return u + (m - wu) * w / pt.maximum(pt.dot(w, w), _EPS)

    def forward_and_log_det(self, z: TensorVariable) -> tuple[TensorVariable, TensorVariable]:
        w, b = self.params["w"], self.params["b"]
        u_hat = self.u_hat
        t = pt.tanh(pt.dot(z, w) + b)  # (s,)
        out = z + pt.outer(t, u_hat)
        log_det = pt.log(pt.abs(1.0 + (1.0 - t**2) * pt.dot(w, u_hat)))
        return out, log_det


class RadialFlow(Flow):
    r"""Radial flow: :math:`f(z) = z + \beta h(\alpha, r)(z - z_{ref})`.

    :math:`\alpha = e^{a} > 0`, :math:`\beta = -\alpha + \mathrm{softplus}(b) \ge -\alpha`
    (invertible for any raw ``a``, ``b``), :math:`r = \|z - z_{ref}\|`,
    :math:`h = 1 / (\alpha + r)`;
    :math:`\log|\det J| = (d - 1)\log(1 + \beta h) + \log(1 + \beta h - \beta r / (\alpha + r)^2)`.

    Parameters
    ----------
    d : int
        Dimension.
    params : mapping
        ``a`` and ``b`` scalars (shape ``()``), ``z_ref`` of shape ``(d,)``.

    Notes
    -----
    Initialized near the identity (``alpha = 1``, ``beta`` about 0) with ``z_ref`` at the
    centre of the flow's initial input.

    References
    ----------
    .. [1] Rezende, D. J. & Mohamed, S. (2015). Variational Inference with Normalizing
       Flows. ICML, appendix A.2. https://arxiv.org/abs/1505.05770
    """

    short_name = "radial"
    param_names = ("a", "b", "z_ref")

    @classmethod
    def param_shapes(cls, d: int) -> dict[str, tuple[int, ...]]:
        return {"a": (), "b": (), "z_ref": (d,)}

    @classmethod
    def init_values(cls, d: int, rng: np.random.Generator, jitter: float) -> dict[str, np.ndarray]:
        return {
            "a": np.array(0.0),
            "b": np.array(_SOFTPLUS_INV_ONE + jitter * rng.standard_normal()),
            "z_ref": jitter * rng.standard_normal(d),
        }

    @classmethod
    def init_recenter(cls, values, center):
        return {**values, "z_ref": values["z_ref"] + center}

    def forward_and_log_det(self, z: TensorVariable) -> tuple[TensorVariable, TensorVariable]:
        alpha = pt.exp(self.params["a"])
        spare = pt.softplus(self.params["b"])  # beta + alpha >= 0
        beta = spare - alpha
        diff = z - self.params["z_ref"]
        # the tiny constant keeps the gradient of r finite at z == z_ref
        r = pt.sqrt(pt.sum(diff**2, axis=-1) + 1e-30)  # (s,)
        h = 1.0 / (alpha + r)
        out = z + (beta * h)[:, None] * diff
        # 1 + beta h = h (r + beta + alpha) and
        # 1 + beta h - beta r h^2 = h^2 (r (r + 2 alpha) + (beta + alpha) alpha):
        # sums of non-negative terms, so rounding never takes a log below zero
        log_det = pt.log(h**2 * (r * (r + 2.0 * alpha) + spare * alpha))
        if self.d > 1:
            log_det = log_det + (self.d - 1) * pt.log(h * (r + spare))
        return out, log_det


# -- registry ----------------------------------------------------------------------------
def _pymc_family_names() -> set[str]:
    from pymc.variational import opvi

    return set(opvi.Group._Group__name_registry)


def register_flow(cls: type[Flow]) -> type[Flow]:
    """Register a :class:`Flow` subclass under its ``short_name`` (usable as a decorator).

    After registration the name works in formulas (``Group(vfam="myflow-loc")``) and its
    parameter names dispatch int-keyed params dicts.

    Parameters
    ----------
    cls : type
        A subclass of :class:`Flow` with a new ``short_name`` (lower-case letters, digits
        and ``_``, starting with a letter) and a non-empty ``param_names`` whose set
        differs from every registered flow's.

    Returns
    -------
    type
        ``cls``, unchanged.

    Raises
    ------
    TypeError
        ``cls`` is not a ``Flow`` subclass.
    ValueError
        Bad or taken ``short_name`` (including PyMC's family names), or a parameter set
        another flow already has.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as pt
    >>> from vibench.flows import Flow, register_flow, unregister_flow
    >>> @register_flow
    ... class ShiftFlow(Flow):
    ...     short_name = "shift"
    ...     param_names = ("c",)
    ...
    ...     @classmethod
    ...     def param_shapes(cls, d):
    ...         return {"c": ()}
    ...
    ...     def forward(self, z):
    ...         return z + self.params["c"]
    ...
    ...     def log_det(self, z):
    ...         return pt.zeros((z.shape[0],))
    >>> parse_formula("scale-shift-loc")
    ['scale', 'shift', 'loc']
    >>> unregister_flow("shift")
    """
    if not (isinstance(cls, type) and issubclass(cls, Flow)):
        raise TypeError(f"register_flow needs a Flow subclass, got {cls!r}")
    name = cls.short_name
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"{cls.__name__}.short_name must be lower-case letters, digits or '_' starting "
            f"with a letter, got {name!r}"
        )
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(
            f"flow name {name!r} is already registered to {_REGISTRY[name].__name__}; "
            "unregister_flow() it first"
        )
    if name in _pymc_family_names():
        raise ValueError(f"flow name {name!r} is a PyMC variational family name")
    if not cls.param_names or len(set(cls.param_names)) != len(cls.param_names):
        raise ValueError(f"{cls.__name__}.param_names must be non-empty and distinct")
    for other in _REGISTRY.values():
        if other is not cls and set(other.param_names) == set(cls.param_names):
            raise ValueError(
                f"{cls.__name__} has the same parameter names as {other.__name__} "
                f"({sorted(cls.param_names)}): params dicts could not tell them apart"
            )
    _REGISTRY[name] = cls
    return cls


def unregister_flow(name: str) -> type[Flow]:
    """Remove a registered flow and return its class.

    Raises
    ------
    vibench.engine.errors.FlowFormulaError
        No flow of that name.
    """
    key = name.strip().lower()
    if key not in _REGISTRY:
        raise FlowFormulaError(f"no flow named {name!r}; registered flows: {_names()}")
    return _REGISTRY.pop(key)


def registered_flows() -> dict[str, type[Flow]]:
    """A copy of the registry: short name -> flow class."""
    return dict(_REGISTRY)


def _names() -> str:
    return ", ".join(sorted(_REGISTRY))


def flow_class(name: str) -> type[Flow]:
    """The flow class registered under ``name`` (case-insensitive).

    Raises
    ------
    vibench.engine.errors.FlowFormulaError
        Unknown name; the message lists the valid ones.
    """
    key = name.strip().lower()
    if key not in _REGISTRY:
        raise FlowFormulaError(f"unknown flow {name!r}; valid flow names: {_names()}")
    return _REGISTRY[key]


for _builtin in (PlanarFlow, RadialFlow, LocFlow, ScaleFlow, HouseholderFlow):
    register_flow(_builtin)
del _builtin


# -- formulas -------------------------------------------------------------------------------
#: The largest repeat count ``N`` of one ``name*N`` token.
MAX_FLOW_REPEAT = 64
#: The most flows one formula may expand to (all its tokens together).
#:
#: Both bounds are checked before anything is expanded, so a typo such as
#: ``planar*100000000`` is refused at once instead of building a list of 10**8 names
#: (14 s and ~0.8 GB) or a graph no fit can step through in finite time. Every layer
#: adds its own piece of graph, compile time and time per step, so the bound is what a
#: flow group plausibly needs with room to experiment: planar/radial stacks for small
#: posteriors use 2-32 layers (Rezende & Mohamed 2015 go up to 32; notebook 03 uses 6).
#: A stack near the bound is slow to compile and to step; the bound keeps it finite.
MAX_FLOW_LAYERS = 64


class FlowStackTooLongError(FlowFormulaError):
    """A flow formula whose stack exceeds :data:`MAX_FLOW_REPEAT` or :data:`MAX_FLOW_LAYERS`.

    A :class:`~vibench.engine.errors.FlowFormulaError` (so a ``KeyError`` and a
    ``ValueError``); the message names the bound.
    """


def parse_formula(formula: str) -> list[str]:
    """Expand a flow formula into the list of flow names, in the order they are applied.

    Parameters
    ----------
    formula : str
        Tokens joined by ``-``; each token is ``name`` or ``name*N`` (``1 <= N <=``
        :data:`MAX_FLOW_REPEAT` copies), at most :data:`MAX_FLOW_LAYERS` flows in all.
        Case and spaces are ignored.

    Returns
    -------
    list of str
        Registered short names, the first acting on N(0, I).

    Raises
    ------
    vibench.engine.errors.FlowFormulaError
        An empty formula or token, an unknown name, a token with more than one ``*``,
        or a repeat count that is not a positive integer. The message names the bad token
        and lists the valid flow names.
    vibench.engine.flows.FlowStackTooLongError
        A repeat count above :data:`MAX_FLOW_REPEAT`, or more than
        :data:`MAX_FLOW_LAYERS` flows in all (checked before anything is expanded).

    Examples
    --------
    >>> parse_formula("scale-hh*2-planar-radial-loc")
    ['scale', 'hh', 'hh', 'planar', 'radial', 'loc']
    >>> parse_formula(" Planar - PLANAR*2 ")
    ['planar', 'planar', 'planar']
    """
    if not isinstance(formula, str):
        raise TypeError(f"a flow formula is a str, got {type(formula).__name__}")
    text = re.sub(r"\s+", "", formula).lower()
    if not text:
        raise FlowFormulaError(
            f"empty flow formula {_clip(formula)}; valid flow names: {_names()}"
        )
    names: list[str] = []
    for token in text.split("-"):
        if not token:
            raise FlowFormulaError(
                f"empty token in flow formula {_clip(formula)} (two '-' in a row, or a leading "
                f"or trailing '-'); valid flow names: {_names()}"
            )
        parts = token.split("*")
        if len(parts) > 2:
            raise FlowFormulaError(
                f"token {_clip(token)} in flow formula {_clip(formula)} has more than one '*'; "
                f"write name*N; valid flow names: {_names()}"
            )
        name = parts[0]
        if name not in _REGISTRY:
            where = f"{name!r}" if token == name else f"{name!r} (token {_clip(token)})"
            raise FlowFormulaError(
                f"unknown flow {where} in flow formula {_clip(formula)}; "
                f"valid flow names: {_names()}"
            )
        repeat = 1
        if len(parts) == 2:
            if not (parts[1].isascii() and parts[1].isdigit()) or not parts[1].strip("0"):
                raise FlowFormulaError(
                    f"token {_clip(token)} in flow formula {_clip(formula)}: the repeat "
                    f"count after '*' must be a positive integer, got {_clip(parts[1])}; "
                    f"valid flow names: {_names()}"
                )
            # compare the digits before int(): a count of a million digits is refused
            # in no time (and int() of it would raise Python's own digit-limit error)
            digits = parts[1].lstrip("0")
            if len(digits) > len(str(MAX_FLOW_REPEAT)) or int(digits) > MAX_FLOW_REPEAT:
                raise FlowStackTooLongError(
                    f"token {_clip(token)} in flow formula {_clip(formula)}: a flow can be "
                    f"repeated at most {MAX_FLOW_REPEAT} times (name*N with N <= "
                    f"{MAX_FLOW_REPEAT})"
                )
            repeat = int(digits)
        if len(names) + repeat > MAX_FLOW_LAYERS:
            raise FlowStackTooLongError(
                f"flow formula {_clip(formula)} has more than {MAX_FLOW_LAYERS} flows "
                f"(at most {MAX_FLOW_LAYERS} layers in one stack)"
            )
        names.extend([name] * repeat)
    return names


def _clip(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to about ``limit`` characters for a message."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


def format_formula(names: Iterable[str]) -> str:
    """The canonical formula of a chain: consecutive repeats written as ``name*N``.

    Examples
    --------
    >>> format_formula(["scale", "hh", "hh", "planar", "loc"])
    'scale-hh*2-planar-loc'
    """
    tokens: list[str] = []
    previous, count = None, 0
    for name in [*names, None]:
        if name == previous:
            count += 1
            continue
        if previous is not None:
            tokens.append(previous if count == 1 else f"{previous}*{count}")
        previous, count = name, 1
    return "-".join(tokens)


def flow_class_for_params(keys: Iterable[str]) -> type[Flow]:
    """The registered flow whose ``param_names`` are exactly ``keys``.

    Raises
    ------
    vibench.engine.errors.FlowParamsError
        No flow has that key set; the message lists the valid sets.
    """
    wanted = set(keys)
    for cls in _REGISTRY.values():
        if set(cls.param_names) == wanted:
            return cls
    raise FlowParamsError(
        f"no flow has exactly the parameters {sorted(map(str, wanted))}; "
        f"valid sets: {_param_sets()} (partial parametrization is refused by design)"
    )


def _param_sets() -> str:
    return "; ".join(
        f"{name} {{{', '.join(sorted(cls.param_names))}}}"
        for name, cls in sorted(_REGISTRY.items())
    )


def _is_index(key: Any) -> bool:
    return isinstance(key, int | np.integer) and not isinstance(key, bool | np.bool_)


def is_flow_params(params: Any) -> bool:
    """Whether ``params`` looks like a flow params dict (a mapping with integer keys)."""
    return isinstance(params, Mapping) and bool(params) and any(_is_index(k) for k in params)


def formula_from_params(params: Mapping[int, Mapping[str, Any]]) -> list[str]:
    """The chain described by an int-keyed params dict (index 0 = the flow applied first).

    Parameters
    ----------
    params : mapping of int to mapping
        Keys exactly ``0, ..., k-1``; each value holds one flow's parameters, by name.

    Returns
    -------
    list of str
        Flow short names in application order.

    Raises
    ------
    vibench.engine.errors.FlowParamsError
        Missing or extra indices, non-integer keys, a value that is not a mapping, or a
        key set that matches no flow.

    Examples
    --------
    >>> import numpy as np
    >>> formula_from_params({0: {"rho": np.zeros(2)}, 1: {"loc": np.zeros(2)}})
    ['scale', 'loc']
    """
    if not isinstance(params, Mapping) or not params:
        raise FlowParamsError("flow params must be a non-empty dict {0: {...}, 1: {...}, ...}")
    keys = list(params)
    if not all(_is_index(k) for k in keys):
        raise FlowParamsError(
            f"flow params must be keyed by integers 0..k-1 only, got keys {keys!r}"
        )
    k = len(keys)
    if sorted(int(x) for x in keys) != list(range(k)):
        missing = sorted(set(range(k)) - {int(x) for x in keys})
        raise FlowParamsError(
            f"flow params must have every key 0..{k - 1} (index 0 = the flow applied first); "
            f"got {sorted(int(x) for x in keys)}, missing {missing}"
        )
    names = []
    for i in range(k):
        entry = params[i]
        if not isinstance(entry, Mapping):
            raise FlowParamsError(
                f"flow params[{i}] must be a dict of parameter values, got {type(entry).__name__}"
            )
        try:
            names.append(flow_class_for_params(entry).short_name)
        except FlowParamsError as err:
            raise FlowParamsError(f"flow params[{i}]: {err}") from None
    return names
