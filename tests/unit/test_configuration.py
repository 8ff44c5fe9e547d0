"""`batchite serve`'s settings from a flag, a BATCHITE_* variable, a TOML file (--config) or the
default, in that order; every kind of bad configuration fails with exit code 2 and a line naming the
setting as it was given; docs/configuration.md is what tools/gen_config_docs.py makes of the code.
The serve command runs in-process (typer's runner) with a `run` that records the Settings."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from batchite.cli.main import _serve_command
from batchite.config_file import ConfigFileError, read_config_file, settings_of
from batchite.settings import Settings, SettingsError, settings_table

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_batchite_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' own BATCHITE_* variables (tests/conftest.py sets one) would count as given."""
    import os

    for name in list(os.environ):
        if name.startswith("BATCHITE_"):
            monkeypatch.delenv(name)


def serve(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, Settings | None]:
    """Run `serve ARGS`: its exit code, its stderr, and the settings it would have served with."""
    got: list[Settings] = []
    app = typer.Typer()
    app.command("serve")(_serve_command(got.append))
    app.command("other")(lambda: None)  # two commands: `serve` stays a subcommand
    result = CliRunner().invoke(app, ["serve", *args], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr, got[0] if got else None


def toml(tmp_path: Path, text: str, name: str = "batchite.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_file_stands_in_for_defaults_and_variables_and_flags_win_over_it(tmp_path: Path) -> None:
    config = toml(tmp_path, 'time_scale = 3\npool_quota = 7\nlog_format = "json"\ndata_dir = "state"\n')
    code, _, settings = serve(["--config", config])
    assert code == 0 and settings is not None
    assert (settings.time_scale, settings.pool_quota, settings.log_format) == (3.0, 7, "json")
    assert settings.data_dir == Path("state") and settings.port == Settings().port  # not in the file: default

    code, _, settings = serve(["--config", config], env={"BATCHITE_TIME_SCALE": "5", "BATCHITE_POOL_QUOTA": "8"})
    assert settings is not None and (settings.time_scale, settings.pool_quota, settings.log_format) == (5.0, 8, "json")

    env = {"BATCHITE_TIME_SCALE": "5", "BATCHITE_POOL_QUOTA": "8"}
    code, _, settings = serve(["--config", config, "--time-scale", "9"], env=env)
    assert settings is not None and (settings.time_scale, settings.pool_quota) == (9.0, 8)


def test_a_flag_given_as_its_default_value_still_wins_over_the_file(tmp_path: Path) -> None:
    config = toml(tmp_path, "port = 9000\nstop_agents = true\n")
    _, _, settings = serve(["--config", config, "--port", str(Settings().port), "--no-stop-agents"])
    assert settings is not None and settings.port == Settings().port and settings.stop_agents is False


def test_the_file_is_named_by_a_variable_too_and_kebab_keys_are_accepted(tmp_path: Path) -> None:
    config = toml(tmp_path, "time-scale = 2.5\nstop-agents = true\npreemption-seed = 42\n")
    code, _, settings = serve([], env={"BATCHITE_CONFIG": config})
    assert code == 0 and settings is not None
    assert (settings.time_scale, settings.stop_agents, settings.preemption_seed) == (2.5, True, 42)


def test_with_no_file_the_defaults_are_the_settings_defaults() -> None:
    code, _, settings = serve([])
    assert code == 0 and settings == Settings()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("tme_scale = 2\n", "unknown key 'tme_scale'; did you mean 'time_scale'?"),
        ("[batchite]\nport = 1\n", "unknown key 'batchite' (the settings are top-level keys"),
        ("time_scale = 1\ntime-scale = 2\n", "'time_scale' is given twice (as 'time_scale' and 'time-scale')"),
        ("port =\n", "not valid TOML (Invalid value (at line 1, column 7))"),
    ],
)
def test_a_bad_key_or_a_file_that_is_not_toml_stops_the_service(tmp_path: Path, text: str, named: str) -> None:
    code, err, settings = serve(["--config", toml(tmp_path, text)])
    assert code == 2 and settings is None
    assert err.startswith("--config: ") and named in err and "Traceback" not in err


