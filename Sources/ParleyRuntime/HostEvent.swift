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
    /// Hold the call for the owner to decide: the host raises `.callRinging` with a handle, keeps the
    /// caller's latest initiation (it retries every few seconds) and answers it on
    /// `SessionHost.answer(_:)` or declines it on `SessionHost.decline(_:reason:)`. A ringing call whose
    /// caller stopped retrying for `SessionHost.ringingExpiry` closes with `handshake_timeout`.
    case ring
}

/// What a `SessionHost` tells its owner.
public enum HostEvent: Equatable, Sendable {
    /// The policy accepted an incoming call; `handle` names it from now on. Raised again, with the same
    /// handle, when a retried initiation replaced the call's answering session.
    case callAnswered(CallHandle, IncomingCall)
    /// An incoming call was declined or ignored (by the policy, or because no answer could be built).
    case callRefused(IncomingCall, IncomingCallDecision)
    /// The policy chose `.ring`: the call waits for `answer(_:)` or `decline(_:reason:)` under `handle`
    /// (raised once per call; the caller's retries only keep it ringing).
    case callRinging(CallHandle, IncomingCall)
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
    /// No call (or no ringing call) has this handle.
    case unknownCall(CallHandle)
    /// The call is not in a state that allows the operation; the text says which state and why.
    case invalidState(String)
    /// An out-of-band offer (a handshake initiation) was refused: not for this engine, forged,
    /// replayed, expired, or without an address to answer to. The text says which.
    case offerRejected(String)
    /// An out-of-band answer does not complete the call's handshake.
    case answerRejected(String)
}

/// What the host knows of one call, beyond what its events said.
public struct HostCallInfo: Equatable, Sendable {
    /// The session's state.
    public var state: CallState
    /// Whether this end dialled (or made the offer).
    public var isInitiator: Bool
    /// The peer's identity key.
    public var peerKey: IdentityPublicKey
    /// Where datagrams to the peer go; nil while unknown (an offer not yet answered).
    public var peerAddress: SocketAddress?
    /// The call's short authentication string, once the handshake completed.
    public var shortAuthenticationString: ShortAuthenticationString?
    /// The safety number of the two identities.
    public var safetyNumber: SafetyNumber
    /// Whether the owner marked the peer verified.
    public var isVerified: Bool
    /// What the peer last said it sends, if it said.
    public var peerMediaState: SessionMessage.MediaState?
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
    /// Incoming calls ringing now.
    public var ringingCalls = 0

    /// All zero.
    public init() {}

    /// Every datagram the host dropped before a session saw it.
    public var totalDropped: Int {
        datagramsTruncated + routeDrops.values.reduce(0, +) + datagramsForClosedCalls + initiationsRateLimited
            + initiationsRejected + initiationsIgnored
    }
}
