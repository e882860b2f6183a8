"""YAML config files shared by `speciarl eval` and `speciarl train`: one reader, one inheritance rule.

A top-level `extends: other.yaml` (relative to the file) is read first and this file's keys are
deep-merged over it, so presets state only what differs from the recipe they vary.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError


def merge_mappings(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key (`over` wins); lists and scalars are replaced whole."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merge_mappings(out[key], value) if both else value
    return out


def load_yaml_config(path: str | os.PathLike[str], _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The mapping in `path` with its `extends` chain merged underneath; errors name the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file" + (f" (extended by {_chain[-1]})" if _chain else ""))
    if path.resolve() in _chain:
        raise ConfigError(f"{path}: `extends` loops back to itself")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    return merge_mappings(load_yaml_config(path.parent / str(parent), (*_chain, path.resolve())), data)


# -- typed sections ---------------------------------------------------------------------------------
# Every config section is a pydantic model (`Section`): its fields are the known keys, their types are
# checked (strictly: `r: "sixty"` and `plots: "no"` are errors, an int is accepted where a float is
# expected), defaults live in the field, and `help` is shown by `speciarl config show-schema`.
# Pydantic rather than dataclasses + a hand-written checker: it is the standard typed-config library,
# its strict mode and error locations are exactly what the messages need, and it costs ~0.1 s of import
# on the commands that read a config (never on `speciarl --help`).

from typing import get_args, get_origin  # noqa: E402

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError  # noqa: E402

OPERATIONAL = "operational"


class Section(BaseModel):
    """A config section: unknown keys are errors, values are type-checked, fields carry help text."""

    model_config = ConfigDict(extra="forbid", strict=True)


def option(default: Any = ..., help: str = "", *, operational: bool = False, **kwargs: Any) -> Any:
    """A section field: default, help text and whether it is operational (changes speed or plumbing,
    never a prediction or a grade, so the eval run hash leaves it out)."""
    extra = {OPERATIONAL: True} if operational else None
    if "default_factory" in kwargs:
        return Field(description=help, json_schema_extra=extra, **kwargs)
    return Field(default, description=help, json_schema_extra=extra, **kwargs)


def field_defaults(cls: type[BaseModel]) -> Any:
    """The defaults of a section's optional fields as attributes (`D.concurrency`): the class a section
    configures takes its keyword defaults from here, so a default is written once, in the schema."""
    from types import SimpleNamespace

    return SimpleNamespace(**{name: f.get_default(call_default_factory=True)
                              for name, f in cls.model_fields.items() if not f.is_required()})


def redact_secrets(data: dict[str, Any], cls: type[BaseModel]) -> dict[str, Any]:
    """`data` with the values of `cls`'s secret fields replaced by `**********` (for what we write)."""
    return {k: "**********" if k in cls.model_fields and _is_secret(cls.model_fields[k].annotation) and v else v
            for k, v in data.items()}


def redact_url_passwords(value: Any) -> Any:
    """Every `scheme://user:password@host` in a (nested) config value with the password redacted."""
    import re

    if isinstance(value, dict):
        return {k: redact_url_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_url_passwords(v) for v in value]
    if isinstance(value, str) and "://" in value and "@" in value:
        return re.sub(r"(://[^/@\s]*?:)[^/@\s]+@", r"\1**********@", value)
    return value


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def operational_keys(*sections: type[BaseModel]) -> frozenset[str]:
    """The names of the fields marked operational in these sections."""
    return frozenset(name for cls in sections for name, f in cls.model_fields.items()
                     if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get(OPERATIONAL))


def type_name(annotation: Any) -> str:
    """`int | None`, `list[str]`, `one of 'a', 'b'`: a type as a config user reads it."""
    import types
    from typing import Literal, Union

    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in get_args(annotation))
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    if origin is not None:
        args = get_args(annotation)
        base = {list: "list", dict: "mapping", tuple: "list"}.get(origin, getattr(origin, "__name__", str(origin)))
        return f"{base}[{', '.join(type_name(a) for a in args)}]" if args and origin is list else base
    if annotation is SecretStr:
        return "str (secret)"
    return getattr(annotation, "__name__", str(annotation))


