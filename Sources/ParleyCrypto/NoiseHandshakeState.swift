/// Which side of a Noise handshake this is.
public enum NoiseRole: Sendable, Equatable {
    /// Sends the first handshake message.
    case initiator
    /// Receives the first handshake message.
    case responder
}

/// The handshake patterns Parley implements (Noise rev 34 §7, §9).
///
/// - `IK`: `<- s ... -> e, es, s, ss  <- e, ee, se` — Parley's call handshake.
/// - `IKpsk2`: IK with `psk` at the end of the second message (WireGuard's pattern).
/// - `XX`: `-> e  <- e, ee, s, es  -> s, se` — mutual authentication with no prior knowledge.
public enum NoiseHandshakePattern: String, Sendable, Equatable, CaseIterable {
    case ik = "IK"
    case ikpsk2 = "IKpsk2"
    case xx = "XX"

    /// The pattern's tokens.
    enum Token: Sendable {
        case e, s, ee, es, se, ss, psk
    }

    /// Tokens of the responder's pre-message (what the initiator knows before starting).
    var responderPreMessage: [Token] {
        switch self {
        case .ik, .ikpsk2: [.s]
        case .xx: []
        }
    }

    /// Tokens of each handshake message, the first sent by the initiator, then alternating.
    var messages: [[Token]] {
        switch self {
        case .ik: [[.e, .es, .s, .ss], [.e, .ee, .se]]
        case .ikpsk2: [[.e, .es, .s, .ss], [.e, .ee, .se, .psk]]
        case .xx: [[.e], [.e, .ee, .s, .es], [.s, .se]]
        }
    }

    /// Whether the pattern has a `psk` token (then every `e` also calls `MixKey(e)`, rev 34 §9.2).
    var usesPresharedKey: Bool {
        messages.contains { $0.contains(.psk) }
    }
}

/// A Noise protocol: pattern, DH function (always 25519), cipher, hash (always SHA256).
public struct NoiseProtocol: Sendable, Equatable {
    /// The handshake pattern.
    public var pattern: NoiseHandshakePattern
    /// The AEAD cipher.
    public var cipher: NoiseCipher

    /// The protocol `Noise_<pattern>_25519_<cipher>_SHA256`.
    public init(pattern: NoiseHandshakePattern, cipher: NoiseCipher) {
        self.pattern = pattern
        self.cipher = cipher
    }

    /// Parses a protocol name such as `Noise_IK_25519_AESGCM_SHA256`; nil for anything Parley does not
    /// implement.
    public init?(name: String) {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "Noise", parts[2] == "25519", parts[4] == "SHA256",
              let pattern = NoiseHandshakePattern(rawValue: String(parts[1])),
              let cipher = NoiseCipher.allCases.first(where: { $0.protocolName == parts[3] })
        else { return nil }
        self.init(pattern: pattern, cipher: cipher)
    }

    /// Parley's call handshake: `Noise_IK_25519_AESGCM_SHA256`.
    public static let parley = NoiseProtocol(pattern: .ik, cipher: .aesGCM)

    /// The full protocol name, e.g. `Noise_IK_25519_AESGCM_SHA256`.
    public var name: String {
        "Noise_\(pattern.rawValue)_25519_\(cipher.protocolName)_SHA256"
    }
}

/// A Noise HandshakeState (rev 34 §5.3): runs one handshake pattern to completion, then splits into
/// two transport cipher states.
///
/// A value type: `writeMessage` and `readMessage` either complete and advance the state, or throw
/// and leave it exactly as it was — so a forged or damaged message does not spoil a handshake that
/// a genuine message can still complete.
public struct NoiseHandshakeState: Sendable {
    /// The protocol being run.
    public let noiseProtocol: NoiseProtocol
    /// This side's role.
    public let role: NoiseRole

    private var symmetric: NoiseSymmetricState
    private let localStatic: NoiseKeyPair?
    private var localEphemeral: NoiseKeyPair?
    /// The peer's static public key, once known (given in advance, or received).
    public private(set) var remoteStaticKey: [UInt8]?
    /// The peer's ephemeral public key, once received.
    public private(set) var remoteEphemeralKey: [UInt8]?
    private let presharedKey: [UInt8]?
    /// How many handshake messages have been written or read.
    public private(set) var messageCount: Int

    /// Largest Noise message (rev 34 §3).
    public static let maximumMessageSize = 65_535

    /// A handshake that generates its ephemeral key from the system's secure generator.
    ///
    /// - Parameters:
    ///   - prologue: data both sides must agree on; a mismatch makes the handshake fail.
    ///   - localStatic: this side's static key pair (IK and XX need one on both sides).
    ///   - remoteStaticKey: the responder's static public key (the initiator of IK must know it).
    ///   - presharedKey: 32 bytes, for `psk` patterns only.
    /// - Throws: `CryptoError.invalidState` if a key the pattern needs is missing, `.invalidKey` if
    ///   a key has the wrong size.
    public init(
        protocol noiseProtocol: NoiseProtocol, role: NoiseRole, prologue: [UInt8] = [],
        localStatic: NoiseKeyPair?, remoteStaticKey: [UInt8]? = nil, presharedKey: [UInt8]? = nil
    ) throws(CryptoError) {
        try self.init(
            protocol: noiseProtocol, role: role, prologue: prologue, localStatic: localStatic,
            localEphemeral: nil, remoteStaticKey: remoteStaticKey, presharedKey: presharedKey)
    }

