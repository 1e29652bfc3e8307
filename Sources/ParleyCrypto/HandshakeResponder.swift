internal import ParleyWire

/// The called side of Parley's handshake (`Noise_IK_25519_AESGCM_SHA256`, Protocols/peer/handshake.md).
///
/// One per engine: it holds the engine's static key and the replay record. `receive(_:now:)` takes an
/// initiation (0x04), authenticates it, applies the replay rule and returns a `PendingAnswer` that shows
/// who is calling and with what offer — *before* anything is sent. The owner decides (allow-list,
/// or the front-end's answer to an incoming-call event) and then `accept`s, which yields the response
/// datagram (0x05) and the session, or `reject`s, which sends nothing.
///
/// Sans-IO: `now` is the engine's wall clock, passed in.
///
/// A class, not a value: one owner; never copied, so a stale copy of the replay record can never
/// admit an initiation twice (and so never answer it twice, deriving the same session keys and
/// reusing a (key, nonce) pair). Not `Sendable`: keep it in one isolation domain (e.g. the engine's
/// actor).
public final class HandshakeResponder {
    private let identity: IdentityKeyPair
    private let staticKeyPair: NoiseKeyPair
    /// The replay record (handshake.md §5).
    public private(set) var replayGuard: HandshakeReplayGuard

    /// A responder for `identity`, with `replayGuard` as its replay record.
    public init(identity: IdentityKeyPair, replayGuard: HandshakeReplayGuard = HandshakeReplayGuard()) {
        self.identity = identity
        staticKeyPair = NoiseKeyPair(identity.privateKey)
        self.replayGuard = replayGuard
    }

    /// This responder's static public key (what initiators must address).
    public var staticKey: IdentityPublicKey { identity.publicKey }

    /// Takes an initiation datagram's bytes (see `receive(_:now:)`).
    ///
    /// - Throws: `.malformed` if the bytes are not an initiation datagram, else as `receive(_:now:)`.
    public func receive(datagram: ArraySlice<UInt8>, now: HandshakeTimestamp) throws(CryptoError) -> PendingAnswer {
        let initiation: HandshakeInitiation
        do {
            initiation = try HandshakeInitiation(parsing: datagram)
        } catch {
            throw .malformed(error)
        }
        return try receive(initiation, now: now)
    }

    /// Authenticates an initiation and applies the replay rule.
    ///
    /// On success the initiator's timestamp is recorded (so the same initiation is refused next time)
    /// and the pending answer is returned; nothing is sent yet. On failure nothing is recorded.
    ///
    /// - Throws:
    ///   - `.authenticationFailed(what:)` if Noise message 1 does not decrypt: tampered (header, which is
    ///     the prologue, or message), or addressed to another responder key;
    ///   - `.replayed(what:counter:)` if the timestamp is not newer than the initiator's last accepted
    ///     one (or older than the clock-skew window); `.rejected(reason:)` if it is too far ahead;
    ///   - `.invalidKey` for a low-order or non-canonical key; `.malformed` for a payload without a
    ///     timestamp.
    public func receive(_ initiation: HandshakeInitiation, now: HandshakeTimestamp) throws(CryptoError) -> PendingAnswer {
        var noise = try NoiseHandshakeState(
            protocol: .parley, role: .responder, prologue: initiation.prologue,
            localStatic: staticKeyPair)
        let payload = try noise.readMessage(initiation.noiseMessage)
        let initiatorKey = try IdentityPublicKey(rawRepresentation: noise.remoteStaticKey ?? [])
        var reader = ByteReader(payload)
        let timestamp: HandshakeTimestamp
        do {
            timestamp = HandshakeTimestamp(rawValue: try reader.readUInt64("initiation timestamp"))
        } catch {
            throw .malformed(error)
        }
        try replayGuard.admit(timestamp, from: initiatorKey, now: now)
        return PendingAnswer(
            initiatorStaticKey: initiatorKey, offer: Array(reader.readRest()), callID: initiation.callID,
            initiatorIndex: initiation.initiatorIndex, timestamp: timestamp, noise: noise)
    }

