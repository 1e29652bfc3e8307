internal import Crypto
internal import Foundation

/// A Noise SymmetricState (rev 34 §5.2) with SHA-256: the chaining key `ck`, the handshake hash `h`
/// and the cipher state that encrypts handshake payloads and static keys.
///
/// `h` is not secret (it binds the transcript and feeds the short authentication string); `ck` is.
struct NoiseSymmetricState: Sendable {
    /// HASHLEN for SHA-256.
    static let hashSize = 32

    private(set) var cipherState: NoiseCipherState
    private var chainingKey: [UInt8]
    /// The handshake hash `h`.
    private(set) var handshakeHash: [UInt8]

    /// `InitializeSymmetric(protocol_name)`: `h` is the name zero-padded to 32 bytes if it fits,
    /// else `HASH(name)`; `ck = h`; no key.
    init(protocolName: String, cipher: NoiseCipher) {
        let name = Array(protocolName.utf8)
        if name.count <= Self.hashSize {
            handshakeHash = name + [UInt8](repeating: 0, count: Self.hashSize - name.count)
        } else {
            handshakeHash = Self.hash(name[...])
        }
        chainingKey = handshakeHash
        cipherState = NoiseCipherState(cipher: cipher)
    }

    /// `MixKey(ikm)`: `ck, temp_k = HKDF(ck, ikm, 2)`; the cipher key becomes `temp_k`, nonce 0.
    mutating func mixKey(_ inputKeyMaterial: [UInt8]) {
        let outputs = Self.hkdf(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial, outputs: 2)
        chainingKey = outputs[0]
        cipherState = NoiseCipherState(cipher: cipherState.cipher, symmetricKey: SymmetricKey(data: outputs[1]))
    }

    /// `MixHash(data)`: `h = HASH(h ‖ data)`.
    mutating func mixHash(_ data: ArraySlice<UInt8>) {
        var hasher = SHA256()
        hasher.update(data: handshakeHash)
        hasher.update(data: data)
        handshakeHash = [UInt8](hasher.finalize())
    }

    /// `MixKeyAndHash(ikm)` (for PSKs): `ck, temp_h, temp_k = HKDF(ck, ikm, 3)`; `MixHash(temp_h)`;
    /// the cipher key becomes `temp_k`.
    mutating func mixKeyAndHash(_ inputKeyMaterial: [UInt8]) {
        let outputs = Self.hkdf(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial, outputs: 3)
        chainingKey = outputs[0]
        mixHash(outputs[1][...])
        cipherState = NoiseCipherState(cipher: cipherState.cipher, symmetricKey: SymmetricKey(data: outputs[2]))
    }

    /// `EncryptAndHash(plaintext)`: encrypt with `h` as associated data, then `MixHash(ciphertext)`.
    mutating func encryptAndHash(_ plaintext: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        let ciphertext = try cipherState.encrypt(plaintext, associatedData: handshakeHash[...])
        mixHash(ciphertext[...])
        return ciphertext
    }

    /// `DecryptAndHash(ciphertext)`: decrypt with `h` as associated data, then `MixHash(ciphertext)`.
    mutating func decryptAndHash(_ ciphertext: ArraySlice<UInt8>, what: String) throws(CryptoError) -> [UInt8] {
        let plaintext = try cipherState.decrypt(ciphertext, associatedData: handshakeHash[...], what: what)
        mixHash(ciphertext)
        return plaintext
    }

    /// `Split()`: `temp_k1, temp_k2 = HKDF(ck, empty, 2)`; two cipher states, the first for the
    /// initiator's sending direction, the second for the responder's.
    func split() -> (initiatorToResponder: NoiseCipherState, responderToInitiator: NoiseCipherState) {
        let outputs = Self.hkdf(chainingKey: chainingKey, inputKeyMaterial: [], outputs: 2)
        let cipher = cipherState.cipher
        return (
            NoiseCipherState(cipher: cipher, symmetricKey: SymmetricKey(data: outputs[0])),
            NoiseCipherState(cipher: cipher, symmetricKey: SymmetricKey(data: outputs[1]))
        )
    }

    /// The raw Split() keys (for handing to a transport that holds its own cipher).
    func splitKeys() -> (initiatorToResponder: [UInt8], responderToInitiator: [UInt8]) {
        let outputs = Self.hkdf(chainingKey: chainingKey, inputKeyMaterial: [], outputs: 2)
        return (outputs[0], outputs[1])
    }

    /// `HASH(data)`: SHA-256.
    static func hash(_ data: ArraySlice<UInt8>) -> [UInt8] {
        [UInt8](SHA256.hash(data: data))
    }

    /// `HMAC-HASH(key, data)`: HMAC-SHA-256.
    static func hmac(key: [UInt8], data: [UInt8]) -> [UInt8] {
        [UInt8](HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key)))
    }

    /// `HKDF(chaining_key, input_key_material, num_outputs)` as rev 34 §4.3 defines it:
    /// `temp_key = HMAC(ck, ikm)`, `output1 = HMAC(temp_key, 0x01)`,
    /// `output2 = HMAC(temp_key, output1 ‖ 0x02)`, `output3 = HMAC(temp_key, output2 ‖ 0x03)`.
    static func hkdf(chainingKey: [UInt8], inputKeyMaterial: [UInt8], outputs count: Int) -> [[UInt8]] {
        let tempKey = hmac(key: chainingKey, data: inputKeyMaterial)
        var outputs: [[UInt8]] = []
        var previous: [UInt8] = []
        for index in 1...count {
            previous = hmac(key: tempKey, data: previous + [UInt8(index)])
            outputs.append(previous)
        }
        return outputs
    }
}
