"""Frozen configuration dataclasses and the plumbing that turns them into CLI flags and JSON.

Every trainer has one frozen dataclass; its fields (with a ``help`` entry in their metadata) are the single
source of truth for defaults, ``--help`` text, config files and checkpoints. Nothing here holds mutable state.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A user-facing configuration problem (unknown key, bad value, unreadable file)."""


def option(default: Any, help: str) -> Any:
    """A dataclass field with a help string; tuples are stored as defaults directly (they are immutable)."""
    return dataclasses.field(default=default, metadata={"help": help})


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(name: str, kind: Any, value: Any) -> Any:
    """Convert a JSON/CLI value to the field's declared type, or raise ConfigError naming the field."""
    origin = typing.get_origin(kind)
    original = value
    try:
        if origin is tuple:
            (item_kind, *_rest) = typing.get_args(kind)
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            elif not isinstance(value, (list, tuple)):
                raise ValueError(value)
            return tuple(_coerce(name, item_kind, v) for v in value)
        if origin in (typing.Union, types.UnionType):  # Optional[X]
            if value is None or (isinstance(value, str) and value.lower() in ("", "none", "null")):
                return None
            inner = next(a for a in typing.get_args(kind) if a is not type(None))
            return _coerce(name, inner, value)
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind in (int, float) and isinstance(value, bool):
            raise ValueError(value)  # JSON true/false is not a number (int(True) would silently give 1)
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        if kind is str and not isinstance(value, str):
            raise ValueError(value)  # str([1]) would silently give "[1]"
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"config field '{name}': cannot read {original!r} as {_kind_name(kind)}") from None


def _kind_name(kind: Any) -> str:
    if typing.get_origin(kind) is tuple:
        return f"a comma-separated list of {_kind_name(typing.get_args(kind)[0])}"
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return " or ".join(_kind_name(a) for a in typing.get_args(kind))
    return {int: "int", float: "float", bool: "bool (true/false)", str: "str", type(None): "none"}.get(
        kind, getattr(kind, "__name__", str(kind)))


def _apply(cls: type, values: dict[str, Any], base: Any) -> Any:
    """``base`` with ``values`` coerced and substituted; unknown keys are an error; no validation."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown config field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(known))}")
    kinds = _field_types(cls)
    coerced = {k: _coerce(k, kinds[k], v) for k, v in values.items()}
    return dataclasses.replace(base if base is not None else cls(), **coerced)


def _validated(cfg: Any) -> Any:
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return cfg


def from_dict(cls: type, values: dict[str, Any], *, base: Any = None) -> Any:
    """Build ``cls`` from ``values`` on top of ``base`` (or the defaults); unknown keys are an error."""
    return _validated(_apply(cls, values, base))


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain JSON-able dict (tuples become lists), suitable for checkpoints loaded with weights_only=True."""
    out = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} not found; pass a JSON file of field: value pairs")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {p} is not valid JSON (not UTF-8 text: {e.reason})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {p} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a JSON object of field: value pairs")
    return data


def add_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """One ``--field-name`` flag per dataclass field; defaults are left as None so only given flags override."""
    kinds = _field_types(cls)
    defaults = cls()
    group = parser.add_argument_group(f"{cls.__name__} options")
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = f"{f.metadata.get('help', '')} (default: {shown})"
        kind = kinds[f.name]
        if typing.get_origin(kind) in (typing.Union, types.UnionType):  # Optional[X]: show X
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        metavar = "A,B,..." if typing.get_origin(kind) is tuple else getattr(kind, "__name__", "VALUE").upper()
        group.add_argument(flag, dest=f"cfg_{f.name}", default=None, help=help_text, metavar=metavar)


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}


def build(cls: type, presets: dict[str, dict[str, Any]], preset: str | None, file: str | None,
          flags: dict[str, Any], *, base: Any = None) -> Any:
    """Defaults (or ``base``) < preset < config file < command-line flags.

    The layers are merged first and validated once at the end, so a constraint between two fields (e.g. equal
    lengths of two lists) may be satisfied by different layers.
    """
    cfg = base if base is not None else cls()
    if preset is not None:
        if preset not in presets:
            raise ConfigError(f"unknown preset '{preset}'; known presets: {', '.join(sorted(presets))}")
        cfg = _apply(cls, presets[preset], cfg)
    if file is not None:
        try:
            cfg = _apply(cls, read_config_file(file), cfg)
        except ConfigError as e:
            msg = str(e)
            raise ConfigError(msg if msg.startswith("config file") else f"config file {file}: {msg}") from None
    return _validated(_apply(cls, flags, cfg))
