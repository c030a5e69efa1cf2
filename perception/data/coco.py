"""COCO JSON boxes <-> per-image ``Detections``.

COCO ``bbox`` is ``[x, y, width, height]`` in pixels from the top-left corner; ``Detections``
hold ``xyxy``. Category ids in COCO files are arbitrary (COCO itself skips ids); inside percept a
class is the 0-based index into a list of names, so reading maps each category to the index of
its *name* in ``classes``.

Two output styles:

- ground truth: ``{"images", "annotations", "categories"}``, what ``pycocotools.coco.COCO`` loads;
- results: a list of ``{"image_id", "category_id", "bbox", "score"}``, what ``COCO.loadRes``
  loads to evaluate detections against a ground truth.

Crowd regions (``iscrowd: 1``) mark a group of objects with one box. COCOeval ignores detections
that fall on them instead of counting them as false positives; ``Detections`` cannot carry that
flag, so reading drops them by default (``include_crowd=True`` keeps them as ordinary boxes).
Exact COCO mAP therefore needs the original JSON handed to pycocotools, not a round trip.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from pycocotools.coco import COCO

from perception.types import Detections

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class CocoImage:
    """One entry of ``images``: size in pixels as the annotations assume it."""

    id: int
    file_name: str
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image {self.id} ({self.file_name}) has size {self.width}x{self.height}")


@dataclass(frozen=True, eq=False)
class CocoBoxes:
    """What ``read_coco`` found.

    images:       in file order.
    detections:   image id -> ``Detections`` (xyxy pixels, score 1.0 for ground truth,
                  class_id = index into ``classes``); every image has an entry, maybe empty.
    classes:      the names class_id indexes.
    category_ids: class index -> COCO category id, for the classes the file defines (write
                  results with these ids to evaluate against the same file).
    """

    images: tuple[CocoImage, ...]
    detections: Mapping[int, Detections]
    classes: tuple[str, ...]
    category_ids: Mapping[int, int]


def read_coco(
    path: PathLike, classes: Sequence[str] | None = None, *, include_crowd: bool = False
) -> CocoBoxes:
    """Read a ground-truth COCO file.

    classes: names in the order that defines class_id. ``None``: the file's categories sorted by
             id. Annotations whose category name is not in ``classes`` are dropped; a name in
             ``classes`` that the file lacks simply gets no boxes.
    include_crowd: keep ``iscrowd`` boxes as ordinary boxes (default: drop them, see module doc).
    Raises ``ValueError`` naming the file and the problem for bad JSON, missing keys, unknown
    image or category ids, negative box sizes.
    """
    p = Path(path)
    data = _load_json(p)
    if not isinstance(data, dict):
        kind = "a results list (load it with COCO.loadRes)" if isinstance(data, list) else type(data).__name__
        raise ValueError(f"{p}: expected a ground-truth COCO object, got {kind}")
    _check_structure(p, data)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco.createIndex()

    cats = sorted(coco.cats.values(), key=lambda c: c["id"])
    names = [c["name"] for c in cats]
    if len(set(names)) != len(names):
        raise ValueError(f"{p}: category names are not unique: {names}")
    if classes is None:
        classes = names
    elif isinstance(classes, str) or len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be a non-empty list of unique names, got {classes!r}")
    index_of = {name: i for i, name in enumerate(classes)}
    cat_to_class = {c["id"]: index_of[c["name"]] for c in cats if c["name"] in index_of}

    images = tuple(
        CocoImage(
            id=int(im["id"]), file_name=str(im["file_name"]), width=int(im["width"]), height=int(im["height"])
        )
        for im in data["images"]
    )
    detections = {}
    for im in images:
        anns = [
            a
            for a in coco.imgToAnns.get(im.id, [])
            if a["category_id"] in cat_to_class and (include_crowd or not a.get("iscrowd", 0))
        ]
        xywh = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
        detections[im.id] = Detections(
            xyxy=np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]]),
            score=np.ones(len(anns)),
            class_id=np.array([cat_to_class[a["category_id"]] for a in anns], dtype=np.int64),
        )
    return CocoBoxes(
        images=images,
        detections=detections,
        classes=tuple(classes),
        category_ids={i: cid for cid, i in cat_to_class.items()},
    )


def _load_json(p: Path) -> Any:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{p}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: not valid JSON ({exc})") from exc


_REQUIRED = {
    "images": ("id", "file_name", "width", "height"),
    "annotations": ("id", "image_id", "category_id", "bbox"),
    "categories": ("id", "name"),
}


def _check_structure(p: Path, data: dict[str, Any]) -> None:
    """Fail with a sentence where pycocotools would fail with a bare KeyError (or not at all)."""
    for key, fields in _REQUIRED.items():
        entries = data.get(key)
        if not isinstance(entries, list):
            raise ValueError(f"{p}: missing list {key!r}")
        for i, entry in enumerate(entries):
            missing = [f for f in fields if not isinstance(entry, dict) or f not in entry]
            if missing:
                raise ValueError(f"{p}: {key}[{i}] lacks {missing}")
    for key in ("images", "annotations", "categories"):
        ids = [e["id"] for e in data[key]]
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise ValueError(f"{p}: {key} ids must be integers")
        if len(set(ids)) != len(ids):
            raise ValueError(f"{p}: duplicate {key} ids")
    image_ids = {im["id"] for im in data["images"]}
    cat_ids = {c["id"] for c in data["categories"]}
    for a in data["annotations"]:
        where = f"{p}: annotation {a['id']}"
        if a["image_id"] not in image_ids:
            raise ValueError(f"{where} refers to unknown image {a['image_id']!r}")
        if a["category_id"] not in cat_ids:
            raise ValueError(f"{where} refers to unknown category {a['category_id']!r}")
        box = a["bbox"]
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
            raise ValueError(f"{where}: bbox must be [x, y, w, h], got {box!r}")
        if box[2] < 0 or box[3] < 0 or not all(np.isfinite(box)):
            raise ValueError(f"{where}: bbox has negative or non-finite size {box!r}")


def write_coco(
    path: PathLike,
    images: Sequence[CocoImage],
    detections_by_image: Mapping[int, Detections],
    classes: Sequence[str],
    scores: bool = False,
    *,
    category_ids: Mapping[int, int] | None = None,
) -> None:
    """Write boxes as COCO JSON.

    scores=False: ground-truth style (images, annotations with area and iscrowd=0, categories).
    scores=True:  results style, a list for ``COCO.loadRes`` (the images must exist in the
                  ground truth it is evaluated against).
    category_ids: class index -> COCO category id; default ``i + 1``. Pass
                  ``CocoBoxes.category_ids`` to evaluate against the file the classes came from.
    Image ids in ``detections_by_image`` must be among ``images``; images without an entry have
    no boxes. Boxes are written with 3 decimals.
    """
    if isinstance(classes, str) or not classes:
        raise ValueError(f"classes must be a non-empty list of names, got {classes!r}")
    cat_ids = dict(category_ids) if category_ids is not None else {i: i + 1 for i in range(len(classes))}
    missing = [i for i in range(len(classes)) if i not in cat_ids]
    if missing:
        raise ValueError(f"category_ids has no id for class index(es) {missing}")
    known = {im.id for im in images}
    unknown = sorted(set(detections_by_image) - known)
    if unknown:
        raise ValueError(f"detections for image id(s) {unknown} not in images")

    rows = []
    for image_id, det in sorted(detections_by_image.items()):
        if len(det) and int(det.class_id.max()) >= len(classes):
            top = int(det.class_id.max())
            raise ValueError(f"image {image_id}: class_id {top} but only {len(classes)} classes")
        xywh = np.column_stack([det.xyxy[:, :2], det.xyxy[:, 2:] - det.xyxy[:, :2]]).astype(np.float64)
        for box, score, cls in zip(xywh, det.score, det.class_id):
            rows.append((image_id, cat_ids[int(cls)], [round(float(v), 3) for v in box], float(score)))

    if scores:
        out: Any = [
            {"image_id": i, "category_id": c, "bbox": b, "score": round(s, 5)} for i, c, b, s in rows
        ]
    else:
        out = {
            "images": [
                {"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height}
                for im in images
            ],
            "annotations": [
                {
                    "id": k + 1,
                    "image_id": i,
                    "category_id": c,
                    "bbox": b,
                    "area": round(b[2] * b[3], 3),
                    "iscrowd": 0,
                }
                for k, (i, c, b, _) in enumerate(rows)
            ],
            "categories": [{"id": cat_ids[i], "name": name} for i, name in enumerate(classes)],
        }
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(out), encoding="utf-8")
