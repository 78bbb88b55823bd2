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


def _cmd_demo(args: argparse.Namespace) -> int:
    from crossfury.core import aio
    from crossfury.demo import run_demo

    symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
    summary = aio.run(run_demo(exchange=args.exchange, endpoint=args.endpoint, ws_endpoint=args.ws_endpoint,
                               symbols=symbols,
                               duration_s=args.duration, out_dir=args.out, faults=not args.no_faults,
                               quiet=args.json))
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"\nrecorded {summary['recording']['lines']} lines into {len(summary['recording']['files'])} files")
        for sym, c in summary["replay"].items():
            verdict = "matches the live book" if c["replay_matches_live"] else "DIFFERS from the live book"
            print(f"replay {sym:<16} {c['replay_state']:<10} gaps {c['replay_gaps']}, top-of-book checks "
                  f"{c['bbo_checks']} ({c['bbo_mismatches']} mismatches); final top 20 {verdict}")
        print("OK" if summary["ok"] else "FAILED: a replayed book differs from the live one")
    return 0 if summary["ok"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossfury", description="Crypto-exchange connectivity with a C hot path.")
    parser.add_argument("--version", action="version", version=f"crossfury {crossfury.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="run the simulator, connect, record, inject faults, replay (offline)",
                       description="Start the built-in Binance simulator on 127.0.0.1, connect to it, subscribe a "
                                   "few symbols (book, trades, bookTicker), show the live books while recording the "
                                   "raw feed, inject a gap and a disconnect half-way so the resync and reconnect "
                                   "are visible, then replay the recording and check that the replayed books end "
                                   "exactly where the live ones did. To watch the real exchange instead, pass "
                                   "--endpoint https://fapi.binance.com (with --exchange binance-usdm; spot: "
                                   "https://api.binance.com; COIN-M: https://dapi.binance.com) and "
                                   "--ws-endpoint wss://fstream.binance.com (stream.binance.com:9443, "
                                   "dstream.binance.com): no fault is injected there.")
    p.add_argument("--exchange", default="binance-usdm", choices=["binance-spot", "binance-usdm", "binance-coinm"])
    p.add_argument("--symbols", help="comma separated native symbols (default: a few majors)")
    p.add_argument("--duration", type=float, default=15.0, help="seconds of live view (default: %(default)s)")
    p.add_argument("--out", help="directory for the recording (default: a temporary one, removed after)")
    p.add_argument("--endpoint", help="a real REST base URL instead of the simulator")
    p.add_argument("--ws-endpoint", help="the WebSocket base URL when it differs from --endpoint's host")
    p.add_argument("--no-faults", action="store_true", help="do not inject the gap and the disconnect")
    p.add_argument("--json", action="store_true", help="no live view; print the summary as JSON")
    p.set_defaults(func=_cmd_demo)

    from crossfury.sim import add_arguments as add_sim_arguments
    from crossfury.sim import run as run_sim

    p = sub.add_parser("sim", help="run a local exchange simulator (Binance spot, USD-M, COIN-M)",
                       description="Serve Binance's WebSocket streams and REST market data on 127.0.0.1 from a "
                                   "deterministic synthetic market or a replayed recording, with fault injection.")
    add_sim_arguments(p)
    p.set_defaults(func=run_sim)

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

    from crossfury.convert.cli import add_commands as add_convert_commands

    add_convert_commands(sub)
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
