"""The built-in demo models."""

from __future__ import annotations

import pymc as pm
import pytest

from vibench import models
from vibench.session import Session

EXPECTED = {
    "eight_schools": ["mu", "tau", "theta_tilde"],
    "correlated_regression": ["alpha", "beta", "sigma"],
    "funnel": ["v", "x"],
    "banana": ["theta1", "theta2"],
    "hierarchical_logistic": ["mu_a", "sigma_group", "a", "beta"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_model_builds_fresh_with_its_variables(name):
    first, second = models.get_model(name), models.get_model(name)
    assert isinstance(first, pm.Model)
    assert first is not second
    assert [rv.name for rv in first.free_RVs] == EXPECTED[name]
    assert models.demo_name(first) == name
    doc = models.MODELS[name].__doc__
    assert "Teaches" in doc


def test_registry_matches_expected_and_unknown_name_is_clear():
    assert set(models.MODELS) == set(EXPECTED)
    with pytest.raises(KeyError, match="known models"):
        models.get_model("nope")


def test_hierarchical_logistic_has_a_few_thousand_rows():
    model = models.hierarchical_logistic()
    (y,) = model.observed_RVs
    assert 2000 <= model.rvs_to_values[y].data.shape[0] <= 10_000


def test_default_session_is_eight_schools():
    s = Session()
    assert models.demo_name(s.model) == "eight_schools"
    assert [v.name for v in s.variables] == EXPECTED["eight_schools"]


def test_session_accepts_a_demo_name():
    s = Session("funnel")
    assert [v.name for v in s.variables] == ["v", "x"]
    assert s.variables[1].shape == (9,)
    assert s.variables[1].size == 9
