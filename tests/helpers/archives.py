"""Small fabricated copies of the official benchmark archives (same files, same layout, few images).

Each `make_<benchmark>(base)` writes the layout under `base` exactly as the official archive unpacks
(including the archive's own top folder where it has one) and returns that folder. Images are tiny
generated JPEGs, each a different flat colour so they are real, decodable, distinct files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_image(path: Path, index: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    colour = ((37 * index) % 256, (91 * index) % 256, (53 * index + 17) % 256)
    Image.new("RGB", (12, 10), colour).save(path, format="JPEG" if path.suffix == ".jpg" else None)


def write_corrupt(path: Path) -> None:
    """Bytes that start like a JPEG and then stop: PIL opens the header but cannot decode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01garbage")


def _lines(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")


CUB_CLASSES = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "013.Bobolink"]


def make_cub(base: Path) -> Path:
    """3 classes × 3 images: ids 1..9; images 1, 4, 7 are test (is_training_image = 0)."""
    root = base / "CUB_200_2011"
    images, labels, split = [], [], []
    image_id = 0
    for class_id, cls in enumerate(CUB_CLASSES, start=1):
        for k in range(3):
            image_id += 1
            rel = f"{cls}/{cls.split('.', 1)[1]}_{k:04d}_{1000 + image_id}.jpg"
            write_image(root / "images" / rel, image_id)
            images.append(f"{image_id} {rel}")
            labels.append(f"{image_id} {class_id}")
            split.append(f"{image_id} {0 if k == 0 else 1}")
    _lines(root / "images.txt", images)
    _lines(root / "image_class_labels.txt", labels)
    _lines(root / "train_test_split.txt", split)
    _lines(root / "classes.txt", [f"{i} {c}" for i, c in enumerate(CUB_CLASSES, start=1)])
    return root


AIRCRAFT = [  # (image id, variant, family, manufacturer)
    ("0034309", "707-320", "Boeing 707", "Boeing"),
    ("0056978", "F/A-18", "F/A-18", "McDonnell Douglas"),
    ("1025794", "Cessna 172", "Cessna 172", "Cessna"),
    ("2052456", "A300B4", "A300", "Airbus"),
]


def make_aircraft(base: Path) -> Path:
    """Test split: the 4 images above; train split: the first two again under other ids."""
    root = base / "fgvc-aircraft-2013b"
    data = root / "data"
    for n, (image_id, *_rest) in enumerate(AIRCRAFT):
        write_image(data / "images" / f"{image_id}.jpg", n)
    _lines(data / "images_variant_test.txt", [f"{i} {v}" for i, v, _, _ in AIRCRAFT])
    _lines(data / "images_family_test.txt", [f"{i} {f}" for i, _, f, _ in AIRCRAFT])
    _lines(data / "images_manufacturer_test.txt", [f"{i} {m}" for i, _, _, m in AIRCRAFT])
    train = [("1100001", "707-320"), ("1100002", "Cessna 172")]
    for n, (image_id, _) in enumerate(train):
        write_image(data / "images" / f"{image_id}.jpg", 10 + n)
    _lines(data / "images_variant_train.txt", [f"{i} {v}" for i, v in train])
    _lines(data / "variants.txt", sorted({v for _, v, _, _ in AIRCRAFT}))
    return root


FLOWER_NAMES = ["pink primrose", "hard-leaved pocket orchid", "canterbury bells"]


def make_flowers(base: Path, *, split_file: bool = True) -> Path:
    """9 images image_00001..9, labels 1,2,3,1,2,3,...; CoOp: test = 7..9, train = 1..4, val = 5..6."""
    from scipy.io import savemat

    root = base / "flowers102"
    labels = [(i - 1) % 3 + 1 for i in range(1, 10)]
    for i in range(1, 10):
        write_image(root / "jpg" / f"image_{i:05d}.jpg", i)
    savemat(root / "imagelabels.mat", {"labels": np.array([labels], dtype=np.uint8)})
    savemat(root / "setid.mat", {"trnid": np.array([[1, 2, 3]]), "valid": np.array([[4, 5]]),
                                 "tstid": np.array([[6, 7, 8, 9]])})
    if split_file:
        entry = lambda i: [f"image_{i:05d}.jpg", labels[i - 1] - 1, FLOWER_NAMES[labels[i - 1] - 1]]  # noqa: E731
        coop = {"train": [entry(i) for i in (1, 2, 3, 4)], "val": [entry(i) for i in (5, 6)],
                "test": [entry(i) for i in (7, 8, 9)]}
        (root / "split_zhou_OxfordFlowers.json").write_text(json.dumps(coop), encoding="utf-8")
    return root


