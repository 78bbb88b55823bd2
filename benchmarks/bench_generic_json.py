# SPDX-License-Identifier: MIT
"""Choose the generic JSON parser (everything off the hot path) by measurement.

Run ``python benchmarks/bench_generic_json.py``: json, orjson, msgspec and pysimdjson (fully materialised
to Python objects, as the connectors need) on the bodies that take the generic path: a Binance USD-M
exchangeInfo response, subscription acks and errors, and user-data and REST examples of three exchanges.
Each parser's output is checked once against json.loads.
"""

import gzip
import json
import sys
import timeit
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_bodies() -> dict[str, list[bytes]]:
    bodies = {"acks and errors": [b'{"result":null,"id":7}', b'{"result":["btcusdt@depth@100ms"],"id":9}',
                                  b'{"code":2,"msg":"Invalid request: unknown variant","id":3}']}
    info = DATA / "cryptofeed" / "BINANCE_FUTURES.0.gz"
    if info.exists():
        with gzip.open(info, "rb") as f:
            line = f.read().split(b"\n")[0]
        bodies["exchangeInfo (140 KB)"] = [line.split(b": ", 1)[1].strip()]
    examples = sorted((DATA / "nautilus_trader" / "doc_examples_not_recorded").rglob("*.json"))
    if examples:
        docs = [p.read_bytes() for p in examples]
        bodies[f"user data and REST examples ({len(docs)} files)"] = [d for d in docs if _valid(d)]
    return bodies


def _valid(data: bytes) -> bool:
    try:
        json.loads(data)
        return True
    except ValueError:
        return False


def parsers() -> dict:
    import msgspec
    import orjson
    import simdjson

    decoder = msgspec.json.Decoder()
    sj = simdjson.Parser()
    return {
        "json": json.loads,
        "orjson": orjson.loads,
        "msgspec": decoder.decode,
        "pysimdjson": lambda b: sj.parse(b, recursive=True),
    }


def main() -> None:
    results = {}
    for name, docs in load_bodies().items():
        row = {}
        for pname, parse in parsers().items():
            for d in docs:
                assert parse(d) == json.loads(d), (pname, name)
            n = max(1, 20000 // len(docs) // max(1, sum(map(len, docs)) // 20000))
            best = min(timeit.repeat(lambda parse=parse, docs=docs: [parse(d) for d in docs], number=n, repeat=5)) / n
            row[pname] = best
        results[name] = row
    print(f"Python {sys.version.split()[0]}; seconds per pass over each set, best of 5; ratio vs json.loads\n")
    print("| bodies | " + " | ".join(next(iter(results.values()))) + " |")
    print("|---|" + "---:|" * len(next(iter(results.values()))))
    for name, row in results.items():
        base = row["json"]
        print(f"| {name} | " + " | ".join(f"{t * 1e6:,.1f} us ({base / t:.1f}x)" for t in row.values()) + " |")


if __name__ == "__main__":
    main()
