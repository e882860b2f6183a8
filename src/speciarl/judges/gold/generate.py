"""Writes gold-v{N}.jsonl from the label facts (`facts/`) and `handwritten.tsv`.

    python -m speciarl.judges.gold.generate [--out FILE]

Generated items come from named rules over the benchmarks' own hierarchies (FGVC-Aircraft
variant → family → manufacturer, Stanford Cars class → model → make, Oxford Pets breed → species)
and over CUB's naming convention (a species name ends in its group noun: "Laysan Albatross").
Each rule keeps at most `CAPS[rule]` items, picked by a hash of the pair, so the output depends on
nothing but the inputs. Every pair is checked against every other on the judge's view of it
(normalised, dashes as spaces): the same pair with two labels stops the generator.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import defaultdict
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from ...categories import LABELS
from ..hierarchy import ROOTS, family_node_name, key, prefixed_variant, strip_year, year_first
from . import DOMAINS, GOLD_VERSION, GoldError, GoldItem, default_gold_path, item_id

# rule -> the most items it contributes
CAPS = {
    "aircraft/variant-family": 25, "aircraft/family-variant": 20, "aircraft/variant-manufacturer": 18,
    "aircraft/manufacturer-variant": 12, "aircraft/variant-root": 12, "aircraft/prefixed": 18,
    "aircraft/sibling": 22, "aircraft/other-family": 12, "aircraft/other-manufacturer": 8,
    "cars/class-model": 15, "cars/model-class": 10, "cars/class-make": 15, "cars/make-class": 12,
    "cars/class-root": 12, "cars/year-first": 15, "cars/same-make": 15, "cars/other-make": 8,
    "pets/breed-species": 25, "pets/species-breed": 14, "pets/breed-root": 8, "pets/sibling-shared-word": 12,
    "pets/sibling": 8, "pets/other-species": 10,
    "birds/species-group": 22, "birds/group-species": 14, "birds/species-root": 10,
    "birds/sibling": 22, "birds/shared-first-word": 8,
}
# Makers whose names a reasonable judge may read as one company (mergers, badges): never "wrong" pairs.
RELATED_MAKERS = [
    {"Boeing", "McDonnell Douglas", "Douglas Aircraft Company"}, {"Lockheed Corporation", "Lockheed Martin"},
    {"British Aerospace", "de Havilland", "Bombardier Aerospace", "Canadair"}, {"Fairchild", "Dornier"},
]
RELATED_MAKES = [
    {"AM General", "HUMMER", "Chevrolet", "GMC", "Cadillac", "Buick", "Geo"},
    {"Dodge", "Ram", "Chrysler", "Plymouth", "Eagle", "Jeep", "FIAT"}, {"Mercedes-Benz", "Maybach", "smart"},
    {"Volkswagen", "Audi", "Bentley", "Bugatti", "Lamborghini", "Porsche"}, {"BMW", "Rolls-Royce"},
    {"Ford", "Volvo", "Land Rover", "Aston Martin", "Mazda"}, {"Toyota", "Scion"}, {"Nissan", "Infiniti"},
    {"Honda", "Acura"}, {"Suzuki", "Mitsubishi", "Isuzu"},
]
PASSENGER_BODIES = {"Sedan", "Coupe", "Convertible", "Hatchback", "Wagon"}

Candidate = tuple[str, str, str, str, str]  # domain, ground truth, prediction, category, reason


def _facts(name: str) -> list[list[str]]:
    text = resources.files("speciarl.judges.gold").joinpath("facts", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _related(a: str, b: str, groups: list[set[str]]) -> bool:
    return a == b or any(a in g and b in g for g in groups)


# -- FGVC-Aircraft -------------------------------------------------------------------------------------
def aircraft_rules() -> Iterator[tuple[str, Candidate]]:
    rows = _facts("fgvc_aircraft.tsv")
    by_family: dict[str, list[str]] = defaultdict(list)
    maker_of: dict[str, str] = {}
    sure_maker: dict[str, bool] = {}
    for variant, family, maker, sure in rows:
        by_family[family].append(variant)
        maker_of[variant], sure_maker[variant] = maker, sure == "y"
    # names that are a family and a variant at once (A320, MD-80): no sibling is "wrong" by that name
    family_keys = {key(f) for f in by_family} | {key(f.split(" ", 1)[-1]) for f in by_family}
    root, root_syn = ROOTS["fgvc_aircraft"]
    d = "aircraft"
    for variant, family, maker, _ in rows:
        siblings = by_family[family]
        fam = family_node_name(family, siblings, maker)
        if len(siblings) > 1:
            yield "aircraft/variant-family", (d, variant, fam, "less specific",
                                              f"FGVC-Aircraft: {variant} belongs to family {family}, one step up")
            yield "aircraft/family-variant", (d, fam, variant, "more specific",
                                              f"FGVC-Aircraft: {variant} is a variant of family {family}")
        if sure_maker[variant]:
            yield "aircraft/variant-manufacturer", (d, variant, maker, "less specific",
                                                    f"FGVC-Aircraft: {maker} makes {variant}, two steps up")
            yield "aircraft/manufacturer-variant", (d, maker, variant, "more specific",
                                                    f"FGVC-Aircraft: {variant} is made by {maker}")
            full = prefixed_variant(variant, maker)
            if full:
                yield "aircraft/prefixed", (d, variant, full, "specific",
                                            f"FGVC-Aircraft: {full} is {variant} with its maker's name in front")
        word = (root, *root_syn)[len(variant) % 2]
        yield "aircraft/variant-root", (d, variant, word, "generic", f"'{word}' is the broadest class of every variant")
        for other in siblings:
            if other != variant and key(other) not in family_keys:
                yield "aircraft/sibling", (d, variant, other, "wrong",
                                           f"FGVC-Aircraft: {other} and {variant} are different variants of {family}")
        for other_family, members in by_family.items():
            if other_family != family and maker_of[members[0]] == maker and key(other_family) != key(variant):
                yield "aircraft/other-family", (d, variant, other_family, "wrong",
                                                f"{other_family} is a {maker} family that does not contain {variant}")
        if sure_maker[variant]:
            for other_maker in sorted({m for v, m in maker_of.items() if sure_maker[v]}):
                if not _related(other_maker, maker, RELATED_MAKERS):
                    yield "aircraft/other-manufacturer", (
                        d, variant, other_maker, "wrong", f"{variant} is made by {maker}, not {other_maker}")


# -- Stanford Cars ---------------------------------------------------------------------------------------
def cars_rules() -> Iterator[tuple[str, Candidate]]:
    rows = _facts("stanford_cars.tsv")
    by_make: dict[str, list[str]] = defaultdict(list)
    for name, make in rows:
        by_make[make].append(name)
    d = "cars"
    for name, make in rows:
        model = strip_year(name)
        if model != name:
            yield "cars/class-model", (d, name, model, "less specific",
                                       f"Stanford Cars: {model} without the model year is one step up")
            yield "cars/model-class", (d, model, name, "more specific", f"Stanford Cars: {name} is a model year of {model}")
            yield "cars/year-first", (d, name, year_first(name) or name, "specific",
                                      "the same make, model and year, the year written first")
        yield "cars/class-make", (d, name, make, "less specific", f"Stanford Cars: {make} is the make, two steps up")
        yield "cars/make-class", (d, make, name, "more specific", f"Stanford Cars: {name} is a {make} model")
        body = model.rsplit(" ", 1)[-1]
        word = "car" if body in PASSENGER_BODIES else "vehicle"
        yield "cars/class-root", (d, name, word, "generic", f"'{word}' is far broader than a make, model and year")
        for other in by_make[make]:
            if other != name:
                yield "cars/same-make", (d, name, other, "wrong", f"Stanford Cars: {other} is a different {make} class")
        for other_make in sorted(by_make):
            if not _related(other_make, make, RELATED_MAKES):
                yield "cars/other-make", (d, name, other_make, "wrong",
                                          f"{name} is a {make}; {other_make} does not contain it")


# -- Oxford-IIIT Pets -----------------------------------------------------------------------------------
def pets_rules() -> Iterator[tuple[str, Candidate]]:
    rows = _facts("oxford_pets.tsv")
    species_of = {breed: kind for breed, kind in rows}
    root, root_syn = ROOTS["oxford_pets"]
    d = "pets"
    for breed, kind in rows:
        other_kind = "dog" if kind == "cat" else "cat"
        yield "pets/breed-species", (d, breed, kind, "generic", f"Oxford Pets: {breed} is a {kind} breed; the species "
                                     "is the broad class (samoyed -> dog is generic)")
        yield "pets/species-breed", (d, kind, breed, "more specific", f"Oxford Pets: {breed} is a {kind} breed")
        word = (root, *root_syn)[len(breed) % 2]
        yield "pets/breed-root", (d, breed, word, "generic", f"'{word}' is far broader than a breed")
        yield "pets/other-species", (d, breed, other_kind, "wrong", f"{breed} is a {kind}, not a {other_kind}")
        words = set(key(breed).split())
        for other, other_species in species_of.items():
            if other == breed or other_species != kind:
                continue
            if words & set(key(other).split()):
                yield "pets/sibling-shared-word", (d, breed, other, "wrong",
                                                   f"{other} is another {kind} breed that only shares a word")
            else:
                yield "pets/sibling", (d, breed, other, "wrong", f"{other} is another {kind} breed")


# -- CUB-200 (no hierarchy file: species names end in their group noun) ------------------------------
def birds_rules() -> Iterator[tuple[str, Candidate]]:
    species = [row[0] for row in _facts("cub200.txt")]
    groups: dict[str, list[str]] = defaultdict(list)
    for name in species:
        if " " in name:
            groups[name.rsplit(" ", 1)[1].lower()].append(name)
    d = "birds"
    for name in species:
        yield "birds/species-root", (d, name, "bird", "generic", "'bird' is far broader than a species")
        group = name.rsplit(" ", 1)[1].lower() if " " in name else None
        if group and len(groups[group]) > 1:
            yield "birds/species-group", (d, name, group, "less specific",
                                          f"CUB: {name} is one of the {group}s of the benchmark, its close group")
            yield "birds/group-species", (d, group, name, "more specific", f"CUB: {name} is a {group}")
            for other in groups[group]:
                if other != name:
                    yield "birds/sibling", (d, name, other, "wrong",
                                            f"{other} is a different {group} species sharing the group word")
        first = name.split()[0]
        for other in species:
            if other != name and " " in other and other.split()[0] == first and other.rsplit(" ", 1)[1] != name.rsplit(
                    " ", 1)[-1]:
                yield "birds/shared-first-word", (d, name, other, "wrong",
                                                  f"{other} shares the word '{first}' but is another kind of bird")


RULES = (aircraft_rules, cars_rules, pets_rules, birds_rules)


def _pick(rule: str, candidates: list[Candidate]) -> list[Candidate]:
    def rank(c: Candidate) -> str:
        return hashlib.sha256(f"{rule}\x00{c[1]}\x00{c[2]}".encode()).hexdigest()

    return sorted(candidates, key=rank)[: CAPS[rule]]


def generated_items() -> list[GoldItem]:
    by_rule: dict[str, list[Candidate]] = defaultdict(list)
    for rules in RULES:
        for rule, candidate in rules():
            if rule not in CAPS:
                raise GoldError(f"rule {rule} has no cap in CAPS")
            by_rule[rule].append(candidate)
    items = []
    for rule in CAPS:
        for domain, gt, pred, category, reason in _pick(rule, by_rule.get(rule, [])):
            items.append(GoldItem(item_id(gt, pred), domain, gt, pred, category, f"rule:{rule}", reason))
    return items


def handwritten_path() -> Path:
    return Path(str(resources.files("speciarl.judges.gold").joinpath("handwritten.tsv")))


def handwritten_items(path: Path | None = None) -> list[GoldItem]:
    """domain <TAB> category <TAB> ground truth <TAB> prediction <TAB> reason, one item a line."""
    path = path or handwritten_path()
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 5 or not all(p.strip() for p in parts):
            raise GoldError(f"{path}:{number}: expected 5 non-empty tab-separated fields, got {len(parts)}")
        domain, category, gt, pred, reason = parts
        if category not in LABELS or domain not in DOMAINS:
            raise GoldError(f"{path}:{number}: bad domain {domain!r} or category {category!r}")
        items.append(GoldItem(item_id(gt, pred), domain, gt, pred, category, "hand", reason))
    return items


def merge(items: list[GoldItem]) -> list[GoldItem]:
    """Drop repeats of a pair (as the judge sees it) with the same label; stop on two labels."""
    seen: dict[tuple[str, str], GoldItem] = {}
    out = []
    for item in items:
        pair = (key(item.ground_truth), key(item.prediction))
        first = seen.get(pair)
        if first is None:
            seen[pair] = item
            out.append(item)
        elif first.category != item.category:
            raise GoldError(f"pair {item.ground_truth!r} -> {item.prediction!r} is {first.category!r} by "
                            f"{first.source} and {item.category!r} by {item.source}")
    return sorted(out, key=lambda i: (DOMAINS.index(i.domain), LABELS.index(i.category), i.ground_truth.lower(),
                                      i.prediction.lower()))


def gold_text() -> str:
    """The whole gold file, as `generate` writes it (the test compares it with the shipped file)."""
    return "".join(item.to_json() + "\n" for item in merge(generated_items() + handwritten_items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(default_gold_path()), help=f"default: the packaged gold-{GOLD_VERSION}.jsonl")
    args = parser.parse_args(argv)
    text = gold_text()
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} items to {args.out}")


if __name__ == "__main__":
    main()
