"""A categorical palette of 24 colours that stay distinguishable side by side.

The first ten are Tableau 10 (the default of Vega and of most plotting libraries, so a chart with
few series looks familiar); the next fourteen are darker or lighter companions chosen to differ in
hue or lightness from every earlier colour, so up to 24 runs overlay without repeats (DVC's plots
cycle through 7).
"""

from __future__ import annotations

PALETTE: tuple[str, ...] = (
    "#4c78a8",  # blue
    "#f58518",  # orange
    "#54a24b",  # green
    "#e45756",  # red
    "#72b7b2",  # teal
    "#b279a2",  # purple
    "#eeca3b",  # yellow
    "#ff9da6",  # pink
    "#9d755d",  # brown
    "#79706e",  # grey
    "#1f3b73",  # navy
    "#a0522d",  # sienna
    "#2f7d32",  # dark green
    "#8e1b3d",  # wine
    "#17becf",  # cyan
    "#6a3d9a",  # violet
    "#bcbd22",  # olive
    "#ff6f00",  # deep orange
    "#00897b",  # dark teal
    "#d81b60",  # magenta
    "#5d4037",  # dark brown
    "#90caf9",  # light blue
    "#a5d6a7",  # light green
    "#212121",  # near black
)


def palette(n: int) -> list[str]:
    """``n`` colours: the palette's first ``n``, cycling only past its 24 colours."""
    return [PALETTE[i % len(PALETTE)] for i in range(max(0, n))]
