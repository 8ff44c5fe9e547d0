"""The optional TOML file of `batchite serve` (`--config FILE`, `BATCHITE_CONFIG`).

Its keys are the settings' names at the top level, snake_case (`time_scale`) or kebab-case
(`time-scale`); a flag or a `BATCHITE_*` variable wins over the file, the file over the default.
Only the keys are checked here (unknown ones, with the closest name suggested, and ones given
twice); the values are checked by `Settings.validate`, like the flags' and the variables'.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from pathlib import Path
from typing import Any

from batchite.settings import Settings, coerce

ENV_VAR = "BATCHITE_CONFIG"


class ConfigFileError(ValueError):
    """The file cannot be used: missing, not TOML, or a key no setting has. `key` names the key, if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def setting_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Settings)]


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's settings by name (snake_case), values as the settings hold them (not yet checked)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigFileError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: cannot be read ({exc})") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path}: not valid TOML ({exc})") from exc
    return settings_of(document, str(path))


def settings_of(document: dict[str, Any], where: str) -> dict[str, Any]:
    """A parsed TOML document's settings; ConfigFileError on a key no setting has, or given twice."""
    names = setting_names()
    out: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for key, value in document.items():
        name = key.replace("-", "_")
        if name not in names:
            raise ConfigFileError(f"{where}: unknown key {key!r}{_suggestion(name, names)}", key)
        if name in out:
            raise ConfigFileError(f"{where}: {name!r} is given twice (as {keys[name]!r} and {key!r})", key)
        keys[name] = key
        out[name] = coerce(name, value)
    return out


def _suggestion(name: str, names: list[str]) -> str:
    if name == "batchite":
        return " (the settings are top-level keys, with no [batchite] table around them)"
    if name == "config":
        return " (a configuration file cannot name another)"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
