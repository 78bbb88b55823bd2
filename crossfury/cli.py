# SPDX-License-Identifier: MIT
"""The ``crossfury`` command: demo, record, sim, replay."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import crossfury


def _fmt_level(level: list[float] | None) -> str:
    return "-" if level is None else f"{level[1]:g} @ {level[0]:g}"


def _cmd_replay(args: argparse.Namespace) -> int:
    from crossfury.replay import Replay

    files = [Path(f) for f in args.files]
    with tempfile.TemporaryDirectory(prefix="crossfury-") as tmp:
        if not files:
            from crossfury.recorder.synthetic import write_synthetic_recording

            files = [write_synthetic_recording(Path(tmp) / "btcusdt_20240719.gz")]
            if not args.json:
                print(f"no FILE given: replaying a built-in synthetic Binance USD-M recording ({files[0].name})")
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            print(f"crossfury replay: no such file: {', '.join(missing)}", file=sys.stderr)
            return 2
        run = Replay(rule=args.rule)
        symbols = run.run(files)
    report = {sym: rep.as_dict() for sym, rep in symbols.items()}
    if args.json:
        json.dump(report, sys.stdout)
        print()
    else:
        reader = run.reader
        print(f"{reader.lines} lines read, {reader.malformed + run.unattributed} not attributed to a symbol "
              f"(acks, errors, junk)" + (f", truncated: {', '.join(reader.truncated)}" if reader.truncated else ""))
        head = f"{'symbol':<14}{'lines':>9}{'applied':>9}{'stale':>7}{'gaps':>6}{'resyncs':>8}{'bbo chk':>9}" \
               f"{'bbo bad':>9}{'bad':>5}  {'state':<10}{'best bid':>20}{'best ask':>20}"
        print(head)
        for sym, r in report.items():
            print(f"{sym:<14}{r['lines']:>9}{r['applied']:>9}{r['stale']:>7}{r['gaps']:>6}{r['resyncs']:>8}"
                  f"{r['bbo_checks']:>9}{r['bbo_mismatches']:>9}{r['malformed']:>5}  {r['state']:<10}"
                  f"{_fmt_level(r['best_bid']):>20}{_fmt_level(r['best_ask']):>20}")
    bad = any(r["gaps"] or r["bbo_mismatches"] for r in report.values())
    return 1 if bad and args.strict else 0


def _cmd_record(args: argparse.Namespace) -> int:
    from crossfury.core import aio
    from crossfury.core.errors import CrossfuryError
    from crossfury.record import record

    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    try:
        summary = aio.run(record(args.exchange, symbols, args.out, endpoint=args.endpoint, channels=channels,
                                 duration_s=args.duration))
    except CrossfuryError as exc:
        print(f"crossfury record: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"crossfury record: cannot reach {args.endpoint or args.exchange}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossfury", description="Crypto-exchange connectivity with a C hot path.")
    parser.add_argument("--version", action="version", version=f"crossfury {crossfury.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("replay", help="rebuild order books from recordings and check them",
                       description="Rebuild each symbol's order book from recordings in the hftbacktest collector "
                                   "format (gzip lines '<receive ts> <raw JSON>', ns or us timestamps), through "
                                   "the exchange's update-id sync rules, and check every bookTicker that matches "
                                   "the book's update id. Several files given in order continue one book. With "
                                   "no FILE, replays a built-in synthetic recording.")
    p.add_argument("files", nargs="*", metavar="FILE", help="recording files, in time order")
    p.add_argument("--json", action="store_true", help="print one JSON object keyed by symbol")
    p.add_argument("--rule", choices=["binance-spot", "binance-futures", "range", "prev-id"],
                   help="force the sync rule (default: from each symbol's depth events)")
    p.add_argument("--strict", action="store_true", help="exit 1 when any gap or top-of-book mismatch is found")
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser("record", help="record an exchange's raw feed to daily gzip files",
                       description="Subscribe to symbols and write every raw message, and each REST depth snapshot "
                                   "taken when a book (re)syncs, as '<receive ts ns> <raw text>' lines in "
                                   "<symbol>_<YYYYMMDD>.gz files (the hftbacktest collector format), rotating at UTC "
                                   "midnight. Stops cleanly on Ctrl-C / SIGTERM; exits 1 on a disk error.")
    p.add_argument("--exchange", default="binance-usdm", choices=["binance-spot", "binance-usdm", "binance-coinm"])
    p.add_argument("--symbols", required=True, help="comma separated, native (btcusdt) or normalised (BTC-USDT-PERP)")
    p.add_argument("--out", required=True, help="output directory (created if needed)")
    p.add_argument("--endpoint", help="REST base URL of another server (a simulator: http://127.0.0.1:PORT); "
                                      "the WebSocket goes to the same host")
    p.add_argument("--channels", default="book,trades,bbo", help="comma separated channels (default: %(default)s)")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=_cmd_record)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the crossfury command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
