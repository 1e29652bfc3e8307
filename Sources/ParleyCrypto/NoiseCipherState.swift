internal import Crypto
internal import Foundation

/// The AEAD cipher of a Noise protocol (Noise Protocol Framework rev 34 §12.3–12.4).
///
/// Both take a 32-byte key and a 64-bit counter `n` as nonce, and produce `ciphertext ‖ 16-byte tag`.
/// They differ in how `n` becomes the 96-bit nonce: AESGCM puts it big-endian after 32 zero bits,
/// ChaChaPoly little-endian after 32 zero bits.
public enum NoiseCipher: Sendable, Equatable, CaseIterable {
    /// AES-256-GCM; the nonce is 32 zero bits ‖ `n` big-endian. Parley's handshake uses this.
    case aesGCM
    /// ChaCha20-Poly1305 (RFC 8439); the nonce is 32 zero bits ‖ `n` little-endian.
    case chaChaPoly

    /// The cipher's name in a Noise protocol name ("AESGCM", "ChaChaPoly").
    public var protocolName: String {
        switch self {
        case .aesGCM: "AESGCM"
        case .chaChaPoly: "ChaChaPoly"
        }
    }

    /// Bytes of authentication tag after each ciphertext.
    public static let tagSize = 16
    /// Bytes of a key.
    public static let keySize = 32

    /// The 12-byte AEAD nonce for counter `n`.
    func nonceBytes(_ n: UInt64) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        for byte in 0..<8 {
            let value = UInt8(truncatingIfNeeded: n >> UInt64(8 * byte))
            switch self {
            case .aesGCM: nonce[11 - byte] = value
            case .chaChaPoly: nonce[4 + byte] = value
            }
        }
        return nonce
    }

    /// `ENCRYPT(k, n, ad, plaintext)`: ciphertext ‖ tag.
    func encrypt(
        key: SymmetricKey, nonce n: UInt64, associatedData: ArraySlice<UInt8>, plaintext: ArraySlice<UInt8>
    ) -> [UInt8] {
        let nonce = nonceBytes(n)
        // Sealing with a well-formed 32-byte key and a 12-byte nonce cannot fail; the `try?` never fires.
        switch self {
        case .aesGCM:
            guard let gcmNonce = try? AES.GCM.Nonce(data: nonce),
                  let box = try? AES.GCM.seal(plaintext, using: key, nonce: gcmNonce, authenticating: associatedData)
            else { preconditionFailure("AES-GCM seal with a 32-byte key and 12-byte nonce failed") }
            return [UInt8](box.ciphertext) + [UInt8](box.tag)
        case .chaChaPoly:
            guard let chachaNonce = try? ChaChaPoly.Nonce(data: nonce),
                  let box = try? ChaChaPoly.seal(plaintext, using: key, nonce: chachaNonce, authenticating: associatedData)
            else { preconditionFailure("ChaChaPoly seal with a 32-byte key and 12-byte nonce failed") }
            return [UInt8](box.ciphertext) + [UInt8](box.tag)
        }
    }

    /// `DECRYPT(k, n, ad, ciphertext ‖ tag)`: the plaintext, or an error naming `what` failed.
    func decrypt(
        key: SymmetricKey, nonce n: UInt64, associatedData: ArraySlice<UInt8>, ciphertext: ArraySlice<UInt8>,
        what: String
    ) throws(CryptoError) -> [UInt8] {
        guard ciphertext.count >= Self.tagSize else {
            throw .malformed(.truncated(field: "\(what) tag", needed: Self.tagSize, available: ciphertext.count))
        }
        let body = ciphertext.dropLast(Self.tagSize)
        let tag = ciphertext.suffix(Self.tagSize)
        let nonce = nonceBytes(n)
        do {
            switch self {
            case .aesGCM:
                let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: body, tag: tag)
                return [UInt8](try AES.GCM.open(box, using: key, authenticating: associatedData))
            case .chaChaPoly:
                let box = try ChaChaPoly.SealedBox(nonce: ChaChaPoly.Nonce(data: nonce), ciphertext: body, tag: tag)
                return [UInt8](try ChaChaPoly.open(box, using: key, authenticating: associatedData))
            }
        } catch {
            throw .authenticationFailed(what: what)
        }
    }
}

/// A Noise CipherState (rev 34 §5.1): a key `k` (or none) and a 64-bit counter nonce `n`.
///
/// During the handshake the symmetric state owns one; after `Split()` each direction of a session has
/// its own. Without a key, encryption and decryption return their input unchanged, as the
/// specification says. The nonce 2⁶⁴−1 is reserved (for `rekey()`): reaching it is an error
/// (`keyExhausted`), never a wrap.
///
/// For transports that carry the counter explicitly (Parley's pairwise channel, with a replay window),
/// `seal(_:nonce:associatedData:)` and `open(_:nonce:associatedData:what:)` take the nonce as an
/// argument and leave `nonce` alone.
public struct NoiseCipherState: Sendable {
    /// The AEAD this state uses.
    public let cipher: NoiseCipher
    private var key: SymmetricKey?
    /// The next nonce `n` that `encrypt` / `decrypt` use.
    public private(set) var nonce: UInt64

    /// The reserved nonce 2⁶⁴−1: never used for a message; `rekey()` encrypts with it.
    public static let reservedNonce = UInt64.max

