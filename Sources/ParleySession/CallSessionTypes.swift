public import ParleyCrypto
public import ParleyJitter
public import ParleyWire

/// Where a call is (Protocols/peer/session.md §2).
public enum CallState: Equatable, Sendable, CustomStringConvertible {
    /// Initiator: the handshake initiation is out; no answer yet.
    case dialing
    /// Responder: the answer is out; nothing authenticated has come back yet.
    case answering
    /// Both ends hold the channel keys and have heard each other: media flows.
    case active
    /// This end hung up and waits (briefly) for the peer to acknowledge it.
    case ending
    /// Over, for `reason`. A session never leaves this state.
    case ended(CallEndReason)

    /// The state's name in the control protocol.
    public var description: String {
        switch self {
        case .dialing: "dialing"
        case .answering: "answering"
        case .active: "active"
        case .ending: "ending"
        case .ended(let reason): "ended(\(reason))"
        }
    }

    /// Whether the call is over.
    public var isEnded: Bool {
        if case .ended = self { true } else { false }
    }
}

/// Why a call ended.
public enum CallEndReason: Equatable, Sendable, CustomStringConvertible {
    /// This end hung up.
    case hangUp
    /// The peer hung up, with the reason it gave.
    case remoteHangUp(SessionMessage.HangUpReason)
    /// The responder declined the offer.
    case declined(DeclineReason)
    /// Nothing authenticated came from the peer for `CallSessionConfiguration.peerTimeout`.
    case peerTimeout
    /// The initiator got no answer within `CallSessionConfiguration.handshakeTimeout`.
    case handshakeTimeout
    /// Something that cannot continue (an answer that breaks the rules, a channel that ran out).
    case failure(String)

    /// The reason's code in the control protocol (snake case).
    public var code: String {
        switch self {
        case .hangUp: "hangup"
        case .remoteHangUp: "remote_hangup"
        case .declined: "declined"
        case .peerTimeout: "peer_timeout"
        case .handshakeTimeout: "handshake_timeout"
        case .failure: "failure"
        }
    }

    /// The code with its detail, e.g. `remote_hangup(busy)`.
    public var description: String {
        switch self {
        case .remoteHangUp(let reason): "remote_hangup(\(reason))"
        case .declined(let reason): "declined(\(reason))"
        case .failure(let detail): "failure(\(detail))"
        default: code
        }
    }
}

/// A decrypted video frame the session hands its owner to decode, released at its render time.
///
/// After decoding it, the owner reports back with `CallSession.videoFrameDecoded(_:now:)` (or
/// `videoFrameUndecodable(_:now:)`), which drives the freeze metrics and key-frame requests.
public struct IncomingVideoFrame: Equatable, Sendable {
    /// The stream it came on.
    public var ssrc: SSRC
    /// The encoded VP8 frame, SFrame removed.
    public var payload: [UInt8]
    /// The frame as the jitter buffer released it (timing, picture id, key-frame flag; `data` is the
    /// SFrame ciphertext).
    public var received: ReceivedVideoFrame

    /// A frame for the owner to decode.
    public init(ssrc: SSRC, payload: [UInt8], received: ReceivedVideoFrame) {
        self.ssrc = ssrc
        self.payload = payload
        self.received = received
    }
}

/// What a session tells its owner besides datagrams to send.
public enum CallEvent: Equatable, Sendable {
    /// The call moved to a new state.
    case stateChanged(CallState)
    /// The handshake completed: what the two people compare to verify each other.
    case verificationAvailable(sas: ShortAuthenticationString, safetyNumber: SafetyNumber, peer: IdentityPublicKey)
    /// The user marked (or unmarked) the peer as verified.
    case verifiedChanged(Bool)
    /// The peer's media state changed (mute, video on/off).
    case peerMediaStateChanged(SessionMessage.MediaState)
    /// Nothing authenticated has come from the peer for `CallSessionConfiguration.silenceThreshold`.
    case peerSilent
    /// The peer is heard again after `peerSilent`.
    case peerResumed
    /// The peer asked for a key frame and the request was honoured: encode the next video frame as one.
    case keyFrameRequested
    /// A video frame to decode now.
    case videoFrame(IncomingVideoFrame)
}

/// One step of draining a session (ARCHITECTURE §3): call `pollOutput()` after every input until it
/// returns `.wait`.
public enum CallSessionOutput: Equatable, Sendable {
    /// Send these bytes to the peer as one UDP datagram.
    case transmit([UInt8])
    /// Something happened the owner should know.
    case event(CallEvent)
    /// Nothing more now: call `handleTimeout(now:)` at this instant (`nil`: not before the next input).
    case wait(until: MonotonicInstant?)
}

