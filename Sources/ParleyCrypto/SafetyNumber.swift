internal import Crypto

/// The safety number of two identities: 60 decimal digits that two people compare (read aloud, or side
/// by side) to know that each holds the other's real identity key (Protocols/peer/verification.md §2).
///
/// It depends only on the two static public keys, not on their order or on any call, so it stays the
/// same across calls until one side's identity changes. Each key contributes 30 digits, its
/// *fingerprint*:
///
/// ```
/// D1 = SHA-512("parley safety number v1" ‖ K)          ; the label is 23 ASCII bytes, K the 32 key bytes
/// Di = SHA-512(Di-1 ‖ K)     for i = 2 … 16384
/// fingerprint(K) = for j in 0..<6: BE40(D16384[5j ..< 5j+5]) mod 100000, as 5 digits with leading zeros
/// ```
///
/// The safety number is the two fingerprints in ascending order, concatenated: 60 digits, shown as 12
/// groups of 5. The 2^14 iterations make every candidate key an attacker tries cost 2^14 hashes more,
/// which matters when people compare only part of the number; the specification justifies the count.
public struct SafetyNumber: Hashable, Sendable, CustomStringConvertible {
    /// SHA-512 invocations per fingerprint.
    public static let iterations = 16_384
    /// The domain-separation label hashed first.
    public static let label = "parley safety number v1"
    /// Digits in a whole safety number.
    public static let digitCount = 60

    /// The 60 digits, without separators.
    public let digits: String

    /// The safety number of two identities; the same whichever key comes first.
    public init(_ first: IdentityPublicKey, _ second: IdentityPublicKey) {
        let halves = [Self.fingerprint(of: first), Self.fingerprint(of: second)].sorted()
        digits = halves[0] + halves[1]
    }

    /// The 12 groups of 5 digits.
    public var groups: [String] {
        let characters = Array(digits)
        return stride(from: 0, to: characters.count, by: 5).map { String(characters[$0..<min($0 + 5, characters.count)]) }
    }

    /// The groups separated by single spaces: "12345 67890 … 24680" (front-ends may lay them out as 3 rows of 4).
    public var displayString: String { groups.joined(separator: " ") }

    /// The groups separated by spaces.
    public var description: String { displayString }

    /// The 30-digit fingerprint of one key (half a safety number). Engines may cache it per key: it costs
    /// 16384 SHA-512 computations.
    public static func fingerprint(of key: IdentityPublicKey) -> String {
        let keyBytes = key.rawRepresentation
        var hasher = SHA512()
        hasher.update(data: Array(label.utf8))
        hasher.update(data: keyBytes)
        var digest = hasher.finalize()
        for _ in 1..<iterations {
            var next = SHA512()
            digest.withUnsafeBytes { next.update(bufferPointer: $0) }
            next.update(data: keyBytes)
            digest = next.finalize()
        }
        let bytes = Array(digest)
        var text = ""
        for chunk in 0..<6 {
            var value: UInt64 = 0
            for byte in bytes[(5 * chunk)..<(5 * chunk + 5)] {
                value = value << 8 | UInt64(byte)
            }
            let group = String(value % 100_000)
            text += String(repeating: "0", count: 5 - group.count) + group
        }
        return text
    }
}
