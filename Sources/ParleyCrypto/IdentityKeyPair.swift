internal import Crypto

/// An engine's long-term identity: an X25519 key pair (ARCHITECTURE §4 "Identity").
///
/// The private key never leaves ParleyCrypto through the public API: the Noise handshake uses it inside
/// the module, and `IdentityStore` keeps it on disk. `description` shows only the public key.
public struct IdentityKeyPair: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The private key, for the handshake's DH operations.
    let privateKey: Curve25519.KeyAgreement.PrivateKey
    /// The public key peers address and verify.
    public let publicKey: IdentityPublicKey

    /// A new key pair from the system's cryptographic random generator.
    public init() {
        self.init(privateKey: Curve25519.KeyAgreement.PrivateKey())
    }

    /// The key pair of a 32-byte X25519 private key (RFC 7748 §5; any 32 bytes, clamped on use), for
    /// test vectors and importing keys.
    public init(privateKeyRawRepresentation bytes: some Collection<UInt8>) throws(CryptoError) {
        let bytes = Array(bytes)
        guard bytes.count == 32 else {
            throw .invalidKey(what: "identity private key", reason: "\(bytes.count) bytes, expected 32")
        }
        do {
            self.init(privateKey: try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: bytes))
        } catch {
            throw .invalidKey(what: "identity private key", reason: "rejected by X25519: \(error)")
        }
    }

    init(privateKey: Curve25519.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
        // X25519(k, 9) for a clamped k is a canonical point of large order: no checks needed.
        publicKey = IdentityPublicKey(derived: Array(privateKey.publicKey.rawRepresentation))
    }

    /// Shows the public key only.
    public var description: String { "IdentityKeyPair(public: \(publicKey.base64URL))" }

    /// Shows the public key only.
    public var debugDescription: String { description }
}

// MARK: - Key file format (Protocols/peer/identity.md §2)

/// The on-disk form of an identity key pair: 76 bytes.
///
/// ```
///  offset  size  field
///       0     8  magic "PARLEYID" (50 41 52 4C 45 59 49 44)
///       8     1  format version = 1
///       9     1  key algorithm = 1 (X25519)
///      10     2  reserved, zero
///      12    32  X25519 private key (RFC 7748, as generated, before clamping)
///      44    32  X25519 public key = X25519(private key, 9), checked on load
/// ```
///
/// The stored public key makes damage detectable: a changed bit in either key no longer matches.
enum IdentityKeyFile {
    static let magic: [UInt8] = Array("PARLEYID".utf8)
    static let version: UInt8 = 1
    static let algorithmX25519: UInt8 = 1
    static let size = 76

    /// Why bytes are not a valid key file.
    struct Problem: Error {
        let reason: String
    }

    /// The key file of `keyPair`.
    static func encode(_ keyPair: IdentityKeyPair) -> [UInt8] {
        var bytes = magic
        bytes += [version, algorithmX25519, 0, 0]
        bytes += Array(keyPair.privateKey.rawRepresentation)
        bytes += keyPair.publicKey.rawRepresentation
        return bytes
    }

    /// The key pair stored in `bytes`, or why they are not a valid key file.
    static func decode(_ bytes: [UInt8]) throws(Problem) -> IdentityKeyPair {
        guard bytes.count >= 10, Array(bytes[0..<8]) == magic else {
            throw Problem(reason: "not a Parley identity key file (it does not start with \"PARLEYID\")")
        }
        guard bytes[8] == version else {
            throw Problem(reason: "key file format version \(bytes[8]) is not supported (this build reads version \(version))")
        }
        guard bytes[9] == algorithmX25519 else {
            throw Problem(reason: "unknown key algorithm \(bytes[9]) (only 1, X25519, is defined)")
        }
        guard bytes.count == size else {
            throw Problem(reason: "corrupt: \(bytes.count) bytes, a version 1 key file has exactly \(size)")
        }
        guard bytes[10] == 0, bytes[11] == 0 else {
            throw Problem(reason: "corrupt: the reserved bytes 10-11 are not zero")
        }
        let keyPair: IdentityKeyPair
        do {
            keyPair = try IdentityKeyPair(privateKeyRawRepresentation: bytes[12..<44])
        } catch {
            throw Problem(reason: "corrupt: the private key is not usable (\(error))")
        }
        guard keyPair.publicKey.rawRepresentation == Array(bytes[44..<76]) else {
            throw Problem(reason: "corrupt: the stored public key does not match the private key")
        }
        return keyPair
    }
}