/// What the session layer rejects: bad arguments from its owner, or a cryptographic set-up that failed.
///
/// Bad packets from the network are never errors: they are dropped and counted in `CallStatistics`.
public enum SessionError: Error, Equatable, Sendable {
    /// An argument breaks a rule; `field` names it.
    case invalidArgument(field: String, reason: String)
    /// The call is not in a state that allows the operation (e.g. sending media before it is active).
    case invalidState(operation: String, state: String)
    /// A cryptographic operation failed while setting up (the handshake, a key, a context).
    case crypto(CryptoError)
}

/// Tuning of a session; the defaults are those of Protocols/peer/session.md.
public struct CallSessionConfiguration: Sendable {
    /// Nothing authenticated from the peer for this long ends the call with `peer_timeout`.
    public var peerTimeout: Duration
    /// Nothing authenticated from the peer for this long raises `peerSilent`.
    public var silenceThreshold: Duration
    /// The initiator gives up when no answer came within this.
    public var handshakeTimeout: Duration
    /// First wait before a new handshake initiation; doubles per attempt up to 4 s.
    public var handshakeRetryInterval: Duration
    /// Regular RTCP reports go out every this long (±50 % at random, RFC 3550 §6.3.1).
    public var rtcpInterval: Duration
    /// After a local hang-up, how long to keep retransmitting it while the peer has not acknowledged it.
    public var hangUpLinger: Duration
    /// Largest RTP payload (bytes) a video packet may carry, so a datagram stays within 1200 bytes.
    public var maximumVideoPayloadSize: Int
    /// The sender honours at most one key-frame request per this interval.
    public var keyFrameRequestMinimumInterval: Duration
    /// Sent video packets are kept for retransmission at least this long (and 3 RTT).
    public var retransmissionRetention: Duration
    /// From this loss fraction on (smoothed RTCP loss, 0…1), each NACK is sent twice and each requested
    /// packet is resent twice (two RTX packets), so one lost NACK or retransmission does not cost a second
    /// repair round (and a freeze). Above 1: never.
    public var redundantRecoveryLossThreshold: Double
    /// The pairwise channel's tuning.
    public var channel: PairwiseChannel.Configuration
    /// Sender-key rotation.
    public var keySchedule: SenderKeySchedule.Configuration
    /// How long the previous key of a peer's stream stays usable after a newer one arrives.
    public var receiveKeyGracePeriod: Duration
    /// The audio jitter buffer.
    public var audioJitterBuffer: AudioJitterBuffer.Configuration
    /// The video receive path. Once retransmissions are needed, the render delay holds 1.5 × (RTT +
    /// reordering allowance) more, so a repair that needs a second NACK round (a lost NACK or RTX packet)
    /// still arrives in time: at 5 % loss and 100 ms RTT this keeps freezes at ≤ 1 per minute (measured:
    /// 1 freeze each way; 4 with 1 ×), at ≈ 50 ms more latency.
    public var videoReceiver: VideoReceiver.Configuration
    /// Seed of the session's own randomness (initial sequence numbers and timestamps, RTCP intervals) for
    /// reproducible simulations; nil takes the system's. Keys always come from the system generator.
    public var randomSeed: UInt64?

    /// The defaults.
    public init(
        peerTimeout: Duration = .seconds(15), silenceThreshold: Duration = .seconds(2),
        handshakeTimeout: Duration = .seconds(20), handshakeRetryInterval: Duration = .seconds(1),
        rtcpInterval: Duration = .milliseconds(500), hangUpLinger: Duration = .seconds(2),
        maximumVideoPayloadSize: Int = 1_100, keyFrameRequestMinimumInterval: Duration = .milliseconds(300),
        retransmissionRetention: Duration = .seconds(1), redundantRecoveryLossThreshold: Double = 0.02,
        channel: PairwiseChannel.Configuration = .init(),
        keySchedule: SenderKeySchedule.Configuration = .init(), receiveKeyGracePeriod: Duration = .seconds(5),
        audioJitterBuffer: AudioJitterBuffer.Configuration = .init(),
        videoReceiver: VideoReceiver.Configuration = .init(retransmissionDelayMultiplier: 1.5),
        randomSeed: UInt64? = nil
    ) {
        self.peerTimeout = peerTimeout
        self.silenceThreshold = silenceThreshold
        self.handshakeTimeout = handshakeTimeout
        self.handshakeRetryInterval = handshakeRetryInterval
        self.rtcpInterval = rtcpInterval
        self.hangUpLinger = hangUpLinger
        self.maximumVideoPayloadSize = maximumVideoPayloadSize
        self.keyFrameRequestMinimumInterval = keyFrameRequestMinimumInterval
        self.retransmissionRetention = retransmissionRetention
        self.redundantRecoveryLossThreshold = redundantRecoveryLossThreshold
        self.channel = channel
        self.keySchedule = keySchedule
        self.receiveKeyGracePeriod = receiveKeyGracePeriod
        self.audioJitterBuffer = audioJitterBuffer
        self.videoReceiver = videoReceiver
        self.randomSeed = randomSeed
    }
}
