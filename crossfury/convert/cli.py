# SPDX-License-Identifier: MIT
"""``crossfury convert tardis|recording`` and ``crossfury stats``: registered by crossfury.cli."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from crossfury.core.errors import ConvertError

log = logging.getLogger(__name__)


class _ProgressBar:
    """A progress bar on stderr, shown once a conversion has taken a couple of seconds, only on a terminal."""

    def __init__(self, enabled: bool, delay_s: float = 2.0):
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.monotonic()
        self.delay_s = delay_s
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.delay_s or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        self.shown = True
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\rreading {bar:<30} {frac:6.1%} {done / 1e6:8.1f} / {total / 1e6:.1f} MB "
                         f"{now - self.start:6.1f} s")
        sys.stderr.flush()

    def done(self, what: str) -> None:
        if self.shown:
            sys.stderr.write(f"\r{what:<90}\n")
            sys.stderr.flush()


def _summary(report, output: Path | None, elapsed: float, as_json: bool) -> None:
    if as_json:
        d = report.as_dict()
        d["output"] = str(output) if output else None
        d["seconds"]["total"] = elapsed
        json.dump(d, sys.stdout)
        print()
        return
    print(f"{report.rows} rows from {len(report.files)} files -> {report.out_rows} events in {output} "
          f"({elapsed:.2f} s)")
    if report.local_offset_ns:
        print(f"local_ts shifted by {report.local_offset_ns} ns (negative feed latency found)")
    if report.counts:
        c = report.counts
        skipped = ", ".join(f"{c[k]} {k}" for k in ("acks", "errors", "other", "not_market") if c.get(k))
        print(f"lines: {c['lines']} read ({c['depth']} depth, {c['snapshots']} snapshots, {c['trades']} trades"
              + (f", {c['tickers']} tickers" if c["tickers"] else "") + (f", {c['marks']} mark prices" if c["marks"] else "")
              + ")" + (f"; skipped: {skipped}" if skipped else ""))
        if c.get("gaps") or c.get("stale") or c.get("held") or c.get("dropped"):
            print(f"sync: {c['gaps']} gaps, {c['stale']} stale updates dropped, {c['held']} held at the end "
                  f"(never bridged), {c['dropped']} dropped from a full hold buffer; state {c['state']}")
    if report.dropped_snapshot_rows:
        print(f"{report.dropped_snapshot_rows} snapshot rows at the end of a file dropped (no update after them)")
    if report.malformed:
        print(f"{report.malformed} malformed rows skipped; first: " + "; ".join(report.problems[:3]), file=sys.stderr)
    for path in report.truncated:
        print(f"{path}: truncated or damaged; converted up to its last complete line", file=sys.stderr)


def _run(args: argparse.Namespace, work) -> int:
    bar = _ProgressBar(not args.quiet)
    t = time.perf_counter()
    try:
        report, output = work(bar)
    except ConvertError as exc:
        bar.done("")
        print(f"crossfury {args.command}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        bar.done("")
        print(f"crossfury {args.command}: {exc}", file=sys.stderr)
        return 1
    bar.done("done")
    _summary(report, output, time.perf_counter() - t, args.json)
    return 0


def _cmd_tardis(args: argparse.Namespace) -> int:
    from crossfury import convert

    def work(bar):
        out = Path(args.output)
        return convert.convert_tardis(args.files, out, snapshot_mode=args.snapshot_mode,
                                      base_latency=args.base_latency, strict=args.strict, compress=args.compress,
                                      progress=bar), out

    return _run(args, work)


def _cmd_recording(args: argparse.Namespace) -> int:
    from crossfury import convert

    options = dict(with_bbo=args.with_bbo, with_mark_price=args.with_mark_price, sync=args.sync,
                   agg_trades=args.agg_trades)
    if args.to_tardis:
        from crossfury.convert.export import to_tardis

        try:
            written = to_tardis(args.files, args.to_tardis, strict=args.strict, **options)
        except ConvertError as exc:
            print(f"crossfury convert: {exc}", file=sys.stderr)
            return 1
        for kind, path in written.items():
            print(f"{kind}: {path}")
        return 0
    if not args.output:
        print("crossfury convert recording: give -o OUT.npz (or --to-tardis DIR)", file=sys.stderr)
        return 2

    def work(bar):
        out = Path(args.output)
        return convert.convert_recording(args.files, out, base_latency=args.base_latency, strict=args.strict,
                                         compress=args.compress, progress=bar, **options), out

    return _run(args, work)


def _cmd_stats(args: argparse.Namespace) -> int:
    from crossfury import convert
    from crossfury.convert.stats import stats

    try:
        data = convert.load_npz(args.file)
    except (OSError, KeyError, ValueError) as exc:
        print(f"crossfury stats: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    result = stats(data, book_check=not args.no_book)
    if args.json:
        json.dump(result, sys.stdout)
        print()
    else:
        print(f"{args.file}: {result['rows']} rows ({result['exchange_rows']} exchange, {result['local_rows']} local, "
              f"{result['both_rows']} both)")
        for k, v in result["events_by_kind"].items():
            print(f"  {k:<16}{v:>12}")
        if result.get("local_time"):
            print(f"local time {result['local_time']['first']} -> {result['local_time']['last']} "
                  f"({result['duration_s']:.3f} s)")
        for name in ("depth_price", "trade_price"):
            if result.get(name):
                print(f"{name.replace('_', ' ')} {result[name]['min']:g} .. {result[name]['max']:g}")
        if result.get("latency_us"):
            print("feed latency us: " + ", ".join(f"{k} {v:.1f}" for k, v in result["latency_us"].items()))
        print(f"negative sizes: {result['negative_sizes']}")
        if "book" in result:
            b = result["book"]
            print("book check: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in b.items()))
    book = result.get("book", {})
    bad = result["negative_sizes"] or book.get("crossed") or book.get("refused")
    return 1 if bad and args.strict else 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--base-latency", type=int, default=0, metavar="NS",
                   help="added to local times when negative feed latency is corrected (ns, as hftbacktest)")
    p.add_argument("--strict", action="store_true", help="stop at the first malformed row (exit 1)")
    p.add_argument("--compress", choices=["fast", "none", "zlib"], default="fast",
                   help="npz member: deflate level 1 (default), stored (64-byte aligned, mmap-able), or zlib level 6")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``convert`` (``tardis``, ``recording``) and ``stats`` on the crossfury command line."""
    p = sub.add_parser("convert", help="convert Tardis CSV or recordings to hftbacktest .npz",
                       description="Convert market data into hftbacktest's event format (.npz with data.npy), "
                                   "the same events as hftbacktest 2.4.4's converters, in C.")
    conv = p.add_subparsers(dest="source", metavar="SOURCE", required=True)

    t = conv.add_parser("tardis", help="Tardis trades and incremental_book_L2 CSV files (plain or .gz)",
                        description="Convert Tardis.dev trades and incremental_book_L2 CSV files (told apart by "
                                    "their header) into one .npz. Trades come before depth updates at equal times.")
    _common(t)
    t.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    t.add_argument("--snapshot-mode", choices=["process", "ignore_sod", "ignore"], default="process",
                   help="process every snapshot, ignore the start-of-day one, or ignore all (as hftbacktest)")
    t.set_defaults(func=_cmd_tardis)

    r = conv.add_parser("recording", help="collector-format recordings (hftbacktest's, crossfury record's)",
                        description="Convert '<receive ts> <raw JSON>' recordings (gzip or plain, ns or us times, "
                                    "combined or raw streams, spot or futures) into one .npz. Files given in "
                                    "order continue one another. Acks and error bodies are counted and skipped.")
    _common(r)
    r.add_argument("-o", "--output", metavar="OUT.npz")
    r.add_argument("--with-bbo", action="store_true", help="book tickers as events 103 (bid) and 104 (ask)")
    r.add_argument("--with-mark-price", action="store_true",
                   help="mark price updates as events 100 (index), 101 (mark), 102 (funding rate)")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--compat", dest="sync", action="store_false",
                      help="every depth update as it came, as hftbacktest (default)")
    mode.add_argument("--sync", dest="sync", action="store_true",
                      help="apply the exchange's update-id rules: hold updates until a snapshot, bridge it, "
                           "clear and wait for a new snapshot on a gap")
    r.add_argument("--agg-trades", action="store_true", default=None,
                   help="count aggTrade messages as trades (hftbacktest skips them; on by default with --sync)")
    r.add_argument("--to-tardis", metavar="DIR", help="write Tardis-format CSV files into DIR instead of an .npz")
    r.set_defaults(func=_cmd_recording, sync=False)

    s = sub.add_parser("stats", help="summarise an event .npz and check its order book",
                       description="Counts per event kind, time span, price ranges, feed latency percentiles, and a "
                                   "replay of the local depth events through the C book (crossed books, refused "
                                   "levels, levels a clear left standing).")
    s.add_argument("file", metavar="FILE.npz")
    s.add_argument("--json", action="store_true")
    s.add_argument("--no-book", action="store_true", help="skip the order book replay")
    s.add_argument("--strict", action="store_true", help="exit 1 when the book check finds a problem")
    s.set_defaults(func=_cmd_stats)


def main(argv: list[str] | None = None) -> int:
    """Run ``convert`` and ``stats`` on their own: ``python -m crossfury.convert.cli convert tardis ...``."""
    parser = argparse.ArgumentParser(prog="crossfury")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_commands(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
