"""Plots for the HTML reports, rendered to inline SVG strings (works offline, no scripts).

matplotlib with the Agg backend; fixed hash salt and no date metadata, so the same data
gives byte-identical SVG. Element ids get a per-figure prefix because several SVGs share
one HTML document (duplicate clip-path ids would make browsers clip the wrong plot):
the report passes each SVG through ``prefix_ids``.
Every function takes plain arrays (the report module does the SQL) and copes with no data.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

plt.rcParams.update(
    {
        "svg.hashsalt": "mm-report",
        "svg.fonttype": "none",  # text stays text: smaller files, selectable labels
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "figure.dpi": 100,
    }
)

SIZE = (7.2, 3.0)
GREEN, RED, BLUE, GREY = "#1a9850", "#d73027", "#2c7bb6", "#777777"
RISK_NAMES = ("SAFE", "POSITION_LIMIT", "CIRCUIT_BREAK")
RISK_COLORS = ("#d9f0d3", "#fee08b", "#f4a582")


def to_svg(fig: Figure) -> str:
    """The figure as a bare ``<svg>`` element (no XML prolog)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def prefix_ids(svg: str, prefix: str) -> str:
    """Make the SVG's element ids unique within an HTML document."""
    ids = set(re.findall(r'id="([^"]+)"', svg))
    if not ids:
        return svg
    alt = "|".join(map(re.escape, sorted(ids, key=len, reverse=True)))
    pattern = re.compile(r'(id="|url\(#|href="#)(' + alt + r')(?=["\)])')
    return pattern.sub(lambda m: m.group(1) + prefix + m.group(2), svg)


def _times(ns: np.ndarray) -> np.ndarray:
    return np.asarray(ns, dtype="int64").astype("datetime64[ns]")


def _fig(title: str, size: tuple[float, float] = SIZE) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    ax.set_title(title, loc="left")
    return fig, ax


def _time_axis(ax: plt.Axes) -> None:
    loc = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    ax.set_xlabel("time (UTC)")


