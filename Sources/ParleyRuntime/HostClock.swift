import Glibc
public import ParleyCrypto
public import ParleyWire

/// The runtime's two clocks, read from the kernel (the sans-IO layers below never read one).
///
/// `now()` is `CLOCK_MONOTONIC`, the clock every `MonotonicInstant` of a running engine comes from; it is
/// shared by all processes on one machine. `wallClock()` is `CLOCK_REALTIME`, used only for handshake
/// timestamps (Protocols/peer/handshake.md §5).
public enum HostClock {
    /// The current instant on `CLOCK_MONOTONIC`.
    public static func now() -> MonotonicInstant {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return MonotonicInstant(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }

    /// The current wall-clock time on `CLOCK_REALTIME`, as a handshake timestamp (0 before 1970).
    public static func wallClock() -> HandshakeTimestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        guard spec.tv_sec >= 0 else { return HandshakeTimestamp(rawValue: 0) }
        return HandshakeTimestamp(
            nanosecondsSinceUnixEpoch: UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(max(0, spec.tv_nsec)))
    }
}
