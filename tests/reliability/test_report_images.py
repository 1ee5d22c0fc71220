"""A report inlines only real image files from inside the notebook's folder.

``ln -s ~/secret.txt x.png`` and ``![x](x.png)`` used to put the secret into
the page as base64. Every way of pointing a picture at a file outside the
folder, or at bytes that are not an image, must leave a link instead.
"""

from __future__ import annotations

import base64
import warnings

import nbformat
import pytest

from workbench import report
from workbench.report.local_images import image_data_url, refusal


@pytest.fixture(autouse=True)
def private_jupyter_data(tmp_path, monkeypatch):
    """Checking a notebook's trust reads (and may create) Jupyter's signature database: a private one, not the user's."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
SECRET = b"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI-do-not-leak\n"


@pytest.fixture
def folders(tmp_path):
    """``home/secret.txt`` outside, ``project/`` the notebook's folder with good and bad pictures in it."""
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    (project / "img").mkdir(parents=True)
    (home / "secret.txt").write_bytes(SECRET)
    (home / "secret.png").write_bytes(PNG[:-1] + SECRET)  # an image outside: still not to be copied
    (project / "dot.png").write_bytes(PNG)
    (project / "img" / "inside-link.png").symlink_to(project / "dot.png")  # a link that stays inside: fine
    (project / "x.png").symlink_to(home / "secret.txt")
    (project / "outside.png").symlink_to(home / "secret.png")
    (project / "notes.png").write_bytes(SECRET)  # inside, but not an image
    (project / "img" / "up").symlink_to(home)  # a folder link leading out
    return home, project


def _leaks(page: str) -> list[str]:
    body = SECRET.strip()
    signs = [body, base64.b64encode(SECRET), base64.b64encode(PNG[:-1] + SECRET)]
    # base64 of the secret at any of the three alignments inside a larger file
    signs += [base64.b64encode(b"\0" * shift + SECRET)[4:40] for shift in (1, 2)]
    return [sign.decode() for sign in signs if sign.decode() in page]


def test_links_that_leave_the_folder_or_are_not_images_stay_links(folders):
    home, project = folders
    bad = ["x.png", "outside.png", "notes.png", "../home/secret.png", str(home / "secret.png"),
           "img/up/secret.png", "img/%2e%2e/../home/secret.png", f"file://{home / 'secret.png'}"]
    markdown = "\n\n".join([f"![bad{i}]({src})" for i, src in enumerate(bad)] + [f'<img src="{src}">' for src in bad])
    attachment = {"leak.png": {"image/png": base64.b64encode(SECRET).decode()}}
    cell = nbformat.v4.new_markdown_cell(markdown + "\n\n![attached](attachment:leak.png)", attachments=attachment)
    good = nbformat.v4.new_markdown_cell("![ok](dot.png) <img src='img/inside-link.png'>")
    nb = nbformat.v4.new_notebook(cells=[cell, good])
    with pytest.warns(UserWarning, match="images left as links") as said:
        page = report.to_html(nb, folder=project)
    assert _leaks(page) == []
    # the real picture, by name and through a link inside the folder, is inlined
    assert page.count(f"data:image/png;base64,{base64.b64encode(PNG).decode()}") == 2
    message = str(said[0].message)
    assert "x.png (a symlink that points outside the notebook's folder)" in message
    assert "notes.png (not an image" in message and "(..)" in message


def test_the_image_type_comes_from_the_bytes_not_the_name(folders):
    _, project = folders
    (project / "picture.txt").write_bytes(PNG)
    assert image_data_url(project, "picture.txt").startswith("data:image/png;base64,")
    assert refusal(project, "notes.png").startswith("not an image")
    assert refusal(project, "missing.png") == "no such file"


def test_the_symlinked_secret_of_the_issue_stays_out_of_a_rendered_report(folders):
    _, project = folders
    source = project / "leak.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Leak\n\n![x](x.png)")]), source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = report.render(source, execute=False)
    page = out.read_text(encoding="utf-8")
    assert _leaks(page) == [] and 'src="x.png"' in page
