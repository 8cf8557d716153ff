"""Series styles that stay distinguishable for everyone: colours first, then dashes and shapes.

The colours are Okabe and Ito's eight ("Color Universal Design", 2008), chosen to stay apart
under the common colour-vision deficiencies (protanopia, deuteranopia, tritanopia), led by blue;
their black is a mid grey here so the series also shows on the dark theme. Past eight series the
colours repeat with another dash pattern (lines) and point shape (points): series ``i`` has
colour ``i % 8``, dash and shape ``i // 8``, so 24 series never share a style, and charts cycle
after that (DVC's plots cycle through 7 colours).
"""

from __future__ import annotations

PALETTE: tuple[str, ...] = (
    "#0072b2",  # blue
    "#e69f00",  # orange
    "#009e73",  # bluish green
    "#d55e00",  # vermillion
    "#cc79a7",  # reddish purple
    "#56b4e9",  # sky blue
    "#f0e442",  # yellow
    "#8c8c8c",  # grey (Okabe-Ito's black, lightened for dark backgrounds)
)

DASHES: tuple[tuple[int, ...], ...] = ((1, 0), (6, 3), (1, 2))  # solid, dashed, dotted
SHAPES: tuple[str, ...] = ("circle", "square", "triangle-up")


def palette(n: int) -> list[str]:
    """``n`` colours: the palette's, cycling past its eight (pair them with :func:`dashes`)."""
    return [PALETTE[i % len(PALETTE)] for i in range(max(0, n))]


def dashes(n: int) -> list[list[int]]:
    """``n`` dash patterns: solid for the first eight series, then dashed, then dotted."""
    return [list(DASHES[(i // len(PALETTE)) % len(DASHES)]) for i in range(max(0, n))]


def shapes(n: int) -> list[str]:
    """``n`` point shapes, changing every eight series as :func:`dashes` do."""
    return [SHAPES[(i // len(PALETTE)) % len(SHAPES)] for i in range(max(0, n))]


STYLED = len(PALETTE) * len(DASHES)  # series with a style of their own
