"""A small client for the Parley control protocol, version 1 (standard library only).

The protocol (Protocols/control/v1.md) is newline-delimited JSON over a Unix stream socket with
gRPC-like semantics: unary calls answered by one ``result`` or ``error`` frame, and server streams
answered by ``event`` frames followed by one ``end`` frame. Every frame echoes its request's ``id``.

One connection carries many requests at once: a background reader thread routes every frame to the
request whose id it echoes, so unary calls can run while a ``Calls/Watch`` stream is open::

    with ParleyClient(default_socket_path()) as client:
        print(client.call("Engine/Health"))            # {'status': 'SERVING'}
        with client.stream("Calls/Watch") as events:
            for event in events:
                print(event["type"])
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import socket
import threading
from typing import Any, Callable, Iterator

__all__ = [
    "ParleyClient",
    "ParleyError",
    "Stream",
    "default_socket_path",
    "full_method_name",
    "DEFAULT_MAX_FRAME_BYTES",
]

log = logging.getLogger("parley_client")

#: The protocol's default maximum frame size (v1.md §2), bytes before the LF.
DEFAULT_MAX_FRAME_BYTES = 1_048_576

_TERMINAL = ("result", "error", "end")


class ParleyError(Exception):
    """A failed request: an ``error`` frame, a stream ``end`` whose code is not OK, or a local failure.

    ``code`` is a canonical status name (``"NOT_FOUND"``…); ``details`` the machine-readable details
    object (``{"field": "params.call_id"}``…), ``{}`` when the server gave none. Act on ``code`` and
    ``details``; ``message`` is for people. Local failures use the same codes: ``UNAVAILABLE`` when
    the connection is lost, ``DEADLINE_EXCEEDED`` when a client-side ``timeout`` passes,
    ``RESOURCE_EXHAUSTED`` for a request over the frame limit, ``INTERNAL`` for a reply the protocol
    does not allow.
    """

    def __init__(self, code: str, message: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details if details is not None else {}

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> "ParleyError":
        """Builds the error from an ``error`` or ``end`` body (``{"code", "message"?, "details"?}``)."""
        details = status.get("details")
        return cls(str(status.get("code", "UNKNOWN")), str(status.get("message", "")),
                   details if isinstance(details, dict) else None)


def default_socket_path() -> str:
    """The default control socket (v1.md §1): ``$XDG_RUNTIME_DIR/parley/control.sock``, else
    ``/run/parley/control.sock``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "parley", "control.sock")
    return "/run/parley/control.sock"


def full_method_name(method: str) -> str:
    """Expands a short name such as ``"Calls/Dial"`` to ``"parley.v1.Calls/Dial"``; a name that
    already starts with ``parley.`` is returned unchanged."""
    return method if method.startswith("parley.") else "parley.v1." + method


