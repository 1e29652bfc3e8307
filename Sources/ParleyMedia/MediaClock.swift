internal import Foundation
public import ParleyWire

/// A source of monotonic time that can also wait: the system's, or a virtual one in tests.
public protocol MediaClock: Sendable {
    /// The current instant.
    func now() -> MonotonicInstant
    /// Returns at or after `deadline` (immediately if it has passed); throws if the task is cancelled.
    func sleep(until deadline: MonotonicInstant) async throws
}

/// The machine's `CLOCK_MONOTONIC`, shared by every process on it.
public struct SystemMediaClock: MediaClock {
    /// The system clock.
    public init() {}

    public func now() -> MonotonicInstant {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return MonotonicInstant(nanoseconds: Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec))
    }

    public func sleep(until deadline: MonotonicInstant) async throws {
        let remaining = deadline.nanoseconds - now().nanoseconds
        if remaining > 0 {
            try await Task.sleep(nanoseconds: UInt64(remaining))
        } else {
            try Task.checkCancellation()
        }
    }
}

/// How a capture source paces its frames.
public enum CapturePace: String, Sendable, CaseIterable {
    /// One frame per interval of the clock, as a real device delivers them.
    case nominal
    /// Each frame as soon as it is asked for, for benchmarks.
    case asFastAsPossible
}

/// Ticks for a capture source: when the next frame is due and when it was captured.
///
/// At `.nominal` pace tick *n* is due at start + *n* × interval; a consumer that falls more than one
/// interval behind skips the missed ticks (counted in `skippedTicks`), as a camera drops frames nobody
/// took, rather than bursting to catch up.
public struct CaptureTicker<Clock: MediaClock>: Sendable {
    /// The clock ticks are read from.
    public let clock: Clock
    /// Time between ticks.
    public let interval: Duration
    /// How ticks are paced.
    public let pace: CapturePace
    /// Ticks skipped because the consumer fell behind.
    public private(set) var skippedTicks = 0
    private var start: MonotonicInstant?
    private var nextIndex = 0

    /// A ticker every `interval` on `clock`.
    public init(clock: Clock, interval: Duration, pace: CapturePace = .nominal) {
        precondition(interval >= .nanoseconds(1), "a capture interval must be at least a nanosecond")
        self.clock = clock
        self.interval = interval
        self.pace = pace
    }

    /// Waits for the next tick and returns its capture instant (the clock's reading when it fired).
    public mutating func next() async throws -> MonotonicInstant {
        guard pace == .nominal else {
            // Let other tasks (a reporter, the other medium) run between frames.
            await Task.yield()
            try Task.checkCancellation()
            return clock.now()
        }
        let start = self.start ?? clock.now()
        self.start = start
        var deadline = start + interval * nextIndex
        let now = clock.now()
        if now - deadline > interval {
            let behind = Int((now - deadline).totalNanoseconds / interval.totalNanoseconds)
            skippedTicks += behind
            nextIndex += behind
            deadline = start + interval * nextIndex
        }
        try await clock.sleep(until: deadline)
        nextIndex += 1
        return clock.now()
    }
}
