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

from crossfury.sim.binance import BinanceSim, add_arguments, build_sim, main, run
from crossfury.sim.faults import FAULTS, ScheduledFault, parse_fault

__all__ = ["FAULTS", "BinanceSim", "ScheduledFault", "add_arguments", "build_sim", "main", "parse_fault", "run"]
