internal import ParleyWire

/// The calling side of Parley's handshake (`Noise_IK_25519_AESGCM_SHA256`, Protocols/peer/handshake.md).
///
/// Creating one builds the initiation datagram (0x04), carrying the offer; `receive(_:)` takes the
/// response (0x05) and yields the answer and the session. Sans-IO: the caller sends `initiation`,
/// routes responses to it by `initiatorIndex`, and supplies the wall-clock `timestamp`.
///
/// A forged or damaged response throws and leaves the initiator as it was, so the genuine response
/// can still complete it. To retransmit, make a new initiator (a fresh ephemeral key and a later
/// timestamp): the responder refuses the same initiation twice.
///
/// A class, not a value: one owner; never copied, so the handshake completes at most once — a stale
/// copy cannot take a second response with the same ephemeral key and derive a second session (which
/// could reuse a (key, nonce) pair). Not `Sendable`: keep it in one isolation domain (e.g. the
/// engine's actor).
public final class HandshakeInitiator {
    /// The call being set up.
    public let callID: CallID
    /// The index this side picked.
    public let initiatorIndex: UInt32
    /// The responder this handshake is addressed to: only its key can answer.
    public let responderStaticKey: IdentityPublicKey
    /// The timestamp inside the initiation.
    public let timestamp: HandshakeTimestamp
    /// The initiation datagram to send.
    public let initiation: [UInt8]
    /// Whether a response has completed the handshake.
    public private(set) var isComplete = false

    /// The handshake state until a response completes it; then dropped (its ephemeral private key is
    /// zeroed when freed).
    private var noise: NoiseHandshakeState?

    /// Starts a handshake to `responder`, carrying `offer`.
    ///
    /// - Parameters:
    ///   - identity: this engine's static key pair.
    ///   - responder: the callee's static public key.
    ///   - callID: the call's id (random, from `CallID.random()`).
    ///   - initiatorIndex: a random index, unique among this engine's live sessions.
    ///   - offer: the call parameters, opaque here (at most `HandshakeInitiation.maximumOfferSize` bytes).
    ///   - timestamp: this engine's wall clock now.
    /// - Throws: `.malformed` if the offer is too large.
    public convenience init(
        identity: IdentityKeyPair, responder: IdentityPublicKey, callID: CallID, initiatorIndex: UInt32,
        offer: [UInt8], timestamp: HandshakeTimestamp
    ) throws(CryptoError) {
        try self.init(
            identity: identity, responder: responder, callID: callID, initiatorIndex: initiatorIndex,
            offer: offer, timestamp: timestamp, ephemeral: nil)
    }

    /// As the public initializer, with a fixed ephemeral key — **for known-answer tests only** (the
    /// worked example of handshake.md). Never reuse an ephemeral key.
    @_spi(Testing)
    public init(
        identity: IdentityKeyPair, responder: IdentityPublicKey, callID: CallID, initiatorIndex: UInt32,
        offer: [UInt8], timestamp: HandshakeTimestamp, ephemeral: NoiseKeyPair?
    ) throws(CryptoError) {
        guard offer.count <= HandshakeInitiation.maximumOfferSize else {
            throw .malformed(.invalidValue(
                field: "offer", reason: "\(offer.count) bytes, at most \(HandshakeInitiation.maximumOfferSize)"))
        }
        let shell = HandshakeInitiation(initiatorIndex: initiatorIndex, callID: callID, noiseMessage: [])
        var noise = try NoiseHandshakeState(
            protocol: .parley, role: .initiator, prologue: shell.prologue,
            localStatic: NoiseKeyPair(identity.privateKey), localEphemeral: ephemeral,
            remoteStaticKey: responder.rawRepresentation)
        var payload = ByteWriter(capacity: HandshakeTimestamp.byteCount + offer.count)
        payload.writeUInt64(timestamp.rawValue)
        payload.writeBytes(offer)
        let message = try noise.writeMessage(payload: payload.bytes[...])
        self.callID = callID
        self.initiatorIndex = initiatorIndex
        self.responderStaticKey = responder
        self.timestamp = timestamp
        self.noise = noise
        initiation = HandshakeInitiation(
            initiatorIndex: initiatorIndex, callID: callID, noiseMessage: message[...]
        ).serialize()
    }

    /// Completes the handshake with a response datagram's bytes.
    ///
    /// - Returns: the answer (opaque here) and the session.
    /// - Throws: as `receive(_:)`; `.malformed` if the bytes are not a response datagram.
    public func receive(datagram: ArraySlice<UInt8>) throws(CryptoError) -> (answer: [UInt8], handshake: CompletedHandshake) {
        let response: HandshakeResponse
        do {
            response = try HandshakeResponse(parsing: datagram)
        } catch {
            throw .malformed(error)
        }
        return try receive(response)
    }

    /// Completes the handshake with a parsed response.
    ///
    /// - Returns: the answer (opaque here) and the session.
    /// - Throws: nothing changes on any error:
    ///   - `.unknownKey(what:keyID:)` if the response echoes another initiator index;
    ///   - `.authenticationFailed(what:)` if Noise message 2 does not decrypt (tampered, or from a
    ///     responder without the addressed key), or the header's responder index differs from the copy
    ///     inside the encrypted payload;
    ///   - `.malformed` if it is too short, `.invalidKey` for a low-order ephemeral key;
    ///   - `.invalidState` once the handshake is complete.
    public func receive(_ response: HandshakeResponse) throws(CryptoError) -> (answer: [UInt8], handshake: CompletedHandshake) {
        guard !isComplete, var next = noise else {
            throw .invalidState(what: "handshake initiator", reason: "already completed by a response")
        }
        guard response.initiatorIndex == initiatorIndex else {
            throw .unknownKey(what: "handshake response for initiator index", keyID: UInt64(response.initiatorIndex))
        }
        let payload = try next.readMessage(response.noiseMessage)
        var reader = ByteReader(payload)
        let copiedIndex: UInt32
        do {
            copiedIndex = try reader.readUInt32("responder index (encrypted copy)")
        } catch {
            throw .malformed(error)
        }
        guard copiedIndex == response.responderIndex else {
            throw .authenticationFailed(what: "handshake response header (responder index differs from its encrypted copy)")
        }
        let (send, receive) = try next.splitKeys()
        noise = nil
        isComplete = true
        let handshake = CompletedHandshake(
            role: .initiator, callID: callID, localIndex: initiatorIndex, remoteIndex: response.responderIndex,
            peerStaticKey: responderStaticKey,
            keys: SessionKeys(sendKey: send, receiveKey: receive, handshakeHash: next.handshakeHash))
        return (Array(reader.readRest()), handshake)
    }
}
