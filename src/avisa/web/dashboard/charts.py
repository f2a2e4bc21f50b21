"""Server-rendered SVG charts: stacked bars, drawn from counts, with no script at all.

Pure: labels and series in, markup out. Every value is a number or escaped text, so the
result is safe to place in a page as is. The chart carries a title and a text summary
for screen readers, and scales to the width of a phone.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 200
LEFT, BOTTOM, TOP = 34, 22, 8

#: One colour per series name; readable on white and for common colour blindness.
COLOURS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "skipped": "#9e9e9e",
    "email": "#1565c0",
    "sms": "#ef6c00",
    "whatsapp": "#2e7d32",
}


def stacked_bars(title: str, labels: list[str], series: dict[str, list[int]]) -> Markup:
    """An SVG of one stacked bar per label, series in the order given, with a legend."""
    count = max(1, len(labels))
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / count
    bar = max(1.0, slot * 0.7)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 18}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(_summary(series))}</desc>",
    ]
    for fraction in (0, 0.5, 1):
        if (top * fraction) % 1:
            continue  # a grid line only where the count is whole
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - 4}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10" '
            f'fill="#555">{int(top * fraction)}</text>'
        )
    step = max(1, count // 8)
    for i, label in enumerate(labels):
        x = LEFT + i * slot + (slot - bar) / 2
        base = float(TOP + plot_h)
        for name, values in series.items():
            value = values[i]
            if value <= 0:
                continue
            height = plot_h * value / top
            base -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{COLOURS.get(name, "#555")}"><title>{escape(label)}: {value} '
                f"{escape(name)}</title></rect>"
            )
        if i % step == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                f'font-size="10" fill="#555">{escape(label)}</text>'
            )
    x = LEFT
    for name in series:
        parts.append(
            f'<rect x="{x}" y="{HEIGHT + 6}" width="10" height="10" '
            f'fill="{COLOURS.get(name, "#555")}"/>'
            f'<text x="{x + 14}" y="{HEIGHT + 15}" font-size="11">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    # Built only from numbers and escaped text above.
    return Markup("".join(parts))  # noqa: S704


def _nice_max(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k that is at least `value` (at least 1)."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= value:
                return max(1, factor * magnitude)
        magnitude *= 10


def _summary(series: dict[str, list[int]]) -> str:
    return ", ".join(f"{name}: {sum(values)}" for name, values in series.items())
