/// The responder's defence against a replayed handshake initiation (Protocols/peer/handshake.md §5):
/// per initiator static key, the greatest timestamp accepted, in a bounded record; plus a window
/// around the responder's own clock that reaches far less into the future than into the past.
///
/// An initiation from key K with timestamp t is admitted only if
/// 1. `now − maximumClockSkew ≤ t ≤ now + maximumFutureSkew` (the responder's wall clock), and
/// 2. t is greater than the greatest timestamp admitted for K — or, if K is not in the record, greater
///    than `floor`.
///
/// When the record is full, the entry with the smallest timestamp (the least recently admitted, since
/// the window keeps every timestamp near the responder's clock) is evicted and `floor` rises to its
/// timestamp. So eviction never reopens a replay: every timestamp K ever had admitted is ≤ K's entry,
/// or ≤ `floor` once K is evicted. The window bounds what a forgotten record (a restart) exposes; its
/// short future side keeps an attacker from lifting `floor` more than `maximumFutureSkew` ahead of the
/// responder's clock.
///
/// **Protected tier.** Keys the engine marks as known (contacts, an allow-list) with `protect(_:)` or
/// the `protectedKeys` initialiser parameter are kept in a separate record that is never evicted and
/// that `floor` does not apply to. A flood of initiations from throw-away keys (which anyone can make)
/// can push every *unprotected* key out and hold `floor` near `now + maximumFutureSkew`, refusing new
/// unprotected callers while it lasts; it cannot evict or block a protected key. The protected record
/// holds one entry per protected key and is not bounded by `capacity`: the engine bounds it by what it
/// protects.
public struct HandshakeReplayGuard: Sendable {
    /// Default bound on the record: 4096 initiator keys (about 0.5 MB at most).
    public static let defaultCapacity = 4096
    /// Default clock-skew tolerance into the past: 5 minutes.
    public static let defaultMaximumClockSkew = Duration.seconds(300)
    /// Default clock-skew tolerance into the future: 30 seconds.
    public static let defaultMaximumFutureSkew = Duration.seconds(30)

    /// How many unprotected initiator keys the record holds at most.
    public let capacity: Int
    /// How far an initiation's timestamp may be behind the responder's clock.
    public let maximumClockSkew: Duration
    /// How far an initiation's timestamp may be ahead of the responder's clock.
    public let maximumFutureSkew: Duration
    /// Timestamps of unprotected keys absent from the record must be greater than this.
    public private(set) var floor: HandshakeTimestamp
    private let skewNanoseconds: UInt64
    private let futureSkewNanoseconds: UInt64
    /// The evictable record: unprotected keys.
    private var greatest: [IdentityPublicKey: HandshakeTimestamp] = [:]
    /// The protected record: one entry per protected key, never evicted.
    private var protected: [IdentityPublicKey: ProtectedEntry] = [:]

    private struct ProtectedEntry: Sendable {
        /// Every timestamp this key ever had admitted is ≤ `bound`: the greatest admitted, or the floor
        /// when the key was protected.
        var bound: HandshakeTimestamp
        /// Whether `bound` is a timestamp admitted for this key (rather than a floor).
        var admitted: Bool
    }

