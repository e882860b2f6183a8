"""The `model:` schemas match the backends they configure: same keys, same defaults (the Python API and
the config file cannot drift apart), and the schemas build the backends they describe."""

from __future__ import annotations

import inspect

import pytest

from speciarl.predict import BACKEND_SCHEMAS, backend_class
from speciarl.predict.config import TinyBuild


def constructor_defaults(func) -> dict:
    params = list(inspect.signature(func).parameters.values())[1:]  # self / out_dir
    return {p.name: (p.default if p.default is not p.empty else ...) for p in params}


@pytest.mark.parametrize("backend", list(BACKEND_SCHEMAS))
def test_schema_fields_and_defaults_are_the_backends(backend):
    schema = BACKEND_SCHEMAS[backend]
    fields = {name: f.default for name, f in schema.model_fields.items() if name not in ("backend", "tiny")}
    fields = {k: (... if v is inspect.Parameter.empty or repr(v) == "PydanticUndefined" else v)
              for k, v in fields.items()}
    ctor = constructor_defaults(backend_class(backend).__init__)
    if "path" in ctor:
        ctor["path"] = None  # required by the class; in the file, `tiny` may stand for it
    assert fields == ctor


def test_tiny_build_defaults_are_the_builders():
    from speciarl.models.tiny import build_tiny_vlm

    ctor = constructor_defaults(build_tiny_vlm)
    ctor["words"] = None  # default: the benchmark's labels (resolved by the eval pipeline)
    fields = {name: f.default for name, f in TinyBuild.model_fields.items() if name != "dir"}
    assert fields == ctor