    /// A handshake whose ephemeral key is `localEphemeral` — **for known-answer tests only**: reusing
    /// an ephemeral key across handshakes destroys forward secrecy and, in IK, lets messages be replayed
    /// into the same keys.
    @_spi(Testing)
    public init(
        protocol noiseProtocol: NoiseProtocol, role: NoiseRole, prologue: [UInt8] = [],
        localStatic: NoiseKeyPair?, localEphemeral: NoiseKeyPair?, remoteStaticKey: [UInt8]? = nil,
        presharedKey: [UInt8]? = nil
    ) throws(CryptoError) {
        let pattern = noiseProtocol.pattern
        // Every pattern here authenticates both sides, so both need a static key pair.
        if localStatic == nil {
            throw .invalidState(what: "Noise \(pattern.rawValue) \(role)", reason: "needs a local static key pair")
        }
        if role == .initiator, pattern.responderPreMessage.contains(.s), remoteStaticKey == nil {
            throw .invalidState(what: "Noise \(pattern.rawValue) initiator", reason: "needs the responder's static key")
        }
        if let remoteStaticKey, remoteStaticKey.count != NoiseKeyPair.keySize {
            throw .invalidKey(what: "remote static key", reason: "\(remoteStaticKey.count) bytes, expected 32")
        }
        if pattern.usesPresharedKey {
            guard let presharedKey, presharedKey.count == 32 else {
                throw .invalidKey(what: "Noise pre-shared key", reason: "\(pattern.rawValue) needs 32 bytes")
            }
        }
        self.noiseProtocol = noiseProtocol
        self.role = role
        self.localStatic = localStatic
        self.localEphemeral = localEphemeral
        self.remoteStaticKey = remoteStaticKey
        self.remoteEphemeralKey = nil
        self.presharedKey = pattern.usesPresharedKey ? presharedKey : nil
        messageCount = 0
        symmetric = NoiseSymmetricState(protocolName: noiseProtocol.name, cipher: noiseProtocol.cipher)
        symmetric.mixHash(prologue[...])
        // Pre-messages: only `<- s` among these patterns.
        for token in pattern.responderPreMessage where token == .s {
            let responderStatic = role == .initiator ? remoteStaticKey : localStatic?.publicKey
            symmetric.mixHash((responderStatic ?? [])[...])
        }
    }

    /// Whether every handshake message has been written or read.
    public var isComplete: Bool { messageCount == noiseProtocol.pattern.messages.count }

    /// Whether the next handshake message is this side's to write.
    public var isMyTurn: Bool {
        !isComplete && (messageCount % 2 == 0) == (role == .initiator)
    }

    /// The handshake hash `h`: after completion, a unique, non-secret identifier of this handshake
    /// (for channel binding and the short authentication string — never a key).
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    /// `WriteMessage(payload)`: the next handshake message, carrying `payload` (encrypted once a key
    /// exists).
    ///
    /// - Throws: `.invalidState` out of turn, `.malformed` if the message would exceed 65 535 bytes,
    ///   `.invalidKey` on a low-order peer key.
    public mutating func writeMessage(payload: ArraySlice<UInt8> = []) throws(CryptoError) -> [UInt8] {
        guard isMyTurn else {
            throw .invalidState(what: "Noise handshake", reason: isComplete ? "already complete" : "not our turn to write")
        }
        var next = self
        var message: [UInt8] = []
        for token in noiseProtocol.pattern.messages[messageCount] {
            switch token {
            case .e:
                let ephemeral = next.localEphemeral ?? NoiseKeyPair.generate()
                next.localEphemeral = ephemeral
                message += ephemeral.publicKey
                next.symmetric.mixHash(ephemeral.publicKey[...])
                if next.presharedKey != nil { next.symmetric.mixKey(ephemeral.publicKey) }
            case .s:
                guard let localStatic = next.localStatic else {
                    throw .invalidState(what: "Noise handshake", reason: "no local static key")
                }
                message += try next.symmetric.encryptAndHash(localStatic.publicKey[...])
            case .ee, .es, .se, .ss:
                try next.mixDiffieHellman(token)
            case .psk:
                next.symmetric.mixKeyAndHash(next.presharedKey ?? [])
            }
        }
        let overhead = next.symmetric.cipherState.hasKey ? NoiseCipher.tagSize : 0
        guard message.count + payload.count + overhead <= Self.maximumMessageSize else {
            throw .malformed(.invalidValue(
                field: "Noise handshake payload", reason: "message would exceed \(Self.maximumMessageSize) bytes"))
        }
        message += try next.symmetric.encryptAndHash(payload)
        next.messageCount += 1
        self = next
        return message
    }

