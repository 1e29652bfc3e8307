internal import Crypto

/// The `sframe_key` and `sframe_salt` of one KID, derived once from its base key (RFC 9605 §4.4.2) and
/// kept ready for per-frame use: no HKDF runs per frame.
///
/// ```
/// sframe_secret = HKDF-Extract("", base_key)
/// sframe_key    = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret key "  ‖ BE8(KID) ‖ BE2(suite), Nk)
/// sframe_salt   = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret salt " ‖ BE8(KID) ‖ BE2(suite), Nn)
/// nonce         = sframe_salt XOR BE12(CTR)
/// ```
///
/// HKDF uses SHA-256 for suites 1–4 and SHA-512 for suite 5.
struct SFrameKey: Sendable {
    /// The KID this key belongs to.
    let keyID: UInt64
    /// The suite's AEAD keyed with `sframe_key`.
    let aead: SFrameAEAD
    /// `sframe_salt` as three words in memory (wire) order, so a nonce is three XORs.
    private let salt: (UInt32, UInt32, UInt32)

    /// The suite of this key.
    var suite: SFrameCipherSuite { aead.suite }

    /// Derives the key and salt of `keyID` from `baseKey`.
    init(suite: SFrameCipherSuite, keyID: UInt64, baseKey: [UInt8]) throws(CryptoError) {
        let derived = Self.derive(suite: suite, keyID: keyID, baseKey: baseKey)
        try self.init(suite: suite, keyID: keyID, key: derived.key, salt: derived.salt)
    }

    /// A key from an already derived `sframe_key` (`suite.keyByteCount` bytes) and `sframe_salt` (12 bytes).
    init(suite: SFrameCipherSuite, keyID: UInt64, key: [UInt8], salt: [UInt8]) throws(CryptoError) {
        guard salt.count == suite.nonceByteCount else {
            throw .invalidKey(what: "SFrame salt", reason: "needs \(suite.nonceByteCount) bytes, got \(salt.count)")
        }
        self.keyID = keyID
        aead = try SFrameAEAD(suite: suite, key: key)
        var words: (UInt32, UInt32, UInt32) = (0, 0, 0)
        withUnsafeMutableBytes(of: &words) { $0.copyBytes(from: salt) }
        self.salt = words
    }

    /// Calls `body` with the 12-byte nonce for `counter`: `sframe_salt` XOR the counter as a 12-byte
    /// big-endian integer (RFC 9605 erratum 8321), built on the stack.
    func withNonce<Result, Failure: Error>(
        counter: UInt64, _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        // The first four salt bytes meet the counter's (zero) top 32 bits; the last eight meet BE8(CTR).
        var nonce = (
            salt.0,
            salt.1 ^ UInt32(truncatingIfNeeded: counter >> 32).bigEndian,
            salt.2 ^ UInt32(truncatingIfNeeded: counter).bigEndian
        )
        return try withUnsafeBytes(of: &nonce) { (bytes) throws(Failure) -> Result in try body(bytes) }
    }

    /// Whether `other` was derived from the same base key for the same KID and suite (same salt).
    func hasSameMaterial(as other: SFrameKey) -> Bool {
        keyID == other.keyID && suite == other.suite
            && salt.0 == other.salt.0 && salt.1 == other.salt.1 && salt.2 == other.salt.2
    }

    /// The nonce for `counter`, as bytes.
    func nonce(counter: UInt64) -> [UInt8] {
        withNonce(counter: counter) { [UInt8]($0) }
    }

    /// Every intermediate value of the key schedule, for the published vectors.
    struct Derivation: Equatable {
        /// `sframe_secret` (Nh bytes).
        var secret: [UInt8]
        /// `sframe_key` (Nk bytes).
        var key: [UInt8]
        /// `sframe_salt` (Nn bytes).
        var salt: [UInt8]
    }

    /// Runs the key schedule of RFC 9605 §4.4.2 for `keyID` under `suite`.
    static func derive(suite: SFrameCipherSuite, keyID: UInt64, baseKey: [UInt8]) -> Derivation {
        switch suite {
        case .aes256GCMSHA512Tag128:
            derive(SHA512.self, suite: suite, keyID: keyID, baseKey: baseKey)
        default:
            derive(SHA256.self, suite: suite, keyID: keyID, baseKey: baseKey)
        }
    }

    private static func derive<Hash: HashFunction>(
        _: Hash.Type, suite: SFrameCipherSuite, keyID: UInt64, baseKey: [UInt8]
    ) -> Derivation {
        let secret = HKDF<Hash>.extract(inputKeyMaterial: SymmetricKey(data: baseKey), salt: [UInt8]())
        let key = HKDF<Hash>.expand(
            pseudoRandomKey: secret, info: keyLabel(suite: suite, keyID: keyID), outputByteCount: suite.keyByteCount)
        let salt = HKDF<Hash>.expand(
            pseudoRandomKey: secret, info: saltLabel(suite: suite, keyID: keyID), outputByteCount: suite.nonceByteCount)
        return Derivation(
            secret: secret.withUnsafeBytes { [UInt8]($0) },
            key: key.withUnsafeBytes { [UInt8]($0) },
            salt: salt.withUnsafeBytes { [UInt8]($0) })
    }

    /// `"SFrame 1.0 Secret key " ‖ BE8(KID) ‖ BE2(suite)`.
    static func keyLabel(suite: SFrameCipherSuite, keyID: UInt64) -> [UInt8] {
        label("SFrame 1.0 Secret key ", suite: suite, keyID: keyID)
    }

    /// `"SFrame 1.0 Secret salt " ‖ BE8(KID) ‖ BE2(suite)`.
    static func saltLabel(suite: SFrameCipherSuite, keyID: UInt64) -> [UInt8] {
        label("SFrame 1.0 Secret salt ", suite: suite, keyID: keyID)
    }

    private static func label(_ prefix: String, suite: SFrameCipherSuite, keyID: UInt64) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: keyID >> UInt64(shift)))
        }
        bytes.append(UInt8(truncatingIfNeeded: suite.rawValue >> 8))
        bytes.append(UInt8(truncatingIfNeeded: suite.rawValue))
        return bytes
    }
}
