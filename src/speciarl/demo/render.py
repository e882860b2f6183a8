"""Procedural images of the demo world (PIL + numpy, no torchvision).

Genus cue = shape, species cue = hue. Every random draw (position, size, colour jitter, noise, fog) is
made from the image's own seed *before* looking at the label, in the same order for every label, so a
hidden cue leaves no trace: two species of one genus render to identical pixels when the colour is
washed out, and two genera render identically under fog. The tests check exactly that.
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

from .world import Species, Visibility, World

SHAPES = ("circle", "square", "triangle", "plus")
OUTLINE_WIDTH = 2  # pixels; the outline is dark grey (20-50), drawn in every visibility that shows the shape


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill: tuple[int, int, int],
                outline: tuple[int, int, int]) -> None:
    """A filled shape with a dark outline, so the shape reads the same whatever the fill colour."""
    style = {"fill": fill, "outline": outline, "width": OUTLINE_WIDTH}
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), **style)
    elif shape == "square":
        s = r * 0.85
        draw.rectangle((cx - s, cy - s, cx + s, cy + s), **style)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r * 0.8), (cx + r, cy + r * 0.8)], **style)
    elif shape == "plus":
        w = r * 0.38
        draw.polygon([(cx - w, cy - r), (cx + w, cy - r), (cx + w, cy - w), (cx + r, cy - w), (cx + r, cy + w),
                      (cx + w, cy + w), (cx + w, cy + r), (cx - w, cy + r), (cx - w, cy + w), (cx - r, cy + w),
                      (cx - r, cy - w), (cx - w, cy - w)], **style)
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def render(world: World, species: Species, visibility: Visibility, seed: int) -> Image.Image:
    """One RGB image of `species` at `visibility`, fully determined by `seed`."""
    size = world.image_size
    rng = np.random.default_rng(seed)
    # All draws first, label-independent.
    r = size * rng.uniform(0.30, 0.38)
    cx = size / 2 + rng.uniform(-0.06, 0.06) * size
    cy = size / 2 + rng.uniform(-0.06, 0.06) * size
    hue_jitter = rng.uniform(-6.0, 6.0)
    sat = rng.uniform(0.75, 1.0)
    val = rng.uniform(0.75, 1.0)
    grey = int(rng.uniform(80, 130))
    ink = (int(rng.uniform(20, 50)),) * 3
    background = rng.uniform(185, 225)
    noise = rng.normal(0.0, 10.0, size=(size, size, 3))
    fog = rng.uniform(95, 165, size=(size, size, 1)).repeat(3, axis=2)

    image = Image.new("RGB", (size, size), (int(background),) * 3)
    draw = ImageDraw.Draw(image)
    if visibility is Visibility.FULL:
        hue = (world.colour(species.colour).hue + hue_jitter) % 360.0
        rgb = colorsys.hsv_to_rgb(hue / 360.0, sat, val)
        _draw_shape(draw, world.genus(species.genus).shape, cx, cy, r, tuple(int(255 * x) for x in rgb), ink)
    elif visibility is Visibility.GENUS:
        _draw_shape(draw, world.genus(species.genus).shape, cx, cy, r, (grey, grey, grey), ink)
    pixels = np.asarray(image, dtype=np.float64)
    if visibility is Visibility.GENERIC:
        # A fog patch of grey noise over the whole area any shape could occupy.
        yy, xx = np.mgrid[0:size, 0:size]
        cover = ((yy - cy) ** 2 + (xx - cx) ** 2) <= (r * 1.5) ** 2
        pixels = np.where(cover[..., None], fog, pixels)
    pixels = np.clip(pixels + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")
