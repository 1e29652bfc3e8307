#!/usr/bin/env python3
"""Place one call through a running parleyd and check that media flowed both ways.

    place_call.py --socket PATH --peer URI [--address HOST:PORT] [--seconds N] [--timeout S]

Opens a Calls/Watch stream (stats every second), dials the peer, waits until the call is active,
prints the SAS words and the safety number, prints one line per stats event for N seconds, fetches
Calls/Stats, hangs up and waits until the call has ended. The last line on stdout is a JSON summary:

    {"call_id":"call-1","reached_active":true,"end_reason":"hangup","sas":"w1 w2 w3 w4",
     "inbound":{"audio":{"packetsReceived":150},"video":{"framesDecoded":90}}}

Exit status: 0 when the call became active, audio packets and decoded video frames arrived (final
Calls/Stats), and the call ended; 1 otherwise (the reason on stderr); 2 when the engine answered
with an error (code and message on stderr) or could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from parley_client import ParleyClient, ParleyError, Stream  # noqa: E402

#: Client-side bound on each unary call, seconds.
RPC_TIMEOUT = 15.0
#: How long to wait for the Watch stream's first event (its snapshot) before dialing, seconds.
WATCH_READY_TIMEOUT = 5.0
#: Poll Calls/Get when the Watch stream has been quiet this long, seconds (a fallback only).
POLL_INTERVAL = 1.0

_STATE_RANK = {"active": 1, "ending": 2, "ended": 3}  # ringing, offered, dialing, answering: 0


def sas_text(sas: Any) -> str | None:
    """The SAS as one string of words: accepts the Call's ``{"words": [...]}``, a list or a string."""
    if isinstance(sas, dict):
        sas = sas.get("words")
    if isinstance(sas, list):
        return " ".join(str(word) for word in sas)
    return sas if isinstance(sas, str) else None