    /// An authenticated initiation awaiting the responder's decision.
    ///
    /// Accept it once (`accept(answer:responderIndex:)`) or `reject()` it; dropping it also rejects.
    /// A refusal sends nothing: silence tells a prober nothing about whether this key exists.
    /// If the initiator retransmits (a new initiation, later timestamp) while the decision is pending,
    /// the owner should let the newer pending answer replace this one.
    ///
    /// A class, not a value: one owner; never copied, so the decision is single-use — once accepted
    /// or rejected, every reference refuses `accept`, and the same Noise state can never answer twice
    /// (which would reuse a (key, nonce) pair). Not `Sendable`: keep it in one isolation domain.
    public final class PendingAnswer {
        /// The caller's authenticated static (identity) key.
        public let initiatorStaticKey: IdentityPublicKey
        /// The caller's offer (opaque here).
        public let offer: [UInt8]
        /// The call being set up.
        public let callID: CallID
        /// The caller's index.
        public let initiatorIndex: UInt32
        /// The caller's timestamp.
        public let timestamp: HandshakeTimestamp
        /// Whether `accept` or `reject` has been called.
        public private(set) var isDecided = false

        /// The handshake state until the decision; then dropped.
        private var noise: NoiseHandshakeState?

        init(
            initiatorStaticKey: IdentityPublicKey, offer: [UInt8], callID: CallID, initiatorIndex: UInt32,
            timestamp: HandshakeTimestamp, noise: NoiseHandshakeState
        ) {
            self.initiatorStaticKey = initiatorStaticKey
            self.offer = offer
            self.callID = callID
            self.initiatorIndex = initiatorIndex
            self.timestamp = timestamp
            self.noise = noise
        }

        /// Answers the call: the response datagram to send and the session.
        ///
        /// - Parameters:
        ///   - answer: the answer's call parameters (opaque here; at most
        ///     `HandshakeResponse.maximumAnswerSize` bytes).
        ///   - responderIndex: a random index, unique among this engine's live sessions.
        /// - Throws: `.invalidState` if already decided, `.malformed` if the answer is too large.
        public func accept(
            answer: [UInt8], responderIndex: UInt32
        ) throws(CryptoError) -> (response: [UInt8], handshake: CompletedHandshake) {
            try accept(answer: answer, responderIndex: responderIndex, ephemeral: nil)
        }

        /// As `accept(answer:responderIndex:)` with a fixed ephemeral key — **for known-answer tests
        /// only**. Never reuse an ephemeral key.
        @_spi(Testing)
        public func accept(
            answer: [UInt8], responderIndex: UInt32, ephemeral: NoiseKeyPair?
        ) throws(CryptoError) -> (response: [UInt8], handshake: CompletedHandshake) {
            guard !isDecided, var next = noise else {
                throw .invalidState(what: "pending handshake answer", reason: "already accepted or rejected")
            }
            guard answer.count <= HandshakeResponse.maximumAnswerSize else {
                throw .malformed(.invalidValue(
                    field: "answer", reason: "\(answer.count) bytes, at most \(HandshakeResponse.maximumAnswerSize)"))
            }
            if let ephemeral { next.setEphemeralForTesting(ephemeral) }
            var payload = ByteWriter(capacity: 4 + answer.count)
            payload.writeUInt32(responderIndex)
            payload.writeBytes(answer)
            let message = try next.writeMessage(payload: payload.bytes[...])
            let (send, receive) = try next.splitKeys()
            noise = nil
            isDecided = true
            let response = HandshakeResponse(
                responderIndex: responderIndex, initiatorIndex: initiatorIndex, noiseMessage: message[...])
            let handshake = CompletedHandshake(
                role: .responder, callID: callID, localIndex: responderIndex, remoteIndex: initiatorIndex,
                peerStaticKey: initiatorStaticKey,
                keys: SessionKeys(sendKey: send, receiveKey: receive, handshakeHash: next.handshakeHash))
            return (response.serialize(), handshake)
        }

        /// Refuses the call: nothing is sent, and `accept` will no longer work.
        public func reject() {
            noise = nil
            isDecided = true
        }
    }
}
