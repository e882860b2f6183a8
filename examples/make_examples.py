"""Regenerate the example graded-record files in this folder (seeded; run from the repo root).

The answers are written by hand per label and category, the category a run gives each sample is
drawn at random with run-specific odds: these files show the report's format, not any model's result.
"""

import json
import random
from pathlib import Path

from speciarl.answers import normalize

# ground truth -> category -> an answer a model might give
ANSWERS = {
    ("cub200", "Black footed Albatross"): {
        "specific": "Black-footed Albatross", "less specific": "albatross", "generic": "seabird",
        "wrong": "Laysan Albatross", "abstain": "None"},
    ("cub200", "Painted Bunting"): {
        "specific": "Painted Bunting", "less specific": "bunting", "generic": "bird",
        "wrong": "Scarlet Tanager", "abstain": "cannot tell"},
    ("cub200", "Cardinal"): {
        "specific": "Northern Cardinal", "less specific": "cardinal bird", "generic": "songbird",
        "wrong": "Vermilion Flycatcher", "abstain": "unknown"},
    ("flowers102", "sunflower"): {
        "specific": "Helianthus annuus", "more specific": "Russian Giant sunflower", "generic": "flower",
        "less specific": "Helianthus", "wrong": "black-eyed susan", "abstain": "None"},
    ("flowers102", "bird of paradise"): {
        "specific": "bird of paradise", "less specific": "Strelitzia", "generic": "tropical flower",
        "wrong": "heliconia", "abstain": "None"},
    ("oxford_pets", "samoyed"): {
        "specific": "Samoyed", "generic": "dog", "less specific": "spitz-type dog",
        "wrong": "american eskimo dog", "abstain": "None"},
    ("oxford_pets", "Bengal"): {
        "specific": "Bengal cat", "generic": "cat", "less specific": "spotted domestic cat",
        "wrong": "Egyptian Mau", "abstain": "I don't know"},
    ("fgvc_aircraft", "707-320"): {
        "specific": "707-320", "less specific": "Boeing 707", "generic": "commercial airliner",
        "wrong": "DC-8", "abstain": "None"},
    ("fgvc_aircraft", "F/A-18"): {
        "specific": "F/A-18 Hornet", "less specific": "fighter jet by McDonnell Douglas", "generic": "military aircraft",
        "wrong": "F-16", "abstain": "None"},
    ("stanford_cars", "Chevrolet Silverado 2500HD Regular Cab 2012"): {
        "specific": "Chevrolet Silverado 2500HD Regular Cab 2012", "less specific": "Chevrolet Silverado",
        "generic": "pickup truck", "wrong": "Ford F-150 2012", "abstain": "None"},
}

RUNS = {  # category odds per run (zero-shot models are generic; SpeciaRL more specific, not more wrong)
    "zero_shot": {"more specific": 0.02, "specific": 0.40, "less specific": 0.2, "generic": 0.22, "wrong": 0.13, "abstain": 0.03, None: 0.02},
    "speciarl": {"more specific": 0.04, "specific": 0.62, "less specific": 0.12, "generic": 0.08, "wrong": 0.14, "abstain": 0.02, None: 0.02},
}


def draw(rng, odds, options):
    cats = [c for c in odds if c is None or c in options]
    return rng.choices(cats, weights=[odds[c] for c in cats])[0]


def make(name, odds, n_predictions, seed, images_per_label=6):
    rng = random.Random(seed)
    rows = []
    for (dataset, truth), options in ANSWERS.items():
        for image in range(images_per_label):
            sample_id = f"{dataset}:test:{sorted(ANSWERS).index((dataset, truth)) * 100 + image}"
            for index in range(n_predictions):
                category = draw(rng, odds, options)
                if category is None:
                    completion, answer = "<think>The image shows", None
                else:
                    answer = options[category]
                    completion = f"<think>Looking at the features.</think><answer>{answer}</answer>"
                rows.append({
                    "sample_id": sample_id, "dataset": dataset, "split": "test", "ground_truth": truth,
                    "prediction_index": index, "completion": completion, "prompt_name": "base",
                    "model": f"example/{name}", "answer": answer,
                    "answer_normalized": None if answer is None else normalize(answer),
                    "ground_truth_normalized": normalize(truth), "category": category, "judge": "example",
                })
    path = Path(__file__).parent / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    make("zero_shot", RUNS["zero_shot"], 1, seed=1)
    make("speciarl", RUNS["speciarl"], 1, seed=2)
    make("zero_shot_bo8", RUNS["zero_shot"], 8, seed=3)