def test_a_missing_file_stops_the_service_naming_how_it_was_given(tmp_path: Path) -> None:
    code, err, _ = serve(["--config", str(tmp_path / "absent.toml")])
    assert code == 2 and err.startswith("--config: ") and "absent.toml: no such file" in err
    code, err, _ = serve([], env={"BATCHITE_CONFIG": str(tmp_path / "absent.toml")})
    assert code == 2 and err.startswith("BATCHITE_CONFIG: ") and "absent.toml: no such file" in err


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('port = "80"', "port (in {f}): must be an integer, not '80' (a string)"),
        ("port = 70000", "port (in {f}): must be between 0 and 65535, not 70000"),
        ("https_port = -1", "https_port (in {f}): must be between 0 and 65535, not -1"),
        ("time_scale = 0", "time_scale (in {f}): must be more than 0, not 0.0"),
        ("time_scale = true", "time_scale (in {f}): must be a number, not True (a boolean)"),
        ("stop_agents = 1", "stop_agents (in {f}): must be true or false, not 1 (an integer)"),
        ("data_dir = 5", "data_dir (in {f}): must be a path, not 5 (an integer)"),
        ("nodes_per_agent = 0", "nodes_per_agent (in {f}): must be at least 1, not 0"),
        ('log_format = "xml"', "log_format (in {f}): must be one of console, json, not 'xml'"),
        ('isolation = "vm"', "isolation (in {f}): must be one of none, users, sandbox (or empty"),
        ('backend = "k8s"', "backend (in {f}): must be one of local, ray, not 'k8s'"),
        ('container_engine = "lxc"', "container_engine (in {f}): must be one of auto, podman, docker, none"),
        ("pool_quota = [1]", "pool_quota (in {f}): must be an integer, not [1] (an array)"),
    ],
)
def test_a_bad_value_in_the_file_is_named_by_its_key(tmp_path: Path, line: str, message: str) -> None:
    config = toml(tmp_path, line + "\n")
    code, err, settings = serve(["--config", config])
    assert code == 2 and settings is None
    assert message.format(f=config) in " ".join(err.split()), err


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BATCHITE_PORT": "abc"}, "'--port' (env var: 'BATCHITE_PORT')"),  # the type: click's check
        ({"BATCHITE_STOP_AGENTS": "maybe"}, "'--stop-agents' (env var: 'BATCHITE_STOP_AGENTS')"),
        ({"BATCHITE_PORT": "70000"}, "BATCHITE_PORT: must be between 0 and 65535, not 70000"),
        ({"BATCHITE_TIME_SCALE": "-1"}, "BATCHITE_TIME_SCALE: must be more than 0, not -1.0"),
        ({"BATCHITE_LOG_FORMAT": "xml"}, "BATCHITE_LOG_FORMAT: must be one of console, json, not 'xml'"),
    ],
)
def test_a_bad_variable_is_named(env: dict[str, str], message: str) -> None:
    code, err, settings = serve([], env=env)
    assert code == 2 and settings is None
    assert message in " ".join(err.split()), err


def test_a_bad_flag_is_named_even_when_the_file_has_a_good_value(tmp_path: Path) -> None:
    config = toml(tmp_path, "time_scale = 2\n")
    code, err, _ = serve(["--config", config, "--time-scale", "0"])
    assert code == 2 and err.startswith("--time-scale: must be more than 0")
    code, err, _ = serve(["--mgmt-port", "65536"])
    assert code == 2 and err.startswith("--mgmt-port: must be between 0 and 65535, not 65536")


def test_settings_built_in_code_are_checked_alike() -> None:
    with pytest.raises(SettingsError) as err:
        Settings(port=-1)
    assert err.value.key == "port"
    with pytest.raises(SettingsError) as err:
        dataclasses.replace(Settings(), container_engine="lxc")
    assert err.value.key == "container_engine"
    assert Settings(time_scale=2).time_scale == 2  # an int is a number


def test_every_setting_is_a_key_of_the_file() -> None:
    for info in settings_table():
        assert settings_of({info.name: info.default} if info.default is not None else {}, "f") is not None
    with pytest.raises(ConfigFileError) as err:
        settings_of({"prot": 1}, "f")
    assert err.value.key == "prot" and "did you mean 'port'?" in str(err.value)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_docs", ROOT / "tools" / "gen_config_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_page_is_current_and_lists_every_setting() -> None:
    generator = _generator()
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert page == generator.render(), "docs/configuration.md is stale: run python tools/gen_config_docs.py"
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [f.name for f in dataclasses.fields(Settings)]
    for info, row in zip(settings_table(), rows, strict=True):
        assert f"`{info.flag}`" in row and f"`{info.env}`" in row
    assert generator.main(["--check"]) == 0


def test_the_check_fails_on_a_stale_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text("# Configuration\n")
    generator = _generator()
    assert generator.main(["--check", "--output", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err


def test_the_pages_example_file_is_a_good_configuration(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    match = re.search(r"```toml\n(.*?)```", page, re.S)
    assert match is not None
    tomllib.loads(match.group(1))
    values: dict[str, Any] = read_config_file(Path(toml(tmp_path, match.group(1))))
    settings = Settings(**values)
    assert settings.dedicated_core_quota == 200 and settings.log_format == "json"
