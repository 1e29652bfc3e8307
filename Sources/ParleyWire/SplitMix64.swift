/// A small, fast, seeded pseudo-random generator (SplitMix64): the same seed gives the same sequence.
///
/// For reproducible synthetic media, network emulation and property tests. Not for keys or nonces:
/// those come from the system's cryptographic generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 pseudo-random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RandomNumberGenerator {
    /// `bytes` with a few random changes — a flipped bit, a changed byte, a cut tail or an extended tail,
    /// `changes` times — for feeding parsers damaged input (property tests, packet corruption).
    public mutating func mutated(_ bytes: [UInt8], changes: ClosedRange<Int> = 1...3) -> [UInt8] {
        var result = bytes
        for _ in 0..<Int.random(in: changes, using: &self) {
            switch Int.random(in: 0..<4, using: &self) {
            case 0 where !result.isEmpty:
                result[Int.random(in: 0..<result.count, using: &self)] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &self)
            case 1 where !result.isEmpty:
                result[Int.random(in: 0..<result.count, using: &self)] = UInt8.random(in: 0...255, using: &self)
            case 2:
                result = Array(result.prefix(Int.random(in: 0...result.count, using: &self)))
            default:
                result += (0..<Int.random(in: 1...8, using: &self)).map { _ in UInt8.random(in: 0...255, using: &self) }
            }
        }
        return result
    }
}
