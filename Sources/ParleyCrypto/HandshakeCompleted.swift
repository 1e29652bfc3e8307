/// The keys one side holds after a completed handshake (handshake.md §6): the Noise Split() keys,
/// oriented for this side, and the handshake hash.
///
/// `sendKey` of one side is `receiveKey` of the other; both sides have the same `handshakeHash`.
/// The keys are AES-256-GCM keys for `PairwiseChannel(localIndex:remoteIndex:sendKey:receiveKey:)`.
/// `description` never shows them.
public struct SessionKeys: Sendable, CustomStringConvertible {
    /// 32 bytes: the key for what this side sends (Split()'s first key for the initiator, second for
    /// the responder).
    public let sendKey: [UInt8]
    /// 32 bytes: the key for what this side receives.
    public let receiveKey: [UInt8]
    /// 32 bytes: the Noise handshake hash `h` — not secret; binds the session and feeds the short
    /// authentication string. Never use it as a key.
    public let handshakeHash: [UInt8]

    init(sendKey: [UInt8], receiveKey: [UInt8], handshakeHash: [UInt8]) {
        self.sendKey = sendKey
        self.receiveKey = receiveKey
        self.handshakeHash = handshakeHash
    }

    /// Shows the handshake hash only.
    public var description: String { "SessionKeys(handshakeHash: \(noiseHexString(handshakeHash)), keys redacted)" }
}

/// What each side holds after a completed handshake (handshake.md §6): who the peer is, the two
/// session indices, and the session keys.
public struct CompletedHandshake: Sendable {
    /// Which side this is.
    public let role: NoiseRole
    /// The call the handshake set up.
    public let callID: CallID
    /// This side's index: pairwise-channel datagrams to this side carry it.
    public let localIndex: UInt32
    /// The peer's index: this side's channel datagrams carry it.
    public let remoteIndex: UInt32
    /// The peer's authenticated static (identity) key.
    public let peerStaticKey: IdentityPublicKey
    /// The Split() keys and the handshake hash.
    public let keys: SessionKeys

    /// The initiator's index, whichever side this is.
    public var initiatorIndex: UInt32 { role == .initiator ? localIndex : remoteIndex }
    /// The responder's index, whichever side this is.
    public var responderIndex: UInt32 { role == .initiator ? remoteIndex : localIndex }
}
