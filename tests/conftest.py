"""Shared fixtures. `engine`: run a test twice, with the speed lessons (the default) and with the plain core."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

import tinygrad_rnn as tg

# The engine fixture only switches a mode, which every example of a hypothesis test may share.
settings.register_profile("default", suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("default")


@pytest.fixture(params=["speed", "plain"])
def engine(request):
    """The test runs once with the speed lessons (tinygrad_rnn/speed) and once with the plain core."""
    with tg.plain() if request.param == "plain" else tg.speed.lessons():
        yield request.param
