public import ParleyCrypto
public import ParleySession

/// Names one call of a `SessionHost` for as long as the host keeps it (unique within that host).
///
/// A retried initiation that replaces an answering session (Protocols/peer/session.md §2) keeps the
/// handle: to the owner it is the same call.
public struct CallHandle: Hashable, Sendable, CustomStringConvertible {
    /// The host's number for the call (counts up from 1).
    public let rawValue: UInt64

    /// The handle numbered `rawValue`.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// `call#N`.
    public var description: String { "call#\(rawValue)" }
}

/// An authenticated initiation, shown to the host's incoming-call policy before anything is sent back.
public struct IncomingCall: Equatable, Sendable {
    /// The caller's identity key, as the handshake proved it.
    public var peer: IdentityPublicKey
    /// The call's identifier (shared by both ends).
    public var callID: CallID
    /// What the caller offers.
    public var offer: CallParameters
    /// Where the initiation came from.
    public var source: SocketAddress

    /// An incoming call from `peer` at `source`.
    public init(peer: IdentityPublicKey, callID: CallID, offer: CallParameters, source: SocketAddress) {
        self.peer = peer
        self.callID = callID
        self.offer = offer
        self.source = source
    }
}

/// What the incoming-call policy decides.
public enum IncomingCallDecision: Equatable, Sendable {
    /// Answer with `CallParameters.answer(to:with:)` from the host's local capabilities (which may
    /// itself decline, e.g. when no SRTP profile is in common).
    case accept
    /// Send a declining answer with `reason`: the caller ends with `declined`.
    case decline(DeclineReason)
    /// Send nothing: silence tells a prober nothing (the caller ends with `handshake_timeout`).
    case ignore
}

/// What a `SessionHost` tells its owner.
public enum HostEvent: Equatable, Sendable {
    /// The policy accepted an incoming call; `handle` names it from now on. Raised again, with the same
    /// handle, when a retried initiation replaced the call's answering session.
    case callAnswered(CallHandle, IncomingCall)
    /// An incoming call was declined or ignored (by the policy, or because no answer could be built).
    case callRefused(IncomingCall, IncomingCallDecision)
    /// Something the call's session reported (state changes, verification, video frames to decode…).
    case call(CallHandle, CallEvent)
    /// The call ended with `reason` and the host let go of it: its handle names nothing any more.
    case callClosed(CallHandle, CallEndReason)
}

/// What a `SessionHost` rejects.
public enum SessionHostError: Error, Equatable, Sendable {
    /// The host is stopping or stopped.
    case stopped
    /// The session could not be created (an offer that is not an offer, a handshake that failed).
    case session(SessionError)
}

/// The host's own counters; each dropped datagram is counted once, under one reason.
public struct SessionHostStatistics: Equatable, Sendable {
    /// Datagrams read from the socket.
    public var datagramsReceived = 0
    /// Datagrams longer than the receive buffer (dropped).
    public var datagramsTruncated = 0
    /// Datagrams the router dropped, by reason.
    public var routeDrops: [RouteDropReason: Int] = [:]
    /// Datagrams routed to a session the host no longer holds.
    public var datagramsForClosedCalls = 0
    /// Initiations refused before any cryptography because their source sent too many.
    public var initiationsRateLimited = 0
    /// Initiations the handshake responder refused (forged, replayed, malformed) or whose offer did not parse.
    public var initiationsRejected = 0
    /// Authenticated initiations for a call that is already past answering, or that came while stopping.
    public var initiationsIgnored = 0
    /// Answering sessions replaced by a retried initiation of the same call.
    public var answeringSessionsReplaced = 0
    /// Incoming calls answered.
    public var callsAnswered = 0
    /// Incoming calls declined or ignored.
    public var callsRefused = 0
    /// Datagrams the kernel refused to send.
    public var sendFailures = 0
    /// Failed receives (`recvmmsg` errors other than "nothing waiting").
    public var receiveFailures = 0
    /// Calls the host holds now.
    public var liveCalls = 0

    /// All zero.
    public init() {}

    /// Every datagram the host dropped before a session saw it.
    public var totalDropped: Int {
        datagramsTruncated + routeDrops.values.reduce(0, +) + datagramsForClosedCalls + initiationsRateLimited
            + initiationsRejected + initiationsIgnored
    }
}
