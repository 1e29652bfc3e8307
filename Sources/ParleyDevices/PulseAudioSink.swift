internal import CPulse
public import ParleyMedia
public import ParleyWire

/// Plays 48 kHz mono or stereo 16-bit `AudioFrame`s into a PulseAudio sink, counting underruns.
///
/// `play(_:)` never blocks: it queues the frame (converting mono ↔ stereo if needed) and writes as much
/// as the server asks for; the rest follows whenever the server asks again (libpulse's write callback,
/// on the connection's thread). The server buffer is `targetLatency` long (default 40 ms, with
/// `PA_STREAM_ADJUST_LATENCY` and 10 ms requests), so audio handed over now is heard after
/// `targetLatency` plus whatever is still queued (`queuedDuration`). Feed it in real time, as a jitter
/// buffer does, or hand it a whole clip at once (up to `maximumQueuedDuration`; beyond that the oldest
/// queued audio is discarded and counted).
///
/// **Underruns.** When the server runs out of audio to play it tells the stream; each time counts in
/// `statistics.underruns` and raises `.underrun(total:)` (the last one after the final sample of a clip
/// is normal). After an underrun the server waits for a full buffer again before it resumes playing.
///
/// **Recovery.** When the server restarts the sink reports `.interrupted`, keeps queuing (up to the
/// maximum), and reports `.resumed(downtime:)` once a new stream on the same device runs.
public final class PulseAudioSink: Sendable {
    /// The sink's name, or nil for the server's default sink.
    public let device: String?
    /// 1 (mono) or 2 (stereo).
    public let channelCount: Int
    /// The server-side buffer the stream asks for.
    public let targetLatency: Duration

    private let connection: PulseAudioConnection
    private let core: PulsePlaybackStream

    /// Starts a playback stream into `device` (nil: the default sink) on `connection`.
    ///
    /// - Throws: `DeviceError.unsupported` for a channel count other than 1 or 2 or a target latency
    ///   outside 10 ms…2 s; `.notFound` naming the device if the server has no such sink; `.disconnected`
    ///   if the connection is closed or the server away.
    public init(
        connection: PulseAudioConnection, device: String? = nil, channelCount: Int = 1,
        targetLatency: Duration = .milliseconds(40), maximumQueuedDuration: Duration = .seconds(2)
    ) async throws(DeviceError) {
        let name = device ?? "default sink"
        guard channelCount == 1 || channelCount == 2 else {
            throw .unsupported(device: name, reason: "channel count \(channelCount) (1 or 2 only)")
        }
        guard targetLatency >= .milliseconds(10), targetLatency <= .seconds(2) else {
            throw .unsupported(device: name, reason: "target latency \(targetLatency) (10 ms to 2 s)")
        }
        self.connection = connection
        self.device = device
        self.channelCount = channelCount
        self.targetLatency = targetLatency
        core = PulsePlaybackStream(
            connection: connection.core, device: device, channelCount: channelCount, targetLatency: targetLatency,
            maximumQueued: max(AudioFrame.sampleCount(in: maximumQueuedDuration), AudioFrame.sampleRate / 10))
        try await core.start()
    }

    /// Queues `frame` for playing (mono is duplicated to stereo, stereo averaged to mono, as needed).
    public func play(_ frame: AudioFrame) { core.enqueue(frame) }

    /// Audio queued in Parley, not yet handed to the server.
    public var queuedDuration: Duration { core.queuedDuration }

    /// Samples (per channel) accepted by `play(_:)` so far: the position of the next one.
    public var position: Int { core.position }

    /// When sample `position` (counted as `position` counts) is expected to be heard, from the last write
    /// and the latency libpulse reported then; nil before the first write or for a discarded sample.
    public func estimatedPlayoutInstant(ofSample position: Int) -> MonotonicInstant? {
        core.estimatedPlayoutInstant(ofSample: position)
    }

    /// Returns once everything queued so far has been played (by libpulse's latency estimate), or the
    /// stream has stopped.
    /// Gives up 2 s after the remaining audio should have been heard, should the server stall.
    public func drain() async {
        let clock = SystemMediaClock()
        guard let initial = core.remainingPlayout() else { return }
        let deadline = clock.now() + initial + .seconds(2)
        while let remaining = core.remainingPlayout(), remaining > .zero, clock.now() < deadline {
            try? await Task.sleep(for: min(remaining, .milliseconds(20)))
            if Task.isCancelled { return }
        }
    }

