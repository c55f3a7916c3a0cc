"""`mm import` of tardis.dev CSVs: wall/CPU seconds, lines/s and rows/s per data type,
next to the native capture they were converted from.

    .venv/bin/python -m bench.import_tardis

The bundled Binance sample is converted to tardis ``incremental_book_L2``, ``trades`` and
``quotes`` files (gzip) by the tests' converter (``tests/foundation/tardis_convert.py``,
tardis' published format); each file, and the native capture, is imported in a fresh
process into a fresh lake (``bench.import_scale.run_import``). Numbers only: compare
before and after a change on the same machine.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.import_scale import REPO, run_import
from bench.make_capture import SAMPLE


def main() -> None:
    sys.path.insert(0, str(REPO / "tests" / "foundation"))
    from tardis_convert import convert_binance

    with tempfile.TemporaryDirectory(prefix="bench_tardis_") as tmp_name:
        tmp = Path(tmp_name)
        files = convert_binance(SAMPLE, tmp / "csv", gz=True)
        print(
            f"  {'file':<22} {'lines':>9} {'rows':>9} {'wall s':>7} {'cpu s':>6} "
            f"{'lines/s':>9} {'rows/s':>9}"
        )
        for label, path in [("native capture", SAMPLE), *files.items()]:
            r = run_import(path, tmp / f"lake-{label}")
            print(
                f"  {label:<22} {r['lines']:>9,} {r['rows']:>9,} {r['seconds']:>7.2f} "
                f"{r['cpu_seconds']:>6.2f} {r['lines_per_s']:>9,} {r['rows_per_s']:>9,}"
            )


if __name__ == "__main__":
    main()
