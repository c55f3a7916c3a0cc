"""``mm instruments list|show|add|refresh``: the instrument catalog imports resolve against."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.main import _decimal, app, emit_json, guarded
from core.errors import MMError

if TYPE_CHECKING:
    from core.instrument_catalog import CatalogUpdate
    from core.instruments import InstrumentSpec

instruments_app = typer.Typer(
    help="The instrument catalog: tick, lot, min notional, kind and contract size per symbol.",
    no_args_is_help=True,
)
app.add_typer(instruments_app, name="instruments")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _row(spec: InstrumentSpec, origin: str) -> dict[str, Any]:
    from core.instrument_catalog import plain_dict

    return {**plain_dict(spec.to_dict()), "id": spec.id, "from": origin}


def _table(rows: list[dict[str, Any]]) -> str:
    cols = [
        ("instrument", "id"),
        ("kind", "kind"),
        ("tick", "tick_size"),
        ("lot", "lot_size"),
        ("min notional", "min_notional"),
        ("contract", "contract_size"),
        ("quote", "quote_currency"),
        ("settle", "settle_currency"),
        ("from", "from"),
    ]
    cells = [[str(r[k]) for _, k in cols] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (h, _) in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*(h for h, _ in cols)).rstrip()]
    lines += [fmt.format(*c).rstrip() for c in cells]
    return "\n".join(lines)


@instruments_app.command("list")
@guarded("instruments list")
def list_cmd(
    venue: Annotated[str | None, typer.Option(help="Only this venue.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the catalog: the shipped instruments and your own (yours win)."""
    from core.instrument_catalog import catalog, origin, shipped_catalog, user_catalog_path
    from core.instruments import VENUES

    if venue is not None and venue not in VENUES:
        raise MMError(f"unknown venue {venue!r}", f"use one of {', '.join(VENUES)}")
    specs = catalog()
    rows = [_row(specs[k], origin(k)) for k in sorted(specs) if venue in (None, specs[k].venue)]
    if as_json:
        emit_json(rows)
        return
    print(_table(rows))
    print(
        f"({len(rows)} instruments; shipped catalog as of {shipped_catalog().as_of}, "
        f"yours: {user_catalog_path()})"
    )


@instruments_app.command("show")
@guarded("instruments show")
def show_cmd(
    instrument: Annotated[str, typer.Argument(help="VENUE:SYMBOL, e.g. bybit:BTCUSDT.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one instrument's spec and where it comes from."""
    from core.instrument_catalog import origin, unknown_instrument
    from core.instruments import known_instrument, split_instrument_id

    venue, symbol = split_instrument_id(instrument)
    spec = known_instrument(venue, symbol)
    if spec is None:
        raise unknown_instrument(venue, symbol)
    row = _row(spec, origin(spec.id))
    if as_json:
        emit_json(row)
        return
    for key, value in row.items():
        if key != "id":
            print(f"{key:<16} {value}")


def _changes(update: CatalogUpdate) -> list[str]:
    lines = []
    for inst, fields in update.changed.items():
        text = ", ".join(f"{f} {old} -> {new}" for f, (old, new) in fields.items())
        lines.append(f"  changed {inst}: {text}")
    return lines


@instruments_app.command("add")
@guarded("instruments add")
def add_cmd(
    instrument: Annotated[str, typer.Argument(help="VENUE:SYMBOL, e.g. binance-usdm:FOOUSDT.")],
    tick_size: Annotated[str, typer.Option(help="Price increment.")],
    lot_size: Annotated[str, typer.Option(help="Size increment (contracts if inverse).")],
    min_notional: Annotated[str | None, typer.Option(help="Minimum order notional.")] = None,
    kind: Annotated[str, typer.Option(help="linear | inverse | spot.")] = "linear",
    contract_size: Annotated[
        str | None, typer.Option(help="USD per contract (inverse only; required there).")
    ] = None,
    settle: Annotated[
        str | None, typer.Option(help="Settlement currency (the coin, for inverse).")
    ] = None,
    quote: Annotated[
        str | None,
        typer.Option(help="Quote currency (default USD inverse, USDC hyperliquid, else USDT)."),
    ] = None,
    price_sig_figs: Annotated[
        int | None,
        typer.Option(
            help="Significant figures a price may have (default 5 on hyperliquid).", min=1
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add (or replace) one instrument in your catalog."""
    from core.instrument_catalog import update_user_catalog
    from core.instruments import VENUES, InstrumentSpec, split_instrument_id

    venue, symbol = split_instrument_id(instrument)
    if venue not in VENUES:
        raise MMError(f"unknown venue {venue!r}", f"use one of {', '.join(VENUES)}")
    if symbol != symbol.strip() or " " in symbol:
        raise MMError(f"bad symbol {symbol!r}", "a symbol has no spaces")
    if kind == "inverse" and contract_size is None:
        raise MMError(
            f"inverse {instrument} needs its contract size",
            "pass --contract-size, the USD value of one contract",
        )
    if kind == "inverse" and not settle:
        raise MMError(f"inverse {instrument} needs its settlement coin", "pass --settle, e.g. BTC")
    if quote is None:
        quote = "USD" if kind == "inverse" else "USDC" if venue == "hyperliquid" else "USDT"
    if price_sig_figs is None and venue == "hyperliquid":
        price_sig_figs = 5
    spec = InstrumentSpec(
        venue,
        symbol,
        _decimal(tick_size, "--tick-size") or Decimal(0),
        _decimal(lot_size, "--lot-size") or Decimal(0),
        _decimal(min_notional, "--min-notional") or Decimal(0),
        price_sig_figs=price_sig_figs,
        quote_currency=quote,
        kind=kind,
        contract_size=_decimal(contract_size, "--contract-size") or Decimal(1),
        settle_currency=settle or "",
    )
    update = update_user_catalog([spec], "mm instruments add")
    if as_json:
        emit_json({**update.to_dict(), "instrument": spec.to_dict()})
        return
    verb = "added" if update.added else "changed" if update.changed else "unchanged"
    print(f"{verb} {spec.id} ({spec.describe_terms()}) in {update.path}")
    for line in _changes(update):
        print(line)


@instruments_app.command("refresh")
@guarded("instruments refresh")
def refresh_cmd(
    venue: Annotated[str, typer.Option(help="bybit | binance-usdm | binance-coinm | hyperliquid.")],
    symbols: Annotated[
        list[str] | None,
        typer.Option("--symbols", help="Only these symbols (comma-separated or repeated)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch the venue's current instruments (online) into your catalog."""
    from connectors.catalog_refresh import refresh

    wanted = [s.strip() for group in symbols or [] for s in group.split(",") if s.strip()]
    result = refresh(venue, wanted or None)
    if as_json:
        emit_json(result.to_dict())
        return
    u = result.update
    print(
        f"{venue}: {result.fetched} instruments fetched: {len(u.added)} added, "
        f"{len(u.changed)} changed, {len(u.unchanged)} unchanged -> {u.path}"
    )
    for line in _changes(u):
        print(line)
    if result.skipped:
        print(f"  skipped {len(result.skipped)} unusable entries:")
        for name, why in result.skipped[:10]:
            print(f"    {name}: {why}")