    /// Every stream event from now on (started, underrun, overrun, interrupted, resumed, ended).
    public func events() -> AsyncStream<PulseAudioStreamEvent> { core.events.subscribe() }

    /// Counters and latency so far.
    public var statistics: Statistics { core.currentStatistics }

    /// Stops playing at once (queued audio is discarded). Idempotent.
    public func stop() { core.stop() }

    deinit { core.stop() }

    /// What the sink has done so far.
    public struct Statistics: Sendable, Equatable {
        /// Times the server ran out of audio to play.
        public var underruns = 0
        /// Times the server had no room for what was written (should stay 0: Parley writes only what
        /// the server asks for).
        public var overruns = 0
        /// Samples (per channel) handed to the server.
        public var samplesWritten = 0
        /// Samples (per channel) discarded because the queue exceeded its maximum.
        public var samplesDiscarded = 0
        /// Times the server went away under the stream.
        public var interruptions = 0
        /// The server buffer granted (`tlength`; asked: `targetLatency`).
        public var bufferLength: Duration?
        /// The playback latency libpulse reported at the last write: how long until a sample written
        /// then is heard.
        public var latency: Duration?
    }
}

/// The playback stream behind a `PulseAudioSink`; every mutable field is guarded by the loop's lock.
final class PulsePlaybackStream: PulseStreamClient, @unchecked Sendable {
    private enum Phase {
        case starting
        case running
        case interrupted(since: MonotonicInstant)
        case ended
    }

    let events = PulseEventBroadcaster<PulseAudioStreamEvent>()
    private let connection: PulseConnectionCore
    private let device: String?
    private let channelCount: Int
    private let targetLatency: Duration
    private let maximumQueued: Int
    private let clock = SystemMediaClock()

    // Guarded by the loop's lock.
    private var phase = Phase.starting
    private var stream: OpaquePointer?
    private var startWaiter: CheckedContinuation<DeviceError?, Never>?
    /// Interleaved samples not yet written; the first is `queue[queueHead]`, sample `writtenPosition`.
    private var queue: [Int16] = []
    private var queueHead = 0
    private var writtenPosition = 0
    /// The latest playout estimate: sample `position` is heard at `instant`.
    private var anchor: (position: Int, instant: MonotonicInstant)?
    private var statistics = PulseAudioSink.Statistics()
    /// Whether `remainingPlayout` has started the server on what it holds since the last `enqueue`.
    private var triggered = false

    init(
        connection: PulseConnectionCore, device: String?, channelCount: Int, targetLatency: Duration,
        maximumQueued: Int
    ) {
        self.connection = connection
        self.device = device
        self.channelCount = channelCount
        self.targetLatency = targetLatency
        self.maximumQueued = maximumQueued
    }

    private var deviceName: String { device ?? "default sink" }
    private var queuedSamples: Int { (queue.count - queueHead) / channelCount }

    var currentStatistics: PulseAudioSink.Statistics { connection.loop.withLock { statistics } }
    var queuedDuration: Duration { connection.loop.withLock { AudioFrame.duration(ofSamples: queuedSamples) } }
    var position: Int { connection.loop.withLock { writtenPosition + queuedSamples } }

    func estimatedPlayoutInstant(ofSample position: Int) -> MonotonicInstant? {
        connection.loop.withLock {
            guard let anchor else { return nil }
            return anchor.instant + AudioFrame.duration(ofSamples: position - anchor.position)
        }
    }

    /// Queued audio plus what the server still holds; nil once the stream has ended or while it is away.
    /// With nothing left in Parley's queue it also starts the server playing what it holds, which it
    /// would otherwise keep until a full buffer (`prebuf`) had arrived, after an underrun.
    func remainingPlayout() -> Duration? {
        connection.loop.withLock {
            guard case .running = phase, let stream else { return nil }
            if queuedSamples == 0, !triggered, let operation = pa_stream_trigger(stream, nil, nil) {
                pa_operation_unref(operation)
                triggered = true
            }
            var microseconds: pa_usec_t = 0
            var negative: Int32 = 0
            var remaining = AudioFrame.duration(ofSamples: queuedSamples)
            if pa_stream_get_latency(stream, &microseconds, &negative) == 0, negative == 0 {
                remaining += pulseDuration(microseconds: microseconds)
            }
            return remaining
        }
    }

