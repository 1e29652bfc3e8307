public import ParleyWire

/// What a `PairwiseChannel` tells its owner, besides the datagrams it wants sent.
public enum PairwiseChannelEvent: Equatable, Sendable {
    /// The peer acknowledged a reliable message: it has it (and delivered it once).
    case acknowledged(SessionMessageID, SessionMessage)
    /// A reliable message went unacknowledged after the last retransmission: the channel stopped trying.
    /// The peer may still have received it (only the acknowledgements may have been lost).
    case deliveryFailed(SessionMessageID, SessionMessage)
    /// The last datagram counter of this channel was used: it can send nothing more, and the session
    /// must run a new handshake. (With 2^64 − 1 counters this does not happen in practice.)
    case sendCounterExhausted
}

/// One step of draining a `PairwiseChannel` (ARCHITECTURE §3): call `pollOutput()` after every input
/// until it returns `.wait`.
public enum PairwiseChannelOutput: Equatable, Sendable {
    /// Send these bytes to the peer as one UDP datagram.
    case transmit([UInt8])
    /// Something happened the owner should know.
    case event(PairwiseChannelEvent)
    /// Nothing more now: call `handleTimeout(now:)` at this instant (`nil`: not before the next input).
    case wait(until: MonotonicInstant?)
}

/// Counters of a `PairwiseChannel`, for the session's statistics. Every dropped datagram is counted once,
/// under the reason it was dropped for.
public struct PairwiseChannelStatistics: Equatable, Sendable {
    /// Datagrams sealed and handed to the owner to send.
    public var datagramsSent = 0
    /// Datagrams that authenticated (whether or not their plaintext then parsed).
    public var datagramsReceived = 0
    /// Datagrams dropped because the tag did not verify (forged, damaged, or another key).
    public var authenticationFailures = 0
    /// Datagrams dropped because their counter was seen before or is older than the replay window.
    public var replays = 0
    /// Datagrams dropped because they did not parse (header, or an authenticated plaintext).
    public var malformed = 0
    /// Datagrams dropped because their counter belongs to an epoch whose key is not kept or is too far ahead.
    public var unknownEpochs = 0
    /// Reliable messages sent again after their retransmission timeout.
    public var retransmissions = 0
    /// Reliable messages the channel gave up on.
    public var deliveryFailures = 0
    /// Reliable messages delivered to the owner (each once).
    public var messagesDelivered = 0
    /// Reliable messages received again (retransmissions of delivered ones): acknowledged, not delivered.
    public var duplicateMessages = 0
    /// Media states not delivered because a newer one already was.
    public var staleMediaStates = 0
    /// Records of unknown types skipped.
    public var unknownRecords = 0
    /// Keep-alives sent.
    public var keepAlivesSent = 0
    /// Keep-alives received.
    public var keepAlivesReceived = 0
    /// Send-key epochs advanced (Rekey() of the send key).
    public var sendRekeys = 0
    /// Receive-key epochs advanced (Rekey() of the receive key, after a datagram of the new epoch authenticated).
    public var receiveRekeys = 0

    /// All zero.
    public init() {}
}
