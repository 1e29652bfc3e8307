import Crypto
@_spi(Testing) import ParleyCrypto
import Testing

/// swift-crypto also exports a `CryptoError`; this file means Parley's.
private typealias CryptoError = ParleyCrypto.CryptoError

private func key(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

/// X25519 public keys of small order (the list of RFC 7748 §5 / libsodium's blocklist, canonical
/// encodings): a DH with any of them gives the all-zero secret.
private let lowOrderPoints: [[UInt8]] = [
    [UInt8](repeating: 0, count: 32),
    [1] + [UInt8](repeating: 0, count: 31),
    [0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
     0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00],
    [0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
     0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57],
    [0xec] + [UInt8](repeating: 0xff, count: 30) + [0x7f],  // p − 1
]

private func ikPair() throws -> (initiator: NoiseHandshakeState, responder: NoiseHandshakeState) {
    let initiatorStatic = try NoiseKeyPair(privateKey: key(1))
    let responderStatic = try NoiseKeyPair(privateKey: key(2))
    let initiator = try NoiseHandshakeState(
        protocol: .parley, role: .initiator, prologue: [9], localStatic: initiatorStatic,
        remoteStaticKey: responderStatic.publicKey)
    let responder = try NoiseHandshakeState(protocol: .parley, role: .responder, prologue: [9], localStatic: responderStatic)
    return (initiator, responder)
}

@Suite struct NoiseCipherStateTests {
    @Test func aesGCMNonceIsBigEndianAndChaChaPolyLittleEndianAfterFourZeroBytes() throws {
        // Encrypting at nonce n must equal encrypting at the explicit nonce n, for a counter whose bytes
        // differ, and the two ciphers' layouts must not be swapped (the vectors pin the layout itself).
        for cipher in NoiseCipher.allCases {
            var state = try NoiseCipherState(cipher: cipher, key: key(7))
            state.setNonce(0x0102_0304_0506_0708)
            let implicit = try state.encrypt([1, 2, 3], associatedData: [4])
            let explicit = try state.seal([1, 2, 3], nonce: 0x0102_0304_0506_0708, associatedData: [4])
            #expect(implicit == explicit)
            #expect(state.nonce == 0x0102_0304_0506_0709)
            #expect(try state.open(explicit[...], nonce: 0x0102_0304_0506_0708, associatedData: [4]) == [1, 2, 3])
        }
    }

    @Test func theReservedNonceIsNeverUsedForAMessage() throws {
        var state = try NoiseCipherState(cipher: .aesGCM, key: key(7))
        state.setNonce(NoiseCipherState.reservedNonce)
        #expect(throws: CryptoError.keyExhausted(what: "Noise cipher state nonce")) { try state.encrypt([1]) }
        #expect(throws: CryptoError.keyExhausted(what: "Noise cipher state nonce")) { try state.decrypt([UInt8](repeating: 0, count: 17)[...]) }
        #expect(throws: CryptoError.keyExhausted(what: "Noise cipher state nonce")) {
            try state.seal([1], nonce: NoiseCipherState.reservedNonce)
        }
    }

    @Test func aFailedDecryptionDoesNotAdvanceTheNonce() throws {
        var sender = try NoiseCipherState(cipher: .aesGCM, key: key(3))
        var receiver = try NoiseCipherState(cipher: .aesGCM, key: key(3))
        var ciphertext = try sender.encrypt([5, 6, 7])
        ciphertext[0] ^= 1
        #expect(throws: CryptoError.authenticationFailed(what: "Noise ciphertext")) { try receiver.decrypt(ciphertext[...]) }
        #expect(receiver.nonce == 0)
        ciphertext[0] ^= 1
        #expect(try receiver.decrypt(ciphertext[...]) == [5, 6, 7])
        #expect(receiver.nonce == 1)
    }

    @Test func aCiphertextShorterThanATagIsMalformed() throws {
        var receiver = try NoiseCipherState(cipher: .chaChaPoly, key: key(3))
        #expect(throws: CryptoError.malformed(.truncated(field: "Noise ciphertext tag", needed: 16, available: 15))) {
            try receiver.decrypt([UInt8](repeating: 0, count: 15)[...])
        }
    }

    @Test func withoutAKeyEncryptionIsTheIdentity() throws {
        var state = NoiseCipherState(cipher: .aesGCM)
        #expect(!state.hasKey)
        #expect(try state.encrypt([1, 2], associatedData: [3]) == [1, 2])
        #expect(try state.decrypt([1, 2], associatedData: [3]) == [1, 2])
        #expect(state.nonce == 0)
    }

    @Test func rekeyTakesTheFirst32BytesOfEncryptingZerosAtTheReservedNonce() throws {
        // REKEY(k) = ENCRYPT(k, 2^64−1, empty, 32 zero bytes)[0..<32], computed here with swift-crypto
        // directly; each cipher's own nonce layout for n = 2^64−1.
        let zeros = [UInt8](repeating: 0, count: 32)
        let reservedNonce = [0, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8)
        let aes = try AES.GCM.seal(zeros, using: SymmetricKey(data: key(9)), nonce: AES.GCM.Nonce(data: reservedNonce))
        let chacha = try ChaChaPoly.seal(zeros, using: SymmetricKey(data: key(9)), nonce: ChaChaPoly.Nonce(data: reservedNonce))
        let expected: [NoiseCipher: [UInt8]] = [.aesGCM: Array(aes.ciphertext), .chaChaPoly: Array(chacha.ciphertext)]
        for cipher in NoiseCipher.allCases {
            var state = try NoiseCipherState(cipher: cipher, key: key(9))
            _ = try state.encrypt([1, 2, 3])
            state.rekey()
            #expect(state.nonce == 1, "rekey leaves the nonce alone")
            var reference = try NoiseCipherState(cipher: cipher, key: try #require(expected[cipher]))
            reference.setNonce(1)
            let after = try state.encrypt([4, 5, 6])
            #expect(after == (try reference.encrypt([4, 5, 6])))
            var stale = try NoiseCipherState(cipher: cipher, key: key(9))
            stale.setNonce(1)
            #expect(throws: CryptoError.authenticationFailed(what: "Noise ciphertext")) { try stale.decrypt(after[...]) }
        }
    }

    @Test func aKeyOfTheWrongSizeIsRefused() {
        #expect(throws: CryptoError.invalidKey(what: "Noise cipher key", reason: "31 bytes, expected 32")) {
            try NoiseCipherState(cipher: .aesGCM, key: [UInt8](repeating: 0, count: 31))
        }
        #expect(throws: CryptoError.invalidKey(what: "X25519 private key", reason: "33 bytes, expected 32")) {
            try NoiseKeyPair(privateKey: [UInt8](repeating: 0, count: 33))
        }
    }
}

