# SPDX-License-Identifier: MIT
import asyncio
import gzip
import json
import logging
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from crossfury.core.errors import RecorderError
from crossfury.recorder import Recorder, RecordingReader, day_of, recording_path, writer

MIDNIGHT = 1_721_347_200_000_000_000  # 2024-07-19 00:00:00 UTC in ns
T0 = MIDNIGHT - 3_600_000_000_000  # 2024-07-18 23:00 UTC
DAY_MS = 86_400_000


def wait_until(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.005)


def read_lines(*paths: Path) -> tuple[list[tuple[int, bytes]], RecordingReader]:
    reader = RecordingReader([Path(p) for p in paths])
    return [(line.local_ts, line.payload) for line in reader], reader


def run_child(tmp_path: Path, code: str, *args: str) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(code)
    return subprocess.Popen([sys.executable, str(script), str(T0), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def read_stdout_line(proc: subprocess.Popen, timeout_s: float = 30.0) -> bytes:
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            raise AssertionError(f"child printed nothing within {timeout_s} s")
        return proc.stdout.readline()


def open_paths() -> set[str]:
    paths = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            paths.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return paths


def test_day_of_and_recording_path_use_the_utc_day_of_the_timestamp(tmp_path):
    assert day_of(MIDNIGHT - 1) == "20240718"
    assert day_of(MIDNIGHT) == "20240719"
    assert recording_path(tmp_path, "BTC-USDT-PERP", MIDNIGHT) == tmp_path / "btc-usdt-perp_20240719.gz"
    with pytest.raises(ValueError, match="cannot name a recording file"):
        recording_path(tmp_path, "../btcusdt", MIDNIGHT)


def test_recorder_rotates_at_utc_midnight_by_receive_time_losing_no_line(tmp_path):
    # Arrange: two symbols interleaved across midnight, and one late line received before a later one
    lines = []
    for i in range(-500, 500):
        ts = MIDNIGHT + i * 1_000_000
        lines.append(("BTCUSDT", ts, b'{"s":"BTCUSDT","i":%d}' % i))
        if i % 3 == 0:
            lines.append(("ETHUSDT", ts + 1, f'{{"s":"ETHUSDT","i":{i}}}'))
    lines.append(("ETHUSDT", MIDNIGHT - 7, b'{"s":"ETHUSDT","late":true}'))

    # Act
    with Recorder(tmp_path, flush_interval_s=0.05) as rec:
        for symbol, ts, payload in lines:
            rec.write(symbol, ts, payload)

    # Assert: each file holds exactly its symbol's lines of its UTC day, in write order
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["btcusdt_20240718.gz", "btcusdt_20240719.gz",
                     "ethusdt_20240718.gz", "ethusdt_20240719.gz"]
    for name in files:
        symbol, day = name[:-3].split("_")
        expected = [(ts, p if isinstance(p, bytes) else p.encode()) for s, ts, p in lines
                    if s.lower() == symbol and day_of(ts) == day]
        got, reader = read_lines(tmp_path / name)
        assert got == expected, name
        assert reader.truncated == [] and reader.malformed == 0
    assert rec.stats()["lines_written"] == len(lines)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd to list open files")
def test_recorder_ends_a_symbols_day_file_once_a_later_days_line_is_written(tmp_path):
    rec = Recorder(tmp_path, flush_interval_s=3600)  # no periodic flush: only rotation can end the old file
    try:
        rec.write("BTCUSDT", MIDNIGHT - 2, b'{"i":1}')
        rec.write("BTCUSDT", MIDNIGHT - 1, b'{"i":2}')
        wait_until(lambda: str(tmp_path / "btcusdt_20240718.gz") in open_paths())

        rec.write("BTCUSDT", MIDNIGHT, b'{"i":3}')
        wait_until(lambda: rec.stats()["lines_written"] == 2)

        old = tmp_path / "btcusdt_20240718.gz"
        assert str(old) not in open_paths()
        assert gzip.decompress(old.read_bytes()) == b'%d {"i":1}\n%d {"i":2}\n' % (MIDNIGHT - 2, MIDNIGHT - 1)
    finally:
        rec.close()
    got, _ = read_lines(tmp_path / "btcusdt_20240719.gz")
    assert got == [(MIDNIGHT, b'{"i":3}')]


def test_recorder_appends_a_gzip_member_to_an_existing_file(tmp_path):
    with Recorder(tmp_path) as rec:
        rec.write("BTCUSDT", T0, b'{"session":1}')
    path = recording_path(tmp_path, "BTCUSDT", T0)
    first = path.read_bytes()

    with Recorder(tmp_path) as rec:
        rec.write("BTCUSDT", T0 + 1, b'{"session":2}')

    data = path.read_bytes()
    assert data.startswith(first) and len(data) > len(first)
    assert gzip.decompress(data) == b'%d {"session":1}\n%d {"session":2}\n' % (T0, T0 + 1)
    got, reader = read_lines(path)
    assert got == [(T0, b'{"session":1}'), (T0 + 1, b'{"session":2}')] and reader.truncated == []


@pytest.mark.parametrize("full_scan", [False, True], ids=["tail-window", "whole-file-scan"])
def test_recorder_sets_aside_a_file_whose_end_is_not_a_complete_member(tmp_path, monkeypatch, full_scan):
    if full_scan:  # the path taken for a foreign file made of one member longer than the tail window
        monkeypatch.setattr(writer, "_TAIL_WINDOW_BYTES", 64)
        monkeypatch.setattr(writer, "_TAIL_WINDOW_MAX_BYTES", 64)
    path = recording_path(tmp_path, "BTCUSDT", T0)
    whole = gzip.compress(b"%d {\"old\":1}\n" % T0)
    body = b"".join(b'%d {"old":2,"r":"%s"}\n' % (T0 + 1, os.urandom(32).hex().encode()) for _ in range(50))
    path.write_bytes(whole + gzip.compress(body)[:-100])  # a member cut short, as by a kill mid-write
    original = path.read_bytes()

    with Recorder(tmp_path) as rec:
        rec.write("BTCUSDT", T0 + 2, b'{"new":1}')

    asides = list(tmp_path.glob("btcusdt_20240718.damaged-*.gz"))
    assert len(asides) == 1
    assert asides[0].read_bytes() == original
    assert gzip.decompress(path.read_bytes()) == b'%d {"new":1}\n' % (T0 + 2)


@pytest.mark.parametrize("full_scan", [False, True], ids=["tail-window", "whole-file-scan"])
def test_recorder_appends_to_a_complete_file_made_by_another_writer(tmp_path, monkeypatch, full_scan):
    if full_scan:
        monkeypatch.setattr(writer, "_TAIL_WINDOW_BYTES", 64)
        monkeypatch.setattr(writer, "_TAIL_WINDOW_MAX_BYTES", 64)
    path = recording_path(tmp_path, "BTCUSDT", T0)
    body = b"".join(b'%d {"old":%d,"r":"%s"}\n' % (T0, i, os.urandom(32).hex().encode()) for i in range(200))
    path.write_bytes(gzip.compress(body[:5000]) + gzip.compress(body[5000:]))

    with Recorder(tmp_path) as rec:
        rec.write("BTCUSDT", T0 + 1, b'{"new":1}')

    assert list(tmp_path.glob("*.damaged-*")) == []
    assert gzip.decompress(path.read_bytes()) == body + b'%d {"new":1}\n' % (T0 + 1)


SIGKILL_CHILD = r"""
import sys, time
from crossfury.recorder import Recorder
T0 = int(sys.argv[1])
def line(i):
    return b'{"stream":"btcusdt@depth","data":{"u":%d,"pad":"%s"}}' % (i, b"x" * 220)
rec = Recorder(sys.argv[2], flush_interval_s=0.05)
for i in range(2000):
    rec.write("BTCUSDT", T0 + i, line(i))
deadline = time.monotonic() + 20
while rec.stats()["lines_written"] < 2000:
    if time.monotonic() > deadline:
        sys.exit("2000 lines not flushed within 20 s")
    time.sleep(0.005)
print(2000, flush=True)
i = 2000
while True:  # record until the parent kills this process
    rec.write("BTCUSDT", T0 + i, line(i))
    i += 1
    if i % 200 == 0:
        time.sleep(0.001)
"""


def test_recorder_sigkill_keeps_every_line_flushed_before_the_kill_and_restart_appends(tmp_path):
    out = tmp_path / "rec"
    path = recording_path(out, "BTCUSDT", T0)
    proc = run_child(tmp_path, SIGKILL_CHILD, str(out))
    try:
        flushed = int(read_stdout_line(proc) or b"0")
        size = path.stat().st_size
        wait_until(lambda: path.stat().st_size > size)  # killed mid-record, after more flushes
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    assert flushed == 2000

    got, reader = read_lines(path)

    def line(i: int) -> bytes:
        return b'{"stream":"btcusdt@depth","data":{"u":%d,"pad":"%s"}}' % (i, b"x" * 220)

    assert len(got) > flushed
    assert got == [(T0 + i, line(i)) for i in range(len(got))]
    assert reader.malformed == 0

    with Recorder(out) as rec:  # restart the same day
        rec.write("BTCUSDT", T0 + 10**9, b'{"restart":1}')
    every = sorted(out.glob("btcusdt_20240718*.gz"))  # a set-aside damaged file sorts before the new one
    again, reader = read_lines(*every)
    assert again == got + [(T0 + 10**9, b'{"restart":1}')]
    assert str(path) not in reader.truncated


SIGTERM_CHILD = r"""
import asyncio, sys
from crossfury.recorder import Recorder, install_signal_handlers
T0 = int(sys.argv[1])
async def main():
    stop = asyncio.Event()
    install_signal_handlers(asyncio.get_running_loop(), stop.set)
    rec = Recorder(sys.argv[2], flush_interval_s=3600)  # nothing is ended before close
    n = 0
    while not stop.is_set() and n < 5_000_000:
        rec.write("ETHUSDT" if n % 2 else "BTCUSDT", T0 + n, b'{"n":%d}' % n)
        n += 1
        if n == 1000:
            print("recording", flush=True)
        if n % 100 == 0:
            await asyncio.sleep(0.001)
    await rec.aclose()
    print(n, rec.stats()["lines_written"], flush=True)
asyncio.run(main())
"""


def test_recorder_close_after_sigterm_leaves_complete_gzip_files(tmp_path):
    out = tmp_path / "rec"
    proc = run_child(tmp_path, SIGTERM_CHILD, str(out))
    try:
        assert read_stdout_line(proc) == b"recording\n"
        proc.send_signal(signal.SIGTERM)
        stdout, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    n, written = map(int, stdout.split())
    assert written == n

    btc = gzip.decompress(recording_path(out, "BTCUSDT", T0).read_bytes())  # checks every trailer's CRC
    eth = gzip.decompress(recording_path(out, "ETHUSDT", T0).read_bytes())
    assert btc.splitlines() == [b'%d {"n":%d}' % (T0 + k, k) for k in range(0, n, 2)]
    assert eth.splitlines() == [b'%d {"n":%d}' % (T0 + k, k) for k in range(1, n, 2)]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to simulate a full disk")
def test_recorder_full_disk_raises_recorder_error_naming_the_file(tmp_path, caplog):
    path = recording_path(tmp_path, "BTCUSDT", T0)
    path.symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
    rec = Recorder(tmp_path, flush_interval_s=0.01)
    rec.write("BTCUSDT", T0, b'{"i":1}')

    wait_until(lambda: rec.stats()["errors"] == 1)

    with pytest.raises(RecorderError) as raised:
        rec.write("BTCUSDT", T0 + 1, b'{"i":2}')
    message = str(raised.value)
    assert f"recording to {path} failed after 0 lines were written to it" in message
    assert "No space left on device" in message
    assert f"its next 1 lines (from local_ts {T0})" in message
    with pytest.raises(RecorderError, match="No space left on device"):
        rec.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].getMessage() == message


FILE_LIMIT_CHILD = r"""
import json, os, resource, signal, sys, time
from crossfury.core.errors import RecorderError
from crossfury.recorder import Recorder
T0 = int(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
rec = Recorder(sys.argv[2], flush_interval_s=0.01)
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
n, message = 0, None
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        rec.write("BTCUSDT", T0 + n, b'{"n":%d,"r":"%s"}' % (n, os.urandom(64).hex().encode()))
    except RecorderError as exc:
        message = str(exc)
        break
    n += 1
    if n % 50 == 0:
        time.sleep(0.002)
try:
    rec.close()
except RecorderError as exc:
    assert str(exc) == message
print(json.dumps({"message": message, "accepted": n}))
"""


def test_recorder_write_failure_mid_file_keeps_the_file_readable_up_to_the_last_member(tmp_path):
    out = tmp_path / "rec"
    path = recording_path(out, "BTCUSDT", T0)
    proc = run_child(tmp_path, FILE_LIMIT_CHILD, str(out))
    stdout, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err.decode()
    result = json.loads(stdout)
    message = result["message"]
    assert message is not None, "the write past the file size limit was not reported"
    written = rf"recording to {re.escape(str(path))} failed after (\d+) lines were written to it"
    match = re.search(written, message)
    assert match and "File too large" in message, message

    got, reader = read_lines(path)

    assert len(got) == int(match.group(1)) > 0
    assert [json.loads(p)["n"] for _, p in got] == list(range(len(got)))
    assert [ts for ts, _ in got] == [T0 + i for i in range(len(got))]
    assert reader.truncated == [] and reader.malformed == 0
    assert path.stat().st_size <= 100_000


def test_recorder_backlog_over_the_limit_raises_and_keeps_earlier_lines(tmp_path):
    rec = Recorder(tmp_path, max_backlog_bytes=1000)
    rec.write("BTCUSDT", T0, b'{"i":1}')

    with pytest.raises(RecorderError, match="exceeds max_backlog_bytes 1000"):
        rec.write("BTCUSDT", T0 + 1, b"x" * 1001)
    with pytest.raises(RecorderError, match=f"the line for BTCUSDT at local_ts {T0 + 1}"):
        rec.write("BTCUSDT", T0 + 2, b'{"i":3}')
    with pytest.raises(RecorderError, match="exceeds max_backlog_bytes"):
        rec.close()

    got, reader = read_lines(recording_path(tmp_path, "BTCUSDT", T0))
    assert got == [(T0, b'{"i":1}')] and reader.truncated == []


def test_recorder_refuses_a_path_that_is_a_file(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("x")

    with pytest.raises(RecorderError, match=f"recording directory {target} is not a directory"):
        Recorder(target)
    with pytest.raises(RecorderError, match=f"cannot create recording directory {target / 'sub'}"):
        Recorder(target / "sub")


def construction_error(out_dir: Path) -> str:
    try:
        Recorder(out_dir).close()
    except RecorderError as exc:
        return str(exc)
    return "no error"


def construction_error_unprivileged(out_dir: Path) -> str:
    # Root may write to a directory whatever its mode, so try as user nobody, in a forked child: an exec'd
    # interpreter could sit where nobody cannot read it.
    if os.geteuid() != 0:
        return construction_error(out_dir)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            try:
                os.setgid(65534)
                os.setuid(65534)
            except OSError:
                os.write(write_end, b"skip: cannot switch to user nobody")
            else:
                os.write(write_end, construction_error(out_dir).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        text = f.read().decode()
    os.waitpid(pid, 0)
    if text.startswith("skip:"):
        pytest.skip(text[5:])
    return text


def test_recorder_refuses_a_read_only_directory():
    ro = Path(tempfile.mkdtemp(prefix="crossfury-ro-"))  # under /tmp, so user nobody can reach it
    try:
        ro.chmod(0o555)
        message = construction_error_unprivileged(ro)
    finally:
        ro.chmod(0o755)
        shutil.rmtree(ro)
    assert message == f"recording directory {ro} is not writable: Permission denied"


def test_recorder_stores_newlines_in_a_payload_as_spaces(tmp_path):
    payloads = [b'{"a":\n [1,\r\n2],\n"b":"x"}', '{"c":\n3}']
    with Recorder(tmp_path) as rec:
        for i, p in enumerate(payloads):
            rec.write("BTCUSDT", T0 + i, p)

    got, reader = read_lines(recording_path(tmp_path, "BTCUSDT", T0))
    assert [p for _, p in got] == [b'{"a":  [1,  2], "b":"x"}', b'{"c": 3}']
    assert [json.loads(p) for _, p in got] == [json.loads(p) for p in payloads]
    assert reader.lines == 2 and reader.malformed == 0


def test_recorder_writes_str_and_bytes_payloads(tmp_path):
    buffer = bytearray(b'{"buf":1}')
    with Recorder(tmp_path) as rec:
        rec.write("BTCUSDT", T0, b'{"bytes":1}')
        rec.write("BTCUSDT", T0 + 1, '{"str":"caf\u00e9 \u20ac"}')
        rec.write("BTCUSDT", T0 + 2, buffer)
        buffer[:] = b'{"buf":2}'  # the caller reusing its buffer must not change what was recorded

    got, _ = read_lines(recording_path(tmp_path, "BTCUSDT", T0))
    text = '{"str":"caf\u00e9 \u20ac"}'
    assert got == [(T0, b'{"bytes":1}'), (T0 + 1, text.encode()), (T0 + 2, b'{"buf":1}')]
    stats = rec.stats()
    assert stats["lines"] == stats["lines_written"] == 3
    assert stats["bytes"] == len(gzip.decompress(recording_path(tmp_path, "BTCUSDT", T0).read_bytes()))
    assert stats["files"] == [str(recording_path(tmp_path, "BTCUSDT", T0))]
    assert stats["backlog_bytes"] == 0 and stats["errors"] == 0 and stats["error"] is None


def test_recorder_write_rejects_bad_arguments_at_the_call(tmp_path):
    np = pytest.importorskip("numpy")
    with Recorder(tmp_path) as rec:
        with pytest.raises(ValueError, match="cannot name a recording file"):
            rec.write("BTC/USDT", T0, b"{}")
        with pytest.raises(TypeError):
            rec.write("BTCUSDT", float(T0), b"{}")
        with pytest.raises(TypeError, match="payload must be bytes or str, not dict"):
            rec.write("BTCUSDT", T0, {"a": 1})
        rec.write("BTCUSDT", np.int64(T0), b"{}")

    got, _ = read_lines(recording_path(tmp_path, "BTCUSDT", T0))
    assert got == [(T0, b"{}")]


def test_recorder_close_is_idempotent_and_write_after_close_raises(tmp_path):
    rec = Recorder(tmp_path)
    rec.write("BTCUSDT", T0, b"{}")
    rec.close()
    rec.close()

    with pytest.raises(RecorderError, match="is closed"):
        rec.write("BTCUSDT", T0 + 1, b"{}")
    got, _ = read_lines(recording_path(tmp_path, "BTCUSDT", T0))
    assert got == [(T0, b"{}")]


def test_recorder_close_writes_every_queued_line(tmp_path):
    rec = Recorder(tmp_path, flush_interval_s=3600)
    for i in range(100_000):  # more than the thread takes in one pass
        rec.write("BTCUSDT", T0 + i, b'{"i":%d}' % i)

    rec.close()

    data = gzip.decompress(recording_path(tmp_path, "BTCUSDT", T0).read_bytes())
    assert data == b"".join(b'%d {"i":%d}\n' % (T0 + i, i) for i in range(100_000))
    assert rec.stats()["lines_written"] == 100_000


def test_recorder_async_close_from_the_event_loop(tmp_path):
    async def record() -> dict:
        async with Recorder(tmp_path, flush_interval_s=3600) as rec:
            for i in range(100):
                rec.write("BTCUSDT", T0 + i, b'{"i":%d}' % i)
        await rec.aclose()  # again: idempotent
        return rec.stats()

    stats = asyncio.run(record())

    assert stats["lines_written"] == 100
    got, reader = read_lines(recording_path(tmp_path, "BTCUSDT", T0))
    assert got == [(T0 + i, b'{"i":%d}' % i) for i in range(100)] and reader.truncated == []
