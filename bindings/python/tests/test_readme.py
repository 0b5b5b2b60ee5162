"""The README's Python examples run as written, from a directory laid out like the repository."""

import contextlib
import io
import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def test_the_readme_has_two_python_examples():
    assert len(BLOCKS) == 2
    assert all(len(b.strip().splitlines()) <= 12 for b in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=["decide", "cases"])
def test_readme_example_runs(tmp_path, monkeypatch, block):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    # Each printed line is what the comment beside its print() says.
    printed = out.getvalue().splitlines()
    expected = [m.group(1).split(":")[0].strip() for m in re.finditer(r"print\(.*\)\s+# (.*)", block)]
    for line, comment in zip(printed, expected):
        assert line.startswith(comment) or comment in line, (line, comment)
    assert os.getcwd() == str(tmp_path)
