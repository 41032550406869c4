"""``python -m vibench.warm`` compiles and runs the demo models' first fits."""

from __future__ import annotations

import pytest

from vibench import warm


@pytest.mark.slow
def test_warm_fits_each_family_of_the_named_model(capsys):
    assert warm.main(["banana"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in lines] == [
        ["banana", family] for family in warm.FAMILIES
    ]


def test_warm_refuses_an_unknown_model(capsys):
    with pytest.raises(SystemExit):
        warm.main(["nope"])
    assert "unknown demo model(s) ['nope']" in capsys.readouterr().err