    func start() async throws(DeviceError) {
        let failure: DeviceError? = await withCheckedContinuation { (continuation: CheckedContinuation<DeviceError?, Never>) in
            connection.loop.withLock {
                do throws(DeviceError) {
                    guard let context = try connection.register(self) else {
                        connection.unregister(self)
                        continuation.resume(returning: .disconnected("PulseAudio server \(connection.serverName)"))
                        return
                    }
                    startWaiter = continuation
                    connect(on: context)
                } catch {
                    continuation.resume(returning: error)
                }
            }
        }
        if let failure {
            stop()
            throw failure
        }
    }

    func stop() {
        connection.loop.withLock {
            if case .ended = phase { return }
            phase = .ended
            dropStream()
            connection.unregister(self)
            queue = []
            queueHead = 0
            startWaiter?.resume(returning: .disconnected(deviceName))
            startWaiter = nil
        }
        events.finish()
    }

    func enqueue(_ frame: AudioFrame) {
        connection.loop.withLock {
            if case .ended = phase { return }
            triggered = false
            switch (frame.channelCount, channelCount) {
            case (1, 2):
                for sample in frame.samples {
                    queue.append(sample)
                    queue.append(sample)
                }
            case (2, 1):
                for index in stride(from: 0, to: frame.samples.count, by: 2) {
                    queue.append(Int16((Int32(frame.samples[index]) + Int32(frame.samples[index + 1])) / 2))
                }
            default:
                queue.append(contentsOf: frame.samples)
            }
            let excess = queuedSamples - maximumQueued
            if excess > 0 {
                queueHead += excess * channelCount
                writtenPosition += excess
                statistics.samplesDiscarded += excess
            }
            pump()
        }
    }

    // MARK: PulseStreamClient (lock held).

    func connect(on context: OpaquePointer) {
        var spec = pulseSampleSpec(channelCount: channelCount)
        let properties = pulsePhoneProplist()
        defer { if let properties { pa_proplist_free(properties) } }
        guard let stream = pa_stream_new_with_proplist(context, "Parley playback", &spec, nil, properties) else {
            fail(.system(
                call: "pa_stream_new", code: pa_context_errno(context), detail: pulseErrorText(pa_context_errno(context))))
            return
        }
        self.stream = stream
        let me = Unmanaged.passUnretained(self).toOpaque()
        pa_stream_set_state_callback(
            stream,
            { stream, userdata in
                guard let stream, let userdata else { return }
                Unmanaged<PulsePlaybackStream>.fromOpaque(userdata).takeUnretainedValue().stateChanged(stream)
            }, me)
        pa_stream_set_write_callback(
            stream,
            { stream, _, userdata in
                guard let stream, let userdata else { return }
                let me = Unmanaged<PulsePlaybackStream>.fromOpaque(userdata).takeUnretainedValue()
                if stream == me.stream { me.pump() }
            }, me)
        pa_stream_set_underflow_callback(
            stream,
            { stream, userdata in
                guard let stream, let userdata else { return }
                Unmanaged<PulsePlaybackStream>.fromOpaque(userdata).takeUnretainedValue().underflow(stream)
            }, me)
        pa_stream_set_overflow_callback(
            stream,
            { stream, userdata in
                guard let stream, let userdata else { return }
                Unmanaged<PulsePlaybackStream>.fromOpaque(userdata).takeUnretainedValue().overflow(stream)
            }, me)
        pa_stream_set_moved_callback(
            stream,
            { stream, userdata in
                guard let stream, let userdata else { return }
                let me = Unmanaged<PulsePlaybackStream>.fromOpaque(userdata).takeUnretainedValue()
                if stream == me.stream { me.events.yield(.started(device: me.currentDeviceName(stream))) }
            }, me)
        let request = pulseBytes(in: .milliseconds(10), channelCount: channelCount)
        // prebuf −1: the server starts (and restarts after an underrun) once the buffer is full.
        var attributes = pa_buffer_attr(
            maxlength: UInt32.max, tlength: pulseBytes(in: targetLatency, channelCount: channelCount),
            prebuf: UInt32.max, minreq: request, fragsize: UInt32.max)
        if pa_stream_connect_playback(stream, device, &attributes, pulseLowLatencyFlags, nil, nil) < 0 {
            fail(streamError(context: context))
        }
    }

    func contextLost(reason: String) {
        dropStream()
        anchor = nil
        if case .running = phase {
            phase = .interrupted(since: clock.now())
            statistics.interruptions += 1
            events.yield(.interrupted(reason: reason))
        }
    }

