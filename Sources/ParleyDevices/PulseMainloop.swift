internal import CPulse
internal import Synchronization

/// Owns one `pa_threaded_mainloop`: the thread every libpulse callback of a connection runs on.
///
/// libpulse objects are not thread-safe: every call on a context or stream happens with the loop's lock
/// held, either on the loop's thread (inside a callback, where libpulse already holds it) or from another
/// thread through `withLock`. The lock is held only for the few microseconds a libpulse call takes, so
/// no caller's thread waits on the server.
final class PulseMainloop: @unchecked Sendable {
    /// The loop; freed in `deinit`, after `stop()`.
    private let loop: OpaquePointer
    private let running = Atomic<Bool>(false)

    /// Creates the loop and starts its thread.
    init() throws(DeviceError) {
        guard let loop = pa_threaded_mainloop_new() else {
            throw .system(call: "pa_threaded_mainloop_new", code: 0, detail: "out of memory")
        }
        self.loop = loop
        pa_threaded_mainloop_set_name(loop, "parley-pulse")
        guard pa_threaded_mainloop_start(loop) == 0 else {
            pa_threaded_mainloop_free(loop)
            throw .system(call: "pa_threaded_mainloop_start", code: 0, detail: "cannot start the loop's thread")
        }
        running.store(true, ordering: .releasing)
    }

    /// The loop's API table, for `pa_context_new`.
    var api: UnsafeMutablePointer<pa_mainloop_api> { pa_threaded_mainloop_get_api(loop) }

    /// True on the loop's own thread (inside a libpulse callback).
    var isLoopThread: Bool { pa_threaded_mainloop_in_thread(loop) != 0 }

    /// Runs `body` with the loop's lock held (on the loop's thread the lock is already held).
    func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        if isLoopThread { return try body() }
        pa_threaded_mainloop_lock(loop)
        defer { pa_threaded_mainloop_unlock(loop) }
        return try body()
    }

    /// Stops the loop's thread (joins it). Called once, never from the loop's own thread.
    func stop() {
        guard !isLoopThread, running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        pa_threaded_mainloop_stop(loop)
    }

    deinit {
        // A loop can only be stopped and freed from another thread; the owners make sure the last
        // reference goes away outside it (callbacks never hold one), so the branch is a safety net.
        guard !isLoopThread else { return }
        if running.load(ordering: .acquiring) { pa_threaded_mainloop_stop(loop) }
        pa_threaded_mainloop_free(loop)
    }
}

/// libpulse's text for an error code (`pa_context_errno`, negative returns).
func pulseErrorText(_ code: Int32) -> String {
    guard let text = pa_strerror(code < 0 ? -code : code) else { return "error \(code)" }
    return String(cString: text)
}

/// Broadcasts events to any number of `AsyncStream` subscribers (events are rare: nothing is dropped).
final class PulseEventBroadcaster<Event: Sendable>: Sendable {
    private let state = Mutex<(next: Int, subscribers: [Int: AsyncStream<Event>.Continuation], finished: Bool)>(
        (0, [:], false))

    /// A new stream of the events from now on; it ends when the broadcaster finishes.
    func subscribe() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        let key: Int? = state.withLock { state in
            guard !state.finished else { return nil }
            let key = state.next
            state.next += 1
            state.subscribers[key] = continuation
            return key
        }
        guard let key else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: key) }
        }
        return stream
    }

    func yield(_ event: Event) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(event) }
    }

    func finish() {
        let subscribers = state.withLock { state in
            state.finished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }
}

/// The sample format Parley hands libpulse: signed 16-bit native-endian at 48 kHz.
func pulseSampleSpec(channelCount: Int) -> pa_sample_spec {
    #if _endian(big)
    let format = PA_SAMPLE_S16BE
    #else
    let format = PA_SAMPLE_S16LE
    #endif
    return pa_sample_spec(format: format, rate: 48_000, channels: UInt8(channelCount))
}

/// Bytes in `duration` of audio with `channelCount` channels (16-bit samples).
func pulseBytes(in duration: Duration, channelCount: Int) -> UInt32 {
    UInt32(Int(duration.ticks(atRate: 48_000)) * channelCount * 2)
}

/// A libpulse `pa_usec_t` as a `Duration`.
func pulseDuration(microseconds: UInt64) -> Duration {
    .microseconds(Int64(clamping: microseconds))
}

/// The stream flags for low-latency streams with timing: the server sizes its buffers from ours, and
/// latency queries are interpolated between automatic timing updates.
let pulseLowLatencyFlags = pa_stream_flags_t(
    rawValue: PA_STREAM_ADJUST_LATENCY.rawValue | PA_STREAM_INTERPOLATE_TIMING.rawValue
        | PA_STREAM_AUTO_TIMING_UPDATE.rawValue)

/// A proplist with `media.role=phone` (so policy modules treat Parley as a call), freed by the caller.
func pulsePhoneProplist() -> OpaquePointer? {
    let list = pa_proplist_new()
    if let list { pa_proplist_sets(list, "media.role", "phone") }
    return list
}
