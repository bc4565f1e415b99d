import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def compiled_loops():
    """The compiled BPTT loops; the test is skipped where they are not built."""
    from rnnlab.bptt import native

    if not native.ready():
        pytest.skip("the compiled loops are not built here")
    return native.prepare()
