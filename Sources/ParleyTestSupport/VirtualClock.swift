@_exported public import ParleyNetworkEmulator
public import ParleyMedia
public import ParleyWire
internal import Synchronization

/// A virtual clock for tests: sleeping moves time to the deadline at once, and tests can move it by hand.
///
/// Test-only (ARCHITECTURE §2 `ParleyTestSupport`): nothing in the engine depends on this target.
public final class VirtualClock: MediaClock {
    private let current: Mutex<MonotonicInstant>
    private let sleeps = Atomic<Int>(0)

    /// A clock reading `start` (default 1 s after the epoch).
    public init(start: MonotonicInstant = MonotonicInstant(nanoseconds: 1_000_000_000)) {
        current = Mutex(start)
    }

    /// How many times something slept on this clock.
    public var sleepCount: Int { sleeps.load(ordering: .relaxed) }

    /// The current virtual instant.
    public func now() -> MonotonicInstant { current.withLock { $0 } }

    /// Moves the clock forward by `duration`.
    public func advance(by duration: Duration) { current.withLock { $0 = $0 + duration } }

    /// Returns at once, with the clock moved to `deadline` if it was earlier.
    public func sleep(until deadline: MonotonicInstant) async throws {
        sleeps.add(1, ordering: .relaxed)
        current.withLock { $0 = max($0, deadline) }
    }
}
