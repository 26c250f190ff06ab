import os

import pytest
from hypothesis import settings

from fastbp import _engine

settings.register_profile("ci", max_examples=40, deadline=None)
settings.register_profile("dev", max_examples=15, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(params=_engine.INSTRUCTION_SETS)
def instruction_set(request):
    """Run a test with each instruction-set build of the C kernels."""
    yield _engine.use_instruction_set(request.param)
    _engine.use_instruction_set()
