"""Unit tests of parley_client against an in-process fake server speaking control protocol v1.

Run from the repository root: ``python3 -m unittest discover -s clients/python/tests -v``.
The fake is for these tests only; it implements the framing and envelopes of v1.md, not the engine.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sys
import tempfile
import threading
import time
import unittest
from contextlib import redirect_stderr, redirect_stdout
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

import parley_client  # noqa: E402
from parley_client import ParleyClient, ParleyError, default_socket_path, full_method_name  # noqa: E402

Frame = dict[str, Any]


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Polls `condition` until it holds or `seconds` passed; returns its last value."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


class FakeConnection:
    """One accepted client of the fake server: reads request frames, answers through `handler`."""

    def __init__(self, server: "FakeServer", sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.write_lock = threading.Lock()
        self.streams: dict[Any, threading.Event] = {}  # open streams: id -> cancelled flag

    def send(self, frame: Frame) -> None:
        self.send_raw(json.dumps(frame, separators=(",", ":")).encode() + b"\n")

    def send_raw(self, data: bytes) -> None:
        with self.write_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                pass  # the client left

    def end(self, request_id: Any, code: str = "OK", **extra: Any) -> None:
        self.streams.pop(request_id, None)
        self.send({"id": request_id, "end": {"code": code, **extra}})

    def serve(self) -> None:
        buffer = b""
        with self.sock:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self.receive(json.loads(line))

    def receive(self, frame: Frame) -> None:
        self.server.received.append(frame)
        request_id = frame.get("id")
        if "cancel" in frame:
            cancelled = self.streams.get(request_id)
            if cancelled is not None:
                cancelled.set()
                self.end(request_id, "CANCELLED")
            return
        method = frame["method"]
        handler = self.server.handlers.get(method)
        if handler is None:
            self.send({"id": request_id, "error": {"code": "UNIMPLEMENTED", "message": f"method {method} is not served",
                                                   "details": {"method": method}}})
            return
        # Each request runs on its own thread, so requests may complete out of order (v1.md §1).
        threading.Thread(target=handler, args=(self, frame), daemon=True).start()

    def open_stream(self, request_id: Any) -> threading.Event:
        cancelled = threading.Event()
        self.streams[request_id] = cancelled
        return cancelled


class FakeServer:
    """A thread serving a Unix socket in a temporary directory; `handlers` maps full method names."""

    def __init__(self, handlers: dict[str, Callable[[FakeConnection, Frame], None]]) -> None:
        self.handlers = handlers
        self.received: list[Frame] = []
        self.connections: list[FakeConnection] = []
        self.directory = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.directory.name, "control.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen()
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            connection = FakeConnection(self, sock)
            self.connections.append(connection)
            threading.Thread(target=connection.serve, daemon=True).start()

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for connection in self.connections:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.directory.cleanup()


# -- handlers of the fake ---------------------------------------------------------------------------

def health(conn: FakeConnection, frame: Frame) -> None:
    conn.send({"id": frame["id"], "result": {"status": "SERVING"}})


def echo(conn: FakeConnection, frame: Frame) -> None:
    """Answers with the request frame it received, so tests can see what the client wrote."""
    conn.send({"id": frame["id"], "result": {"request": frame}})


def get_call(conn: FakeConnection, frame: Frame) -> None:
    call_id = frame.get("params", {}).get("call_id")
    conn.send({"id": frame["id"], "error": {"code": "NOT_FOUND", "message": f"no call {call_id}",
                                            "details": {"field": "params.call_id"}}})


def slow(conn: FakeConnection, frame: Frame) -> None:
    time.sleep(0.3)
    conn.send({"id": frame["id"], "result": {"slow": True}})


def split(conn: FakeConnection, frame: Frame) -> None:
    """A result whose line arrives in two writes, cut inside a multi-byte UTF-8 character; with CRLF
    and an empty line around it."""
    data = json.dumps({"id": frame["id"], "result": {"text": "héllo wörld"}}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8") + b"\r\n"
    cut = data.index("é".encode()) + 1
    conn.send_raw(b"\n\r\n" + data[:cut])
    time.sleep(0.2)
    conn.send_raw(data[cut:])


def null_then_result(conn: FakeConnection, frame: Frame) -> None:
    conn.send({"id": None, "error": {"code": "INVALID_ARGUMENT", "message": "id: missing", "details": {"field": "id"}}})
    conn.send({"id": frame["id"], "result": {}})


def drop(conn: FakeConnection, frame: Frame) -> None:
    conn.sock.shutdown(socket.SHUT_RDWR)


def counter(conn: FakeConnection, frame: Frame) -> None:
    """A stream of `count` events, then end OK (or end with `end_code`)."""
    params = frame.get("params", {})
    conn.open_stream(frame["id"])
    for n in range(params.get("count", 3)):
        conn.send({"id": frame["id"], "event": {"type": "tick", "n": n}})
    code = params.get("end_code", "OK")
    if code == "OK":
        conn.end(frame["id"])
    else:
        conn.end(frame["id"], code, message="it broke", details={"why": "test"})


def watch(conn: FakeConnection, frame: Frame) -> None:
    """A Watch-like stream: a snapshot, then a tick every 50 ms until cancelled."""
    cancelled = conn.open_stream(frame["id"])
    conn.send({"id": frame["id"], "event": {"type": "snapshot", "calls": []}})
    while not cancelled.wait(0.05):
        if frame["id"] in conn.streams:
            conn.send({"id": frame["id"], "event": {"type": "tick"}})


def failing_stream(conn: FakeConnection, frame: Frame) -> None:
    """A stream that fails before its first event, with an error frame (v1.md §3)."""
    conn.send({"id": frame["id"], "error": {"code": "NOT_FOUND", "message": "no such call",
                                            "details": {"field": "params.call_id"}}})


HANDLERS = {
    "parley.v1.Engine/Health": health,
    "parley.v1.Test/Echo": echo,
    "parley.v1.Calls/Get": get_call,
    "parley.v1.Test/Slow": slow,
    "parley.v1.Test/Split": split,
    "parley.v1.Test/Null": null_then_result,
    "parley.v1.Test/Drop": drop,
    "parley.v1.Test/Counter": counter,
    "parley.v1.Calls/Watch": watch,
    "parley.v1.Test/FailingStream": failing_stream,
}


class ClientTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = FakeServer(HANDLERS)
        self.client = ParleyClient(self.server.path)

    def tearDown(self) -> None:
        self.client.close()
        self.server.close()

    def test_unary_result(self) -> None:
        self.assertEqual(self.client.call("Engine/Health", timeout=5), {"status": "SERVING"})
        self.assertEqual(self.client.call("parley.v1.Engine/Health", timeout=5), {"status": "SERVING"})

    def test_request_frame_shape(self) -> None:
        request = self.client.call("Test/Echo", timeout=5)["request"]
        self.assertEqual(list(request), ["id", "method"])  # id first, no params/deadline when absent
        self.assertIsInstance(request["id"], int)
        self.assertEqual(request["method"], "parley.v1.Test/Echo")
        second = self.client.call("Test/Echo", {"a": [1, "ü"]}, timeout=5)["request"]
        self.assertGreater(second["id"], request["id"])  # ids from a counter
        self.assertEqual(second["params"], {"a": [1, "ü"]})

    def test_deadline_ms_passes_through(self) -> None:
        request = self.client.call("Test/Echo", {}, deadline_ms=2500, timeout=5)["request"]
        self.assertEqual(request["deadline_ms"], 2500)
        self.assertEqual(self.server.received[-1]["deadline_ms"], 2500)

    def test_error_raises_parley_error(self) -> None:
        with self.assertRaises(ParleyError) as caught:
            self.client.call("Calls/Get", {"call_id": "call-9"}, timeout=5)
        self.assertEqual(caught.exception.code, "NOT_FOUND")
        self.assertEqual(caught.exception.details, {"field": "params.call_id"})
        self.assertEqual(caught.exception.message, "no call call-9")

    def test_unimplemented_method(self) -> None:
        with self.assertRaises(ParleyError) as caught:
            self.client.call("Calls/Dail", timeout=5)
        self.assertEqual(caught.exception.code, "UNIMPLEMENTED")
        self.assertEqual(caught.exception.details, {"method": "parley.v1.Calls/Dail"})

    def test_stream_events_then_end(self) -> None:
        events = list(self.client.stream("Test/Counter", {"count": 4}))
        self.assertEqual([event["n"] for event in events], [0, 1, 2, 3])

    def test_stream_error_end_raises(self) -> None:
        stream = self.client.stream("Test/Counter", {"count": 2, "end_code": "INTERNAL"})
        self.assertEqual(stream.read(timeout=5)["n"], 0)
        self.assertEqual(stream.read(timeout=5)["n"], 1)
        with self.assertRaises(ParleyError) as caught:
            stream.read(timeout=5)
        self.assertEqual((caught.exception.code, caught.exception.details), ("INTERNAL", {"why": "test"}))
        self.assertTrue(stream.finished)

    def test_stream_error_frame_raises(self) -> None:
        with self.assertRaises(ParleyError) as caught:
            next(iter(self.client.stream("Test/FailingStream", {"call_id": "x"})))
        self.assertEqual(caught.exception.code, "NOT_FOUND")

    def test_cancel_ends_stream_with_cancelled(self) -> None:
        stream = self.client.stream("Calls/Watch")
        self.assertEqual(stream.read(timeout=5)["type"], "snapshot")
        stream.cancel()
        remaining = list(stream)  # stops at the CANCELLED end, without raising
        self.assertEqual(remaining, [])
        self.assertEqual(stream.end, {"code": "CANCELLED"})
        self.assertEqual(self.server.received[-1], {"id": stream.id, "cancel": True})
        stream.cancel()  # idempotent: nothing more is sent
        self.assertEqual(self.server.received[-1], {"id": stream.id, "cancel": True})
        self.assertEqual(sum(1 for f in self.server.received if "cancel" in f), 1)

    def test_cancel_from_another_thread_stops_iteration(self) -> None:
        stream = self.client.stream("Calls/Watch")
        threading.Timer(0.2, stream.cancel).start()
        started = time.monotonic()
        count = sum(1 for _ in stream)
        self.assertGreaterEqual(count, 1)
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(stream.end["code"], "CANCELLED")

    def test_context_manager_cancels(self) -> None:
        with self.client.stream("Calls/Watch") as stream:
            stream.read(timeout=5)
        self.assertTrue(wait_for(lambda: {"id": stream.id, "cancel": True} in self.server.received))

    def test_unary_interleaved_with_open_stream(self) -> None:
        stream = self.client.stream("Calls/Watch")
        self.assertEqual(stream.read(timeout=5)["type"], "snapshot")
        # Unary calls on the same connection complete while the stream keeps sending events.
        results: list[Any] = []
        threads = [threading.Thread(target=lambda: results.append(self.client.call("Test/Slow", timeout=5)))
                   for _ in range(3)]
        for thread in threads:
            thread.start()
        self.assertEqual(self.client.call("Engine/Health", timeout=5), {"status": "SERVING"})
        for thread in threads:
            thread.join(5)
        self.assertEqual(results, [{"slow": True}] * 3)
        self.assertEqual(stream.read(timeout=5)["type"], "tick")
        stream.cancel()
        self.assertEqual(list(stream), [])

    def test_line_split_across_writes_is_reassembled(self) -> None:
        self.assertEqual(self.client.call("Test/Split", timeout=5), {"text": "héllo wörld"})
        self.assertEqual(self.client.call("Engine/Health", timeout=5), {"status": "SERVING"})

    def test_null_id_error_is_reported_not_routed(self) -> None:
        seen: list[Frame] = []
        self.client.on_unroutable_error = seen.append
        with self.assertLogs("parley_client", "ERROR"):
            self.assertEqual(self.client.call("Test/Null", timeout=5), {})
        self.assertEqual(seen[0]["code"], "INVALID_ARGUMENT")
        self.assertEqual(self.client.unroutable_errors, seen)

    def test_client_timeout_cancels(self) -> None:
        with self.assertRaises(ParleyError) as caught:
            self.client.call("Test/Slow", timeout=0.05)
        self.assertEqual(caught.exception.code, "DEADLINE_EXCEEDED")
        self.assertTrue(wait_for(lambda: self.server.received[-1].get("cancel") is True))
        time.sleep(0.4)  # the late result is dropped quietly; the connection still works
        self.assertEqual(self.client.call("Engine/Health", timeout=5), {"status": "SERVING"})

    def test_connection_loss_fails_waiting_calls(self) -> None:
        stream = self.client.stream("Calls/Watch")
        with self.assertRaises(ParleyError) as caught:
            self.client.call("Test/Drop", timeout=5)
        self.assertEqual(caught.exception.code, "UNAVAILABLE")
        with self.assertRaises(ParleyError):
            list(stream)
        with self.assertRaises(ParleyError):
            self.client.call("Engine/Health", timeout=5)

    def test_oversized_request_refused_locally(self) -> None:
        small = ParleyClient(self.server.path, max_frame_bytes=100)
        try:
            with self.assertRaises(ParleyError) as caught:
                small.call("Test/Echo", {"blob": "x" * 200}, timeout=5)
            self.assertEqual((caught.exception.code, caught.exception.details), ("RESOURCE_EXHAUSTED", {"limit": 100}))
            self.assertEqual(small.call("Engine/Health", timeout=5), {"status": "SERVING"})
        finally:
            small.close()


class HelperTests(unittest.TestCase):
    def test_full_method_name(self) -> None:
        self.assertEqual(full_method_name("Calls/Dial"), "parley.v1.Calls/Dial")
        self.assertEqual(full_method_name("parley.v2.Calls/Dial"), "parley.v2.Calls/Dial")

    def test_default_socket_path(self) -> None:
        saved = os.environ.get("XDG_RUNTIME_DIR")
        try:
            os.environ["XDG_RUNTIME_DIR"] = "/run/user/1000"
            self.assertEqual(default_socket_path(), "/run/user/1000/parley/control.sock")
            del os.environ["XDG_RUNTIME_DIR"]
            self.assertEqual(default_socket_path(), "/run/parley/control.sock")
        finally:
            if saved is not None:
                os.environ["XDG_RUNTIME_DIR"] = saved

    def test_encode_frame_is_compact_single_line(self) -> None:
        data = parley_client.encode_frame({"id": 1, "method": "parley.v1.X/Y", "params": {"s": "a\nb\u2028"}})
        self.assertTrue(data.endswith(b"\n"))
        self.assertEqual(data.count(b"\n"), 1)
        self.assertNotIn(b" ", data)
        self.assertNotIn(b"\r", data)


# -- place_call.py against a fake engine ------------------------------------------------------------

class FakeEngine:
    """Just enough of Calls/* for place_call.py: a dial that becomes active, stats, hangup."""

    def __init__(self, media: bool = True, answer: bool = True) -> None:
        self.media = media
        self.answer = answer
        self.watchers: list[tuple[FakeConnection, Any]] = []
        self.call: Frame | None = None
        self.lock = threading.Lock()

    def handlers(self) -> dict[str, Callable[[FakeConnection, Frame], None]]:
        return {"parley.v1.Calls/Watch": self.watch, "parley.v1.Calls/Dial": self.dial,
                "parley.v1.Calls/Stats": self.stats, "parley.v1.Calls/Hangup": self.hangup,
                "parley.v1.Calls/Get": self.get}

    def broadcast(self, event: Frame) -> None:
        for conn, request_id in list(self.watchers):
            if request_id in conn.streams:
                conn.send({"id": request_id, "event": event})

    def set_state(self, state: str, reason: str | None = None) -> None:
        assert self.call is not None
        self.call["state"] = state
        event: Frame = {"type": "state_changed", "call": dict(self.call), "state": state}
        if reason:
            self.call["end_reason"] = reason
            event["reason"] = reason
            event["call"] = dict(self.call)
        self.broadcast(event)

    def stats_object(self) -> Frame:
        count = 50 if self.media else 0
        return {"call_id": "call-1", "timestamp_ms": 1000, "state": self.call["state"] if self.call else "",
                "inbound": [{"kind": "audio", "ssrc": 1, "packetsReceived": count},
                            {"kind": "video", "ssrc": 2, "packetsReceived": count * 3, "framesDecoded": count}]}

    def watch(self, conn: FakeConnection, frame: Frame) -> None:
        cancelled = conn.open_stream(frame["id"])
        conn.send({"id": frame["id"], "event": {"type": "snapshot", "calls": []}})
        self.watchers.append((conn, frame["id"]))
        interval = frame.get("params", {}).get("stats_interval_ms", 1000) / 1000
        while not cancelled.wait(interval / 10):  # ten times faster, so the test is quick
            if self.call and self.call["state"] == "active":
                self.broadcast({"type": "stats", "stats": self.stats_object()})

    def dial(self, conn: FakeConnection, frame: Frame) -> None:
        self.call = {"call_id": "call-1", "direction": "outgoing", "state": "dialing", "end_reason": None,
                     "sas": None, "safety_number": "12345 67890", "active_ms": None,
                     "peer": {"uri": frame["params"]["peer"]}, "peer_address": frame["params"].get("address")}
        conn.send({"id": frame["id"], "result": dict(self.call)})
        self.broadcast({"type": "call_added", "call": dict(self.call)})
        if self.answer:
            time.sleep(0.1)
            self.call["sas"] = {"words": ["apple", "banjo", "cedar", "dune"], "emoji": ["a", "b", "c", "d"]}
            self.call["active_ms"] = 100
            self.set_state("active")

    def stats(self, conn: FakeConnection, frame: Frame) -> None:
        conn.send({"id": frame["id"], "result": self.stats_object()})

    def hangup(self, conn: FakeConnection, frame: Frame) -> None:
        conn.send({"id": frame["id"], "result": {}})
        self.set_state("ending")
        self.set_state("ended", "hangup")

    def get(self, conn: FakeConnection, frame: Frame) -> None:
        conn.send({"id": frame["id"], "result": dict(self.call or {})})


class PlaceCallTests(unittest.TestCase):
    def run_place_call(self, engine: FakeEngine, *extra: str) -> tuple[int, str, str]:
        import place_call
        server = FakeServer(engine.handlers())
        out, err = io.StringIO(), io.StringIO()
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = place_call.main(["--socket", server.path, "--peer", "parley:" + "A" * 43,
                                        "--address", "127.0.0.1:5000", "--seconds", "0.5", *extra])
        finally:
            server.close()
        return code, out.getvalue(), err.getvalue()

    def test_successful_call(self) -> None:
        code, out, err = self.run_place_call(FakeEngine())
        self.assertEqual(code, 0, err)
        lines = out.strip().splitlines()
        self.assertIn("SAS: apple banjo cedar dune", lines)
        self.assertIn("safety number: 12345 67890", lines)
        self.assertTrue(any(line.startswith("stats call-1") for line in lines), out)
        summary = json.loads(lines[-1])
        self.assertEqual(summary, {"call_id": "call-1", "reached_active": True, "end_reason": "hangup",
                                   "sas": "apple banjo cedar dune",
                                   "inbound": {"audio": {"packetsReceived": 50}, "video": {"framesDecoded": 50}}})

    def test_no_media_exits_1(self) -> None:
        code, out, err = self.run_place_call(FakeEngine(media=False))
        self.assertEqual(code, 1)
        self.assertIn("no audio packets received", err)
        self.assertFalse(json.loads(out.strip().splitlines()[-1])["inbound"]["audio"]["packetsReceived"])

    def test_never_active_exits_1(self) -> None:
        code, out, err = self.run_place_call(FakeEngine(answer=False), "--timeout", "0.5")
        self.assertEqual(code, 1)
        self.assertIn("did not become active", err)
        self.assertFalse(json.loads(out.strip().splitlines()[-1])["reached_active"])

    def test_engine_error_exits_2(self) -> None:
        engine = FakeEngine()
        handlers = engine.handlers()
        del handlers["parley.v1.Calls/Dial"]
        server = FakeServer(handlers)
        import place_call
        err = io.StringIO()
        try:
            with redirect_stdout(io.StringIO()), redirect_stderr(err):
                code = place_call.main(["--socket", server.path, "--peer", "parley:x"])
        finally:
            server.close()
        self.assertEqual(code, 2)
        self.assertIn("UNIMPLEMENTED", err.getvalue())


if __name__ == "__main__":
    unittest.main()