def _close(key: str, known: Any) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _field_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, Any, type[BaseModel] | None]:
    """For a pydantic error location: (dotted key path, annotation of the deepest field, the section
    model that field's keys belong to, if it is one)."""
    path, annotation, node = "", None, cls
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        if not (isinstance(node, type) and issubclass(node, BaseModel)) or part not in node.model_fields:
            break  # a union member tag or an unknown key: the field above is what the user wrote
        annotation = node.model_fields[part].annotation
        path += ("." if path else "") + part
        node = annotation
        for arg in get_args(annotation):  # `Sub | None`, `list[Sub]`: descend into the model
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                node = arg
    return path, annotation, node if isinstance(node, type) and issubclass(node, BaseModel) else None


def explain(exc: ValidationError, cls: type[BaseModel], where: str, path: Any) -> str:
    """One line per wrong key: file, key, expected type and the value given (secrets never shown)."""
    lines: list[str] = []
    seen: set[str] = set()
    prefix = f"{path}: " if path is not None else ""
    for err in exc.errors():
        key, annotation, section = _field_at(cls, err["loc"])
        full = ".".join(p for p in (where, key) if p)
        if full in seen:
            continue
        seen.add(full)
        given = "<redacted>" if _is_secret(annotation) else repr(err.get("input"))
        if err["type"] == "extra_forbidden":
            name = str(err["loc"][-1])
            known_names = sorted(section.model_fields) if section else []
            lines.append(f"{prefix}unknown key `{'.'.join(p for p in (full, name) if p)}`{_close(name, known_names)}"
                         + (f"; known: {', '.join(known_names)}" if known_names else "")
                         + (SECRET_HINT if name in ("api_key", "token", "password") else ""))
        elif err["type"] == "missing":
            lines.append(f"{prefix}`{full}` is required ({type_name(annotation)})")
        elif err["type"].endswith("_type") or err["type"] in ("literal_error", "model_type", "dict_type"):
            lines.append(f"{prefix}`{full}`: expected {type_name(annotation)}, got {given}"
                         + ("" if _is_secret(annotation) else yaml_number_hint(annotation, err.get("input"))))
        else:
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{prefix}`{full}`: {message} (got {given})")
    return "\n".join(lines)


def yaml_number_hint(annotation: Any, value: Any) -> str:
    """YAML 1.1 reads `3e-5` as text: say so when a float was expected and the text is a number."""
    if not isinstance(value, str) or "float" not in type_name(annotation):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    return f" (YAML reads {value} as text: write it with a decimal point, e.g. {float(value)!r})"


SECRET_HINT = ("; literal keys are not accepted here: put the key in an environment variable and name it "
               "with `api_key_env`")


S = TypeVar("S", bound=BaseModel)


def check_section(cls: type[S], data: Any, where: str = "", path: Any = None) -> S:
    """A validated section from a mapping (None: all defaults); ConfigError naming file and key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        prefix = f"{path}: " if path is not None else ""
        raise ConfigError(f"{prefix}`{where or 'config'}` must be a mapping, got {type(data).__name__}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(explain(exc, cls, where, path)) from None
    except ConfigError as exc:  # a section's own cross-field check
        raise ConfigError(f"{path}: {exc}" if path is not None else str(exc)) from None


def schema_rows(cls: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, help) for every field, nested sections flattened with dotted keys."""
    from pydantic_core import PydanticUndefined

    rows = []
    for name, f in cls.model_fields.items():
        key = f"{prefix}{name}"
        nested = [a for a in (f.annotation, *get_args(f.annotation))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        if f.default is PydanticUndefined and f.default_factory is None:
            default = "(required)"
        else:
            value = f.get_default(call_default_factory=True)
            default = "" if isinstance(value, BaseModel) else repr(value)
        rows.append((key, type_name(f.annotation), default, f.description or ""))
        if nested:
            rows += schema_rows(nested[0], key + ".")
    return rows
