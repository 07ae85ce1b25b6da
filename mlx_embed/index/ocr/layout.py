"""Reading order for recognised lines: a recursive XY cut, so columns and a sidebar read as blocks.

At each step the region is cut at its widest empty gap: a vertical gutter (wider than 1.5 line
heights) first, unless the two sides look like a table's columns (short cells on shared rows: a
receipt reads "Total $218.40", row by row), else the widest horizontal gap; a region with no gap is
one row or a tight cluster, read top to bottom, left to right. Blocks are separated by a blank line (a paragraph break for the
chunker), lines within a block by a newline, boxes on one row by a space.
"""

from __future__ import annotations

from statistics import median

from .engines import Line


def to_text(lines: list[Line]) -> str:
    lines = [ln for ln in lines if ln.text.strip()]
    if not lines:
        return ""
    height = median(ln.box[3] - ln.box[1] for ln in lines) or 1.0
    blocks: list[list[Line]] = []
    _cut(lines, height, blocks, depth=0)
    return "\n\n".join("\n".join(_rows(block)) for block in blocks)


def _gaps(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Empty intervals between the union of spans, as (width, position of the cut)."""
    spans = sorted(spans)
    out, end = [], spans[0][1]
    for lo, hi in spans[1:]:
        if lo > end:
            out.append((lo - end, (lo + end) / 2))
        end = max(end, hi)
    return out


def _cut(lines: list[Line], height: float, blocks: list[list[Line]], depth: int) -> None:
    if len(lines) > 1 and depth < 64:
        xgaps = [g for g in _gaps([(ln.box[0], ln.box[2]) for ln in lines]) if g[0] > 1.5 * height]
        if xgaps:
            at = max(xgaps)[1]
            left, right = [ln for ln in lines if ln.box[2] <= at], [ln for ln in lines if ln.box[2] > at]
            if not _table(left, right, height):
                _cut(left, height, blocks, depth + 1)
                _cut(right, height, blocks, depth + 1)
                return
        ygaps = _gaps([(ln.box[1], ln.box[3]) for ln in lines])
        if ygaps and max(ygaps)[0] > 0.6 * height:
            at = max(ygaps)[1]
            _cut([ln for ln in lines if ln.box[3] <= at], height, blocks, depth + 1)
            _cut([ln for ln in lines if ln.box[3] > at], height, blocks, depth + 1)
            return
    blocks.append(lines)


def _table(left: list[Line], right: list[Line], height: float) -> bool:
    """Most left boxes share a row with a right box, and one side holds short cells."""
    def centre(ln: Line) -> float:
        return (ln.box[1] + ln.box[3]) / 2

    aligned = sum(any(r.box[1] <= centre(ln) <= r.box[3] for r in right) for ln in left)
    narrow = min(median(ln.box[2] - ln.box[0] for ln in side) for side in (left, right)) < 8 * height
    return aligned > len(left) / 2 and narrow


def _rows(lines: list[Line]) -> list[str]:
    """Boxes whose vertical centres fall within one another's height form a row, read left to right."""
    rows: list[list[Line]] = []
    for ln in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        centre = (ln.box[1] + ln.box[3]) / 2
        if rows and rows[-1][-1].box[1] <= centre <= rows[-1][-1].box[3]:
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return [" ".join(ln.text.strip() for ln in sorted(row, key=lambda ln: ln.box[0])) for row in rows]
