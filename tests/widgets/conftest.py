"""Fixtures for the widget tests: a fake session and a workbench on it."""

from __future__ import annotations

import pytest

from ._fake import FakeSession


@pytest.fixture
def session() -> FakeSession:
    return FakeSession()


@pytest.fixture
def workbench(session):
    from vibench.widgets import Workbench

    wb = Workbench(session=session)
    yield wb
    if session.running:
        session.stop()
        wb.wait(timeout=10)
    wb.close()