def inbound_by_kind(stats: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    """Sums ``packetsReceived`` and ``framesDecoded`` of the inbound RTP streams, per kind."""
    totals: dict[str, dict[str, int]] = {}
    for entry in (stats or {}).get("inbound") or []:
        kind = totals.setdefault(str(entry.get("kind")), {})
        for member in ("packetsReceived", "framesDecoded"):
            value = entry.get(member)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                kind[member] = kind.get(member, 0) + int(value)
    return totals


def stats_line(stats: dict[str, Any]) -> str:
    """One compact line for a stats object: inbound packetsReceived / framesDecoded per kind."""
    parts = []
    for kind, members in sorted(inbound_by_kind(stats).items()):
        parts.append(kind + " " + " ".join(f"{name}={value}" for name, value in members.items()))
    return f"stats {stats.get('call_id')} t={stats.get('timestamp_ms')}ms " + (" | ".join(parts) or "no inbound")


class CallTracker:
    """What the Watch events (and the occasional Calls/Get) told us about one call."""

    def __init__(self, call: dict[str, Any]) -> None:
        self.call_id: str = call["call_id"]
        self.state = "dialing"
        self.reached_active = False
        self.end_reason: str | None = None
        self.end_detail: str | None = None
        self.sas: str | None = None
        self.safety_number: str | None = None
        self.last_stats: dict[str, Any] | None = None
        self.update(call)

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    def _set_state(self, state: Any) -> None:
        # States only move forward: a Calls/Get answer may be newer than events still queued.
        if isinstance(state, str) and _STATE_RANK.get(state, 0) >= _STATE_RANK.get(self.state, 0):
            self.state = state
        if self.state == "active":
            self.reached_active = True

    def update(self, call: dict[str, Any]) -> None:
        """Takes in a Call object (v1 services.md §1.1) of this call."""
        self._set_state(call.get("state"))
        if call.get("active_ms") is not None:
            self.reached_active = True
        self.end_reason = call.get("end_reason") or self.end_reason
        self.end_detail = call.get("end_detail") or self.end_detail
        self.sas = sas_text(call.get("sas")) or self.sas
        self.safety_number = call.get("safety_number") or self.safety_number

    def handle(self, event: dict[str, Any]) -> bool:
        """Takes in one Watch event; returns True for a ``stats`` event of this call."""
        kind = event.get("type")
        call = event.get("call")
        if isinstance(call, dict) and call.get("call_id") == self.call_id:
            self.update(call)
            if kind == "state_changed":
                self._set_state(event.get("state"))
                self.end_reason = event.get("reason") or self.end_reason
        elif kind == "snapshot":
            for call in event.get("calls") or []:
                if isinstance(call, dict) and call.get("call_id") == self.call_id:
                    self.update(call)
        elif event.get("call_id") == self.call_id and kind == "verification":
            self.sas = sas_text(event.get("sas")) or self.sas
            self.safety_number = event.get("safety_number") or self.safety_number
        elif kind == "stats" and isinstance(event.get("stats"), dict):
            if event["stats"].get("call_id") == self.call_id:
                self.last_stats = event["stats"]
                return True
        return False


class Session:
    """One run: the client, the Watch stream and the call being placed."""

    def __init__(self, client: ParleyClient, watch: Stream) -> None:
        self.client = client
        self.watch = watch
        self.call: CallTracker | None = None

    def poll(self) -> None:
        """Refreshes the call from Calls/Get; a fallback in case a Watch event was missed."""
        if self.call is None:
            return
        try:
            self.call.update(self.client.call("Calls/Get", {"call_id": self.call.call_id}, timeout=RPC_TIMEOUT))
        except ParleyError:
            pass  # only a fallback: the Watch stream remains the source of truth

    def pump(self, done: Any, seconds: float, show_stats: bool = False) -> bool:
        """Handles Watch events until ``done()`` or ``seconds`` passed; returns ``done()``."""
        assert self.call is not None
        deadline = time.monotonic() + seconds
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                event = self.watch.read(timeout=min(remaining, POLL_INTERVAL))
            except TimeoutError:
                self.poll()
                continue
            if event is None:
                raise ParleyError("UNAVAILABLE", "the Watch stream ended")
            if self.call.handle(event) and show_stats and self.call.last_stats is not None:
                print(stats_line(self.call.last_stats), flush=True)
        return True


def fail(message: str) -> int:
    print(f"place_call: {message}", file=sys.stderr)
    return 1


def run(client: ParleyClient, args: argparse.Namespace) -> int:
    """Places the call; returns the exit status (ParleyError propagates to the caller)."""
    watch = client.stream("Calls/Watch", {"stats_interval_ms": 1000})
    session = Session(client, watch)
    try:
        watch.read(timeout=WATCH_READY_TIMEOUT)  # the snapshot: the subscription is live
    except TimeoutError:
        pass

    params: dict[str, Any] = {"peer": args.peer}
    if args.address:
        params["address"] = args.address
    call = session.call = CallTracker(client.call("Calls/Dial", params, timeout=RPC_TIMEOUT))
    print(f"dialing {call.call_id} to {args.peer}", flush=True)

    timed_out = not session.pump(lambda: call.reached_active or call.ended, args.timeout)
    state_then = call.state
    stats: dict[str, Any] | None = None
    if call.reached_active:
        print(f"call {call.call_id} active", flush=True)
        if call.sas is None or call.safety_number is None:
            session.poll()
        print(f"SAS: {call.sas}", flush=True)
        print(f"safety number: {call.safety_number}", flush=True)
        session.pump(lambda: call.ended, args.seconds, show_stats=True)
        try:
            stats = client.call("Calls/Stats", {"call_id": call.call_id}, timeout=RPC_TIMEOUT)
        except ParleyError:
            if not call.ended:
                raise
            stats = call.last_stats  # the call ended meanwhile; its last stats event stands in

    if not call.ended:
        try:
            client.call("Calls/Hangup", {"call_id": call.call_id}, timeout=RPC_TIMEOUT)
        except ParleyError as error:
            if error.code != "FAILED_PRECONDITION":  # it ended on its own meanwhile
                raise
        session.pump(lambda: call.ended, args.timeout)
    watch.cancel()

    inbound = inbound_by_kind(stats)
    audio_packets = inbound.get("audio", {}).get("packetsReceived", 0)
    video_frames = inbound.get("video", {}).get("framesDecoded", 0)
    print(json.dumps({
        "call_id": call.call_id, "reached_active": call.reached_active, "end_reason": call.end_reason,
        "sas": call.sas,
        "inbound": {"audio": {"packetsReceived": audio_packets}, "video": {"framesDecoded": video_frames}},
    }, separators=(",", ":")), flush=True)

    if not call.reached_active:
        if timed_out:
            return fail(f"call {call.call_id} did not become active within {args.timeout:g} s "
                        f"(state {state_then}); hung up")
        if call.ended:
            detail = f" ({call.end_detail})" if call.end_detail else ""
        return fail(f"call {call.call_id} ended before becoming active: {call.end_reason}{detail}")
    problems = []
    if audio_packets <= 0:
        problems.append("no audio packets received")
    if video_frames <= 0:
        problems.append("no video frames decoded")
    if not call.ended:
        problems.append(f"call did not end within {args.timeout:g} s of hanging up (state {call.state})")
    if problems:
        return fail(f"call {call.call_id}: " + "; ".join(problems))
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Place a call through parleyd and check media flowed.")
    parser.add_argument("--socket", required=True, metavar="PATH", help="parleyd's control socket")
    parser.add_argument("--peer", required=True, metavar="URI", help="the peer: parley: URI or bare key")
    parser.add_argument("--address", metavar="HOST:PORT", help="the peer's UDP address (overrides the URI's)")
    parser.add_argument("--seconds", type=float, default=3.0, metavar="N",
                        help="how long to keep the call up once active (default 3)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="how long to wait for the call to become active, and to end (default 30)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        client = ParleyClient(args.socket)
    except OSError as error:
        print(f"place_call: cannot connect to {args.socket}: {error}", file=sys.stderr)
        return 2
    try:
        return run(client, args)
    except ParleyError as error:
        details = f" {json.dumps(error.details, separators=(',', ':'))}" if error.details else ""
        print(f"place_call: engine error {error.code}: {error.message}{details}", file=sys.stderr)
        return 2
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