def encode_frame(frame: dict[str, Any]) -> bytes:
    """Encodes one frame: compact JSON, UTF-8, control characters escaped, then LF (v1.md §2)."""
    text = json.dumps(frame, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8") + b"\n"  # strict: a lone surrogate fails here, not at the server


class _Pending:
    """The client's side of one request in flight: its frames wait in a queue."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "unary" or "stream"
        self.frames: queue.Queue[dict[str, Any]] = queue.Queue()
        self.abandoned = False  # the caller stopped waiting; drop whatever still comes


class Stream:
    """The events of one server-streaming request, returned by :meth:`ParleyClient.stream`.

    Iterate it (or call :meth:`read`) to get each event object. Iteration stops at ``end`` ``OK``,
    and at the ``CANCELLED`` end that follows :meth:`cancel`; any other end, or an ``error`` frame,
    raises :class:`ParleyError`. Events still in flight when :meth:`cancel` is called are skipped.
    Use it as a context manager to cancel it on leaving the block.
    """

    def __init__(self, client: "ParleyClient", request_id: int, method: str, pending: _Pending) -> None:
        self.client = client
        self.id = request_id
        self.method = method
        self._pending = pending
        self._cancelled = False
        #: The ``end`` body (``{"code", ...}``) once the stream finished, else None.
        self.end: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        """Whether the stream's last frame (``end`` or ``error``) has been read."""
        return self.end is not None

    def cancel(self) -> None:
        """Asks the server to stop the stream (sends ``{"id": X, "cancel": true}``); idempotent.
        The server answers with ``end`` ``CANCELLED``, after which iteration stops."""
        if self._cancelled or self.finished:
            return
        self._cancelled = True
        self.client._send_cancel(self.id)

    def read(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Returns the next event, or None once the stream has ended normally (or after cancel).

        Raises :class:`ParleyError` for an error end, ``TimeoutError`` if nothing arrived within
        ``timeout`` seconds (the stream stays open).
        """
        while self.end is None:
            try:
                frame = self._pending.frames.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no event from {self.method} within {timeout} s") from None
            if "event" in frame:
                if self._cancelled:
                    continue
                event = frame["event"]
                return event if isinstance(event, dict) else {"value": event}
            body = frame.get("end", frame.get("error"))
            if not isinstance(body, dict):
                self.end = {"code": "INTERNAL", "message": "a stream got a frame of another kind"}
                raise ParleyError.from_status(self.end)
            self.end = body
            code = body.get("code")
            if code == "OK" or (code == "CANCELLED" and self._cancelled):
                return None
            raise ParleyError.from_status(body)
        return None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        event = self.read()
        if event is None:
            raise StopIteration
        return event

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.finished:
            self.cancel()


class ParleyClient:
    """A connection to ``parleyd``'s control socket.

    ``call`` and ``stream`` are safe to use from several threads at once. Request ids are integers
    from a counter, unique for the connection's lifetime. An error frame whose id is ``null`` (the
    server could not read a frame's id, v1.md §4) cannot be routed to a request: it is logged, kept
    in :attr:`unroutable_errors` and passed to ``on_unroutable_error`` if given. The client itself
    never writes such frames (it refuses over-long requests locally).
    """

    def __init__(self, socket_path: str | None = None, *, connect_timeout: float | None = 5.0,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 on_unroutable_error: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Connects to ``socket_path`` (default :func:`default_socket_path`) and starts the reader."""
        self.socket_path = socket_path or default_socket_path()
        self.max_frame_bytes = max_frame_bytes
        self.on_unroutable_error = on_unroutable_error
        #: Error frames with ``"id": null`` received so far (their ``error`` bodies).
        self.unroutable_errors: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._pending: dict[Any, _Pending] = {}
        self._lock = threading.Lock()  # guards _pending and _closed
        self._send_lock = threading.Lock()
        self._closed = False  # no new requests (closed here, or the connection was lost)
        self._sock_closed = False
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(connect_timeout)
            self._sock.connect(self.socket_path)
            self._sock.settimeout(None)
        except BaseException:
            self._sock.close()
            raise
        self._reader = threading.Thread(target=self._read_loop, name="parley-client-reader", daemon=True)
        self._reader.start()

    # -- public API ---------------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None, deadline_ms: int | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """Sends a unary request and returns its ``result`` object.

        ``deadline_ms`` is sent to the server (v1.md §5). ``timeout`` (seconds) bounds the wait here:
        when it passes, the request is cancelled and ``ParleyError("DEADLINE_EXCEEDED")`` raised.
        An ``error`` frame raises :class:`ParleyError` with its code, message and details.
        """
        request_id, pending = self._start(method, params, deadline_ms, "unary")
        try:
            frame = pending.frames.get(timeout=timeout)
        except queue.Empty:
            self._abandon(request_id, pending)
            raise ParleyError("DEADLINE_EXCEEDED", f"no reply to {full_method_name(method)} within "
                              f"{timeout} s (client timeout)") from None
        if "result" in frame and isinstance(frame["result"], dict):
            return frame["result"]
        if "error" in frame and isinstance(frame["error"], dict):
            raise ParleyError.from_status(frame["error"])
        pending.abandoned = True  # e.g. an event: drop the rest of this id's frames
        raise ParleyError("INTERNAL", f"a unary call got a frame of another kind: {frame!r}")

    def stream(self, method: str, params: dict[str, Any] | None = None,
               deadline_ms: int | None = None) -> Stream:
        """Starts a server-streaming request (e.g. ``"Calls/Watch"``) and returns its :class:`Stream`."""
        request_id, pending = self._start(method, params, deadline_ms, "stream")
        return Stream(self, request_id, full_method_name(method), pending)

    def close(self) -> None:
        """Closes the connection; requests still waiting fail with ``UNAVAILABLE``."""
        with self._lock:
            if self._sock_closed:
                return
            self._closed = self._sock_closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        if threading.current_thread() is not self._reader:
            self._reader.join(timeout=5)
        self._fail_all("connection closed")

    def __enter__(self) -> "ParleyClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ------------------------------------------------------------------------------------

    def _start(self, method: str, params: dict[str, Any] | None, deadline_ms: int | None,
               kind: str) -> tuple[int, _Pending]:
        request_id = next(self._ids)
        frame: dict[str, Any] = {"id": request_id, "method": full_method_name(method)}
        if params is not None:
            frame["params"] = params
        if deadline_ms is not None:
            frame["deadline_ms"] = deadline_ms
        data = encode_frame(frame)
        if len(data) - 1 > self.max_frame_bytes:
            raise ParleyError("RESOURCE_EXHAUSTED", f"request is {len(data) - 1} bytes, over the frame "
                              f"limit", {"limit": self.max_frame_bytes})
        pending = _Pending(kind)
        with self._lock:
            if self._closed:
                raise ParleyError("UNAVAILABLE", "connection closed")
            self._pending[request_id] = pending
        try:
            self._write(data)
        except OSError as error:
            with self._lock:
                self._pending.pop(request_id, None)
            raise ParleyError("UNAVAILABLE", f"cannot send: {error}") from error
        return request_id, pending

    def _send_cancel(self, request_id: int) -> None:
        with self._lock:
            if request_id not in self._pending or self._closed:
                return  # finished already: nothing to cancel
        try:
            self._write(encode_frame({"id": request_id, "cancel": True}))
        except OSError as error:
            log.debug("cannot send cancel for %r: %s", request_id, error)

    def _abandon(self, request_id: int, pending: _Pending) -> None:
        """Stops waiting for a request: cancels it and drops its late frames quietly."""
        pending.abandoned = True
        self._send_cancel(request_id)

    def _write(self, data: bytes) -> None:
        with self._send_lock:
            self._sock.sendall(data)

    # -- reading ------------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        buffer = bytearray()
        discarding = False  # inside an over-long line, dropping bytes up to its LF
        reason = "connection closed by the server"
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                start = 0
                while True:
                    newline = chunk.find(b"\n", start)
                    piece = chunk[start:] if newline < 0 else chunk[start:newline]
                    if not discarding:
                        buffer += piece
                        if len(buffer) > self.max_frame_bytes:  # a CR counts (v1.md §2)
                            log.error("dropping a frame longer than %d bytes", self.max_frame_bytes)
                            buffer.clear()
                            discarding = True
                    if newline < 0:
                        break
                    if not discarding:
                        self._handle_line(bytes(buffer))
                    buffer.clear()
                    discarding = False
                    start = newline + 1
            if buffer and not discarding:
                self._handle_line(bytes(buffer))  # a final line without LF counts (v1.md §2)
        except OSError as error:
            reason = f"connection lost: {error}"
        except Exception:  # never let the reader die silently
            log.exception("parley client reader failed")
            reason = "client reader failed"
        self._fail_all(reason)

    def _handle_line(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            return
        try:
            frame = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            log.error("dropping an unreadable frame from the server: %s", error)
            return
        if not isinstance(frame, dict) or "id" not in frame:
            log.error("dropping a frame without id from the server: %r", frame)
            return
        request_id = frame["id"]
        if request_id is None:
            self._unroutable(frame)
            return
        if isinstance(request_id, (dict, list)) or isinstance(request_id, bool):
            log.error("dropping a frame with an invalid id: %r", frame)
            return
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is not None and any(k in frame for k in _TERMINAL):
                del self._pending[request_id]  # the id is finished
        if pending is None:
            log.warning("dropping a frame for id %r, which is not waiting: %r", request_id, frame)
        elif not pending.abandoned:
            pending.frames.put(frame)

    def _unroutable(self, frame: dict[str, Any]) -> None:
        error = frame.get("error")
        body = error if isinstance(error, dict) else {"code": "UNKNOWN", "message": repr(frame)}
        log.error("server refused a frame it could not attribute to a request (id null): %s: %s %s",
                  body.get("code"), body.get("message", ""), body.get("details", {}))
        self.unroutable_errors.append(body)
        if self.on_unroutable_error is not None:
            try:
                self.on_unroutable_error(body)
            except Exception:
                log.exception("on_unroutable_error failed")

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            self._closed = True
            pending = list(self._pending.values())
            self._pending.clear()
        for entry in pending:  # a synthetic terminal frame, as if the server had answered
            entry.frames.put({"id": None, "error": {"code": "UNAVAILABLE", "message": reason}})
