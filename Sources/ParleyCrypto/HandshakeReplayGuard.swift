/// The responder's defence against a replayed handshake initiation (Protocols/peer/handshake.md §5):
/// per initiator static key, the greatest timestamp accepted, in a bounded record; plus a window
/// around the responder's own clock.
///
/// An initiation from key K with timestamp t is admitted only if
/// 1. `now − maximumClockSkew ≤ t ≤ now + maximumClockSkew` (the responder's wall clock), and
/// 2. t is greater than the greatest timestamp admitted for K — or, if K is not in the record, greater
///    than `floor`.
///
/// When the record is full, the entry with the smallest timestamp (the least recently admitted, since
/// the window keeps every timestamp near the responder's clock) is evicted and `floor` rises to its
/// timestamp. So eviction never reopens a replay: every timestamp K ever had admitted is ≤ K's entry,
/// or ≤ `floor` once K is evicted. The window bounds what a forgotten record (a restart) exposes, and
/// keeps an attacker from lifting `floor` far into the future.
public struct HandshakeReplayGuard: Sendable {
    /// Default bound on the record: 4096 initiator keys (about 0.5 MB at most).
    public static let defaultCapacity = 4096
    /// Default clock-skew tolerance: 5 minutes either way.
    public static let defaultMaximumClockSkew = Duration.seconds(300)

    /// How many initiator keys the record holds at most.
    public let capacity: Int
    /// How far an initiation's timestamp may be from the responder's clock, either way.
    public let maximumClockSkew: Duration
    /// Timestamps of keys absent from the record must be greater than this.
    public private(set) var floor: HandshakeTimestamp
    private let skewNanoseconds: UInt64
    private var greatest: [IdentityPublicKey: HandshakeTimestamp] = [:]

    /// An empty record.
    ///
    /// - Parameters:
    ///   - capacity: the most initiator keys remembered (≥ 1).
    ///   - maximumClockSkew: the window around the responder's clock (≥ 0).
    ///   - floor: a starting floor, e.g. a `highWaterMark` saved before a restart (optional).
    /// - Precondition: `capacity ≥ 1`, `maximumClockSkew ≥ 0`.
    public init(
        capacity: Int = defaultCapacity, maximumClockSkew: Duration = defaultMaximumClockSkew,
        floor: HandshakeTimestamp = HandshakeTimestamp(rawValue: 0)
    ) {
        precondition(capacity >= 1, "the replay record holds at least one key")
        precondition(maximumClockSkew >= .zero, "the clock-skew window is not negative")
        self.capacity = capacity
        self.maximumClockSkew = maximumClockSkew
        self.floor = floor
        let (seconds, attoseconds) = maximumClockSkew.components
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        skewNanoseconds = overflow ? .max : whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000)).partialValue
    }

    /// How many initiator keys the record holds.
    public var count: Int { greatest.count }

    /// The greatest timestamp admitted for `key`, if it is in the record.
    public func greatestTimestamp(of key: IdentityPublicKey) -> HandshakeTimestamp? {
        greatest[key]
    }

    /// The greatest timestamp admitted for any key, or `floor`: saved before a shutdown and passed as
    /// `floor` after the restart, it carries replay protection across restarts (handshake.md §5.3).
    public var highWaterMark: HandshakeTimestamp {
        greatest.values.reduce(floor) { Swift.max($0, $1) }
    }

    /// Checks an initiation from `key` stamped `timestamp` against the rule, without recording it.
    ///
    /// - Throws: `.replayed(what:counter:)` for a timestamp not greater than the key's greatest (or
    ///   the floor) or older than the window; `.rejected(reason:)` for one ahead of the window.
    public func check(_ timestamp: HandshakeTimestamp, from key: IdentityPublicKey, now: HandshakeTimestamp) throws(CryptoError) {
        let (upper, overflow) = now.rawValue.addingReportingOverflow(skewNanoseconds)
        if !overflow, timestamp.rawValue > upper {
            throw .rejected(reason: "handshake initiation timestamp \(timestamp) is more than \(maximumClockSkew) ahead of this engine's clock (\(now))")
        }
        let lower = now.rawValue >= skewNanoseconds ? now.rawValue - skewNanoseconds : 0
        if timestamp.rawValue < lower {
            throw .replayed(what: "handshake initiation older than the clock-skew window", counter: timestamp.rawValue)
        }
        if let previous = greatest[key] {
            guard timestamp > previous else {
                throw .replayed(what: "handshake initiation", counter: timestamp.rawValue)
            }
        } else {
            guard timestamp > floor else {
                throw .replayed(what: "handshake initiation (at or below the replay floor)", counter: timestamp.rawValue)
            }
        }
    }

    /// Checks an initiation as `check` does and, if it passes, records `timestamp` as `key`'s greatest.
    public mutating func admit(_ timestamp: HandshakeTimestamp, from key: IdentityPublicKey, now: HandshakeTimestamp) throws(CryptoError) {
        try check(timestamp, from: key, now: now)
        if greatest[key] == nil, greatest.count >= capacity {
            evictOldest()
        }
        greatest[key] = timestamp
    }

    /// Drops the entry with the smallest timestamp and raises the floor to it. O(capacity), and only
    /// when the record is full.
    private mutating func evictOldest() {
        guard let oldest = greatest.min(by: { $0.value < $1.value }) else { return }
        greatest[oldest.key] = nil
        floor = Swift.max(floor, oldest.value)
    }
}
