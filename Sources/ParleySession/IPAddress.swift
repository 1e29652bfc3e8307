/// An IPv4 or IPv6 address (without a port): the one address type of every layer, from offer fields
/// (`TransportCandidate`) to sockets (`ParleyRuntime.SocketAddress`, which also parses it from text).
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address as a number in network order: 127.0.0.1 is `0x7F00_0001`.
    case v4(UInt32)
    /// An IPv6 address as two 64-bit halves in network order: `::1` is `(high: 0, low: 1)`.
    case v6(high: UInt64, low: UInt64)

    /// 127.0.0.1.
    public static let loopbackV4 = IPAddress.v4(0x7F00_0001)
    /// ::1.
    public static let loopbackV6 = IPAddress.v6(high: 0, low: 1)
    /// 0.0.0.0: every IPv4 interface, when binding.
    public static let anyV4 = IPAddress.v4(0)
    /// `::`: every interface, IPv6 and (dual-stack) IPv4, when binding.
    public static let anyV6 = IPAddress.v6(high: 0, low: 0)

    /// The address from its 4 (IPv4) or 16 (IPv6) bytes in network order; nil for any other length.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self = .v6(high: high, low: low)
        default:
            return nil
        }
    }

    /// The address's bytes in network order: 4 for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value):
            return (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        case .v6(let high, let low):
            return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
        }
    }

    /// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) stands for; otherwise the address
    /// itself.
    public var unmapped: IPAddress {
        if case .v6(0, let low) = self, low >> 32 == 0xFFFF {
            return .v4(UInt32(truncatingIfNeeded: low))
        }
        return self
    }

    /// The IPv4-mapped IPv6 form (`::ffff:a.b.c.d`) of an IPv4 address; an IPv6 address unchanged.
    public var v4Mapped: IPAddress {
        if case .v4(let value) = self {
            return .v6(high: 0, low: 0xFFFF_0000_0000 | UInt64(value))
        }
        return self
    }

    /// The conventional text, exactly as `inet_ntop` writes it: a dotted quad for IPv4; for IPv6 the RFC
    /// 5952 form (lower-case hex without leading zeros, the longest run of two or more zero groups — the
    /// first of equal ones — as `::`), with a dotted quad for the last 32 bits of `::ffff:0:0/96` and
    /// `::/96` addresses.
    public var description: String {
        switch self {
        case .v4(let value):
            return Self.dottedQuad(value)
        case .v6(let high, let low):
            let groups = (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64($0))) }
                + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64($0))) }
            let zeros = Self.longestZeroRun(groups)
            var text = ""
            var index = 0
            while index < 8 {
                if let zeros, index == zeros.lowerBound {
                    text += "::"  // stands for the run and the separators on both sides of it
                    index = zeros.upperBound
                    continue
                }
                if index > 0, index != zeros?.upperBound { text += ":" }
                if index == 6, let zeros, zeros.lowerBound == 0,
                    zeros.count == 6 || (zeros.count == 5 && groups[5] == 0xFFFF)
                {
                    text += Self.dottedQuad(UInt32(truncatingIfNeeded: low))
                    break
                }
                text += String(groups[index], radix: 16)
                index += 1
            }
            return text
        }
    }

    private static func dottedQuad(_ value: UInt32) -> String {
        (0..<4).map { String(UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0)))) }.joined(separator: ".")
    }

    /// The groups of the longest run of two or more zero groups (the first of equal runs), if any.
    private static func longestZeroRun(_ groups: [UInt16]) -> Range<Int>? {
        var best: Range<Int>?
        var start: Int?
        for index in 0...groups.count {
            if index < groups.count, groups[index] == 0 {
                if start == nil { start = index }
                continue
            }
            if let first = start, index - first >= 2, index - first > (best?.count ?? 0) { best = first..<index }
            start = nil
        }
        return best
    }
}
