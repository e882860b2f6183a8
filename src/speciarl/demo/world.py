"""The demo's synthetic fine-grained world: a three-level label taxonomy and its visual cues.

generic ("glyph") → genus (one per shape) → species (one per colour within the genus). A species name
is "<colour> <genus>" so a word-level tokenizer learns it from a handful of words. Every image has a
*visibility*: on some the colour is washed out (the honest answer is the genus), on some the shape is
hidden by fog too (the honest answer is "glyph"). The parameters are fixed here and documented in
docs/demo.md before any result existed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..records import write_atomic


class Visibility(str, Enum):
    """Which cues an image shows; decides the most specific honest answer."""

    FULL = "full"  # shape and colour visible: the species is knowable
    GENUS = "genus"  # colour washed out: only the genus (shape) is knowable
    GENERIC = "generic"  # shape and colour hidden by fog: only "glyph" is knowable

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Genus:
    name: str
    shape: str  # one of render.SHAPES


@dataclass(frozen=True)
class Colour:
    name: str
    hue: float  # degrees, 0..360


@dataclass(frozen=True)
class Species:
    name: str
    genus: str
    colour: str


GENERIC_NAME = "glyph"
# Genus cue: the shape. Four outlines that differ at the scale of a 14-pixel patch.
DEFAULT_GENERA: tuple[Genus, ...] = (
    Genus("orb", "circle"),
    Genus("block", "square"),
    Genus("spike", "triangle"),
    Genus("cross", "plus"),
)
# Species cue: the colour; eight hues 45° apart, so neighbours stay apart after ±6° jitter.
DEFAULT_COLOURS: tuple[Colour, ...] = (
    Colour("red", 0.0),
    Colour("amber", 45.0),
    Colour("lime", 90.0),
    Colour("green", 135.0),
    Colour("teal", 180.0),
    Colour("blue", 225.0),
    Colour("violet", 270.0),
    Colour("pink", 315.0),
)
# Share of images per visibility (every split): half fully visible, 30% colour hidden, 20% fog.
DEFAULT_VISIBILITY_SHARES: Mapping[Visibility, float] = {
    Visibility.FULL: 0.5,
    Visibility.GENUS: 0.3,
    Visibility.GENERIC: 0.2,
}


@dataclass(frozen=True)
class World:
    """The taxonomy and cue tables of the demo world (immutable; build with `default_world`)."""

    generic: str = GENERIC_NAME
    genera: tuple[Genus, ...] = DEFAULT_GENERA
    colours: tuple[Colour, ...] = DEFAULT_COLOURS
    visibility_shares: Mapping[Visibility, float] = field(default_factory=lambda: dict(DEFAULT_VISIBILITY_SHARES))
    image_size: int = 56

    def __post_init__(self) -> None:
        if len(self.colours) < 8:
            raise ConfigError(f"the demo world needs >= 8 species per genus (colours), got {len(self.colours)}")
        if len(self.genera) < 2:
            raise ConfigError("the demo world needs >= 2 genera")
        total = sum(self.visibility_shares.values())
        if abs(total - 1.0) > 1e-9 or any(v < 0 for v in self.visibility_shares.values()):
            raise ConfigError(f"visibility shares must be >= 0 and sum to 1, got {dict(self.visibility_shares)}")
        names = self.all_labels()
        if len(names) != len(set(names)):
            raise ConfigError("demo world labels are not unique")

    @property
    def species(self) -> tuple[Species, ...]:
        return tuple(
            Species(f"{c.name} {g.name}", g.name, c.name) for g in self.genera for c in self.colours
        )

    def species_of(self, genus: str) -> list[Species]:
        return [s for s in self.species if s.genus == genus]

    def genus(self, name: str) -> Genus:
        for g in self.genera:
            if g.name == name:
                return g
        raise KeyError(name)

    def colour(self, name: str) -> Colour:
        for c in self.colours:
            if c.name == name:
                return c
        raise KeyError(name)

    def all_labels(self) -> list[str]:
        """Every node name of the taxonomy (generic, genera, species)."""
        return [self.generic, *(g.name for g in self.genera), *(s.name for s in self.species)]

    def words(self) -> list[str]:
        """The vocabulary a tokenizer needs to spell every label."""
        out: list[str] = []
        for label in self.all_labels():
            for w in label.split():
                if w not in out:
                    out.append(w)
        return out

    def honest_label(self, species: Species, visibility: Visibility) -> str:
        """The most specific answer the image supports."""
        if visibility is Visibility.FULL:
            return species.name
        if visibility is Visibility.GENUS:
            return species.genus
        return self.generic

    def taxonomy(self) -> dict[str, Any]:
        """The taxonomy as one root node in the TaxonomyJudge format {name, synonyms, children}."""
        return {
            "name": self.generic,
            "synonyms": [],
            "children": [
                {
                    "name": g.name,
                    "synonyms": [],
                    "children": [{"name": s.name, "synonyms": [], "children": []} for s in self.species_of(g.name)],
                }
                for g in self.genera
            ],
        }

    def write_taxonomy(self, path: str | Path) -> Path:
        import yaml

        path = Path(path)
        write_atomic(path, yaml.safe_dump(self.taxonomy(), sort_keys=False))
        return path

    def describe(self) -> dict[str, Any]:
        """The world's parameters, for docs and the run directory."""
        return {
            "generic": self.generic,
            "genera": {g.name: g.shape for g in self.genera},
            "colours": {c.name: c.hue for c in self.colours},
            "species_per_genus": len(self.colours),
            "blind_species_guess_odds": 1.0 / len(self.colours),
            "visibility_shares": {str(k): v for k, v in self.visibility_shares.items()},
            "image_size": self.image_size,
        }


def default_world() -> World:
    return World()


def allocate(n: int, shares: Mapping[Visibility, float]) -> dict[Visibility, int]:
    """Exact counts per visibility for `n` images (largest remainder), so every split has the stated shares."""
    raw = {k: n * v for k, v in shares.items()}
    counts = {k: int(x) for k, x in raw.items()}
    order = sorted(raw, key=lambda k: (raw[k] - counts[k], -list(shares).index(k)), reverse=True)
    for k in order[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def visibility_counts(visibilities: Iterable[Visibility | str]) -> dict[str, int]:
    out: dict[str, int] = {str(v): 0 for v in Visibility}
    for v in visibilities:
        out[str(v)] += 1
    return out
