"""(ground truth, prediction) pairs that exercise lmms-owc's metric rules where they are easy to get wrong.

Shared by tests/report/test_owc_reference.py and tools/owc_reference_check.py (which runs lmms-owc's own
functions on them, given a checkout).
"""

_LONG_DESCRIPTION = (
    "The photograph shows a small bird perched on a thin branch near a flowering shrub. Its throat is a "
    "bright iridescent red, the back is green, and the wings blur as it hovers in front of a feeder. Based "
    "on the long straight bill and the size, this is most likely a ruby-throated hummingbird. "
)

PAIRS: list[tuple[str, str]] = [
    # substrings: the reference tests characters, not words
    ("cat", "catfish"), ("cat", "a cat"), ("Cat", "CAT"), ("pie", "apple pie slice"), ("ant", "elephant"),
    ("apple pie", "apple"), ("Samoyed", "samoyed dog"),
    # plurals
    ("sunflower", "sunflowers"), ("sunflowers", "sunflower"), ("daisy", "daisies"), ("goose", "geese"),
    # dashes
    ("Black footed Albatross", "black-footed albatross"), ("black-footed albatross", "Black footed Albatross"),
    ("707-320", "Boeing 707-320"), ("F/A-18", "F/A-18 Hornet"), ("A-10", "A10"), ("747-400", "747\u2013400"),
    # apostrophes
    ("Brewer's Blackbird", "brewers blackbird"), ("Brewer's Blackbird", "Brewer\u2019s Blackbird"),
    ("Chuck will's widow", "chuck-will's-widow"), ("Anna's Hummingbird", "a hummingbird"),
    ("Lady's slipper", "the lady's slipper orchid"),
    # descriptions: noun chunks, entities, articles and possessives, the skip list
    ("golden retriever", "a golden retriever running on the beach"),
    ("samoyed", "a fluffy white samoyed dog playing in the snow"),
    ("Airbus A380", "an Airbus A380 double-decker"), ("fish and chips", "fish and chips"),
    ("pizza", "a photo of a pizza with some toppings"),
    ("tabby cat", "his tabby cat sleeping on their sofa in Paris"),
    ("Boeing 737", "The image shows a Boeing 737 of Ryanair at Dublin Airport"),
    ("sushi", "it is sushi"), ("rose", "This photo shows a red rose"),
    ("bald eagle", "Two bald eagles sitting on one branch"),
    ("Ford Mustang Convertible 2012", "a 2012 Ford Mustang convertible, made by Ford in the United States"),
    ("seven", "seven"), ("Boeing 747", "one Boeing 747"), ("type", "type"), ("1", "1"),
    ("object", "the object"), ("it", "it"), ("their car", "their car"), ("an apple", "an apple"),
    ("Eiffel Tower", "The Eiffel Tower in Paris, France, seen from the Trocadero at night"),
    # several options
    ("robin", "robin or cardinal"), ("cardinal", "robin, cardinal, or blue jay"),
    ("Audi A4 Sedan 2008", "Audi A4 Sedan 2008 / Audi A6 Sedan 2008"), ("laptop", "laptop and desktop computer"),
    # blank and punctuation-only answers
    ("owl", ""), ("owl", "   "), ("", "anything"), ("owl", "*"), ("owl", "?"),
    # unicode
    ("cr\u00e8me br\u00fbl\u00e9e", "creme brulee"), ("Cr\u00e8me Br\u00fbl\u00e9e", "cr\u00e8me br\u00fbl\u00e9e"),
    ("jalape\u00f1o", "Jalape\u00f1o pepper"), ("\u0130stanbul tulip", "istanbul tulip"),
    ("stra\u00dfe", "STRASSE"), ("\u6771\u4eac\u30bf\u30ef\u30fc", "\u6771\u4eac\u30bf\u30ef\u30fc"),
    ("Pok\u00e9mon", "pokemon"), ("ph\u1edf", "Ph\u1edf b\u00f2 (beef noodle soup)"),
    ("ramen", "\u30e9\u30fc\u30e1\u30f3 ramen"),
    # long answers: past sentence-transformers' 256 word pieces, and past the reference's 512
    ("ruby-throated hummingbird", _LONG_DESCRIPTION),
    ("ruby-throated hummingbird", _LONG_DESCRIPTION * 5),
    ("hummingbird", "bird " * 300 + "hummingbird"),
    ("hummingbird", "bird " * 600 + "hummingbird"),
]
