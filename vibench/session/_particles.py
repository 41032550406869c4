"""Empirical (particle) plans: a cloud of particles moved by SVGD.

An empirical group is PyMC's :class:`~pymc.variational.approximations.EmpiricalGroup`:
a ``(particles, dim)`` histogram of points in the unconstrained space, with no density
``log q``. The ELBO (``KLqp``) cannot fit it; Stein variational gradient descent can:
PyMC's :class:`~pymc.variational.inference.ImplicitGradient` with the
:class:`~pymc.variational.operators.KSD` operator and the RBF kernel
(:data:`pymc.variational.test_functions.rbf`) moves each particle along

.. math::

    \\hat\\phi(x) = \\frac1n \\sum_j k(x_j, x) \\nabla_{x_j} \\log p(x_j) / T
                   + \\nabla_{x_j} k(x_j, x),

an attraction toward high density plus a repulsion between particles. This is what
``pm.SVGD`` / ``pm.fit(method="svgd")`` runs. SVGD needs every variable's value at each
particle, so an empirical plan has only empirical groups (``Plan.check_fittable``);
several of them form one particle cloud (PyMC joins their histograms).

KSD returns no loss. :class:`ParticleStep` returns, per step, the negative mean log
density of the particles, ``-mean_i log p(x_i)`` (model joint density in the
unconstrained space, Jacobian included): the session records ``mean_i log p(x_i)`` where
other plans record the ELBO. It is *not* an ELBO (particles have no entropy term), so it
is not comparable with the ELBO of other plans; it rises as particles reach the
posterior's bulk and levels off when SVGD has converged. It is computed from the same
graph as the Stein gradient, so it costs next to nothing, and a NaN/inf value means a
particle went where the model has no finite density (the run is rolled back).

References
----------
Liu, Q. & Wang, D. (2016). Stein Variational Gradient Descent: A General Purpose
Bayesian Inference Algorithm. NeurIPS. https://arxiv.org/abs/1608.04471
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pymc as pm
from pymc.variational.inference import ImplicitGradient
from pymc.variational.operators import KSD
from pymc.variational.test_functions import rbf
from pytensor.graph.replace import graph_replace

from vibench.engine import Approximation, Group
from vibench.session._families import (
    EMPIRICAL,
    TRACE_LABEL,
    is_particle_plan,
    trace_label,
)
from vibench.session._plan import REST, GroupSpec
from vibench.session._run import FitSettings
from vibench.session._runner import StepFunction

__all__ = [
    "PARTICLE_JITTER",
    "TRACE_LABEL",
    "ParticleStep",
    "SVGDObjective",
    "build_particles",
    "is_particle_plan",
    "trace_label",
]

#: Standard deviation of the initial particles around the model's initial point
#: (unconstrained space), as ``pm.SVGD(jitter=1)``.
PARTICLE_JITTER = 1.0


def build_particles(
    model: pm.Model,
    groups: Sequence[GroupSpec],
    particles: int,
    seed: int | None,
    *,
    jitter: float = PARTICLE_JITTER,
) -> tuple[Approximation, ImplicitGradient]:
    """Build the empirical approximation of a particle plan and its SVGD inference.

    Parameters
    ----------
    model : pymc.Model
    groups : sequence of GroupSpec
        The plan's groups; those with variables must all be empirical.
    particles : int
        Number of particles (rows of each group's histogram).
    seed : int or None
        Seeds the initial particles and the approximation's generator.
    jitter : float
        Standard deviation of the initial particles around the model's initial point.

    Returns
    -------
    approx : vibench.Approximation
        Of :class:`~pymc.variational.approximations.EmpiricalGroup` groups.
    inference : pymc.variational.ImplicitGradient
        SVGD: the ``KSD`` operator with the RBF kernel (temperature 1; the step function
        builds its own operator with the fit's temperature).
    """
    rng = np.random.default_rng(seed)
    with model:
        built = []
        for g in groups:
            if not g.variables:
                continue
            if g.family != EMPIRICAL:
                raise ValueError(f"group {g.id!r} is not empirical ({g.family!r})")
            rvs = None if g.id == REST else [model[v] for v in g.variables]
            built.append(
                Group(
                    rvs, vfam=EMPIRICAL, size=particles, jitter=0.0, model=model, random_seed=seed
                )
            )
        approx = Approximation(built, model=model, random_seed=seed)
        # PyMC jitters with the global NumPy generator: start from the initial point
        # exactly (jitter 0 above) and jitter with the plan's seed instead, so that a fit
        # is reproducible. (The rest group is initialised by the approximation.)
        for group in approx.groups:
            histogram = group.params_dict["histogram"]
            start = histogram.get_value()
            noise = jitter * rng.standard_normal(start.shape).astype(start.dtype)
            histogram.set_value(start + noise)
        inference = ImplicitGradient(approx, estimator=KSD, kernel=rbf)
    return approx, inference


class SVGDObjective:
    """PyMC's KSD objective with a loss: the particles' negative mean log density.

    An adapter with the two things a :class:`~vibench.session.StepFunction` reads from
    an objective, ``approx`` and ``updates(obj_n_mc=, obj_optimizer=)``, whose updates
    are PyMC's SVGD updates (``KSD(approx, temperature)(rbf)``) and whose ``loss`` is
    ``-mean_i log p(x_i)``.

    Parameters
    ----------
    approx : vibench.Approximation
        An approximation of empirical groups only.
    temperature : float
        Temperature of the Stein gradient (PyMC's default 1).
    """

    def __init__(self, approx: Any, temperature: float = 1.0) -> None:
        if not approx.all_histograms:
            raise TypeError("SVGD here fits approximations of empirical groups only")
        self.approx = approx
        self.temperature = float(temperature)
        self._objective = KSD(approx, temperature=self.temperature)(rbf)

    def updates(self, obj_n_mc: int | None = None, obj_optimizer: Any = None, **kwargs: Any):
        """PyMC's SVGD updates with ``.loss`` set (``obj_n_mc`` is not used: all particles step)."""
        if obj_optimizer is not None:
            kwargs["obj_optimizer"] = obj_optimizer
        updates = self._objective.updates(**kwargs)
        updates.loss = -mean_particle_logp(self.approx)
        return updates


class ParticleStep(StepFunction):
    """One compiled SVGD step of an empirical approximation, with its state.

    A :class:`~vibench.session.StepFunction` (same interface, same compile, same
    snapshots; the fitting loop cannot tell them apart) over :class:`SVGDObjective`:
    calling :attr:`fn` moves the particles one step and returns ``-mean_i log p(x_i)``
    over the particles *before* the move (the KSD operator has no loss; see the module
    notes).

    Parameters
    ----------
    objective : pymc.variational.opvi.ObjectiveFunction
        ``inference.objective`` of :func:`build_particles` (only its approximation is
        used: the operator is rebuilt with ``settings.temperature``).
    settings : FitSettings
        Supplies optimizer, learning rate and temperature (``obj_n_mc`` is not used:
        every particle enters every step).
    compile_kwargs : dict
        Passed to :func:`pymc.pytensorf.compile`.
    **kwargs
        Passed on to :class:`~vibench.session.StepFunction`.
    """

    def __init__(
        self, objective: Any, settings: FitSettings, compile_kwargs: dict[str, Any], **kwargs: Any
    ) -> None:
        svgd = SVGDObjective(objective.approx, settings.temperature)
        super().__init__(svgd, settings, compile_kwargs, **kwargs)


def mean_particle_logp(approx: Any) -> Any:
    """Symbolic mean over the particles of the model's log density (unconstrained space).

    Built exactly as PyMC's Stein gradient builds its log density (the approximation's
    ``sized_symbolic_logp`` with each group's draws replaced by its histogram), so
    PyTensor shares it with the gradient.
    """
    logp = graph_replace(
        approx.sized_symbolic_logp,
        dict(zip(approx.symbolic_randoms, approx.collect("histogram"), strict=True)),
        strict=False,
    )
    logp = approx.set_size_and_deterministic(logp, None, 0)
    return logp.mean()
