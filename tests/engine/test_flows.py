"""Each flow's maths, table-driven over the registry (numpyro ``test_flows.py`` style)."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from vibench import flows
from vibench.engine._init import initial_chain_values
from vibench.engine.errors import FlowFormulaError, FlowParamsError
from vibench.flows import (
    Flow,
    HouseholderFlow,
    LocFlow,
    PlanarFlow,
    RadialFlow,
    ScaleFlow,
    register_flow,
    registered_flows,
    unregister_flow,
)

BUILTIN = {
    "planar": PlanarFlow,
    "radial": RadialFlow,
    "loc": LocFlow,
    "scale": ScaleFlow,
    "hh": HouseholderFlow,
}
DIMS = [1, 2, 20]
CHAINS = [
    ["scale", "hh", "hh", "planar", "radial", "loc"],
    ["planar", "planar", "planar"],
    ["radial", "scale", "radial"],
    ["hh", "planar", "loc", "scale"],
]


def _random_params(cls, d, rng, spread=1.0):
    return {
        name: spread * rng.standard_normal(shape) for name, shape in cls.param_shapes(d).items()
    }


def _jacobian_fn(chain):
    """Compile x -> (log|det J| by autodiff, log|det J| by the flows) for one point."""
    x = pt.vector("x")
    z = x[None, :]
    total = 0.0
    for flow in chain:
        z, log_det = flow.forward_and_log_det(z)
        total = total + log_det[0]
    jac = pytensor.gradient.jacobian(z[0], x)
    autodiff = pt.linalg.slogdet(jac)[1]
    return pytensor.function([x], [autodiff, total], mode="FAST_COMPILE")


def test_registry_has_the_five_documented_flows():
    assert {k: registered_flows()[k] for k in BUILTIN} == BUILTIN
    for name, cls in BUILTIN.items():
        assert cls.short_name == name
    assert set(PlanarFlow.param_names) == {"u", "w", "b"}
    assert set(RadialFlow.param_names) == {"a", "b", "z_ref"}
    assert set(LocFlow.param_names) == {"loc"}
    assert set(ScaleFlow.param_names) == {"rho"}
    assert set(HouseholderFlow.param_names) == {"v"}


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_log_det_matches_autodiff_jacobian(name, d):
    rng = np.random.default_rng(100 * d + len(name))
    cls = BUILTIN[name]
    fn = _jacobian_fn([cls(d, _random_params(cls, d, rng))])
    for _ in range(3):
        autodiff, ours = fn(rng.standard_normal(d))
        np.testing.assert_allclose(ours, autodiff, atol=1e-4)


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("names", CHAINS, ids="-".join)
def test_chain_log_det_matches_autodiff_jacobian(names, d):
    rng = np.random.default_rng(d + len(names))
    chain = [BUILTIN[n](d, _random_params(BUILTIN[n], d, rng)) for n in names]
    autodiff, ours = _jacobian_fn(chain)(rng.standard_normal(d))
    np.testing.assert_allclose(ours, autodiff, atol=1e-4)


@pytest.mark.parametrize("d", [2, 5])
def test_forward_is_vectorized_over_rows(d):
    rng = np.random.default_rng(d)
    z = pt.matrix("z")
    for cls in BUILTIN.values():
        flow = cls(d, _random_params(cls, d, rng))
        out, log_det = flow.forward_and_log_det(z)
        fn = pytensor.function([z], [out, log_det], mode="FAST_COMPILE")
        rows = rng.standard_normal((4, d))
        batch_out, batch_ld = fn(rows)
        assert batch_out.shape == (4, d)
        assert batch_ld.shape == (4,)
        for i in range(4):
            one_out, one_ld = fn(rows[i : i + 1])
            np.testing.assert_allclose(batch_out[i], one_out[0], rtol=1e-10)
            np.testing.assert_allclose(batch_ld[i], one_ld[0], rtol=1e-10)


def _symbolic_flow(cls, d):
    """A flow on symbolic raw parameters, and those parameters in declaration order."""
    inputs = {
        name: pt.tensor(name, shape=shape, dtype="float64")
        for name, shape in cls.param_shapes(d).items()
    }
    return cls(d, inputs), [inputs[name] for name in cls.param_shapes(d)]


@pytest.mark.parametrize("d", DIMS)
def test_planar_is_invertible_for_any_raw_parameters(d):
    rng = np.random.default_rng(7 * d)
    flow, inputs = _symbolic_flow(PlanarFlow, d)
    z = pt.matrix("z")
    w = flow.params["w"]
    # along w the map is z.w -> z.w + (w.u_hat) tanh(z.w + b): increasing iff w.u_hat > -1
    fn = pytensor.function(
        [*inputs, z],
        [pt.dot(w, flow.u_hat), pt.dot(flow.forward(z), w), flow.log_det(z)],
        mode="FAST_COMPILE",
    )
    t = np.linspace(-60, 60, 4001)[:, None]
    for spread in (0.1, 3.0, 30.0, 300.0):
        for _ in range(25):
            params = _random_params(PlanarFlow, d, rng, spread)
            unit = params["w"] / np.linalg.norm(params["w"])
            w_dot_u_hat, along_w, log_det = fn(*params.values(), t * unit[None, :])
            assert w_dot_u_hat > -1.0
            assert np.all(np.diff(along_w) > 0)
            assert not np.any(np.isnan(log_det))


@pytest.mark.parametrize("d", DIMS)
def test_radial_is_invertible_for_any_raw_parameters(d):
    rng = np.random.default_rng(11 * d)
    flow, inputs = _symbolic_flow(RadialFlow, d)
    z = pt.matrix("z")
    z_ref = flow.params["z_ref"]
    alpha = pt.exp(flow.params["a"])
    beta = -alpha + pt.softplus(flow.params["b"])
    radius = pt.sqrt(pt.sum((flow.forward(z) - z_ref) ** 2, axis=-1))
    fn = pytensor.function(
        [*inputs, z], [alpha, beta, radius, flow.log_det(z)], mode="FAST_COMPILE"
    )
    r = np.linspace(0.0, 100.0, 4001)[:, None]
    for spread in (0.1, 3.0, 30.0):
        for _ in range(25):
            params = _random_params(RadialFlow, d, rng, spread)
            direction = rng.standard_normal(d)
            direction /= np.linalg.norm(direction)
            points = params["z_ref"][None, :] + r * direction[None, :]
            a, b, out_radius, log_det = fn(*params.values(), points)
            assert b >= -a
            # a ray from z_ref maps onto itself with a non-decreasing radius: one-to-one
            assert np.all(np.diff(out_radius) >= -1e-12)
            assert not np.any(np.isnan(log_det))


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_initial_values_have_the_declared_shapes(name, d):
    cls = BUILTIN[name]
    values = cls.init_values(d, np.random.default_rng(0), 0.01)
    assert {k: np.shape(v) for k, v in values.items()} == cls.param_shapes(d)


@pytest.mark.parametrize("name", ["planar", "radial", "scale", "loc"])
def test_initial_flows_are_near_the_identity(name):
    d = 5
    cls = BUILTIN[name]
    flow = cls(d, cls.init_values(d, np.random.default_rng(1), 0.01))
    z = np.random.default_rng(2).standard_normal((50, d))
    out = flow.forward(pt.as_tensor(z)).eval()
    if name == "scale":  # PyMC's mean-field scale, softplus(0) = log 2
        np.testing.assert_allclose(out, np.log(2.0) * z)
    else:
        np.testing.assert_allclose(out, z, atol=0.1)


def test_initial_chain_is_centred_at_start_even_through_reflections():
    names = ["scale", "hh", "loc", "hh", "radial", "hh"]
    classes = [BUILTIN[n] for n in names]
    d = 3
    start = np.array([1.0, -2.0, 0.5])
    values = initial_chain_values(classes, d, start, np.random.default_rng(4), 0.0)
    chain = [cls(d, v) for cls, v in zip(classes, values, strict=True)]
    z = pt.zeros((1, d))
    for flow in chain:
        z = flow.forward(z)
    np.testing.assert_allclose(z.eval()[0], start, atol=1e-8)


def test_params_of_the_wrong_size_are_refused():
    with pytest.raises(FlowParamsError, match=r"planar\.u"):
        PlanarFlow(3, {"u": np.zeros(2), "w": np.zeros(3), "b": 0.0})
    with pytest.raises(FlowParamsError, match="needs parameters"):
        PlanarFlow(3, {"u": np.zeros(3), "w": np.zeros(3)})
    # anything that reshapes to the right shape is accepted
    flow = LocFlow(4, {"loc": np.zeros((2, 2))})
    assert flow.params["loc"].type.shape == (4,)


class _ShiftFlow(Flow):
    """A toy user flow: f(z) = z + c (one scalar for all coordinates)."""

    short_name = "shift"
    param_names = ("c",)

    @classmethod
    def param_shapes(cls, d):
        return {"c": ()}

    def forward(self, z):
        return z + self.params["c"]

    def log_det(self, z):
        return pt.zeros((z.shape[0],))


@pytest.fixture
def shift_flow():
    register_flow(_ShiftFlow)
    yield _ShiftFlow
    unregister_flow("shift")


def test_user_flows_register_parse_and_pass_the_jacobian_check(shift_flow):
    assert flows.parse_formula("scale-shift*2-loc") == ["scale", "shift", "shift", "loc"]
    assert flows.flow_class_for_params({"c"}) is shift_flow
    fn = _jacobian_fn(
        [
            shift_flow(3, {"c": 0.7}),
            PlanarFlow(3, _random_params(PlanarFlow, 3, np.random.default_rng(0))),
        ]
    )
    autodiff, ours = fn(np.ones(3))
    np.testing.assert_allclose(ours, autodiff, atol=1e-4)


def test_unregistered_flows_are_gone(shift_flow):
    unregister_flow("shift")
    with pytest.raises(FlowFormulaError, match="shift"):
        flows.parse_formula("shift")
    register_flow(shift_flow)  # for the fixture's teardown


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"short_name": "planar", "param_names": ("q",)}, "already registered"),
        ({"short_name": "mf", "param_names": ("q",)}, "PyMC"),
        ({"short_name": "full_rank", "param_names": ("q",)}, "PyMC"),
        ({"short_name": "Bad-Name", "param_names": ("q",)}, "lower-case"),
        ({"short_name": "", "param_names": ("q",)}, "lower-case"),
        ({"short_name": "twin", "param_names": ("rho",)}, "same parameter names"),
        ({"short_name": "empty", "param_names": ()}, "non-empty"),
    ],
)
def test_bad_registrations_are_refused(attrs, message):
    cls = type("BadFlow", (_ShiftFlow,), attrs)
    with pytest.raises(ValueError, match=message):
        register_flow(cls)


def test_only_flow_subclasses_register():
    with pytest.raises(TypeError, match="Flow subclass"):
        register_flow(object)


def test_a_flow_without_maps_says_what_is_missing():
    class Incomplete(Flow):
        short_name = "incomplete"
        param_names = ("q",)

        @classmethod
        def param_shapes(cls, d):
            return {"q": (d,)}

    with pytest.raises(NotImplementedError, match="forward"):
        Incomplete(2, {"q": np.zeros(2)}).forward(pt.zeros((1, 2)))
