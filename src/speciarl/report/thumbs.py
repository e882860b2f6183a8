"""Small JPEG thumbnails for the gallery, made once and cached by (file, size, mtime).

A thumbnail is at most THUMB_PX on its longer side (a few kB). The cache is a folder of files named
by a hash of the source's resolved path, size and modification time, so a rebuilt gallery reuses
every thumbnail whose image did not change and remakes the rest.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

THUMB_PX = 160
QUALITY = 70


def thumb_name(image: str | os.PathLike[str]) -> str:
    """The cache file name of an image's thumbnail (changes when the image file changes)."""
    path = Path(image).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}|{THUMB_PX}|{QUALITY}"
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()
    return f"{digest[:2]}/{digest}.jpg"


def make_thumb(image: str | os.PathLike[str], cache_dir: Path) -> tuple[str | None, bool]:
    """(path relative to cache_dir, made now) of the image's thumbnail; (None, False) when the image
    cannot be read — the gallery then shows a placeholder, and the card stays."""
    from PIL import Image, UnidentifiedImageError

    try:
        name = thumb_name(image)
    except OSError:
        return None, False
    target = cache_dir / name
    if target.is_file():
        return name, False
    try:
        with Image.open(image) as img:
            img.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG: decode at reduced scale, much faster
            img.thumbnail((THUMB_PX, THUMB_PX))
            rgb = img.convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None, False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    rgb.save(tmp, format="JPEG", quality=QUALITY, optimize=True)
    os.replace(tmp, target)
    return name, True
