import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from vmedia import _core  # noqa: E402


@pytest.fixture(params=["c", "optimised"])
def kernels(request):
    """Run a test once with the plain C++ rows and once with the optimised ones."""
    before = _core.cpu_mask()
    _core.set_cpu_mask(0 if request.param == "c" else -1)
    yield request.param
    _core.set_cpu_mask(before)
