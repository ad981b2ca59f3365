"""The shared benchmark helpers: spreads, the improvement rule, docs blocks, resumable cells.

The benchmarks themselves never run in the test suite; these checks are pure and fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.provenance import (
    CellStore,
    Run,
    Spread,
    compare,
    markers,
    provenance_block,
    ratio,
    replace_blocks,
    results_path,
    save_results,
    start,
)
from tests.conftest import REPO_ROOT

#: Every block a benchmark script writes, by docs page.
BLOCKS = {
    "docs/benchmarks.md": [
        "codec",
        "stream-chunks",
        "sim-speed",
        "sim-dissemination",
        "sim-targets",
        "sim-detection",
        "sim-false-failures",
        "sim-scenarios",
        "cluster",
        "regex-backtracking",
    ],
    "docs/reliability.md": ["soak-results", "fuzz-results", "hostile-live"],
}


def _run(commit: str = "a" * 40, dirty: list[str] | None = None) -> Run:
    return Run(
        name="demo",
        commit=commit,
        dirty_paths=dirty or [],
        started="2026-12-08T04:00:00Z",
        command=".venv/bin/python -m benchmarks.demo --x 1",
        cpu_model="CPU",
        cores=2,
        python="3.11.7",
        go_serf="v0.9.4",
        load_start=(0.5, 0.5, 0.5),
        diff_hash="d1" if dirty else "",
    )


@pytest.mark.parametrize("page", sorted(BLOCKS))
def test_every_block_a_script_writes_has_one_marker_pair(page: str) -> None:
    text = (REPO_ROOT / page).read_text()
    for name in BLOCKS[page]:
        start_marker, end_marker = markers(name)
        assert text.count(start_marker) == 1, name
        assert text.count(end_marker) == 1, name
        assert text.index(start_marker) < text.index(end_marker), name


def test_spread_and_ratio_use_medians_and_extremes() -> None:
    py = Spread.of([2.0, 3.0, None, 4.0])
    go = Spread.of([1.0, 2.0, 4.0])
    assert py == Spread(3.0, 2.0, 4.0, 3)
    assert ratio(py, go) == Spread(1.5, 0.5, 4.0, 3)
    assert Spread.of([None]) is None
    assert ratio(py, None) is None


def test_a_change_is_an_improvement_only_beyond_the_spread() -> None:
    old = Spread(10.0, 9.0, 11.0, 5)
    assert compare(old, Spread(8.0, 7.0, 8.5, 5)) == "improved"
    assert compare(old, Spread(8.0, 7.0, 9.5, 5)) == "within spread"
    assert compare(old, Spread(12.0, 11.5, 13.0, 5)) == "worse"
    assert compare(old, Spread(12.0, 11.5, 13.0, 5), lower_is_better=False) == "improved"


def test_replace_blocks_keeps_the_hand_written_text_and_needs_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "page.md"
    doc.write_text("# T\n\nintro\n\n<!-- x:start -->\nold\n<!-- x:end -->\n\nafter\n")
    replace_blocks(doc, {"x": "new\n"})
    assert doc.read_text() == "# T\n\nintro\n\n<!-- x:start -->\nnew\n<!-- x:end -->\n\nafter\n"
    with pytest.raises(SystemExit):
        replace_blocks(doc, {"missing": "y"})


def test_results_are_saved_with_provenance_and_never_overwritten(tmp_path: Path) -> None:
    run = _run()
    first = save_results(run, {"samples": [1, 2]}, parameters={"n": 2}, results_dir=tmp_path)
    second = save_results(run, {"samples": [3]}, results_dir=tmp_path)
    assert first.name == "demo-2026-12-08-aaaaaaa.json"
    assert second.name == "demo-2026-12-08-aaaaaaa-2.json"
    saved = json.loads(first.read_text())
    assert saved["results"] == {"samples": [1, 2]}
    assert saved["provenance"]["commit"] == "a" * 40
    assert Run.from_dict(saved["provenance"]).load_start == (0.5, 0.5, 0.5)
    assert results_path(_run(dirty=["x.py"]), tmp_path).name == "demo-2026-12-08-aaaaaaa-dirty.json"
    block = provenance_block(run, first)
    assert "commit `aaaaaaa` (clean tree)" in block
    assert "`.venv/bin/python -m benchmarks.demo --x 1`" in block


def test_cell_store_resumes_only_the_same_code(tmp_path: Path) -> None:
    store = CellStore(_run(), tmp_path)
    store.add("go/5", {"x": 1})
    store.add("go/5", {"x": 2})
    assert [s["x"] for s in CellStore(_run(), tmp_path).load()["go/5"]] == [1, 2]
    assert CellStore(_run(dirty=["x.py"]), tmp_path).load() == {}


def test_start_records_this_checkout() -> None:
    run = start("demo").finish()
    assert len(run.commit) == 40
    assert run.cores >= 1
    assert run.load_end is not None
