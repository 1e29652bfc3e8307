internal import Crypto
internal import Foundation

/// An X25519 key pair for Noise's `25519` DH functions (rev 34 §12.1): an engine's static identity
/// key or a handshake's ephemeral key.
///
/// Keys cross Parley's public API as 32 raw bytes (the RFC 7748 encodings); the swift-crypto types
/// stay inside. `description` never shows the private key.
public struct NoiseKeyPair: Sendable {
    let privateKey: Curve25519.KeyAgreement.PrivateKey
    /// The 32-byte public key.
    public let publicKey: [UInt8]

    /// Bytes of a public or private X25519 key.
    public static let keySize = 32

    /// The key pair with the 32-byte private key `privateKey` (clamped as X25519 specifies).
    ///
    /// - Throws: `CryptoError.invalidKey` unless `privateKey` has 32 bytes.
    public init(privateKey: [UInt8]) throws(CryptoError) {
        guard privateKey.count == Self.keySize,
              let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: privateKey)
        else {
            throw .invalidKey(what: "X25519 private key", reason: "\(privateKey.count) bytes, expected 32")
        }
        self.init(key)
    }

    init(_ key: Curve25519.KeyAgreement.PrivateKey) {
        privateKey = key
        publicKey = [UInt8](key.publicKey.rawRepresentation)
    }

    /// A new key pair from the system's cryptographically secure generator.
    public static func generate() -> NoiseKeyPair {
        NoiseKeyPair(Curve25519.KeyAgreement.PrivateKey())
    }

    /// `DH(key pair, public key)`: the 32-byte X25519 shared secret with `remotePublicKey`.
    ///
    /// - Throws: `CryptoError.invalidKey` if `remotePublicKey` is not 32 bytes, or if the result is
    ///   all zeros — the mark of a low-order (small-subgroup) public key, which would let the peer
    ///   force a known "shared" secret. swift-crypto does not check this itself.
    func diffieHellman(with remotePublicKey: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard remotePublicKey.count == Self.keySize,
              let publicKey = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: remotePublicKey),
              let secret = try? privateKey.sharedSecretFromKeyAgreement(with: publicKey)
        else {
            throw .invalidKey(what: "X25519 public key", reason: "\(remotePublicKey.count) bytes, expected 32")
        }
        let bytes = secret.withUnsafeBytes { [UInt8]($0) }
        // Constant time: OR every byte together, test once.
        var accumulator: UInt8 = 0
        for byte in bytes { accumulator |= byte }
        guard accumulator != 0 else {
            throw .invalidKey(what: "X25519 public key", reason: "low-order point (all-zero shared secret)")
        }
        return bytes
    }
}

extension NoiseKeyPair: CustomStringConvertible {
    /// The public key in hex; never the private key.
    public var description: String {
        "NoiseKeyPair(public: \(noiseHexString(publicKey)))"
    }
}

/// Lower-case hex of `bytes`, two digits a byte (for descriptions and the specification's examples).
func noiseHexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef")
    var text = ""
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }
    return text
}