FOOD = {"apple_pie": ["1005649", "1011328", "101251"], "baby_back_ribs": ["1005293", "1007102", "1009131"]}


def make_food(base: Path) -> Path:
    """2 classes × 3 images; official test = first image of each class; CoOp test = last image of each."""
    root = base / "food-101"
    n = 0
    for cls, ids in FOOD.items():
        for image_id in ids:
            n += 1
            write_image(root / "images" / cls / f"{image_id}.jpg", n)
    _lines(root / "meta" / "classes.txt", list(FOOD))
    _lines(root / "meta" / "labels.txt", ["Apple pie", "Baby back ribs"])
    (root / "meta" / "test.json").write_text(json.dumps({c: [f"{c}/{ids[0]}"] for c, ids in FOOD.items()}))
    (root / "meta" / "train.json").write_text(json.dumps({c: [f"{c}/{i}" for i in ids[1:]] for c, ids in FOOD.items()}))
    coop = {"train": [], "val": [], "test": []}
    for label, (cls, ids) in enumerate(FOOD.items()):
        coop["train"].append([f"{cls}/{ids[0]}.jpg", label, cls])
        coop["val"].append([f"{cls}/{ids[1]}.jpg", label, cls])
        coop["test"].append([f"{cls}/{ids[2]}.jpg", label, cls])
    (root / "split_zhou_Food101.json").write_text(json.dumps(coop), encoding="utf-8")
    return root


PETS_TEST = [("Abyssinian_201", 1, 1, 1), ("american_bulldog_12", 2, 2, 1), ("great_pyrenees_7", 3, 2, 2),
             ("Maine_Coon_3", 4, 1, 2)]
PETS_TRAINVAL = [("Abyssinian_1", 1, 1, 1), ("american_bulldog_100", 2, 2, 1)]


def make_pets(base: Path) -> Path:
    root = base / "oxford-iiit-pet"
    for n, (stem, *_rest) in enumerate(PETS_TEST + PETS_TRAINVAL):
        write_image(root / "images" / f"{stem}.jpg", n)
    _lines(root / "annotations" / "test.txt", [" ".join(map(str, row)) for row in PETS_TEST])
    _lines(root / "annotations" / "trainval.txt", [" ".join(map(str, row)) for row in PETS_TRAINVAL])
    return root


CAR_NAMES = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Aston Martin V8 Vantage Coupe 2012"]


def _annotations(rows: list[tuple[str, int]]) -> np.ndarray:
    dtype = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"), ("class", "O"), ("fname", "O")]
    arr = np.zeros((1, len(rows)), dtype=dtype)
    for k, (fname, label) in enumerate(rows):
        arr[0, k] = (np.array([[1]]), np.array([[2]]), np.array([[10]]), np.array([[8]]), np.array([[label]]), fname)
    return arr


def make_cars(base: Path) -> Path:
    """Test: 00001..00004 with classes 1,2,3,3; train: 00001..00002 (classes 1,2)."""
    from scipy.io import savemat

    root = base / "stanford_cars"
    test = [("00001.jpg", 1), ("00002.jpg", 2), ("00003.jpg", 3), ("00004.jpg", 3)]
    train = [("00001.jpg", 1), ("00002.jpg", 2)]
    for n, (fname, _) in enumerate(test):
        write_image(root / "cars_test" / fname, n)
    for n, (fname, _) in enumerate(train):
        write_image(root / "cars_train" / fname, 20 + n)
    names = np.empty((1, len(CAR_NAMES)), dtype=object)
    for k, name in enumerate(CAR_NAMES):
        names[0, k] = name
    (root / "devkit").mkdir(parents=True)
    savemat(root / "devkit" / "cars_meta.mat", {"class_names": names})
    savemat(root / "devkit" / "cars_train_annos.mat", {"annotations": _annotations(train)})
    savemat(root / "cars_test_annos_withlabels.mat", {"annotations": _annotations(test)})
    return root


CALTECH = {"accordion": "accordion", "Faces_easy": "face", "Leopards": "leopard", "water_lilly": "water lilly"}


def make_caltech(base: Path) -> Path:
    """4 classes × 2 images; CoOp test = image_0002 of each, train = image_0001."""
    root = base / "caltech-101"
    coop = {"train": [], "val": [], "test": []}
    n = 0
    for label, (folder, name) in enumerate(CALTECH.items()):
        for k in (1, 2):
            n += 1
            write_image(root / "101_ObjectCategories" / folder / f"image_{k:04d}.jpg", n)
            coop["train" if k == 1 else "test"].append([f"{folder}/image_{k:04d}.jpg", label, name])
    (root / "split_zhou_Caltech101.json").write_text(json.dumps(coop), encoding="utf-8")
    return root
