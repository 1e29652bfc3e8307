/// How a video receiver asks for lost packets again (RTCP generic NACK, RFC 4585 §6.2.1).
///
/// A gap in the sequence numbers is NACKed once it has been missing for `reorderingDelay` (a packet
/// merely reordered arrives in that time), then again every `retryInterval(roundTripTime:)` until
/// the packet arrives, `maximumRetries` NACKs have been sent for it, or it has been missing for
/// `maximumAge`. At most `maximumListSize` packets are tracked at once; older ones are given up.
public struct NACKConfiguration: Equatable, Sendable {
    /// How long a gap may be a reordering before its first NACK. Default 10 ms.
    public var reorderingDelay: Duration
    /// A NACK is repeated after this multiple of the round-trip time. Default 1.2.
    public var retryRoundTripMultiplier: Double
    /// The shortest interval between two NACKs for one packet. Default 20 ms.
    public var minimumRetryInterval: Duration
    /// The round-trip time assumed until `VideoReceiver.setRoundTripTime(_:)` is called. Default 100 ms.
    public var defaultRoundTripTime: Duration
    /// NACKs sent for one packet before giving up on it (one interval after the last). Default 10.
    public var maximumRetries: Int
    /// A packet missing for this long is given up. Default 1.5 s.
    public var maximumAge: Duration
    /// The most missing packets tracked at once; beyond it the oldest are given up. Default 500.
    public var maximumListSize: Int

    /// A configuration with the given values (each defaulted as documented).
    public init(
        reorderingDelay: Duration = .milliseconds(10), retryRoundTripMultiplier: Double = 1.2,
        minimumRetryInterval: Duration = .milliseconds(20), defaultRoundTripTime: Duration = .milliseconds(100),
        maximumRetries: Int = 10, maximumAge: Duration = .milliseconds(1_500), maximumListSize: Int = 500
    ) {
        self.reorderingDelay = reorderingDelay
        self.retryRoundTripMultiplier = retryRoundTripMultiplier
        self.minimumRetryInterval = minimumRetryInterval
        self.defaultRoundTripTime = defaultRoundTripTime
        self.maximumRetries = maximumRetries
        self.maximumAge = maximumAge
        self.maximumListSize = maximumListSize
    }

    /// The interval between two NACKs for one packet: max(`roundTripTime` × `retryRoundTripMultiplier`,
    /// `minimumRetryInterval`, 1 ms).
    ///
    /// Whole nanoseconds: a deadline `instant + retryInterval` and the check `now - instant >= retryInterval`
    /// must agree exactly, and instants count nanoseconds (a sub-nanosecond remainder would make the
    /// deadline fire before the retry is due, forever).
    public func retryInterval(roundTripTime: Duration) -> Duration {
        let interval = max(roundTripTime * max(retryRoundTripMultiplier, 0), minimumRetryInterval, .milliseconds(1))
        return .nanoseconds(interval.totalNanoseconds)
    }
}
