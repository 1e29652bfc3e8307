/// A synchronisation source: the 32-bit id of one RTP stream (RFC 3550 §3).
public struct SSRC: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id as sent.
    public var rawValue: UInt32

    /// The SSRC `rawValue`.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// The SSRC `value`.
    public init(_ value: UInt32) {
        rawValue = value
    }

    public static func < (lhs: SSRC, rhs: SSRC) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "0x" + String(rawValue, radix: 16, uppercase: true) }
}

/// A 16-bit RTP sequence number, which wraps: compare with `isNewer(than:)` or unwrap to
/// `ExtendedSequenceNumber`, never with `<`.
public struct SequenceNumber: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The number as sent.
    public var rawValue: UInt16

    /// The sequence number `rawValue`.
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// The sequence number `value`.
    public init(_ value: UInt16) {
        rawValue = value
    }

    /// The number `count` after this one, wrapping.
    public func advanced(by count: Int) -> SequenceNumber {
        SequenceNumber(rawValue &+ UInt16(truncatingIfNeeded: count))
    }

    /// Whether this number comes after `other` (within half the number space; RFC 1982 arithmetic).
    public func isNewer(than other: SequenceNumber) -> Bool {
        let difference = rawValue &- other.rawValue
        return difference != 0 && difference < 0x8000
    }

    /// Signed distance from `other` to this number, in −32768…32767.
    public func distance(from other: SequenceNumber) -> Int {
        Int(Int16(bitPattern: rawValue &- other.rawValue))
    }

    public var description: String { "\(rawValue)" }
}

/// A 32-bit RTP timestamp in the stream's clock rate, which wraps.
public struct RTPTimestamp: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The timestamp as sent.
    public var rawValue: UInt32

    /// The timestamp `rawValue`.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// The timestamp `value`.
    public init(_ value: UInt32) {
        rawValue = value
    }

    /// The timestamp `ticks` later, wrapping.
    public func advanced(by ticks: Int64) -> RTPTimestamp {
        RTPTimestamp(rawValue &+ UInt32(truncatingIfNeeded: ticks))
    }

    /// Signed distance in ticks from `other` to this timestamp (within half the number space).
    public func distance(from other: RTPTimestamp) -> Int64 {
        Int64(Int32(bitPattern: rawValue &- other.rawValue))
    }

    public var description: String { "\(rawValue)" }
}

/// A sequence number unwrapped to 64 bits: ordered, never wraps in practice.
public struct ExtendedSequenceNumber: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Packets since an origin chosen by the unwrapper (65536 × cycles + the 16-bit number).
    public var rawValue: Int64

    /// The extended number `rawValue`.
    public init(rawValue: Int64) {
        self.rawValue = rawValue
    }

    /// The 16-bit number as sent.
    public var wrapped: SequenceNumber { SequenceNumber(UInt16(truncatingIfNeeded: rawValue)) }

    /// The number `count` later.
    public func advanced(by count: Int64) -> ExtendedSequenceNumber {
        ExtendedSequenceNumber(rawValue: rawValue + count)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "\(rawValue)" }
}

/// An RTP timestamp unwrapped to 64 bits.
public struct ExtendedTimestamp: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Ticks since an origin chosen by the unwrapper (2^32 × cycles + the 32-bit timestamp).
    public var rawValue: Int64

    /// The extended timestamp `rawValue`.
    public init(rawValue: Int64) {
        self.rawValue = rawValue
    }

    /// The 32-bit timestamp as sent.
    public var wrapped: RTPTimestamp { RTPTimestamp(UInt32(truncatingIfNeeded: rawValue)) }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "\(rawValue)" }
}

/// Unwraps a wrapping counter (16-bit sequence numbers, 32-bit timestamps) into 64 bits.
///
/// Each value is placed in the cycle that puts it nearest the last value seen, so reordering and
/// loss of up to half the counter's range either way unwraps correctly, across any number of wraps.
/// The first value seen starts in cycle 1 (one full range above 0), so a stream that starts just
/// after a wrap and reorders backwards never goes negative.
public struct CounterUnwrapper<Counter: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    private var last: Int64?

    /// An unwrapper that has seen nothing yet.
    public init() {
        precondition(Counter.bitWidth <= 32, "CounterUnwrapper handles counters of up to 32 bits")
    }

    /// The 64-bit value of `value`; updates the reference if it is the newest seen.
    public mutating func unwrap(_ value: Counter) -> Int64 {
        let range = Int64(1) << Counter.bitWidth
        guard let last else {
            let first = range + Int64(value)
            self.last = first
            return first
        }
        let lastWrapped = Counter(truncatingIfNeeded: last)
        let forward = Int64(value &- lastWrapped)  // 0 ..< range
        let delta = forward >= range / 2 ? forward - range : forward
        let unwrapped = last + delta
        if delta > 0 { self.last = unwrapped }
        return unwrapped
    }

    /// The 64-bit value of `value` without updating the reference.
    public func peek(_ value: Counter) -> Int64 {
        var copy = self
        return copy.unwrap(value)
    }
}

extension CounterUnwrapper where Counter == UInt16 {
    /// Unwraps a sequence number.
    public mutating func unwrap(_ number: SequenceNumber) -> ExtendedSequenceNumber {
        ExtendedSequenceNumber(rawValue: unwrap(number.rawValue))
    }
}

extension CounterUnwrapper where Counter == UInt32 {
    /// Unwraps an RTP timestamp.
    public mutating func unwrap(_ timestamp: RTPTimestamp) -> ExtendedTimestamp {
        ExtendedTimestamp(rawValue: unwrap(timestamp.rawValue))
    }
}
