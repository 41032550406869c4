"""The formula grammar and the Group factory's dispatch tables (``notes/flows.md``)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytest
from pymc.variational.approximations import EmpiricalGroup, FullRankGroup, MeanFieldGroup
from pymc.variational.opvi import Group as PyMCGroup

import vibench
from vibench import Group, NormalizingFlowGroup
from vibench.engine import BatchedGroup
from vibench.engine.errors import (
    AmortizedGroupError,
    FlowFormulaError,
    FlowParamsError,
    UnknownFamilyError,
)
from vibench.flows import format_formula, formula_from_params, parse_formula

FORMULAS = [
    ("planar", ["planar"]),
    ("planar*2", ["planar", "planar"]),
    ("planar-planar", ["planar", "planar"]),
    ("planar-planar*2", ["planar", "planar", "planar"]),
    ("hh-planar*2", ["hh", "planar", "planar"]),
    ("scale-loc", ["scale", "loc"]),
    ("scale-hh*2-planar-radial-loc", ["scale", "hh", "hh", "planar", "radial", "loc"]),
    ("  Scale - HH*2 -LOC ", ["scale", "hh", "hh", "loc"]),
    ("RADIAL*3", ["radial"] * 3),
    ("loc*1", ["loc"]),
]


@pytest.mark.parametrize(("formula", "expected"), FORMULAS)
def test_formula_expansion(formula, expected):
    assert parse_formula(formula) == expected


@pytest.mark.parametrize(
    ("names", "canonical"),
    [
        (["planar"], "planar"),
        (["scale", "hh", "hh", "planar", "radial", "loc"], "scale-hh*2-planar-radial-loc"),
        (["planar", "planar", "hh", "planar"], "planar*2-hh-planar"),
    ],
)
def test_canonical_formula_round_trips(names, canonical):
    assert format_formula(names) == canonical
    assert parse_formula(canonical) == names


FORMULA_ERRORS = [
    ("", "empty flow formula"),
    ("   ", "empty flow formula"),
    ("planar-", "empty token"),
    ("-planar", "empty token"),
    ("scale--loc", "empty token"),
    ("foo", "'foo'"),
    ("scale-foo*2-loc", "'foo'"),
    ("planar*2*3", "'planar\\*2\\*3'.*more than one"),
    ("planar*0", "'planar\\*0'.*positive integer"),
    ("planar*-1", "empty token|positive integer"),
    ("planar*1.5", "'planar\\*1.5'.*positive integer"),
    ("planar*x", "'planar\\*x'.*positive integer"),
    ("planar*", "'planar\\*'.*positive integer"),
    ("*2", "unknown flow ''"),
]


@pytest.mark.parametrize(("formula", "message"), FORMULA_ERRORS)
def test_formula_errors_name_the_token_and_list_valid_names(formula, message):
    with pytest.raises(FlowFormulaError, match=message) as info:
        parse_formula(formula)
    for name in ("planar", "radial", "loc", "scale", "hh"):
        assert name in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, KeyError)


def test_a_formula_must_be_a_string():
    with pytest.raises(TypeError):
        parse_formula(["planar"])


@pytest.fixture
def model():
    with pm.Model() as m:
        pm.Normal("x", 0, 1, shape=3)
        pm.Normal("y", 0, 1)
    return m


VFAM_DISPATCH = [
    ("mf", MeanFieldGroup),
    ("mean_field", MeanFieldGroup),
    ("MF", MeanFieldGroup),
    ("fr", FullRankGroup),
    ("full_rank", FullRankGroup),
    ("FR", FullRankGroup),
    ("Full_Rank", FullRankGroup),
    ("loc", NormalizingFlowGroup),
    ("scale", NormalizingFlowGroup),
    ("hh", NormalizingFlowGroup),
    ("planar", NormalizingFlowGroup),
    ("radial", NormalizingFlowGroup),
    ("scale-loc", NormalizingFlowGroup),
    ("scale-hh*2-planar-radial-loc", NormalizingFlowGroup),
    ("Planar*2", NormalizingFlowGroup),
]


@pytest.mark.parametrize(("vfam", "cls"), VFAM_DISPATCH)
def test_vfam_dispatch(model, vfam, cls):
    with model:
        group = Group([model["x"]], vfam=vfam)
    assert type(group) is cls
    assert isinstance(group, PyMCGroup)
    assert isinstance(group, vibench.Group)
    assert Group.resolve(vfam=vfam) is cls


def test_empirical_goes_to_pymc_unchanged(model):
    with model:
        group = Group([model["x"]], vfam="empirical", size=10)
    assert type(group) is EmpiricalGroup
    assert group.histogram.eval().shape == (10, 3)


def test_flow_groups_know_their_chain(model):
    with model:
        group = Group([model["x"]], vfam=" Scale-HH*2-planar-radial-LOC ")
    assert group.formula == "scale-hh*2-planar-radial-loc"
    assert [f.short_name for f in group.flows] == ["scale", "hh", "hh", "planar", "radial", "loc"]
    assert [type(f) for f in group.flows] == [
        vibench.flows.ScaleFlow,
        vibench.flows.HouseholderFlow,
        vibench.flows.HouseholderFlow,
        vibench.flows.PlanarFlow,
        vibench.flows.RadialFlow,
        vibench.flows.LocFlow,
    ]
    assert sorted(group.params_dict) == list(range(6))
    assert set(group.params_dict[3]) == {"u", "w", "b"}
    assert set(group.shared_params[4]) == {"a", "b", "z_ref"}


def _shared(x):
    return pytensor.shared(np.asarray(x, dtype=float))


PARAMS_DISPATCH = [
    ({"mu": np.zeros(3), "rho": np.zeros(3)}, MeanFieldGroup, None),
    ({"mu": np.zeros(3), "L_tril": np.eye(3)[np.tril_indices(3)]}, FullRankGroup, None),
    ({"histogram": np.zeros((5, 3))}, EmpiricalGroup, None),
    ({0: {"rho": np.zeros(3)}, 1: {"loc": np.zeros(3)}}, NormalizingFlowGroup, "scale-loc"),
    ({0: {"u": np.ones(3), "w": np.ones(3), "b": 0.0}}, NormalizingFlowGroup, "planar"),
    ({0: {"a": 0.0, "b": 0.0, "z_ref": np.zeros(3)}}, NormalizingFlowGroup, "radial"),
    ({0: {"v": np.ones(3)}, 1: {"v": np.ones(3)}}, NormalizingFlowGroup, "hh*2"),
    ({0: {"loc": np.zeros(3)}}, NormalizingFlowGroup, "loc"),
    (
        {
            0: {"rho": np.zeros(3)},
            1: {"v": np.ones(3)},
            2: {"u": np.ones(3), "w": np.ones(3), "b": 0.0},
            3: {"loc": np.zeros(3)},
        },
        NormalizingFlowGroup,
        "scale-hh-planar-loc",
    ),
    ({np.int64(0): {"rho": np.zeros(3)}}, NormalizingFlowGroup, "scale"),
]


@pytest.mark.parametrize(("params", "cls", "formula"), PARAMS_DISPATCH)
def test_params_dispatch(model, params, cls, formula):
    with model:
        group = Group([model["x"]], params=params)
    assert type(group) is cls
    if formula is not None:
        assert group.formula == formula
        assert sorted(group.params_dict) == list(range(len(params)))


PARAMS_ERRORS = [
    ({"mu": np.zeros(3)}, "mu"),
    ({"mu": np.zeros(3), "sigma": np.zeros(3)}, "no variational family"),
    ({1: {"rho": np.zeros(3)}}, "missing \\[0\\]"),
    ({0: {"rho": np.zeros(3)}, 2: {"loc": np.zeros(3)}}, "missing \\[1\\]"),
    ({0: {"u": np.ones(3), "w": np.ones(3)}}, "params\\[0\\].*\\['u', 'w'\\]"),
    ({0: {"rho": np.zeros(3)}, 1: {"loc": 0.0, "rho": 0.0}}, "params\\[1\\]"),
    ({0: {"zzz": np.zeros(3)}}, "zzz"),
    ({0: {"rho": np.zeros(3)}, "mu": np.zeros(3)}, "integers 0..k-1"),
    ({0: np.zeros(3)}, "must be a dict"),
    ({True: {"rho": np.zeros(3)}}, "integers|no variational family"),
]


@pytest.mark.parametrize(("params", "message"), PARAMS_ERRORS)
def test_params_errors(model, params, message):
    with model, pytest.raises(FlowParamsError, match=message) as info:
        Group([model["x"]], params=params)
    assert isinstance(info.value, ValueError)


def test_params_of_wrong_size_are_refused_at_init(model):
    with model, pytest.raises(FlowParamsError, match="loc"):
        Group([model["x"]], params={0: {"loc": np.zeros(2)}})


def test_both_or_neither_is_a_type_error(model):
    with model:
        with pytest.raises(TypeError, match="both"):
            Group([model["x"]], vfam="planar", params={0: {"loc": np.zeros(3)}})
        with pytest.raises(TypeError, match="both"):
            Group([model["x"]], vfam="mf", params={"mu": np.zeros(3), "rho": np.zeros(3)})
        with pytest.raises(TypeError, match="either"):
            Group([model["x"]])
        with pytest.raises(TypeError, match="either"):
            Group(None)
        with pytest.raises(TypeError, match="both"):
            NormalizingFlowGroup([model["x"]], vfam="loc", params={0: {"loc": np.zeros(3)}})


def test_bad_vfam_and_params_types(model):
    with model:
        with pytest.raises(TypeError, match="str"):
            Group([model["x"]], vfam=3)
        with pytest.raises(TypeError, match="dict"):
            Group([model["x"]], params=[1, 2])


@pytest.mark.parametrize("vfam", ["foo", "mf-loc", "planar*0", "normalizing_flow", "nf"])
def test_unknown_families_list_pymc_and_flow_names(model, vfam):
    with model, pytest.raises(UnknownFamilyError) as info:
        Group([model["x"]], vfam=vfam)
    message = str(info.value)
    for name in ("mean_field", "full_rank", "empirical", "planar", "radial", "hh"):
        assert name in message
    assert isinstance(info.value, KeyError)  # what PyMC raises for an unknown vfam
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("vfam", ["mf", "fr", "planar", "scale-loc"])
@pytest.mark.parametrize(
    "kwargs", [{"rowwise": True}, {"options": {"rowwise": 1}}], ids=["rowwise", "options"]
)
def test_rowwise_dispatches_to_a_batched_group(model, vfam, kwargs):
    with model:
        group = Group([model["x"]], vfam=vfam, **kwargs)
    assert isinstance(group, BatchedGroup)
    assert group.rowwise
    assert not group.local


@pytest.mark.parametrize("vfam", ["mf", "fr", "planar", "scale-loc"])
@pytest.mark.parametrize(
    "kwargs", [{"local": True}, {"options": {"local": True}}], ids=["local", "options"]
)
def test_local_with_a_family_name_asks_for_encoder_params(model, vfam, kwargs):
    with model, pytest.raises(AmortizedGroupError, match="takes params"):
        Group([model["x"]], vfam=vfam, **kwargs)


def test_local_and_rowwise_false_are_accepted(model):
    with model:
        group = Group([model["x"]], vfam="planar", local=False, rowwise=False)
    assert isinstance(group, NormalizingFlowGroup)


def test_flow_group_called_directly_defaults_to_scale_loc(model):
    with model:
        group = NormalizingFlowGroup([model["x"]])
    assert group.formula == "scale-loc"


def test_formula_from_params_reads_index_zero_first():
    params = {1: {"loc": np.zeros(2)}, 0: {"rho": np.zeros(2)}}
    assert formula_from_params(params) == ["scale", "loc"]
