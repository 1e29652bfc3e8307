import Glibc

/// CPU time of the calling thread (user and system), nanoseconds: what a benchmark case costs, whatever
/// else the machine does.
public func threadCPUNanoseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

/// Monotonic wall-clock time, nanoseconds.
public func wallNanoseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

/// Keeps the optimiser from discarding a result.
@inline(never)
public func consume<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
