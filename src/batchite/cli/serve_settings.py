"""The settings of `batchite serve` from its three sources: the flags and `BATCHITE_*` variables
(click has read them), then the `--config` file's keys for the settings left at their defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from batchite.config_file import ENV_VAR as CONFIG_ENV_VAR
from batchite.config_file import ConfigFileError, read_config_file
from batchite.settings import Settings, SettingsError, settings_table

errors = Console(stderr=True)


def settings_from(ctx: typer.Context, config: Path | None, values: dict[str, Any]) -> Settings:
    """The flags and variables given, the file's keys for the rest; exit 2 naming the setting
    (as its flag, its variable or its key in the file) when a value is wrong."""
    from_file: dict[str, Any] = {}
    if config is not None:
        try:
            from_file = read_config_file(config)
        except ConfigFileError as exc:
            given = CONFIG_ENV_VAR if _source(ctx, "config") == "ENVIRONMENT" else "--config"
            errors.print(f"[red]{given}:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
            raise typer.Exit(2) from exc
    sources = {name: _source(ctx, name) for name in values}
    for name, value in from_file.items():
        if sources[name] in ("DEFAULT", "DEFAULT_MAP"):
            values[name] = value
    try:
        return Settings(**values)
    except SettingsError as exc:
        info = next(i for i in settings_table() if i.name == exc.key)
        source = sources[exc.key]
        if source == "COMMANDLINE":
            where = info.flag
        elif source == "ENVIRONMENT":
            where = info.env
        elif exc.key in from_file:
            where = f"{exc.key} (in {config})"
        else:
            where = exc.key
        errors.print(f"[red]{escape(where)}:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from exc


def _source(ctx: typer.Context, name: str) -> str:
    """Where a parameter's value came from: COMMANDLINE, ENVIRONMENT, DEFAULT (by name: typer's
    vendored click has a ParameterSource of its own)."""
    return str(getattr(ctx.get_parameter_source(name), "name", "DEFAULT"))
