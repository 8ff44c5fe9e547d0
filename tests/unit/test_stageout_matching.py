"""Which files an output file's pattern selects (glob's rules, symlinks never followed), sandbox paths,
and variable expansion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from batchite.agent.identity import SANDBOX_ROOT
from batchite.agent.stageout import expand, matches, outside_view

FILES = [
    "a.txt",
    "b.txt",
    "c.txt",
    "ab.txt",
    "x.log",
    ".hidden.txt",
    "sub/one.txt",
    "sub/two.log",
    "sub/deep/three.txt",
    "sub/deep/four.log",
    "sub/.dot/h.txt",
    ".hid/inner.txt",
    "dir.txt/f.dat",  # a directory whose name matches *.txt
]


@pytest.fixture
def wd(tmp_path: Path) -> Path:
    """A working directory with FILES, files beside it, and symlinks of every kind."""
    wd = tmp_path / "wd"
    for name in FILES:
        (wd / name).parent.mkdir(parents=True, exist_ok=True)
        (wd / name).write_text(name)
    (tmp_path / "up.txt").write_text("beside wd")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("not the task's")
    (wd / "flink.txt").symlink_to("a.txt")  # to a file
    (wd / "abs.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (wd / "broken.txt").symlink_to("nowhere")
    (wd / "dlink").symlink_to(tmp_path / "outside", target_is_directory=True)  # to a directory
    (wd / "loop.txt").symlink_to("loop.txt")  # to itself
    (wd / "sub" / "cycle").symlink_to("..", target_is_directory=True)  # a directory loop
    return wd


def names(pattern: str, wd: Path) -> set[str]:
    return {name for _path, name in matches(pattern, wd)}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.txt", {"a.txt", "b.txt", "c.txt", "ab.txt"}),
        ("./*.txt", {"a.txt", "b.txt", "c.txt", "ab.txt"}),
        ("*", {"a.txt", "b.txt", "c.txt", "ab.txt", "x.log"}),
        ("**/*.txt", {"a.txt", "b.txt", "c.txt", "ab.txt", "sub/one.txt", "sub/deep/three.txt"}),
        ("**/*.log", {"x.log", "sub/two.log", "sub/deep/four.log"}),
        ("sub/*.log", {"two.log"}),
        ("sub//*.log", {"two.log"}),
        ("sub/**/*.log", {"two.log", "deep/four.log"}),
        ("sub/*/*.txt", {"deep/three.txt"}),
        ("*/deep/*.txt", {"sub/deep/three.txt"}),
        ("sub/deep/*", {"three.txt", "four.log"}),
        ("[ab].txt", {"a.txt", "b.txt"}),
        ("[!a].txt", {"b.txt", "c.txt"}),
        ("?.txt", {"a.txt", "b.txt", "c.txt"}),
        ("??.txt", {"ab.txt"}),
        ("*.csv", set()),
        ("nothere/*.txt", set()),
    ],
)
def test_glob_semantics(wd: Path, pattern: str, expected: set[str]) -> None:
    assert names(pattern, wd) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (".*", {".hidden.txt"}),
        ("**/.*", {".hidden.txt"}),
        (".*/*.txt", {".hid/inner.txt"}),
        (".hid/*.txt", {"inner.txt"}),
        ("sub/.*/*", {".dot/h.txt"}),
        (
            "**/*",
            {*FILES[:5], "dir.txt/f.dat", "sub/one.txt", "sub/two.log", "sub/deep/three.txt", "sub/deep/four.log"},
        ),
    ],
)
def test_hidden_names_need_a_pattern_part_starting_with_a_dot(wd: Path, pattern: str, expected: set[str]) -> None:
    assert names(pattern, wd) == expected


def test_paths_are_the_files_and_names_are_below_the_fixed_directories(wd: Path) -> None:
    assert matches("sub/**/*.log", wd) == [(wd / "sub/deep/four.log", "deep/four.log"), (wd / "sub/two.log", "two.log")]
    assert matches("sub/deep/*.txt", wd) == [(wd / "sub/deep/three.txt", "three.txt")]


def test_results_are_sorted(wd: Path) -> None:
    found = matches("**/*", wd)
    assert found == sorted(found)
    assert len(found) == len({path for path, _name in found})


@pytest.mark.parametrize(
    ("pattern", "relative", "name"),
    [("a.txt", "wd/a.txt", "a.txt"), ("sub/deep/three.txt", "wd/sub/deep/three.txt", "three.txt")],
)
def test_without_a_wildcard_the_file_keeps_its_own_name(wd: Path, pattern: str, relative: str, name: str) -> None:
    assert matches(pattern, wd) == [(wd.parent / relative, name)]


def test_parent_directory_patterns(wd: Path) -> None:
    assert matches("../up.txt", wd) == [(wd.parent / "up.txt", "up.txt")]
    assert matches("sub/../a.txt", wd) == [(wd / "a.txt", "a.txt")]
    assert matches("../*.txt", wd) == [(wd.parent / "up.txt", "up.txt")]


@pytest.mark.parametrize("pattern", ["missing.txt", "sub", "dir.txt", ".", ""])
def test_without_a_wildcard_only_a_file_matches(wd: Path, pattern: str) -> None:
    assert matches(pattern, wd) == []


def test_absolute_patterns(wd: Path) -> None:
    assert matches(f"{wd}/sub/*.log", wd) == [(wd / "sub/two.log", "two.log")]
    assert matches(f"{wd}/a.txt", Path("/nonexistent")) == [(wd / "a.txt", "a.txt")]
    assert names(f"{wd}/**/three.txt", Path("/nonexistent")) == {"sub/deep/three.txt"}


@pytest.mark.parametrize("pattern", ["flink.txt", "abs.txt", "broken.txt", "loop.txt", "dlink", "sub/cycle"])
def test_a_symlink_named_is_not_returned(wd: Path, pattern: str) -> None:
    assert matches(pattern, wd) == []


@pytest.mark.parametrize("pattern", ["*", "*.txt", "**/*", "**/*.txt", "*/*", "sub/**", "*/*/*.txt", "**/secret.txt"])
def test_symlinks_are_never_followed_nor_returned(wd: Path, pattern: str) -> None:
    for path, name in matches(pattern, wd):
        assert not path.is_symlink()
        assert path.resolve() == path  # no symlink on the way either
        assert path.is_relative_to(wd)
        assert "link" not in name and "cycle" not in name and "loop" not in name


@pytest.mark.parametrize("pattern", ["dlink/*.txt", "dlink/secret.txt", "dlink/**/*.txt"])
def test_a_symlinked_leading_directory_is_not_followed(wd: Path, pattern: str) -> None:
    assert matches(pattern, wd) == []


def test_confined_patterns_select_nothing_outside_the_node(wd: Path) -> None:
    secret = wd.parent / "outside" / "secret.txt"
    assert matches(str(secret), wd) != []  # not confined: an absolute path is taken as it is
    assert matches(str(secret), wd, confine=wd) == []
    assert matches(f"{secret.parent}/*.txt", wd, confine=wd) == []
    assert matches("../outside/secret.txt", wd, confine=wd) == []
    assert matches("../outside/*.txt", wd, confine=wd) == []
    assert matches("*.txt", wd, confine=wd) == matches("*.txt", wd)


# -- outside_view --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (f"{SANDBOX_ROOT}/workitems/j/job-1/t/wd/*.txt", "/data/node1/workitems/j/job-1/t/wd/*.txt"),
        (f"{SANDBOX_ROOT}/shared/out.txt", "/data/node1/shared/out.txt"),
        (SANDBOX_ROOT, "/data/node1"),
        (f"{SANDBOX_ROOT}x/a.txt", f"{SANDBOX_ROOT}x/a.txt"),  # not below the sandbox root
        ("/mnt/batch/other.txt", "/mnt/batch/other.txt"),
        ("*.txt", "*.txt"),
        ("sub/mnt/batch/tasks/a.txt", "sub/mnt/batch/tasks/a.txt"),
    ],
)
def test_outside_view_maps_the_sandbox_root_onto_the_node_root(pattern: str, expected: str) -> None:
    assert outside_view(pattern, Path("/data/node1")) == expected


def test_outside_view_without_a_sandbox_leaves_patterns_alone() -> None:
    assert outside_view(f"{SANDBOX_ROOT}/shared/a.txt", None) == f"{SANDBOX_ROOT}/shared/a.txt"


def test_outside_view_then_matches_finds_the_files(wd: Path) -> None:
    root = wd.parent
    assert matches(outside_view(f"{SANDBOX_ROOT}/wd/sub/*.log", root), Path("/nonexistent")) == [
        (wd / "sub/two.log", "two.log")
    ]


# -- expand --------------------------------------------------------------------------------------------

ENV = {"A": "1", "A_B": "2", "DIR": "out dir", "EMPTY": ""}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("$A/x.txt", "1/x.txt"),
        ("${A}/x.txt", "1/x.txt"),
        ("$A_B", "2"),  # a name is as long as it goes
        ("${A}_B", "1_B"),
        ("$A$A_B${A}", "121"),
        ("$DIR/*.txt", "out dir/*.txt"),
        ("x$EMPTY.txt", "x.txt"),
        ("$NOPE/${NOPE}", "$NOPE/${NOPE}"),  # unknown variables stay as written
        ("${A", "${A"),
        ("$", "$"),
        ("%A%", "%A%"),
        ("no variables", "no variables"),
    ],
)
def test_expand(pattern: str, expected: str) -> None:
    assert expand(pattern, ENV) == expected


def test_expand_does_not_read_the_agents_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHITE_TEST_ONLY_HERE", "leaked")
    assert expand("$BATCHITE_TEST_ONLY_HERE", {}) == "$BATCHITE_TEST_ONLY_HERE"
    assert os.environ["BATCHITE_TEST_ONLY_HERE"] == "leaked"