def _no_data(ax: plt.Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_xticks([])
    ax.set_yticks([])


def thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` evenly spread points, always keeping the last."""
    if n <= max_points:
        return np.arange(n)
    idx = np.linspace(0, n - 1, max_points).astype(np.int64)
    return np.unique(idx)


def cumulative_pnl(
    ts: np.ndarray, components: dict[str, np.ndarray], title: str = "Cumulative PnL and attribution"
) -> str:
    """``components``: cumulative series; 'pnl' is the total, the rest its parts."""
    fig, ax = _fig(title)
    if len(ts) == 0:
        _no_data(ax, "PnL rows")
        return to_svg(fig)
    t = _times(ts)
    styles = {
        "pnl": ("total PnL", "black", 2.0, "-"),
        "spread_capture": ("spread capture", GREEN, 1.2, "-"),
        "inventory": ("inventory (mark-to-market)", BLUE, 1.2, "-"),
        "fees_rebates": ("fees & rebates", "#984ea3", 1.2, "-"),
        "residual": ("residual", GREY, 1.0, ":"),
    }
    for key, (label, color, width, style) in styles.items():
        if key in components:
            ax.step(t, components[key], where="post", label=label, color=color,
                    linewidth=width, linestyle=style)  # fmt: skip
    ax.axhline(0, color=GREY, linewidth=0.6)
    ax.set_ylabel("quote currency")
    ax.legend(loc="best", fontsize=7, ncol=2, framealpha=0.8)
    _time_axis(ax)
    return to_svg(fig)


def inventory(ts: np.ndarray, position: np.ndarray) -> str:
    fig, ax = _fig("Inventory (position in base units)")
    if len(ts) == 0:
        _no_data(ax, "PnL rows")
        return to_svg(fig)
    t = _times(ts)
    ax.step(t, position, where="post", color=BLUE, linewidth=1.0)
    ax.fill_between(t, position, step="post", alpha=0.2, color=BLUE)
    ax.axhline(0, color=GREY, linewidth=0.6)
    ax.set_ylabel("position")
    _time_axis(ax)
    return to_svg(fig)


def quotes_vs_mid(
    quote_ts: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    mid_ts: np.ndarray,
    mid: np.ndarray,
    fill_ts: np.ndarray,
    fill_px: np.ndarray,
    fill_side: np.ndarray,
) -> str:
    fig, ax = _fig("Quotes (level 0) vs mid, and fills", (7.2, 3.4))
    if len(quote_ts) == 0 and len(mid_ts) == 0:
        _no_data(ax, "quotes")
        return to_svg(fig)
    if len(mid_ts):
        ax.step(_times(mid_ts), mid, where="post", color="black", linewidth=0.8, label="mid")
    if len(quote_ts):
        qt = _times(quote_ts)
        ax.step(qt, bid, where="post", color=GREEN, linewidth=0.8, alpha=0.8, label="bid quote")
        ax.step(qt, ask, where="post", color=RED, linewidth=0.8, alpha=0.8, label="ask quote")
    buys = fill_side > 0
    if buys.any():
        ax.scatter(_times(fill_ts[buys]), fill_px[buys], marker="^", color=GREEN, s=22,
                   edgecolor="black", linewidth=0.4, label="we bought", zorder=3)  # fmt: skip
    if (~buys).any():
        ax.scatter(_times(fill_ts[~buys]), fill_px[~buys], marker="v", color=RED, s=22,
                   edgecolor="black", linewidth=0.4, label="we sold", zorder=3)  # fmt: skip
    ax.set_ylabel("price")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.legend(loc="best", fontsize=7, ncol=2, framealpha=0.8)
    _time_axis(ax)
    return to_svg(fig)


def markout_curves(curves: dict[str, tuple[Sequence[int], Sequence[float | None]]]) -> str:
    """``curves``: label -> (horizons in s, average markout in bps)."""
    fig, ax = _fig("Markout curves (bps, positive = mid moved our way)")
    if not curves:
        _no_data(ax, "fills")
        return to_svg(fig)
    horizons = sorted({h for hs, _ in curves.values() for h in hs})
    pos = {h: i for i, h in enumerate(horizons)}
    colors = {"buys": GREEN, "sells": RED, "all fills": "black"}
    for label, (hs, vals) in curves.items():
        pts = [(pos[h], v) for h, v in zip(hs, vals, strict=True) if v is not None]
        if pts:
            x, y = zip(*pts, strict=True)
            ax.plot(x, y, marker="o", label=label, color=colors.get(label), linewidth=1.4)
    ax.axhline(0, color=GREY, linewidth=0.6)
    ax.set_xticks(range(len(horizons)), [f"{h} s" for h in horizons])
    ax.set_xlabel("horizon after the fill")
    ax.set_ylabel("avg markout (bps)")
    ax.legend(fontsize=7, frameon=False)
    return to_svg(fig)


def fill_rates(levels: Sequence[int], bid_rate: Sequence[float], ask_rate: Sequence[float],
               bid_fills: Sequence[int], ask_fills: Sequence[int]) -> str:  # fmt: skip
    fig, ax = _fig("Fill rate by level (fills per quote-minute)")
    if not levels:
        _no_data(ax, "quotes")
        return to_svg(fig)
    x = np.arange(len(levels))
    w = 0.38
    b1 = ax.bar(x - w / 2, bid_rate, w, color=GREEN, label="bid")
    b2 = ax.bar(x + w / 2, ask_rate, w, color=RED, label="ask")
    ax.bar_label(b1, labels=[f"{n} fills" for n in bid_fills], fontsize=7, padding=2)
    ax.bar_label(b2, labels=[f"{n} fills" for n in ask_fills], fontsize=7, padding=2)
    ax.set_xticks(x, [f"L{lv}" for lv in levels])
    ax.set_ylabel("fills / quote-minute")
    ax.margins(y=0.2)
    ax.legend(fontsize=7, frameon=False)
    return to_svg(fig)


def risk_timeline(ts: np.ndarray, state: np.ndarray, end_ts: int | None = None) -> str:
    fig, ax = _fig("Risk state", (7.2, 1.9))
    if len(ts) == 0:
        _no_data(ax, "PnL rows")
        return to_svg(fig)
    t = _times(ts)
    end = _times(np.array([end_ts if end_ts is not None else ts[-1]]))[0]
    starts = np.r_[0, np.flatnonzero(np.diff(state)) + 1]
    for i, s in enumerate(starts):
        stop = t[starts[i + 1]] if i + 1 < len(starts) else end
        k = int(state[s])
        ax.axvspan(t[s], stop, color=RISK_COLORS[min(k, 2)], alpha=0.9, linewidth=0)
    ax.step(t, state, where="post", color="black", linewidth=1.0)
    ax.set_ylim(-0.3, 2.3)
    ax.set_yticks([0, 1, 2], list(RISK_NAMES))
    _time_axis(ax)
    return to_svg(fig)


def daily_bars(labels: Sequence[str], series: dict[str, Sequence[float]], title: str,
               ylabel: str) -> str:  # fmt: skip
    fig, ax = _fig(title)
    if not labels:
        _no_data(ax, "days")
        return to_svg(fig)
    x = np.arange(len(labels))
    w = 0.8 / max(len(series), 1)
    for i, (name, vals) in enumerate(series.items()):
        v = np.array([np.nan if a is None else a for a in vals], dtype=float)
        colors = None if len(series) > 1 else np.where(v >= 0, GREEN, RED)
        ax.bar(x + (i - (len(series) - 1) / 2) * w, v, w, label=name, color=colors)
    ax.axhline(0, color=GREY, linewidth=0.6)
    ax.set_xlim(-0.75, max(len(labels), 4) - 0.25)  # a lone day is a bar, not a wall
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 6 else 0, fontsize=7)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(fontsize=7, frameon=False)
    return to_svg(fig)


def price_line(ts: np.ndarray, price: np.ndarray, title: str, ylabel: str = "mid") -> str:
    fig, ax = _fig(title, (7.2, 2.6))
    if len(ts) == 0:
        _no_data(ax, "book data")
        return to_svg(fig)
    ax.plot(_times(ts), price, color="black", linewidth=0.8)
    ax.set_ylabel(ylabel)
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    _time_axis(ax)
    return to_svg(fig)