    /// A cipher state with no key (`InitializeKey(empty)`).
    public init(cipher: NoiseCipher) {
        self.cipher = cipher
        key = nil
        nonce = 0
    }

    /// A cipher state with the 32-byte `key` and nonce 0 (`InitializeKey(key)`).
    ///
    /// - Throws: `CryptoError.invalidKey` unless `key` has 32 bytes.
    public init(cipher: NoiseCipher, key: [UInt8]) throws(CryptoError) {
        guard key.count == NoiseCipher.keySize else {
            throw .invalidKey(what: "Noise cipher key", reason: "\(key.count) bytes, expected \(NoiseCipher.keySize)")
        }
        self.cipher = cipher
        self.key = SymmetricKey(data: key)
        nonce = 0
    }

    init(cipher: NoiseCipher, symmetricKey: SymmetricKey?) {
        self.cipher = cipher
        key = symmetricKey
        nonce = 0
    }

    /// Whether a key is set (`HasKey()`).
    public var hasKey: Bool { key != nil }

    /// Sets the next nonce (`SetNonce(n)`), e.g. for out-of-order transports.
    public mutating func setNonce(_ n: UInt64) {
        nonce = n
    }

    /// `EncryptWithAd(ad, plaintext)`: `ciphertext ‖ tag` under the current nonce, which then advances.
    /// Without a key, returns `plaintext` unchanged.
    ///
    /// - Throws: `CryptoError.keyExhausted` when the nonce has reached 2⁶⁴−1.
    public mutating func encrypt(
        _ plaintext: ArraySlice<UInt8>, associatedData: ArraySlice<UInt8> = []
    ) throws(CryptoError) -> [UInt8] {
        guard let key else { return Array(plaintext) }
        guard nonce != Self.reservedNonce else { throw .keyExhausted(what: "Noise cipher state nonce") }
        let ciphertext = cipher.encrypt(key: key, nonce: nonce, associatedData: associatedData, plaintext: plaintext)
        nonce += 1
        return ciphertext
    }

    /// `DecryptWithAd(ad, ciphertext)`: the plaintext under the current nonce, which then advances.
    /// Without a key, returns `ciphertext` unchanged. On failure the nonce does not advance.
    ///
    /// - Throws: `CryptoError.authenticationFailed(what:)` if the tag does not verify, `.malformed`
    ///   if the input is shorter than a tag, `.keyExhausted` at nonce 2⁶⁴−1.
    public mutating func decrypt(
        _ ciphertext: ArraySlice<UInt8>, associatedData: ArraySlice<UInt8> = [], what: String = "Noise ciphertext"
    ) throws(CryptoError) -> [UInt8] {
        guard let key else { return Array(ciphertext) }
        guard nonce != Self.reservedNonce else { throw .keyExhausted(what: "Noise cipher state nonce") }
        let plaintext = try cipher.decrypt(
            key: key, nonce: nonce, associatedData: associatedData, ciphertext: ciphertext, what: what)
        nonce += 1
        return plaintext
    }

    /// Encrypts with an explicit nonce `n` (which must be below 2⁶⁴−1), leaving `nonce` alone.
    ///
    /// - Throws: `.invalidState` without a key, `.keyExhausted` for the reserved nonce.
    public func seal(
        _ plaintext: ArraySlice<UInt8>, nonce n: UInt64, associatedData: ArraySlice<UInt8> = []
    ) throws(CryptoError) -> [UInt8] {
        guard let key else { throw .invalidState(what: "Noise cipher state", reason: "no key") }
        guard n != Self.reservedNonce else { throw .keyExhausted(what: "Noise cipher state nonce") }
        return cipher.encrypt(key: key, nonce: n, associatedData: associatedData, plaintext: plaintext)
    }

    /// Decrypts with an explicit nonce `n` (which must be below 2⁶⁴−1), leaving `nonce` alone.
    ///
    /// - Throws: `.authenticationFailed(what:)`, `.malformed` (shorter than a tag), `.invalidState`
    ///   without a key, `.keyExhausted` for the reserved nonce.
    public func open(
        _ ciphertext: ArraySlice<UInt8>, nonce n: UInt64, associatedData: ArraySlice<UInt8> = [],
        what: String = "Noise ciphertext"
    ) throws(CryptoError) -> [UInt8] {
        guard let key else { throw .invalidState(what: "Noise cipher state", reason: "no key") }
        guard n != Self.reservedNonce else { throw .keyExhausted(what: "Noise cipher state nonce") }
        return try cipher.decrypt(key: key, nonce: n, associatedData: associatedData, ciphertext: ciphertext, what: what)
    }

    /// `Rekey()`: the key becomes the first 32 bytes of `ENCRYPT(k, 2⁶⁴−1, empty, 32 zero bytes)`.
    /// The nonce is left as it is (rev 34 §4.2). Without a key, does nothing.
    public mutating func rekey() {
        guard let key else { return }
        let zeros = [UInt8](repeating: 0, count: NoiseCipher.keySize)
        let output = cipher.encrypt(key: key, nonce: Self.reservedNonce, associatedData: [], plaintext: zeros[...])
        self.key = SymmetricKey(data: output.prefix(NoiseCipher.keySize))
    }
}

extension NoiseCipherState: CustomStringConvertible {
    /// Never shows the key.
    public var description: String {
        "NoiseCipherState(\(cipher.protocolName), \(hasKey ? "keyed" : "no key"), n=\(nonce))"
    }
}
