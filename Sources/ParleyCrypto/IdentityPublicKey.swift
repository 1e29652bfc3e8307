internal import ParleyWire

/// The public half of a Parley identity: an X25519 public key (the 32-byte little-endian u-coordinate of
/// RFC 7748 §5), by which a peer is addressed and verified.
///
/// Only keys a real X25519 key pair can have are accepted (Protocols/peer/identity.md §3): canonical
/// encodings (top bit clear, value below 2^255 − 19) that are not one of the low-order points, whose
/// shared secrets would be zero whatever the other side's key. So each identity has exactly one byte
/// form, one text form and one safety number.
///
/// Its text form is unpadded base64url (RFC 4648 §5): 43 characters.
public struct IdentityPublicKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Bytes in an X25519 public key.
    public static let byteCount = 32
    /// Characters in the base64url form.
    public static let base64URLCount = 43

    /// The 32 key bytes (RFC 7748 u-coordinate, little-endian).
    public let rawRepresentation: [UInt8]

    /// The key with these 32 bytes; throws `.invalidKey` for a wrong length, a non-canonical encoding or a
    /// low-order point.
    public init(rawRepresentation bytes: some Collection<UInt8>) throws(CryptoError) {
        let bytes = Array(bytes)
        guard bytes.count == Self.byteCount else {
            throw .invalidKey(what: "identity public key", reason: "\(bytes.count) bytes, expected \(Self.byteCount)")
        }
        if let problem = Self.problem(with: bytes) {
            throw .invalidKey(what: "identity public key", reason: problem)
        }
        rawRepresentation = bytes
    }

    /// The key spelled by `text`, 43 characters of unpadded base64url. Throws `.malformed` for a character
    /// outside the alphabet, padding or a non-canonical last character, and `.invalidKey` for text of the
    /// wrong length or a key no key pair can have.
    public init(base64URL text: String) throws(CryptoError) {
        try self.init(base64URLBytes: text.utf8)
    }

    /// The key spelled by the UTF-8 bytes `text` (see `init(base64URL:)`).
    init(base64URLBytes text: some Collection<UInt8>) throws(CryptoError) {
        let bytes: [UInt8]
        do {
            bytes = try Base64URL.decode(text, field: "identity public key (base64url)")
        } catch {
            throw .malformed(error)
        }
        guard bytes.count == Self.byteCount else {
            throw .invalidKey(
                what: "identity public key",
                reason: "base64url text of \(text.count) characters (\(bytes.count) bytes), expected \(Self.base64URLCount) (\(Self.byteCount) bytes)")
        }
        try self.init(rawRepresentation: bytes)
    }

    /// A key known to be valid (derived from a private key by X25519), without the checks.
    init(derived bytes: [UInt8]) {
        rawRepresentation = bytes
    }

    /// The 43-character unpadded base64url form.
    public var base64URL: String { Base64URL.encode(rawRepresentation) }

    /// The base64url form.
    public var description: String { base64URL }

    /// Byte-wise lexicographic order (for stable sorting; the safety number does not depend on it).
    public static func < (lhs: IdentityPublicKey, rhs: IdentityPublicKey) -> Bool {
        lhs.rawRepresentation.lexicographicallyPrecedes(rhs.rawRepresentation)
    }

    /// The canonical encodings of the u-coordinates of small order (those for which X25519 with any
    /// private key gives zero), as in libsodium's block list. The non-canonical encodings of 0 and 1
    /// (2^255 − 19 and 2^255 − 18, or any value with the top bit set) are refused as non-canonical first.
    static let lowOrderPoints: [[UInt8]] = [
        // 0
        [UInt8](repeating: 0, count: 32),
        // 1
        [0x01] + [UInt8](repeating: 0, count: 31),
        // order 8
        [
            0xE0, 0xEB, 0x7A, 0x7C, 0x3B, 0x41, 0xB8, 0xAE, 0x16, 0x56, 0xE3, 0xFA, 0xF1, 0x9F, 0xC4, 0x6A,
            0xDA, 0x09, 0x8D, 0xEB, 0x9C, 0x32, 0xB1, 0xFD, 0x86, 0x62, 0x05, 0x16, 0x5F, 0x49, 0xB8, 0x00,
        ],
        // order 8
        [
            0x5F, 0x9C, 0x95, 0xBC, 0xA3, 0x50, 0x8C, 0x24, 0xB1, 0xD0, 0xB1, 0x55, 0x9C, 0x83, 0xEF, 0x5B,
            0x04, 0x44, 0x5C, 0xC4, 0x58, 0x1C, 0x8E, 0x86, 0xD8, 0x22, 0x4E, 0xDD, 0xD0, 0x9F, 0x11, 0x57,
        ],
        // p − 1 = 2^255 − 20
        [0xEC] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
    ]

    /// Why 32 `bytes` cannot be an X25519 public key of a real key pair, or nil.
    static func problem(with bytes: [UInt8]) -> String? {
        if bytes[31] & 0x80 != 0 {
            return "not a canonical X25519 public key (the top bit is set)"
        }
        // Values from p = 2^255 − 19 up: 0x7F, thirty 0xFF, and a first byte of at least 0xED (little-endian).
        if bytes[31] == 0x7F, bytes[1...30].allSatisfy({ $0 == 0xFF }), bytes[0] >= 0xED {
            return "not a canonical X25519 public key (the value is not below 2^255 - 19)"
        }
        if lowOrderPoints.contains(bytes) {
            return "a low-order X25519 point (every shared secret with it is zero)"
        }
        return nil
    }
}
