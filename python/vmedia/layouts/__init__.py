"""Layouts: pure geometry from (participants, speaker, canvas) to tile rectangles.

Nothing here touches media, so layouts can be drawn and tested in a notebook. Every
rectangle is even-aligned (I420 chroma is half size) and lies inside the canvas.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vmedia.errors import InvalidInputError

GALLERY_PAGE_SIZE = 49
TILE_ASPECT = 16 / 9
SPEAKER_VARIANTS = {  # name: (main tiles, filmstrip tiles, filmstrip tiles per row)
    "1+7": (1, 7, 7),
    "1+21": (1, 21, 7),
    "2+21": (2, 21, 7),
    "1+33": (1, 33, 11),
}


def _even(v: float) -> int:
    return 2 * int(math.floor(v / 2 + 0.5))


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @classmethod
    def snapped(cls, x0: float, y0: float, x1: float, y1: float) -> Rect | None:
        """The even-aligned rectangle nearest to [x0, x1) x [y0, y1); None when that is
        smaller than 2x2 (too small to show). Edges snap independently, so rectangles
        that did not overlap still do not."""
        ax, ay, bx, by = _even(x0), _even(y0), _even(x1), _even(y1)
        return cls(ax, ay, bx - ax, by - ay) if bx - ax >= 2 and by - ay >= 2 else None

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)

    def inset(self, d: int) -> Rect:
        return Rect(self.x + d, self.y + d, max(2, self.w - 2 * d), max(2, self.h - 2 * d))


@dataclass(frozen=True)
class Slot:
    """Where one participant goes; `main` marks the speaker/content tile."""

    participant: str
    rect: Rect
    main: bool = False


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    slots: tuple[Slot, ...]
    name: str = ""

    @property
    def visible(self) -> frozenset[str]:
        """Participants shown; everyone else need not be decoded."""
        return frozenset(s.participant for s in self.slots)

    def rect_of(self, participant: str) -> Rect | None:
        return next((s.rect for s in self.slots if s.participant == participant), None)

    def preview(self, path: str | None = None, scale: float = 0.5):
        """A labelled PIL image of the layout (saved as PNG when `path` is given)."""
        from PIL import Image, ImageDraw

        img = Image.new("RGB", (max(1, int(self.width * scale)), max(1, int(self.height * scale))), (24, 24, 28))
        draw = ImageDraw.Draw(img)
        for slot in self.slots:
            r = slot.rect
            box = [r.x * scale, r.y * scale, (r.x + r.w) * scale - 1, (r.y + r.h) * scale - 1]
            draw.rectangle(box, fill=(70, 90, 140) if slot.main else (60, 60, 70), outline=(230, 230, 230))
            draw.text((box[0] + 4, box[1] + 4), slot.participant, fill=(255, 255, 255))
        if path:
            img.save(path)
        return img


def _check_canvas(width: int, height: int) -> None:
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise InvalidInputError(f"canvas must have a positive even width and height, got {width}x{height}")


def _ids(participants: Sequence[str]) -> list[str]:
    ids = [str(p) for p in participants]
    if len(set(ids)) != len(ids):
        raise InvalidInputError(f"participant ids must be unique, got {ids}")
    return ids


def grid_shape(n: int, width: int, height: int, aspect: float = TILE_ASPECT) -> tuple[int, int]:
    """(columns, rows) for n tiles whose aspect-fitted tile area is largest."""
    best = (1, n)
    best_key = (-1.0, 0, 0)
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        w, h = width / cols, height / rows
        fitted = min(w, h * aspect) * min(h, w / aspect)
        key = (round(fitted, 6), -(cols * rows - n), cols)  # ties: fewer holes, then wider
        if key > best_key:
            best, best_key = (cols, rows), key
    return best


def _grid(ids: Sequence[str], area: Rect, cols: int, rows: int, gap: int, *, centre_last: bool = True) -> list[Slot]:
    """ids in row-major cells of area; a short last row is centred. On a canvas too small
    for every cell, the cells that round to nothing are left out (not visible)."""
    slots = []
    cw, ch = area.w / cols, area.h / rows
    g = min(gap, cw / 4, ch / 4)  # tiny cells keep most of their area
    for i, pid in enumerate(ids):
        r, c = divmod(i, cols)
        in_row = min(cols, len(ids) - r * cols)
        shift = (cols - in_row) * cw / 2 if centre_last else 0.0
        x0 = area.x + shift + c * cw
        y0 = area.y + r * ch
        rect = Rect.snapped(x0 + g / 2, y0 + g / 2, x0 + cw - g / 2, y0 + ch - g / 2)
        if rect is not None:
            slots.append(Slot(pid, rect))
    return slots


def gallery(
    participants: Sequence[str],
    width: int = 1280,
    height: int = 720,
    *,
    page: int = 0,
    per_page: int = GALLERY_PAGE_SIZE,
    gap: int = 4,
) -> Layout:
    """An automatic grid of everyone on `page` (per_page at most, 49 by default)."""
    _check_canvas(width, height)
    ids = _ids(participants)
    if not 1 <= per_page <= GALLERY_PAGE_SIZE:
        raise InvalidInputError(f"per_page must be 1..{GALLERY_PAGE_SIZE}, got {per_page}")
    pages = max(1, math.ceil(len(ids) / per_page))
    if not 0 <= page < pages:
        raise InvalidInputError(f"page {page} does not exist: {len(ids)} participants make {pages} page(s)")
    shown = ids[page * per_page : (page + 1) * per_page]
    if not shown:
        return Layout(width, height, (), "gallery")
    cols, rows = grid_shape(len(shown), width, height)
    return Layout(width, height, tuple(_grid(shown, Rect(0, 0, width, height), cols, rows, gap)), "gallery")


def gallery_pages(n: int, per_page: int = GALLERY_PAGE_SIZE) -> int:
    """How many gallery pages n participants fill."""
    return max(1, math.ceil(n / per_page))


def _with_strip(
    mains: Sequence[str], others: Sequence[str], width: int, height: int, strip_count: int, per_row: int, gap: int, name: str
) -> Layout:
    """Main tiles over a filmstrip of rows of per_row 16:9 tiles along the bottom."""
    strip_ids = list(others)[:strip_count]
    rows = math.ceil(len(strip_ids) / per_row) if strip_ids else 0
    tile_h = width / per_row / TILE_ASPECT
    strip_h = min(rows * tile_h, height / 2)
    main_area = Rect(0, 0, width, _even(height - strip_h))
    slots = [Slot(s.participant, s.rect, main=True) for s in _grid(mains, main_area, max(1, len(mains)), 1, gap)]
    if strip_ids:
        strip_area = Rect(0, main_area.h, width, height - main_area.h)
        slots += _grid(strip_ids, strip_area, per_row, rows, gap)
    return Layout(width, height, tuple(slots), name)


def speaker(
    participants: Sequence[str],
    speaker: str | Sequence[str] | None = None,
    width: int = 1280,
    height: int = 720,
    *,
    variant: str = "1+7",
    gap: int = 4,
) -> Layout:
    """The active speaker(s) large, the others in a filmstrip: 1+7, 1+21, 2+21 or 1+33.

    `speaker` is the main participant (or a list of two for 2+21); when absent, the
    first participants are shown large. Participants beyond the strip are not visible.
    """
    _check_canvas(width, height)
    ids = _ids(participants)
    if variant not in SPEAKER_VARIANTS:
        raise InvalidInputError(f"unknown speaker variant {variant!r}; choose one of {sorted(SPEAKER_VARIANTS)}")
    n_main, strip_count, per_row = SPEAKER_VARIANTS[variant]
    wanted = [speaker] if isinstance(speaker, str) else list(speaker or [])
    for s in wanted:
        if s not in ids:
            raise InvalidInputError(f"speaker {s!r} is not a participant")
    mains = (wanted + [p for p in ids if p not in wanted])[:n_main]
    others = [p for p in ids if p not in mains]
    return _with_strip(mains, others, width, height, strip_count, per_row, gap, f"speaker {variant}")


def presentation(
    participants: Sequence[str],
    content: str,
    width: int = 1280,
    height: int = 720,
    *,
    strip_count: int = 4,
    gap: int = 4,
) -> Layout:
    """Shared content large on the left, a column of up to strip_count speakers on the right."""
    _check_canvas(width, height)
    ids = _ids(participants)
    if content not in ids:
        raise InvalidInputError(f"content source {content!r} is not a participant")
    if strip_count < 0:
        raise InvalidInputError(f"strip_count must be >= 0, got {strip_count}")
    others = [p for p in ids if p != content][:strip_count]
    if not others:
        return Layout(width, height, (Slot(content, Rect(0, 0, width, height), main=True),), "presentation")
    col_w = _even(min(width / 4, height / max(len(others), 4) * TILE_ASPECT))
    g = min(gap, (width - col_w) / 4, height / 4)
    main = Slot(content, Rect.snapped(g / 2, g / 2, width - col_w - g / 2, height - g / 2) or Rect(0, 0, width - col_w, height), main=True)
    column = _grid(others, Rect(width - col_w, 0, col_w, height), 1, max(len(others), 4), gap) if col_w >= 2 else []
    return Layout(width, height, (main, *column), "presentation")


def custom(
    spec: Mapping | str,
    participants: Sequence[str],
    width: int = 1280,
    height: int = 720,
    *,
    speaker: str | None = None,
) -> Layout:
    """Fractional regions from a dict or JSON text, with groups picked by participant count.

    spec = {"groups": [{"max_participants": 2, "regions": [{"x": 0, "y": 0, "w": 0.5, "h": 1}, ...]},
                       {"max_participants": 6, "regions": [...]}]}
    The first group whose max_participants >= the count is used (the last one otherwise).
    A region with "main": true takes the speaker first. Extra participants are not shown.
    """
    _check_canvas(width, height)
    ids = _ids(participants)
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"custom layout is not valid JSON: {e}") from None
    groups = spec.get("groups") if isinstance(spec, Mapping) else None
    if not groups or not isinstance(groups, list) or not all(isinstance(g, Mapping) for g in groups):
        raise InvalidInputError("custom layout needs a non-empty 'groups' list of objects")
    for g in groups:
        limit = g.get("max_participants", math.inf)
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit != limit:
            raise InvalidInputError(f"custom layout group max_participants must be a number, got {limit!r:.40}")
        if not isinstance(g.get("regions"), list) or not all(isinstance(r, Mapping) for r in g["regions"]):
            raise InvalidInputError(f"custom layout group {g!r:.80} needs a 'regions' list of objects")
    groups = sorted(groups, key=lambda g: g.get("max_participants", math.inf))
    group = next((g for g in groups if len(ids) <= g.get("max_participants", math.inf)), groups[-1])
    regions = group.get("regions")
    if not regions:
        raise InvalidInputError(f"custom layout group {group!r} has no regions")
    parsed = []
    for i, reg in enumerate(regions):
        try:
            x, y, w, h = (float(reg[k]) for k in ("x", "y", "w", "h"))
        except (KeyError, TypeError, ValueError):
            raise InvalidInputError(f"region {i} needs numeric x, y, w, h fractions, got {reg!r}") from None
        if not (0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= 1 + 1e-9 and y + h <= 1 + 1e-9):
            raise InvalidInputError(f"region {i} {reg!r} must lie inside the unit square with positive size")
        rect = Rect.snapped(x * width, y * height, (x + w) * width, (y + h) * height)
        if rect is not None:  # a region that rounds to nothing at this canvas size is not shown
            parsed.append((rect, bool(reg.get("main"))))
    order = ([speaker] if speaker in ids else []) + [p for p in ids if p != speaker]
    mains = [r for r in parsed if r[1]]
    rest = [r for r in parsed if not r[1]]
    slots = [Slot(pid, rect, main) for pid, (rect, main) in zip(order, mains + rest)]
    return Layout(width, height, tuple(slots), "custom")
