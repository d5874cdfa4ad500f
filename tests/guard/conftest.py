from __future__ import annotations

import pytest

from tests.learn import support


@pytest.fixture(scope="session")
def static_model():
    return support.static_model()


@pytest.fixture(scope="session")
def trained():
    return support.trained()
