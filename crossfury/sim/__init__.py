# SPDX-License-Identifier: MIT
"""Exchange simulators on 127.0.0.1: real WebSocket and REST servers with faults, for tests and offline runs.

A simulator is an independent implementation of the exchange side: it never imports crossfury's decode,
book, wire or connector code, so a bug shared by both sides cannot make a test pass.

```python
async with BinanceSim("usdm", events_per_s=200) as sim:
    url = f"{sim.ws_url}/stream?streams=btcusdt@depth@100ms"      # any websocket client
    snapshot = f"{sim.rest_url}/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
```
"""

from crossfury.sim.cli import add_arguments, build_sim, main, run
from crossfury.sim.faults import FAULTS, ScheduledFault, parse_fault

TYPE_CHECKING = False
if TYPE_CHECKING:
    from crossfury.sim.binance import BinanceSim


def __getattr__(name: str):
    # The servers (and aiohttp) load on first use, so 'crossfury convert' and friends do not pay for them.
    if name == "BinanceSim":
        from crossfury.sim.binance import BinanceSim

        return BinanceSim
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["FAULTS", "BinanceSim", "ScheduledFault", "add_arguments", "build_sim", "main", "parse_fault", "run"]