    /// An empty record.
    ///
    /// - Parameters:
    ///   - capacity: the most unprotected initiator keys remembered (≥ 1).
    ///   - maximumClockSkew: how far behind the responder's clock a timestamp may be (≥ 0).
    ///   - floor: a starting floor, e.g. a `highWaterMark` saved before a restart (optional).
    ///   - maximumFutureSkew: how far ahead of the responder's clock a timestamp may be (≥ 0); by
    ///     default `defaultMaximumFutureSkew` (30 s), or `maximumClockSkew` if that is smaller.
    ///   - protectedKeys: keys to keep in the protected tier from the start (see `protect(_:)`).
    /// - Precondition: `capacity ≥ 1`, `maximumClockSkew ≥ 0`, `maximumFutureSkew ≥ 0`.
    public init(
        capacity: Int = defaultCapacity, maximumClockSkew: Duration = defaultMaximumClockSkew,
        floor: HandshakeTimestamp = HandshakeTimestamp(rawValue: 0),
        maximumFutureSkew: Duration? = nil,
        protectedKeys: Set<IdentityPublicKey> = []
    ) {
        let future = maximumFutureSkew ?? Swift.min(Self.defaultMaximumFutureSkew, maximumClockSkew)
        precondition(capacity >= 1, "the replay record holds at least one key")
        precondition(maximumClockSkew >= .zero, "the clock-skew window is not negative")
        precondition(future >= .zero, "the future clock-skew window is not negative")
        self.capacity = capacity
        self.maximumClockSkew = maximumClockSkew
        self.maximumFutureSkew = future
        self.floor = floor
        skewNanoseconds = Self.nanoseconds(maximumClockSkew)
        futureSkewNanoseconds = Self.nanoseconds(future)
        for key in protectedKeys {
            protected[key] = ProtectedEntry(bound: floor, admitted: false)
        }
    }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (total, overflow2) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflow2 ? .max : total
    }

    /// How many initiator keys the record holds (both tiers).
    public var count: Int { greatest.count + protected.count }

    /// The keys in the protected tier.
    public var protectedKeys: Set<IdentityPublicKey> { Set(protected.keys) }

    /// Whether `key` is in the protected tier.
    public func isProtected(_ key: IdentityPublicKey) -> Bool { protected[key] != nil }

    /// The greatest timestamp admitted for `key`, if it is in the record.
    public func greatestTimestamp(of key: IdentityPublicKey) -> HandshakeTimestamp? {
        if let entry = protected[key] { return entry.admitted ? entry.bound : nil }
        return greatest[key]
    }

    /// The greatest timestamp admitted for any key, or `floor`: saved before a shutdown and passed as
    /// `floor` after the restart, it carries replay protection across restarts (handshake.md §5.3).
    public var highWaterMark: HandshakeTimestamp {
        let unprotected = greatest.values.reduce(floor) { Swift.max($0, $1) }
        return protected.values.reduce(unprotected) { Swift.max($0, $1.bound) }
    }

    /// Moves `key` into the protected tier: from then on, no other key's initiations can evict it or
    /// subject it to `floor`. Its replay bound carries over (its entry, or the current `floor` if it
    /// has none), so no initiation it ever had admitted becomes admissible again. Idempotent.
    public mutating func protect(_ key: IdentityPublicKey) {
        guard protected[key] == nil else { return }
        if let previous = greatest.removeValue(forKey: key) {
            protected[key] = ProtectedEntry(bound: previous, admitted: true)
        } else {
            protected[key] = ProtectedEntry(bound: floor, admitted: false)
        }
    }

    /// Moves `key` back into the evictable record (evicting the oldest entry if it is full), or drops
    /// it if `floor` already covers its history. Does nothing for a key that is not protected.
    public mutating func unprotect(_ key: IdentityPublicKey) {
        guard let entry = protected.removeValue(forKey: key) else { return }
        if entry.bound > floor {
            insert(entry.bound, for: key)
        }
    }

    /// Checks an initiation from `key` stamped `timestamp` against the rule, without recording it.
    ///
    /// - Throws: `.replayed(what:counter:)` for a timestamp not greater than the key's greatest (or
    ///   the floor, for an unprotected key) or older than the window; `.rejected(reason:)` for one
    ///   ahead of the window.
    public func check(_ timestamp: HandshakeTimestamp, from key: IdentityPublicKey, now: HandshakeTimestamp) throws(CryptoError) {
        let (upper, overflow) = now.rawValue.addingReportingOverflow(futureSkewNanoseconds)
        if !overflow, timestamp.rawValue > upper {
            throw .rejected(reason: "handshake initiation timestamp \(timestamp) is more than \(maximumFutureSkew) ahead of this engine's clock (\(now))")
        }
        let lower = now.rawValue >= skewNanoseconds ? now.rawValue - skewNanoseconds : 0
        if timestamp.rawValue < lower {
            throw .replayed(what: "handshake initiation older than the clock-skew window", counter: timestamp.rawValue)
        }
        if let entry = protected[key] {
            guard timestamp > entry.bound else {
                throw .replayed(what: "handshake initiation", counter: timestamp.rawValue)
            }
        } else if let previous = greatest[key] {
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
        if protected[key] != nil {
            protected[key] = ProtectedEntry(bound: timestamp, admitted: true)
        } else {
            insert(timestamp, for: key)
        }
    }

    /// Records `timestamp` for unprotected `key`, evicting the oldest entry first if the record is full.
    private mutating func insert(_ timestamp: HandshakeTimestamp, for key: IdentityPublicKey) {
        if greatest[key] == nil, greatest.count >= capacity {
            evictOldest()
        }
        greatest[key] = timestamp
    }

    /// Drops the unprotected entry with the smallest timestamp and raises the floor to it.
    /// O(capacity), and only when the record is full.
    private mutating func evictOldest() {
        guard let oldest = greatest.min(by: { $0.value < $1.value }) else { return }
        greatest[oldest.key] = nil
        floor = Swift.max(floor, oldest.value)
    }
}
