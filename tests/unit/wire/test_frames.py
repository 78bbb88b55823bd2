# SPDX-License-Identifier: MIT
"""The native picows listener (crossfury._native.frames) driven with picows test frames, no socket."""

from __future__ import annotations

import time

import pytest
from picows.picows import WSMsgType, _make_test_ws_frame

from crossfury._native.frames import FrameListener, FrameRouter


class _Recorder:
    def __init__(self):
        self.messages: list[tuple[bytes, int]] = []
        self.other: list[tuple[int, bytes]] = []
        self.errors = 0
        self.disconnects = 0

    def on_message(self, payload: bytes, local_ts: int) -> None:
        self.messages.append((payload, local_ts))

    def on_other_frame(self, transport, frame) -> None:
        self.other.append((int(frame.msg_type), frame.get_payload_as_bytes()))

    def on_error(self) -> None:
        self.errors += 1

    def on_disconnected(self) -> None:
        self.disconnects += 1


def _listener(rec: _Recorder, clock_ns=time.time_ns, router=None) -> FrameListener:
    return FrameListener(rec.on_message, rec.on_other_frame, rec.on_error, rec.on_disconnected, clock_ns,
                         router)


def _text(payload: bytes, fin: bool = True):
    return _make_test_ws_frame(WSMsgType.TEXT, payload, fin, False)


def test_frame_listener_hands_whole_text_frames_over_as_bytes_with_their_receive_time():
    rec, ticks = _Recorder(), iter(range(1000, 2000, 10))
    listener = _listener(rec, clock_ns=lambda: next(ticks))

    listener.on_ws_frame(None, _text(b'{"a":1}'))
    listener.on_ws_frame(None, _text(b'{"b":2}'))

    assert rec.messages == [(b'{"a":1}', 1000), (b'{"b":2}', 1010)]
    assert listener.messages == 2 and listener.last_message_ns == 1010
    assert rec.other == [] and rec.errors == 0


def test_frame_listener_reads_the_realtime_clock_itself_for_time_time_ns():
    rec = _Recorder()
    listener = _listener(rec)
    before = time.time_ns()

    listener.on_ws_frame(None, _text(b"x"))

    after = time.time_ns()
    assert before <= rec.messages[0][1] <= after
    assert listener.last_message_ns == rec.messages[0][1]


def test_frame_listener_leaves_other_frames_to_python_and_counts_what_it_completes():
    rec, ticks = _Recorder(), iter(range(5, 100))
    listener = _listener(rec, clock_ns=lambda: next(ticks))

    listener.on_ws_frame(None, _text(b"part one ", fin=False))
    listener.on_ws_frame(None, _make_test_ws_frame(WSMsgType.CONTINUATION, b"and two", True, False))
    listener.on_ws_frame(None, _make_test_ws_frame(WSMsgType.BINARY, b"\x00\x01", True, False))
    listener.deliver(b"part one and two")

    assert rec.other == [(int(WSMsgType.TEXT), b"part one "), (int(WSMsgType.CONTINUATION), b"and two"),
                         (int(WSMsgType.BINARY), b"\x00\x01")]
    assert rec.messages == [(b"part one and two", 5)]
    assert listener.messages == 1


def test_frame_listener_passes_a_handler_failure_on_and_keeps_going():
    rec = _Recorder()
    calls = []

    def failing(payload: bytes, local_ts: int) -> None:
        calls.append(payload)
        raise RuntimeError("consumer bug")

    listener = FrameListener(failing, rec.on_other_frame, rec.on_error, rec.on_disconnected)

    listener.on_ws_frame(None, _text(b"1"))
    listener.deliver(b"2")
    listener.on_ws_frame(None, _text(b"3"))

    assert calls == [b"1", b"2", b"3"]
    assert rec.errors == 3 and listener.messages == 3


def test_frame_listener_with_a_router_that_takes_nothing_delivers_every_frame():
    rec = _Recorder()
    listener = _listener(rec, router=FrameRouter())

    listener.on_ws_frame(None, _text(b'{"stream":"x","data":{}}'))

    assert [m[0] for m in rec.messages] == [b'{"stream":"x","data":{}}']


def test_frame_listener_reports_the_disconnect():
    rec = _Recorder()

    _listener(rec).on_ws_disconnected(None)

    assert rec.disconnects == 1


def test_frame_listener_router_must_be_a_frame_router():
    with pytest.raises(TypeError):
        _listener(_Recorder(), router=object())
