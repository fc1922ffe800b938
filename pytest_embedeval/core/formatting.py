"""How every table and message writes a figure that may be missing."""

from __future__ import annotations


def figure_or_dash(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, or "-" when it was not measured."""
    return "-" if value is None else f"{value:.{digits}f}"
