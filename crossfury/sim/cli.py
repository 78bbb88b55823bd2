# SPDX-License-Identifier: MIT
"""``crossfury sim``: options and the foreground server. Importing this module does not import the servers
(aiohttp), so building the crossfury command line stays cheap for every other command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crossfury.core.errors import ConfigError
from crossfury.sim.account import DEFAULT_API_KEY, DEFAULT_API_SECRET
from crossfury.sim.faults import FAULT_EXAMPLES

if TYPE_CHECKING:
    from crossfury.sim.binance import BinanceSim

EXCHANGES = {"binance-spot": "spot", "binance-usdm": "usdm", "binance-coinm": "coinm"}

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``crossfury sim`` options to ``parser``."""
    parser.add_argument("--exchange", choices=sorted(EXCHANGES), default="binance-usdm",
                        help="which Binance market to simulate (default binance-usdm)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--replay", nargs="+", action="extend", metavar="FILE", default=[],
                        help="re-emit recordings (hftbacktest collector format) instead of the synthetic market")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="replay speed, times real time; 0 or inf = as fast as possible (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic market (default 1)")
    parser.add_argument("--symbols", nargs="+", action="extend", metavar="SYMBOL", default=[],
                        help="symbols to serve (default BTCUSDT ETHUSDT SOLUSDT; COIN-M BTCUSD_PERP ETHUSD_PERP)")
    parser.add_argument("--events-per-s", default="50",
                        help="synthetic depth events per second per symbol, or 'flood' (default 50)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME@SECONDS[:k=v,...]",
                        help="schedule a fault SECONDS after start (repeatable). Market: "
                             f"{', '.join(FAULT_EXAMPLES[:7])}. Trading (the simulated account): "
                             f"{', '.join(FAULT_EXAMPLES[7:])}")
    parser.add_argument("--ping-interval-s", type=float, help="server ping interval (default 20 spot, 180 futures)")
    parser.add_argument("--pong-timeout-s", type=float, help="drop a client silent this long after a ping")
    parser.add_argument("--max-connection-age-s", type=float, default=86_400.0,
                        help="close connections this old (default 24 h)")
    parser.add_argument("--weight-limit", type=int, help="REST weight per minute (default 6000 spot, 2400 futures)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY,
                        help=f"API key of the simulated, funded account (default {DEFAULT_API_KEY})")
    parser.add_argument("--api-secret", default=DEFAULT_API_SECRET,
                        help=f"API secret of the simulated account (default {DEFAULT_API_SECRET})")
    parser.add_argument("--api-public-key", metavar="PEM_FILE",
                        help="an Ed25519 public key (PEM file): the account's key is then Ed25519 and signatures "
                             "are checked against it instead of the HMAC secret")


def _events_per_s(text: str) -> float | None:
    if text.lower() in ("flood", "0", "none", "inf"):
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"--events-per-s {text!r}: expected a number or 'flood'") from None


def build_sim(args: argparse.Namespace) -> BinanceSim:
    """Build a simulator from parsed ``crossfury sim`` options."""
    from crossfury.sim.binance import BinanceSim

    symbols = [s for item in args.symbols for s in item.split(",") if s]
    return BinanceSim(EXCHANGES[args.exchange], symbols=symbols or None, seed=args.seed,
                      events_per_s=_events_per_s(args.events_per_s), replay=args.replay or None,
                      speed=args.speed, faults=args.fault, ping_interval_s=args.ping_interval_s,
                      pong_timeout_s=args.pong_timeout_s, max_connection_age_s=args.max_connection_age_s,
                      weight_limit=args.weight_limit, api_key=getattr(args, "api_key", DEFAULT_API_KEY),
                      api_secret=getattr(args, "api_secret", DEFAULT_API_SECRET),
                      api_public_key=_read_key(getattr(args, "api_public_key", None)))


def _read_key(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"--api-public-key {path}: {exc.strerror or exc}") from None


async def _serve(args: argparse.Namespace) -> None:
    sim = build_sim(args)
    await sim.start(args.host, args.port)
    try:
        first = sim.symbols[0]
        source = (f"replaying {len(args.replay)} file(s) at speed {args.speed:g}" if args.replay else
                  f"synthetic market, {args.events_per_s} events/s per symbol")
        print(f"crossfury sim: {args.exchange} on {sim.host}:{sim.port} ({source}); symbols {', '.join(sim.symbols)}")
        print(f"  REST    {sim.rest_url}{sim.rest_prefix}/depth?symbol={first}&limit=100")
        print(f"  WS      {sim.ws_url}/stream?streams={first.lower()}@depth@100ms   (raw: {sim.ws_url}/ws/<stream>)")
        print(f"  faults  POST {sim.rest_url}/_sim/fault {{\"fault\": \"drop_depth\", \"count\": 1}};"
              f" state: GET {sim.rest_url}/_sim/state")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (a background job)
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await sim.stop()


def run(args: argparse.Namespace) -> int:
    """Run the simulator until SIGINT (Ctrl-C) or SIGTERM; the ``crossfury sim`` subcommand calls this."""
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    except ConfigError as exc:
        print(f"crossfury sim: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` as ``crossfury sim`` options and run the simulator."""
    parser = argparse.ArgumentParser(prog="crossfury sim", description="Run a local Binance market simulator.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
