"""The architecture rules of DESIGN.md, checked on the source: imports point down the layers only."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "speciarl"

# Lower number = lower layer. A module may import speciarl modules of its own layer or below.
LAYERS = {
    "categories": 0, "answers": 0, "records": 0, "errors": 0, "__init__": 0,
    "rewards": 1, "metrics": 1, "judges": 1, "http": 1, "ioloop": 1, "configfile": 1,
    "predict": 2, "data": 2, "report": 2, "prompts": 2, "models": 2,
    "pipeline": 3, "train": 3, "demo": 3, "integrations": 3,
    "cli": 4,
}
CORE = {"categories", "answers", "records", "errors"}


def _top(module_path: Path) -> str:
    rel = module_path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _speciarl_imports(path: Path) -> tuple[set[str], set[str]]:
    """(top-level speciarl subpackages imported, third-party/stdlib top-level modules imported) at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel_parts = path.relative_to(PACKAGE).parts
    ours, others = set(), set()
    for node in tree.body:  # module level only: lazy imports inside functions are the allowed escape hatch
        for n in [node]:
            if isinstance(n, ast.Import):
                for alias in n.names:
                    name = alias.name
                    (ours.add(name.split(".")[1]) if name.startswith("speciarl.") else others.add(name.split(".")[0]))
            elif isinstance(n, ast.ImportFrom):
                if n.level:
                    target = list(rel_parts[: len(rel_parts) - n.level]) + (n.module.split(".") if n.module else [])
                    if target:
                        ours.add(target[0])
                    else:  # `from . import x` at the top: a subpackage, or a name of speciarl/__init__.py
                        ours.update(a.name if a.name in LAYERS else "__init__" for a in n.names)
                elif n.module and n.module.startswith("speciarl"):
                    parts = n.module.split(".")
                    ours.update([parts[1]] if len(parts) > 1 else [a.name for a in n.names])
                elif n.module:
                    others.add(n.module.split(".")[0])
    return ours, others


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    top = _top(path)
    assert top in LAYERS, f"new top-level module {top!r}: give it a layer in tests/test_layers.py"
    ours, others = _speciarl_imports(path)
    for target in ours:
        assert target in LAYERS, f"{path}: imports unknown speciarl module {target!r}"
        assert LAYERS[target] <= LAYERS[top], f"{path} ({top}) imports {target}, a higher layer"
    if top in CORE:
        stdlib = set(sys.stdlib_module_names) | {"__future__"}
        assert others <= stdlib, f"core module {path} imports third-party {others - stdlib}"


HEAVY = {"torch", "transformers", "trl", "peft", "vllm", "datasets", "accelerate", "sentence_transformers", "spacy"}


@pytest.mark.parametrize("path", [p for p in MODULES if _top(p) in {"cli", "report", "judges", "rewards", "metrics",
                                                                    "records", "categories", "answers", "pipeline"}],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_light_modules_import_no_heavy_library_at_module_level(path):
    _, others = _speciarl_imports(path)
    assert not (others & HEAVY), f"{path} imports {others & HEAVY} at module level; import it inside the function"
