"""Label hierarchies of the benchmarks that have one, as TaxonomyJudge trees.

FGVC-Aircraft: manufacturer → family → variant; Stanford Cars: make → model (the class name without
its year) → "make model year"; Oxford Pets: species → breed. Each tree sits under one broad root
("aircraft", "car", "animal") so that the root is `generic` with the taxonomy judge's default
`less_specific_levels: 2` — except Oxford Pets, whose only level is the species, which the method
calls `generic` ("samoyed → dog"): grade it with `less_specific_levels: 0` (`LESS_SPECIFIC_LEVELS`).

The same functions serve `speciarl data taxonomy` (from the archives) and the gold set generator
(from the label facts shipped in `judges/gold/facts`), so both grade the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..answers import normalize
from .fastpaths import loose

# Short names people use for a manufacturer; also the prefix of "<maker> <variant>" synonyms.
MANUFACTURER_SYNONYMS = {
    "Lockheed Corporation": ["Lockheed"],
    "Douglas Aircraft Company": ["Douglas"],
    "Dassault Aviation": ["Dassault"],
    "Cirrus Aircraft": ["Cirrus"],
    "British Aerospace": ["BAe"],
    "Bombardier Aerospace": ["Bombardier"],
}
ROOTS = {
    "fgvc_aircraft": ("aircraft", ["airplane", "aeroplane", "plane"]),
    "stanford_cars": ("car", ["automobile", "motor vehicle", "vehicle"]),
    "oxford_pets": ("animal", ["pet", "mammal"]),
}
SPECIES_SYNONYMS = {"cat": ["domestic cat"], "dog": ["domestic dog"]}
LESS_SPECIFIC_LEVELS = {"fgvc_aircraft": 2, "stanford_cars": 2, "oxford_pets": 0}


def key(label: str) -> str:
    """How the taxonomy judge compares names: normalised, dashes read as spaces."""
    return loose(normalize(label))


def node(name: str, synonyms: Iterable[str] = (), children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    syn = [s for s in dict.fromkeys(synonyms) if key(s) != key(name)]
    if syn:
        out["synonyms"] = syn
    if children:
        out["children"] = children
    return out


def maker_prefix(manufacturer: str) -> str:
    return (MANUFACTURER_SYNONYMS.get(manufacturer) or [manufacturer])[0]


def prefixed_variant(variant: str, manufacturer: str) -> str | None:
    """ "737-800" by Boeing → "Boeing 737-800"; None where the name already starts with the maker."""
    prefix = maker_prefix(manufacturer)
    if key(variant).startswith(key(prefix).split()[0]):
        return None
    return f"{prefix} {variant}"


def family_node_name(family: str, variants: Iterable[str], manufacturer: str) -> str:
    """A family named like one of its variants (A320, MD-80, Boeing 717; "Embraer ERJ 145" = the maker
    and variant ERJ 145) becomes "<family> family", so the variant's own name stays `specific`."""
    names = {key(v) for v in variants} | {key(p) for v in variants if (p := prefixed_variant(v, manufacturer))}
    return f"{family} family" if key(family) in names else family


def aircraft_tree(rows: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """(variant, family, manufacturer) rows → the FGVC-Aircraft tree (duplicates allowed)."""
    makers: dict[str, dict[str, list[str]]] = {}
    for variant, family, maker in rows:
        variants = makers.setdefault(maker, {}).setdefault(family, [])
        if variant not in variants:
            variants.append(variant)
    children = []
    for maker in sorted(makers, key=str.lower):
        families = []
        for family in sorted(makers[maker], key=str.lower):
            variants = sorted(makers[maker][family], key=str.lower)
            leaves = [node(v, [p] if (p := prefixed_variant(v, maker)) else []) for v in variants]
            families.append(node(family_node_name(family, variants, maker), [], leaves))
        children.append(node(maker, MANUFACTURER_SYNONYMS.get(maker, []), families))
    name, synonyms = ROOTS["fgvc_aircraft"]
    return node(name, synonyms, children)


def strip_year(class_name: str) -> str:
    """ "Audi R8 Coupe 2012" → "Audi R8 Coupe" (the class name when it ends in a year, else itself)."""
    head, _, last = class_name.rpartition(" ")
    return head if head and last.isdigit() and len(last) == 4 else class_name


def year_first(class_name: str) -> str | None:
    """ "Audi R8 Coupe 2012" → "2012 Audi R8 Coupe" (how people write a model year)."""
    model = strip_year(class_name)
    return None if model == class_name else f"{class_name.rsplit(' ', 1)[1]} {model}"


def cars_tree(rows: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """(class name, make) rows → make → model (name without year) → class."""
    makes: dict[str, dict[str, list[str]]] = {}
    for name, make in rows:
        classes = makes.setdefault(make, {}).setdefault(strip_year(name), [])
        if name not in classes:
            classes.append(name)
    children = []
    for make in sorted(makes, key=str.lower):
        models = []
        for model in sorted(makes[make], key=str.lower):
            classes = sorted(makes[make][model])
            if classes == [model]:  # a class name without a year: no model level to add
                models.append(node(model))
                continue
            models.append(node(model, [], [node(c, [y] if (y := year_first(c)) else []) for c in classes]))
        children.append(node(make, [], models))
    name, synonyms = ROOTS["stanford_cars"]
    return node(name, synonyms, children)


def pets_tree(rows: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """(breed, species) rows → species → breed."""
    species: dict[str, list[str]] = {}
    for breed, kind in rows:
        breeds = species.setdefault(kind, [])
        if breed not in breeds:
            breeds.append(breed)
    children = [node(kind, SPECIES_SYNONYMS.get(kind, []), [node(b) for b in sorted(species[kind], key=str.lower)])
                for kind in sorted(species)]
    name, synonyms = ROOTS["oxford_pets"]
    return node(name, synonyms, children)


def to_yaml(tree: dict[str, Any], header: str = "") -> str:
    """The tree as the YAML file TaxonomyJudge reads, with a comment header."""
    import yaml

    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, width=120)
