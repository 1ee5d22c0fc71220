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


def _extras_of_the_project() -> dict[str, set[str]]:
    """extra -> the distributions it brings, self-references (``latent-workbench[all]``) resolved."""
    import re
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    raw = project["optional-dependencies"]
    name = project["name"]

    def names(extra: str, seen: frozenset = frozenset()) -> set[str]:
        out: set[str] = set()
        for requirement in raw[extra]:
            match = re.match(r"([A-Za-z0-9_.-]+)(\[([^\]]+)\])?", requirement)
            dist, inner = match.group(1).lower(), match.group(3)
            if dist == name and inner:
                for sub in inner.split(","):
                    assert sub.strip() in raw, f"extra {extra!r} refers to a missing extra {sub!r}"
                    if sub.strip() not in seen:
                        out |= names(sub.strip(), seen | {extra})
            else:
                out.add(dist)
        return out

    return {extra: names(extra) for extra in raw}


def test_the_distribution_is_the_project_and_every_install_hint_names_an_existing_extra():
    import tomllib
    from pathlib import Path

    from workbench import extras

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    # `workbench` on the package index is someone else's project
    assert project["name"] == extras.DISTRIBUTION != "workbench"
    extra_map = _extras_of_the_project()
    for module, (requirement, extra) in extras.EXTRAS.items():
        hint = extras.install_hint(module)
        dist = requirement.split("[")[0].split(">")[0].split("=")[0].lower()
        assert f"pip install {requirement}" in hint, (module, hint)
        if extra is not None:
            assert f"'{extras.DISTRIBUTION}[{extra}]'" in hint, (module, hint)
            assert dist in extra_map[extra], f"{module}: the extra {extra!r} does not bring {dist}"
    # what `require` raises carries the same hint
    import pytest

    with pytest.raises(ImportError, match=r"latent-workbench\[hf\]"):
        extras.require("datasets.no_such_module_here", feature="from_hf")


def test_help_opens_with_an_index_that_names_every_public_name():
    import pydoc
    import warnings
    import re

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pydoc reads every attribute, deprecated ones too
        text = pydoc.render_doc(workbench, renderer=pydoc.plaintext)
    head = "\n".join(text.splitlines()[:40])
    assert "Index of the public names, by concern" in head
    start = workbench.__doc__.index("Index of the public names")
    index = workbench.__doc__[start:workbench.__doc__.index("\n\n", workbench.__doc__.index("::", start) + 3)]
    listed = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", index.split("::", 1)[1]))
    missing = sorted(set(workbench._EXPORTS) - listed)
    assert not missing, f"public names missing from the index in workbench/__init__.py: {missing}"
