"""Secondary open-world metrics of the lmms-owc protocol (Conti et al.), beside the six categories.

By default they are computed as lmms-owc computes them, so a number here is comparable with one
published with lmms-owc; our stricter variants carry their own names. One module per job:

- `rules`: the per-pair rules (text inclusion, concept cleaning, the LLM-inclusion question and reply scoring);
- `models`: the MiniLM sentence encoder (512 word pieces) and the spaCy concept extractor;
- `inclusion`: LLM inclusion through our judge pipeline (cache, retries), and the strict binary-judge variant;
- `compute`: per-record values and per-dataset means;
- `tables`: terminal table and summary.md section;
- `runner`: the `speciarl owc` command.

docs/evaluation.md sets every metric beside its reference. Heavy libraries (sentence-transformers,
spaCy, torch) load only when a model object is built.
"""

from .compute import (
    METRICS,
    OWC_COLUMNS,
    OwcValues,
    aggregate,
    owc_by_dataset,
    owc_by_dataset_values,
    owc_scores,
    owc_values,
    pair_values,
    per_record_rows,
    record_answer,
)
from .models import DEFAULT_SPACY_MODEL, MAX_WORD_PIECES, ConceptExtractor, SentenceEncoder, load_spacy
from .rules import (
    clean_concept,
    collect_concepts,
    inclusion_prompt,
    inclusion_score,
    text_inclusion,
    text_inclusion_words,
)
from .runner import PER_RECORD, SUMMARY, build_models, run_owc
from .tables import owc_columns, owc_markdown, owc_rows, print_owc_table

__all__ = [
    "DEFAULT_SPACY_MODEL", "MAX_WORD_PIECES", "METRICS", "OWC_COLUMNS", "PER_RECORD", "SUMMARY", "ConceptExtractor",
    "OwcValues", "SentenceEncoder", "aggregate", "build_models", "clean_concept", "collect_concepts",
    "inclusion_prompt", "inclusion_score", "load_spacy", "owc_by_dataset", "owc_by_dataset_values",
    "owc_columns", "owc_markdown", "owc_rows", "owc_scores", "owc_values", "pair_values", "per_record_rows",
    "print_owc_table", "record_answer", "run_owc", "text_inclusion", "text_inclusion_words",
]
