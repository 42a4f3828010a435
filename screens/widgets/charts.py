"""Bar and line charts drawn with Unicode blocks as Rich Text: cheap, and fine over SSH."""

from __future__ import annotations

from rich.text import Text

BLOCKS = " ▁▂▃▄▅▆▇█"


def bar_chart(
    consumption: list[float], production: list[float], labels: list[str], width: int, height: int = 8
) -> Text:
    """Consumption bars upwards (cyan), production bars downwards (green), one column group per bucket."""
    n = max(1, len(consumption))
    col = max(1, min(4, (width - 8) // n))
    top = max([*consumption, 1e-9])
    ptop = max([*production, 0.0])
    t = Text()
    rows_up = height if ptop == 0 else max(2, height * 2 // 3)
    rows_down = 0 if ptop == 0 else height - rows_up
    scale_label = _fmt(top)
    for r in range(rows_up, 0, -1):
        t.append(f"{scale_label if r == rows_up else '':>7} ", style="dim")
        for v in consumption:
            level = v / top * rows_up
            cell = BLOCKS[8] if level >= r else BLOCKS[round((level - r + 1) * 8)] if level > r - 1 else " "
            t.append((cell * (col - 1 if col > 1 else 1)) + (" " if col > 1 else ""), style="cyan")
        t.append("\n")
    for r in range(1, rows_down + 1):
        t.append(f"{'-' + _fmt(ptop) if r == rows_down else '':>7} ", style="dim")
        for v in production:
            level = v / ptop * rows_down if ptop else 0
            cell = "█" if level >= r else "▀" if level > r - 0.5 else " "
            t.append((cell * (col - 1 if col > 1 else 1)) + (" " if col > 1 else ""), style="green")
        t.append("\n")
    t.append(" " * 8)
    label_w = max((len(x) for x in labels), default=1) + 1
    every = max(1, -(-label_w // col))
    line = [" "] * (n * col)
    for i, lab in enumerate(labels):
        if i % every == 0:
            for j, ch in enumerate(lab[: every * col - 1]):
                if i * col + j < len(line):
                    line[i * col + j] = ch
    t.append("".join(line)[: max(0, width - 8)], style="dim")
    return t


def line_chart(
    values: list[float], width: int, height: int = 8, start_label: str = "", end_label: str = ""
) -> Text:
    """Power over time: each column the average of its share of the points."""
    w = max(10, width - 8)
    if not values:
        return Text("no samples", style="dim")
    cols = []
    for c in range(w):
        a = c * len(values) // w
        b = max(a + 1, (c + 1) * len(values) // w)
        chunk = values[a:b]
        cols.append(sum(chunk) / len(chunk) if chunk else 0.0)
    top = max(max(cols), 1e-9)
    low = min(min(cols), 0.0)
    span = top - low or 1.0
    t = Text()
    for r in range(height, 0, -1):
        t.append(f"{_fmt(top) if r == height else _fmt(low) if r == 1 and low < 0 else '':>7} ", style="dim")
        for v in cols:
            level = (v - low) / span * height
            cell = "█" if level >= r else BLOCKS[round((level - r + 1) * 8)] if level > r - 1 else " "
            t.append(cell, style="green" if v < 0 else "magenta")
        t.append("\n")
    t.append(" " * 8 + start_label.ljust(w - len(end_label)) + end_label, style="dim")
    return t


def _fmt(v: float) -> str:
    return f"{v / 1000:.1f}k" if abs(v) >= 10000 else f"{v:.0f}" if abs(v) >= 10 else f"{v:.1f}"