    /// `ReadMessage(message)`: processes the peer's next handshake message and returns its payload.
    /// On any error the state is unchanged.
    ///
    /// - Throws: `.malformed` (too short or too long), `.authenticationFailed(what:)` (a static key or
    ///   payload that does not decrypt: tampered, or a different prologue or key), `.invalidKey`
    ///   (a low-order public key), `.invalidState` (out of turn).
    public mutating func readMessage(_ message: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        guard !isComplete, !isMyTurn else {
            throw .invalidState(what: "Noise handshake", reason: isComplete ? "already complete" : "not our turn to read")
        }
        guard message.count <= Self.maximumMessageSize else {
            throw .malformed(.invalidValue(
                field: "Noise handshake message", reason: "\(message.count) bytes, at most \(Self.maximumMessageSize)"))
        }
        var next = self
        var rest = message
        for token in noiseProtocol.pattern.messages[messageCount] {
            switch token {
            case .e:
                guard rest.count >= NoiseKeyPair.keySize else {
                    throw .malformed(.truncated(field: "Noise ephemeral key", needed: 32, available: rest.count))
                }
                let ephemeral = Array(rest.prefix(NoiseKeyPair.keySize))
                rest = rest.dropFirst(NoiseKeyPair.keySize)
                next.remoteEphemeralKey = ephemeral
                next.symmetric.mixHash(ephemeral[...])
                if next.presharedKey != nil { next.symmetric.mixKey(ephemeral) }
            case .s:
                let size = NoiseKeyPair.keySize + (next.symmetric.cipherState.hasKey ? NoiseCipher.tagSize : 0)
                guard rest.count >= size else {
                    throw .malformed(.truncated(field: "Noise encrypted static key", needed: size, available: rest.count))
                }
                let encrypted = rest.prefix(size)
                rest = rest.dropFirst(size)
                next.remoteStaticKey = try next.symmetric.decryptAndHash(encrypted, what: "Noise static key")
            case .ee, .es, .se, .ss:
                try next.mixDiffieHellman(token)
            case .psk:
                next.symmetric.mixKeyAndHash(next.presharedKey ?? [])
            }
        }
        let payload = try next.symmetric.decryptAndHash(rest, what: "Noise handshake payload")
        next.messageCount += 1
        self = next
        return payload
    }

    /// `Split()` after the last message: the transport cipher states for this side's sending and
    /// receiving directions (rev 34 §5.3: the initiator sends with the first, the responder with the
    /// second).
    ///
    /// - Throws: `.invalidState` before the handshake is complete.
    public func split() throws(CryptoError) -> (send: NoiseCipherState, receive: NoiseCipherState) {
        guard isComplete else { throw .invalidState(what: "Noise split", reason: "handshake not complete") }
        let (first, second) = symmetric.split()
        return role == .initiator ? (first, second) : (second, first)
    }

    /// The two Split() keys as bytes, oriented for this side (send, receive).
    func splitKeys() throws(CryptoError) -> (send: [UInt8], receive: [UInt8]) {
        guard isComplete else { throw .invalidState(what: "Noise split", reason: "handshake not complete") }
        let (first, second) = symmetric.splitKeys()
        return role == .initiator ? (first, second) : (second, first)
    }

    /// Fixes the ephemeral key a later `writeMessage` sends — for known-answer tests only.
    mutating func setEphemeralForTesting(_ ephemeral: NoiseKeyPair) {
        localEphemeral = ephemeral
    }

    /// Performs the DH a token names and mixes the result into the chaining key.
    private mutating func mixDiffieHellman(_ token: NoiseHandshakePattern.Token) throws(CryptoError) {
        // Initiator's view: es = DH(e, rs), se = DH(s, re); the responder mirrors it.
        let useLocalEphemeral: Bool
        let useRemoteEphemeral: Bool
        switch token {
        case .ee: (useLocalEphemeral, useRemoteEphemeral) = (true, true)
        case .ss: (useLocalEphemeral, useRemoteEphemeral) = (false, false)
        case .es: (useLocalEphemeral, useRemoteEphemeral) = role == .initiator ? (true, false) : (false, true)
        case .se: (useLocalEphemeral, useRemoteEphemeral) = role == .initiator ? (false, true) : (true, false)
        default: return
        }
        guard let local = useLocalEphemeral ? localEphemeral : localStatic else {
            throw .invalidState(what: "Noise handshake", reason: "missing local key for DH")
        }
        guard let remote = useRemoteEphemeral ? remoteEphemeralKey : remoteStaticKey else {
            throw .invalidState(what: "Noise handshake", reason: "missing remote key for DH")
        }
        symmetric.mixKey(try local.diffieHellman(with: remote))
    }
}
