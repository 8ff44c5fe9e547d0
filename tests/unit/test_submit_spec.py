"""The job file of `batchite submit`: what it accepts, what it refuses (and says), how a sweep expands."""

from __future__ import annotations

import pytest

from batchite.cli.submit_spec import ResourceFileSpec, SpecError, expand_tasks, parse_spec

HEAD = "pool: {id: p}\njob: {id: j}\n"


def test_a_range_sweep_substitutes_i_and_leaves_shell_braces_alone() -> None:
    spec = parse_spec(
        HEAD
        + """
sweep:
  range: {start: 1, stop: 7, step: 3}
  command: echo {i} ${HOME} {a,b} {file}
  environment: {N: "n{i}"}
  output_files: [{pattern: "out-{i}.txt", container_url: "https://x/c?sig", path: "r/{i}"}]
"""
    )
    tasks = expand_tasks(spec)
    assert [t.id for t in tasks] == ["task-1", "task-4"]
    assert tasks[1].command == "echo 4 ${HOME} {a,b} "
    assert tasks[1].environment == {"N": "n4"}
    out = tasks[1].output_files[0]
    assert (out.pattern, out.path, out.upload) == ("out-4.txt", "r/4", "success")


def test_a_files_sweep_gives_file_and_its_index() -> None:
    spec = parse_spec(HEAD + "sweep: {id: 'f-{i}', files: [x.csv, y.csv], command: 'wc -l {file}'}\n")
    assert [(t.id, t.command) for t in expand_tasks(spec)] == [("f-0", "wc -l x.csv"), ("f-1", "wc -l y.csv")]


def test_a_container_sweep_downloads_each_blob_under_its_name() -> None:
    spec = parse_spec(HEAD + "sweep: {id: 'b-{i}', container: {url: 'https://s/c?sas'}, command: 'cat {file}'}\n")
    tasks = expand_tasks(spec, [("in/a.txt", "https://s/c/in/a.txt?sas")])
    assert tasks[0].command == "cat in/a.txt"
    assert tasks[0].resource_files == [ResourceFileSpec(url="https://s/c/in/a.txt?sas", path="in/a.txt")]
    with pytest.raises(SpecError, match="matches its glob"):
        expand_tasks(spec, [])


def test_a_task_list_and_an_auto_pool_with_defaults() -> None:
    spec = parse_spec("auto_pool: {}\njob: {id: j}\ntasks: [{id: t, command: 'true', max_retries: 2}]\n")
    assert spec.auto_pool is not None and spec.auto_pool.nodes == 1 and not spec.auto_pool.keep_alive
    assert spec.job.terminate_when_done
    assert [(t.id, t.max_retries) for t in expand_tasks(spec)] == [("t", 2)]


def test_a_pool_with_nodes_is_created_one_without_is_only_used() -> None:
    assert not parse_spec(HEAD + "tasks: [{id: t, command: c}]\n").pool.creates  # type: ignore[union-attr]
    created = parse_spec("pool: {id: p, low_priority_nodes: 2}\njob: {id: j}\ntasks: [{id: t, command: c}]\n")
    assert created.pool is not None and created.pool.creates


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Expected `object`, got `null`"),
        (HEAD + "sweep: {range: 0, command: c}\n", "`sweep.range` is empty"),
        (HEAD + "sweep: {range: {stop: 3, step: 0}, command: c}\n", "step` must not be 0"),
        (HEAD + "sweep: {id: 'x-{file}', files: [], command: c}\n", "`sweep.files` is empty"),
        (HEAD + "sweep: {id: 'x-{file}', files: [a, a], command: c}\n", "same id"),
        (HEAD + "tasks: []\n", "`tasks` is empty"),
        (HEAD + "sweep: {range: 2000000000, command: c}\n", "makes 2000000000 tasks; a job file makes at most 100000"),
        ("pool: {id: p, nodes: -1}\njob: {id: j}\ntasks: [{id: t, command: c}]\n", "`pool.nodes` must not be -1"),
        (
            HEAD + "tasks: [{id: t, command: c, output_files: [{pattern: x, container_url: u, upload: never}]}]\n",
            "at `$.tasks[0].output_files[0].upload`",
        ),
        (HEAD + "tasks: [{id: t, command: c, resource_files: [{url: u}]}]\n", "with a url needs a `path`"),
    ],
)
def test_what_is_refused(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        expand_tasks(parse_spec(text))
    assert message in str(caught.value)
