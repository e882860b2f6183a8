import pytest

from speciarl.answers import extract_answer, normalize
from speciarl.categories import LABELS, Category, is_correct, is_specific, order, parse_category, rank


def test_labels_are_exactly_the_six_strings():
    assert LABELS == ("wrong", "abstain", "generic", "less specific", "specific", "more specific")
    assert Category("more specific") is Category.MORE_SPECIFIC
    assert str(Category.LESS_SPECIFIC) == "less specific"


def test_rank_ties_specific_and_more_specific():
    assert rank(Category.SPECIFIC) == rank(Category.MORE_SPECIFIC)
    ranks = [rank(Category(label)) for label in ("wrong", "abstain", "generic", "less specific", "specific")]
    assert ranks == sorted(set(ranks))
    assert order(None) < order(Category.WRONG) < order(Category.SPECIFIC) < order(Category.MORE_SPECIFIC)


def test_correct_and_specific():
    assert [is_correct(c) for c in Category] == [False, False, True, True, True, True]
    assert not is_correct(None)
    assert [is_specific(c) for c in Category] == [False] * 4 + [True, True]


def test_parse_category_is_strict():
    assert parse_category("more specific") is Category.MORE_SPECIFIC
    for bad in ("Specific", "more_specific", " specific", "correct"):
        with pytest.raises(ValueError, match="expected one of"):
            parse_category(bad)


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("<think>hmm</think><answer>Black-footed Albatross</answer>", "Black-footed Albatross"),
        ("<answer>  dog \n</answer> <answer>cat</answer>", "dog"),
        ("<answer>\nmulti\nline\n</answer>", "multi\nline"),
        ("<answer>None</answer>", "None"),
        ("no tags at all", None),
        ("<answer>   </answer>", None),
        ("<answer></answer><answer>late</answer>", None),
        ("<answer>unterminated", None),
    ],
)
def test_extract_answer(completion, expected):
    assert extract_answer(completion) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Brewer's Blackbird", "brewer s blackbird"),
        ("F/A-18", "f a-18"),
        ("  Black_footed   Albatross ", "black footed albatross"),
        ("Crème Brûlée", "crème brûlée"),
        ("Boeing 707–320", "boeing 707–320"),  # en dash is dash punctuation (Pd): kept
        ("日本の犬!", "日本の犬"),
        ("a\tb\nc", "a b c"),
        ("!!!", ""),
        ("x² Ⅻ ٣", "x ٣"),  # superscripts and Roman numerals are not decimal digits; Arabic-Indic ٣ is
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_normalize_ascii_fast_path_matches_the_character_rule():
    import random

    from speciarl.answers import _SPACES, _keep

    def by_rule(text):  # the definition, character by character
        return _SPACES.sub(" ", "".join(ch if _keep(ch) else " " for ch in text).lower()).strip()

    every = "".join(map(chr, range(128)))
    rng = random.Random(0)
    texts = [every, every[::-1], *(chr(c) for c in range(128))]
    texts += ["".join(rng.choice(every) for _ in range(rng.randint(0, 30))) for _ in range(2000)]
    assert all(text.isascii() and normalize(text) == by_rule(text) for text in texts)
