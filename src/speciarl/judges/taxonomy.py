"""A deterministic judge from a label hierarchy: no server, > 100k pairs/s.

It grades the embedded demo and the tests, and serves as the oracle to audit LLM judges. The file
(YAML or JSON) is a root node or a list of root nodes; a node is
`{name: str, synonyms: [str], children: [node]}`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..answers import normalize
from ..categories import Category, order
from ..errors import ConfigError
from .base import BaseJudge, Pair, Verdict, text_hash
from .cache import Cache
from .config import TaxonomyJudgeOptions
from .fastpaths import FastPaths, loose

_LEVELS = TaxonomyJudgeOptions.model_fields["less_specific_levels"].default  # defined once, in the schema


@dataclass
class Node:
    name: str
    depth: int
    parent: int | None
    ancestors: dict[int, int]  # ancestor node id -> levels up


class Taxonomy:
    """Nodes indexed by every normalised name and synonym, dashes read as spaces (a name may sit in
    several places)."""

    def __init__(self, roots: Any, *, source: str = "<memory>"):
        self.source = source
        self.nodes: list[Node] = []
        self.index: dict[str, list[int]] = {}
        if isinstance(roots, dict):
            roots = [roots]
        if not isinstance(roots, list) or not roots:
            raise ConfigError(f"taxonomy {source}: expected a node or a non-empty list of nodes")
        stack = [(node, None, f"[{i}]") for i, node in reversed(list(enumerate(roots)))]
        while stack:
            node, parent, where = stack.pop()
            node_id = self._add(node, parent, where)
            children = node.get("children") or []
            if not isinstance(children, list):
                raise ConfigError(f"taxonomy {source}: node {where} ({node.get('name')!r}): 'children' must be a list")
            for j in reversed(range(len(children))):
                stack.append((children[j], node_id, f"{where}.children[{j}]"))

    def _add(self, node: Any, parent: int | None, where: str) -> int:
        if not isinstance(node, dict):
            raise ConfigError(f"taxonomy {self.source}: node {where}: expected a mapping, got {type(node).__name__}")
        name = node.get("name")
        if not isinstance(name, str) or not normalize(name):
            raise ConfigError(f"taxonomy {self.source}: node {where}: missing or empty 'name'")
        synonyms = node.get("synonyms") or []
        if not isinstance(synonyms, list) or not all(isinstance(s, str) for s in synonyms):
            raise ConfigError(f"taxonomy {self.source}: node {where} ({name!r}): 'synonyms' must be a list of strings")
        unknown = set(node) - {"name", "synonyms", "children"}
        if unknown:
            raise ConfigError(f"taxonomy {self.source}: node {where} ({name!r}): unknown keys {sorted(unknown)}")
        node_id = len(self.nodes)
        ancestors: dict[int, int] = {}
        if parent is not None:
            ancestors = {a: d + 1 for a, d in self.nodes[parent].ancestors.items()}
            ancestors[parent] = 1
        depth = 0 if parent is None else self.nodes[parent].depth + 1
        self.nodes.append(Node(name, depth, parent, ancestors))
        for label in {loose(normalize(name)), *(loose(normalize(s)) for s in synonyms)}:
            if label:
                ids = self.index.setdefault(label, [])
                if node_id not in ids:
                    ids.append(node_id)
        return node_id

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> tuple[Taxonomy, bytes]:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"taxonomy {path}: cannot read ({exc.strerror or exc})") from None
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(raw)
            else:
                import yaml

                data = yaml.safe_load(raw)
        except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
            kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
            raise ConfigError(f"taxonomy {path}: not valid {kind} ({exc})") from None
        return cls(data, source=str(path)), raw

    def relation(self, gt_norm: str, answer_norm: str, less_specific_levels: int) -> Category | None:
        """The best category over every placement of the two labels; None if the ground truth is unknown."""
        gt_ids = self.index.get(loose(gt_norm))
        if not gt_ids:
            return None
        ans_ids = self.index.get(loose(answer_norm))
        if not ans_ids:
            return Category.WRONG
        best = Category.WRONG
        for g in gt_ids:
            g_anc = self.nodes[g].ancestors
            for a in ans_ids:
                if a == g:
                    return Category.SPECIFIC
                up = g_anc.get(a)
                if up is not None:
                    found = Category.LESS_SPECIFIC if up <= less_specific_levels else Category.GENERIC
                elif g in self.nodes[a].ancestors:
                    found = Category.MORE_SPECIFIC
                else:
                    continue
                if order(found) > order(best):
                    best = found
        return best


class TaxonomyJudge(BaseJudge):
    """Same node or synonym → specific; ancestor ≤ `less_specific_levels` up → less specific;
    farther ancestor → generic; descendant → more specific; else wrong; refusals → abstain.

    A ground truth missing from the taxonomy is an error verdict (fix the file), never a guess.
    """

    source = "taxonomy"
    grades_inline = True

    def __init__(self, taxonomy_path: str | os.PathLike[str] | None = None, *, taxonomy: Taxonomy | None = None,
                 less_specific_levels: int = _LEVELS, fast_paths: FastPaths | None = None, cache: Cache | None = None):
        super().__init__(fast_paths=fast_paths, cache=cache)
        if taxonomy is None:
            if taxonomy_path is None:
                raise ConfigError("TaxonomyJudge needs a taxonomy file (YAML or JSON)")
            taxonomy, raw = Taxonomy.load(taxonomy_path)
            name = Path(taxonomy_path).stem
        else:
            raw, name = repr(sorted(taxonomy.index.items())).encode(), "memory"
        if less_specific_levels < 0:
            raise ConfigError(f"less_specific_levels must be >= 0, got {less_specific_levels}")
        self.taxonomy = taxonomy
        self.less_specific_levels = less_specific_levels
        self.prompt_hash = text_hash(raw + f"|levels={less_specific_levels}|{self.fast_paths.describe()}".encode())
        self.identity = f"taxonomy:{name}:{self.prompt_hash[:12]}"

    async def _grade_unique(self, pairs: list[Pair]) -> list[Verdict]:
        return self.grade_normalized(pairs)

    def grade_normalized(self, pairs: Sequence[Pair]) -> list[Verdict]:
        """Grades of already-normalised pairs, no fast paths (the audit oracle uses this directly)."""
        out = []
        relation, levels, shared = self.taxonomy.relation, self.less_specific_levels, _VERDICTS
        for gt, answer in pairs:
            category = relation(gt, answer, levels)
            if category is None:
                out.append(Verdict(None, error=f"ground truth {gt!r} is not in taxonomy {self.taxonomy.source}",
                                   source="taxonomy"))
            else:
                out.append(shared[category])
        return out


_VERDICTS = {c: Verdict(c, source="taxonomy") for c in Category}  # immutable, shared
