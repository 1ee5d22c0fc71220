import subprocess
import sys

import workbench


def test_every_public_name_resolves():
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None, name


def test_version_without_importing_torch():
    code = "import sys, workbench; print(workbench.__version__); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [workbench.__version__, "False"]


def test_unknown_attribute():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        workbench.nope
