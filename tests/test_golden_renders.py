"""Every format rendered from stores that commit 76e5c2b made is byte-identical to what that commit rendered
(tests/fixtures/store_76e5c2b): the terminal, Markdown, CSV, JSON, LaTeX, HTML and baseline leaderboards, the site
file by file, the lm-eval export, `compare` and the gate's output."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "store_76e5c2b"


def _renders():
    spec = importlib.util.spec_from_file_location("store_76e5c2b_renders", FIXTURE / "renders.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("renders")
    _renders().render_all(target)
    return target


def test_the_same_files_are_rendered(rendered):
    assert sorted(_files(rendered)) == sorted(_files(FIXTURE / "golden"))


@pytest.mark.parametrize("name", sorted(_files(FIXTURE / "golden")))
def test_every_file_is_byte_identical(rendered, name):
    golden = (FIXTURE / "golden" / name).read_text(encoding="utf-8")
    assert (rendered / name).read_text(encoding="utf-8") == golden