@Suite struct NoiseHandshakeStateTests {
    @Test func protocolNamesParseAndPrint() {
        #expect(NoiseProtocol.parley.name == "Noise_IK_25519_AESGCM_SHA256")
        #expect(NoiseProtocol(name: "Noise_IKpsk2_25519_ChaChaPoly_SHA256") == NoiseProtocol(pattern: .ikpsk2, cipher: .chaChaPoly))
        #expect(NoiseProtocol(name: "Noise_IK_448_AESGCM_SHA256") == nil)
        #expect(NoiseProtocol(name: "Noise_NK_25519_AESGCM_SHA256") == nil)
        #expect(NoiseProtocol(name: "Noise_IK_25519_AESGCM_BLAKE2s") == nil)
        #expect(NoiseProtocol(name: "Noise_IK_25519_AESGCM_SHA256_") == nil)
    }

    @Test func aLowOrderEphemeralKeyIsRefused() throws {
        for point in lowOrderPoints {
            var (initiator, responder) = try ikPair()
            var message = try initiator.writeMessage(payload: [1])
            message.replaceSubrange(0..<32, with: point)
            #expect(throws: CryptoError.invalidKey(what: "X25519 public key", reason: "low-order point (all-zero shared secret)")) {
                try responder.readMessage(message[...])
            }
            #expect(responder.messageCount == 0)
        }
    }

    @Test func aLowOrderRemoteStaticKeyIsRefused() throws {
        for point in lowOrderPoints {
            var initiator = try NoiseHandshakeState(
                protocol: .parley, role: .initiator, localStatic: try NoiseKeyPair(privateKey: key(1)),
                remoteStaticKey: point)
            #expect(throws: CryptoError.invalidKey(what: "X25519 public key", reason: "low-order point (all-zero shared secret)")) {
                try initiator.writeMessage()
            }
            #expect(initiator.messageCount == 0)
        }
    }

    @Test func aDamagedMessageLeavesTheStateAsItWasSoTheGenuineOneStillWorks() throws {
        var (initiator, responder) = try ikPair()
        let message1 = try initiator.writeMessage(payload: [1, 2, 3])
        for index in [0, 40, 90, message1.count - 1] {
            var damaged = message1
            damaged[index] ^= 0x80
            #expect(throws: CryptoError.self) { try responder.readMessage(damaged[...]) }
            #expect(responder.messageCount == 0 && responder.remoteStaticKey == nil)
        }
        #expect(try responder.readMessage(message1[...]) == [1, 2, 3])
        let message2 = try responder.writeMessage(payload: [4])
        var damaged = message2
        damaged[damaged.count - 1] ^= 1
        #expect(throws: CryptoError.authenticationFailed(what: "Noise handshake payload")) { try initiator.readMessage(damaged[...]) }
        #expect(try initiator.readMessage(message2[...]) == [4])
        #expect(initiator.handshakeHash == responder.handshakeHash)
    }

    @Test func aTamperedStaticKeyAndADifferentPrologueFailAuthentication() throws {
        var (initiator, responder) = try ikPair()
        var message = try initiator.writeMessage(payload: [])
        message[40] ^= 1
        #expect(throws: CryptoError.authenticationFailed(what: "Noise static key")) { try responder.readMessage(message[...]) }
        message[40] ^= 1
        var otherPrologue = try NoiseHandshakeState(
            protocol: .parley, role: .responder, prologue: [8], localStatic: try NoiseKeyPair(privateKey: key(2)))
        #expect(throws: CryptoError.authenticationFailed(what: "Noise static key")) { try otherPrologue.readMessage(message[...]) }
    }

    @Test func messagesOutOfTurnAndSplitBeforeTheEndAreInvalidState() throws {
        var (initiator, responder) = try ikPair()
        #expect(throws: CryptoError.self) { try responder.writeMessage() }
        #expect(throws: CryptoError.self) { try initiator.readMessage([UInt8](repeating: 0, count: 64)[...]) }
        #expect(throws: CryptoError.invalidState(what: "Noise split", reason: "handshake not complete")) { try initiator.split() }
        let message1 = try initiator.writeMessage()
        _ = try responder.readMessage(message1[...])
        let message2 = try responder.writeMessage()
        _ = try initiator.readMessage(message2[...])
        #expect(throws: CryptoError.invalidState(what: "Noise handshake", reason: "already complete")) { try initiator.writeMessage() }
        #expect(throws: CryptoError.invalidState(what: "Noise handshake", reason: "already complete")) { try responder.readMessage(message2[...]) }
    }

    @Test func missingKeysAreRefusedAtTheStart() {
        #expect(throws: CryptoError.invalidState(what: "Noise IK initiator", reason: "needs the responder's static key")) {
            try NoiseHandshakeState(protocol: .parley, role: .initiator, localStatic: try NoiseKeyPair(privateKey: key(1)))
        }
        #expect(throws: CryptoError.invalidState(what: "Noise IK responder", reason: "needs a local static key pair")) {
            try NoiseHandshakeState(protocol: .parley, role: .responder, localStatic: nil)
        }
        #expect(throws: CryptoError.invalidKey(what: "Noise pre-shared key", reason: "IKpsk2 needs 32 bytes")) {
            try NoiseHandshakeState(
                protocol: NoiseProtocol(pattern: .ikpsk2, cipher: .aesGCM), role: .responder,
                localStatic: try NoiseKeyPair(privateKey: key(1)), presharedKey: [1])
        }
    }

    @Test func truncatedAndOversizedMessagesAreMalformed() throws {
        var (_, responder) = try ikPair()
        #expect(throws: CryptoError.malformed(.truncated(field: "Noise ephemeral key", needed: 32, available: 31))) {
            try responder.readMessage([UInt8](repeating: 9, count: 31)[...])
        }
        #expect(throws: CryptoError.malformed(.invalidValue(field: "Noise handshake message", reason: "65536 bytes, at most 65535"))) {
            try responder.readMessage([UInt8](repeating: 9, count: 65_536)[...])
        }
        var (initiator, _) = try ikPair()
        #expect(throws: CryptoError.self) { try initiator.writeMessage(payload: [UInt8](repeating: 0, count: 65_535 - 96 + 1)[...]) }
        #expect(try initiator.writeMessage(payload: [UInt8](repeating: 0, count: 65_535 - 96)[...]).count == 65_535)
    }

    @Test func transportKeysAgreeAfterAFreshHandshake() throws {
        var (initiator, responder) = try ikPair()
        _ = try responder.readMessage(try initiator.writeMessage()[...])
        _ = try initiator.readMessage(try responder.writeMessage()[...])
        var (initiatorSend, initiatorReceive) = try initiator.split()
        var (responderSend, responderReceive) = try responder.split()
        #expect(try responderReceive.decrypt(try initiatorSend.encrypt([1])[...]) == [1])
        #expect(try initiatorReceive.decrypt(try responderSend.encrypt([2])[...]) == [2])
    }
}
