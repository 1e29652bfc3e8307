/// An instant on a monotonic clock, in nanoseconds since that clock's arbitrary epoch.
///
/// The engine's clock is `CLOCK_MONOTONIC` (shared by every process on one machine, so two engines on
/// loopback can compare instants); tests use virtual clocks. Instants from different clocks must not be
/// compared. Nothing in the sans-IO core reads a clock: instants arrive as input.
public struct MonotonicInstant: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's epoch.
    public var nanoseconds: Int64

    /// An instant `nanoseconds` after the clock's epoch.
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// An instant `microseconds` after the clock's epoch.
    public init(microseconds: Int64) {
        self.nanoseconds = microseconds * 1_000
    }

    /// The clock's epoch.
    public static let zero = MonotonicInstant(nanoseconds: 0)

    /// Whole microseconds since the epoch, rounded down.
    public var microseconds: Int64 {
        nanoseconds >= 0 ? nanoseconds / 1_000 : (nanoseconds - 999) / 1_000
    }

    /// This instant rounded down to a whole microsecond (the resolution of video stamps).
    public var truncatedToMicroseconds: MonotonicInstant {
        MonotonicInstant(microseconds: microseconds)
    }

    /// The span from `other` to this instant (negative if `other` is later).
    public func duration(since other: MonotonicInstant) -> Duration {
        .nanoseconds(nanoseconds - other.nanoseconds)
    }

    /// The instant `duration` after this one.
    public static func + (instant: MonotonicInstant, duration: Duration) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: instant.nanoseconds + duration.totalNanoseconds)
    }

    /// The instant `duration` before this one.
    public static func - (instant: MonotonicInstant, duration: Duration) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: instant.nanoseconds - duration.totalNanoseconds)
    }

    /// The span from `earlier` to `later`.
    public static func - (later: MonotonicInstant, earlier: MonotonicInstant) -> Duration {
        later.duration(since: earlier)
    }

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    public var description: String {
        "\(nanoseconds / 1_000_000_000).\(String(nanoseconds % 1_000_000_000).leftPadded(to: 9))s"
    }
}

extension Duration {
    /// The whole span in nanoseconds (attoseconds below a nanosecond are dropped).
    public var totalNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The span in seconds as a floating-point number, for reports and rates.
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// The span in milliseconds as a floating-point number, for reports.
    public var inMilliseconds: Double { inSeconds * 1_000 }

    /// The span in whole ticks of a `rate` Hz clock (48 000 for audio, 90 000 for video), rounded
    /// towards zero; exact, without overflow, for any span below 2^63 ticks.
    public func ticks(atRate rate: Int64) -> Int64 {
        let (seconds, attoseconds) = components
        return seconds * rate + Int64((Int128(attoseconds) * Int128(rate)) / 1_000_000_000_000_000_000)
    }

    /// The span of `ticks` ticks of a `rate` Hz clock, exact to the attosecond.
    public init(ticks: Int64, atRate rate: Int64) {
        self = .seconds(ticks / rate) + .seconds(ticks % rate) / Int(rate)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
