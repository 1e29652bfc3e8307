internal import Crypto
internal import ParleyWire

/// A call's short authentication string (SAS): 4 words, or the same 4 values as emoji, that the two
/// people in a call compare to know that no one sits between them (Protocols/peer/verification.md §3).
///
/// Both ends derive it from the Noise handshake hash `h` (32 bytes, identical on both ends of one
/// handshake; a man in the middle runs two handshakes with two different hashes):
///
/// ```
/// S = HKDF-SHA256(IKM = h, salt = empty, info = "parley short authentication string v1", L = 4)
/// word i  = words[S[i]],  emoji i = emoji[S[i]]            for i = 0 … 3
/// ```
///
/// The lists (`wordList`, `emojiList`) have 256 entries each; entry n of one names entry n of the other,
/// so reading the emoji aloud by their words is the same comparison. 32 bits: see the specification for
/// what that does and does not protect against.
public struct ShortAuthenticationString: Hashable, Sendable, CustomStringConvertible {
    /// Values in a SAS.
    public static let length = 4
    /// The HKDF info string.
    public static let label = "parley short authentication string v1"
    /// Bytes in a handshake hash (SHA-256).
    public static let handshakeHashCount = 32

    /// The 4 list indices (the 4 HKDF output bytes).
    public let indices: [UInt8]

    /// The SAS of a handshake; throws `.malformed` unless `handshakeHash` has 32 bytes.
    public init(handshakeHash: some Collection<UInt8>) throws(CryptoError) {
        let hash = Array(handshakeHash)
        guard hash.count == Self.handshakeHashCount else {
            throw .malformed(.lengthMismatch(field: "handshake hash", declared: Self.handshakeHashCount, actual: hash.count))
        }
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: hash), salt: [UInt8](), info: Array(Self.label.utf8),
            outputByteCount: Self.length)
        indices = key.withUnsafeBytes { Array($0) }
    }

    /// The 4 words.
    public var words: [String] { indices.map { Self.wordList[Int($0)] } }

    /// The 4 emoji.
    public var emoji: [String] { indices.map { Self.emojiList[Int($0)] } }

    /// The words separated by spaces: "dog cat mouse rabbit".
    public var wordString: String { words.joined(separator: " ") }

    /// The emoji separated by spaces.
    public var emojiString: String { emoji.joined(separator: " ") }

    /// The words separated by spaces.
    public var description: String { wordString }
}
