"""Load a run config: defaults <- a YAML file <- command-line flags, parsed into the typed sections of
`rac_bench.config`, then validated (`rac_bench.validation`) before any work."""

from __future__ import annotations

from pathlib import Path

import yaml

from rac_bench.calibration.presets import with_preset
from rac_bench.config import COUNT_KEYS, FLAGS, MOVED_KEYS, RunConfig
from rac_bench.config_fields import parse_section
from rac_bench.errors import ConfigError, first_line
from rac_bench.input_files import load_yaml, read_text
from rac_bench.validation import validate


def _read_file(config_file: Path) -> dict:
    text = read_text(config_file, ConfigError, "config file")
    try:
        loaded = load_yaml(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {config_file} is not valid YAML: {first_line(error)}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {config_file} must be a mapping of option: value")
    return loaded


def _set(values: dict, path: tuple[str, ...], value) -> None:
    """Set a flag's value at its path; a mapping (e.g. --vllm options) updates the file's key by key."""
    *sections, name = path
    for section in sections:
        inner = values.get(section)
        values[section] = inner = dict(inner) if isinstance(inner, dict) else ({} if inner is None else inner)
        if not isinstance(inner, dict):
            raise ConfigError(f"{section} must be a mapping of option: value, got {inner!r}")
        values = inner
    both_mappings = isinstance(value, dict) and isinstance(values.get(name), dict)
    values[name] = {**values[name], **value} if both_mappings else value


def _refuse_flat_keys(values: dict) -> None:
    """rac-bench 0.1.0 configs had flat keys (calibration_samples: 128): say where each one lives now."""
    for key in COUNT_KEYS:
        if key in values:
            raise ConfigError(
                f"config option {key} is gone: every calibration source draws until it meets a token budget; "
                "write `calibration: {tokens: N}` with N in tokens, not sequences"
            )
    moved = {key: FLAGS[key] for key in values if key in FLAGS and len(FLAGS[key]) > 1}
    moved.update({key: path for key, path in MOVED_KEYS.items() if key in values})
    if moved:
        key, path = next(iter(moved.items()))
        nested = "..."
        for part in reversed(path):
            nested = f"{{{part}: {nested}}}"
        raise ConfigError(f"config option {key} now lives in a section: write `{nested[1:-1]}` (README: Run config)")


def build_config(config_file: Path | None = None, flags: dict | None = None) -> RunConfig:
    """Defaults <- YAML file <- flags (by argparse dest; None means 'not given'), then validation."""
    values = _read_file(config_file) if config_file is not None else {}
    _refuse_flat_keys(values)
    for dest, value in (flags or {}).items():
        if value is not None:
            _set(values, FLAGS[dest], value)
    if isinstance(values.get("calibration"), dict):
        values["calibration"] = with_preset(values["calibration"])
    return validate(parse_section(RunConfig, values, ""))