    func connectionClosed() {
        phase = .ended
        dropStream()
        startWaiter?.resume(returning: .disconnected(deviceName))
        startWaiter = nil
        events.yield(.ended(.disconnected("PulseAudio connection to \(connection.serverName)")))
        events.finish()
    }

    // MARK: Callbacks (loop thread).

    private func stateChanged(_ stream: OpaquePointer) {
        guard stream == self.stream else { return }
        switch pa_stream_get_state(stream) {
        case PA_STREAM_READY:
            if let attributes = pa_stream_get_buffer_attr(stream) {
                statistics.bufferLength = AudioFrame.duration(
                    ofSamples: Int(attributes.pointee.tlength) / (2 * channelCount))
            }
            let since: MonotonicInstant?
            if case .interrupted(let start) = phase { since = start } else { since = nil }
            phase = .running
            startWaiter?.resume(returning: nil)
            startWaiter = nil
            events.yield(.started(device: currentDeviceName(stream)))
            if let since { events.yield(.resumed(downtime: clock.now() - since)) }
            pump()
        case PA_STREAM_FAILED, PA_STREAM_TERMINATED:
            guard let context = pa_stream_get_context(stream), pa_context_get_state(context) == PA_CONTEXT_READY
            else { return }
            fail(streamError(context: context))
        default:
            break
        }
    }

    private func underflow(_ stream: OpaquePointer) {
        guard stream == self.stream else { return }
        statistics.underruns += 1
        events.yield(.underrun(total: statistics.underruns))
    }

    private func overflow(_ stream: OpaquePointer) {
        guard stream == self.stream else { return }
        statistics.overruns += 1
        events.yield(.overrun(total: statistics.overruns))
    }

    private func currentDeviceName(_ stream: OpaquePointer) -> String {
        pa_stream_get_device_name(stream).map { String(cString: $0) } ?? deviceName
    }

    /// Writes as much queued audio as the server asks for. Lock held.
    private func pump() {
        guard let stream, case .running = phase, pa_stream_get_state(stream) == PA_STREAM_READY else { return }
        let writable = pa_stream_writable_size(stream)
        let bytesPerSample = 2 * channelCount
        let bytes = min(writable, queuedSamples * bytesPerSample) / bytesPerSample * bytesPerSample
        guard writable > 0, bytes > 0 else { return }
        let written = queue.withUnsafeBufferPointer { buffer in
            // A nil free callback: libpulse copies the data.
            pa_stream_write(stream, buffer.baseAddress! + queueHead, bytes, nil, 0, PA_SEEK_RELATIVE)
        }
        guard written == 0 else { return }
        let samples = bytes / bytesPerSample
        queueHead += samples * channelCount
        writtenPosition += samples
        statistics.samplesWritten += samples
        if queueHead >= 4_800 * channelCount, queueHead * 2 >= queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        var microseconds: pa_usec_t = 0
        var negative: Int32 = 0
        if pa_stream_get_latency(stream, &microseconds, &negative) == 0 {
            let latency = negative != 0 ? Duration.zero : pulseDuration(microseconds: microseconds)
            statistics.latency = latency
            anchor = (writtenPosition, clock.now() + latency)
        }
    }

    // MARK: Helpers (lock held).

    private func streamError(context: OpaquePointer) -> DeviceError {
        let code = pa_context_errno(context)
        if code == Int32(PA_ERR_NOENTITY.rawValue) { return .notFound(deviceName) }
        if code == Int32(PA_ERR_KILLED.rawValue) { return .disconnected(deviceName) }
        return .system(call: "pa_stream_connect_playback(\(deviceName))", code: code, detail: pulseErrorText(code))
    }

    private func fail(_ error: DeviceError) {
        dropStream()
        if let startWaiter {
            self.startWaiter = nil
            startWaiter.resume(returning: error)
            return
        }
        if case .ended = phase { return }
        phase = .ended
        connection.unregister(self)
        events.yield(.ended(error))
        events.finish()
    }

    private func dropStream() {
        guard let stream else { return }
        self.stream = nil
        pa_stream_set_state_callback(stream, nil, nil)
        pa_stream_set_write_callback(stream, nil, nil)
        pa_stream_set_underflow_callback(stream, nil, nil)
        pa_stream_set_overflow_callback(stream, nil, nil)
        pa_stream_set_moved_callback(stream, nil, nil)
        if pa_stream_get_state(stream) == PA_STREAM_READY || pa_stream_get_state(stream) == PA_STREAM_CREATING {
            pa_stream_disconnect(stream)
        }
        pa_stream_unref(stream)
    }
}
