"""A running paper flow picks up a new MM_PARAMS_FILE, and refuses an invalid one.

A real ``flows.live_mm`` process (MM_MODE=paper) against the fake Bybit: the order size
in the params file goes from 100 to 200 USD while it quotes; the flow logs the change
and its quotes take the new size without a restart. Then a file with a negative size is
refused, naming the key, and the quotes keep the 200 USD size.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bybit"))  # the fake Bybit

from fake_bybit import FakeBybit
from live_helpers import LiveProcess, live_env

PARAMS = """\
quote:
  use_regimes: false
  levels: 2
  order_size_usd: {size}
  warmup_vol_bps: 0
risk:
  max_position_usd: 2000
"""


def ladder(quotes: dict) -> list[tuple[Decimal, int]]:
    """(price, qty) of every level on both sides of a ``quotes`` log line."""
    out = []
    for side in ("bids", "asks"):
        for level in filter(None, quotes[side].split(",")):
            price, qty = level.split("x")
            out.append((Decimal(price), int(Decimal(qty))))
    return out


def sized_for(quotes: dict, usd: int) -> bool:
    """Every level is ``usd`` of XRP at its price (lot 1, the quoting engine's floor)."""
    levels = ladder(quotes)
    return bool(levels) and all(qty == math.floor(usd / price) for price, qty in levels)


def after(proc: LiveProcess, rec: dict) -> list[dict]:
    """The ``quotes`` lines logged after the log line ``rec`` (in the log's order)."""
    recs = proc.events()
    return [q for q in recs[recs.index(rec) + 1 :] if q.get("event") == "quotes"]


def write(path: Path, text: str) -> None:
    """Write the way an operator's tool should: the whole file, then rename it in place."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_a_running_paper_flow_reloads_its_params_file_and_refuses_an_invalid_one(
    tmp_path: Path, engine: str
) -> None:
    params = tmp_path / "params.yaml"
    write(params, PARAMS.format(size=100))
    with FakeBybit() as fake:
        env = live_env(fake.env(), tmp_path / "lake", MM_MODE="paper",
                       MM_PARAMS_FILE=str(params), MM_ENGINE=engine)  # fmt: skip
        del env["BYBIT_API_KEY"], env["BYBIT_API_SECRET"]
        proc = LiveProcess(env).start()
        try:
            first = proc.wait_for("quoting at 100 USD", lambda: proc.events("quotes"), 60)[0]
            assert sized_for(first, 100), first

            write(params, PARAMS.format(size=200))
            reloaded = proc.wait_event("params_reloaded", timeout=30)
            assert reloaded["changes"] == {"quote.order_size_usd": [100.0, 200.0]}
            assert reloaded["inst"] == "bybit:XRPUSDT" and reloaded["file"] == str(params)
            proc.wait_for("quotes after the reload", lambda: after(proc, reloaded), 30)

            write(params, PARAMS.format(size=-5))
            rejected = proc.wait_event("params_rejected", timeout=30)
            assert rejected["key"] == "quote.order_size_usd"
            assert rejected["reason"] == "Input should be greater than 0, got -5"
            assert rejected["level"] == "WARNING"
            # the book keeps moving and the quotes follow it, still at 200 USD
            proc.wait_for("quotes after the refusal", lambda: after(proc, rejected), 30)
            quoted = after(proc, reloaded)
            assert all(sized_for(q, 200) for q in quoted), quoted[:3]
            assert len(proc.events("params_reloaded")) == 1
            assert proc.terminate(timeout=15) == 0
        finally:
            proc.kill()
