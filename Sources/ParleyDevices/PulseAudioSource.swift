internal import CPulse
public import ParleyMedia
internal import ParleyWire

/// Captures 48 kHz mono or stereo 16-bit audio from a PulseAudio source, as `AudioFrame`s of 10 or 20 ms.
///
/// **Latency.** The stream asks for 10 ms fragments (`fragment`: `fragsize` = 960 bytes mono, 1 920
/// stereo) with `PA_STREAM_ADJUST_LATENCY`, so the server runs the source with about 10 ms of latency and
/// wakes Parley every 10 ms; a frame is handed out as soon as its last sample has been read. `statistics`
/// reports the fragment granted, the latency libpulse reports at each read, and how long after its last
/// sample's capture instant each frame was handed out. Measured on the test daemon (a null sink's
/// monitor; the device tests print each run's figures): 10 ms granted; libpulse reports 0.1–0.3 ms at
/// each read; capture stamps fall within 0.4 ms of the instants Parley's sink expected the same samples
/// to be played; and from handing 10 ms of audio to `PulseAudioSink` (40 ms asked, 30 ms granted) to
/// receiving it from this source takes 23–30 ms. (A monitor has its samples when the null sink renders
/// them, about 10 ms ahead of their play instant, so there frames arrive before their stamps' end.)
///
/// **Capture instants.** Each frame's `captureInstant` is when its first sample was captured, on
/// `CLOCK_MONOTONIC`: the instant of each read minus the stream latency libpulse reports then (the age
/// of the oldest unread sample), carried forward by the sample count. `presentationTime` counts samples
/// from the start of capture; after an interruption it jumps by the time the stream was away, so it keeps
/// step with the capture clock.
///
/// **Nothing is dropped.** Every captured sample is delivered, in order, on `frames` (an unbounded
/// stream: read it, or memory grows); clock drift between the device and the network is the jitter
/// buffer's to absorb (time-stretch), not the source's. A hole libpulse reports in the recorded data (an
/// overrun on the server) is filled with silence of the same length and counted (`overruns`, and an
/// `.overrun` event); a partial frame left when the server goes away is completed with silence.
///
/// **Recovery.** When the server restarts the source reports `.interrupted`, then `.resumed(downtime:)`
/// once data flows again on a new stream on the same device (see `PulseAudioConnection`); `frames` goes on.
/// If the device is gone for good the source reports `.ended` and `frames` finishes.
public final class PulseAudioSource: Sendable {
    /// The fragment size the source asks the server for: 10 ms.
    public static let fragment = Duration.milliseconds(10)

    /// The source's name, or nil for the server's default source.
    public let device: String?
    /// 1 (mono) or 2 (stereo).
    public let channelCount: Int
    /// How much audio each frame holds: 10 or 20 ms.
    public let frameDuration: Duration
    /// The captured frames, in order, until `stop()` or the end of the source.
    public let frames: AsyncStream<AudioFrame>

    private let connection: PulseAudioConnection
    private let core: PulseRecordStream

    /// Starts capturing from `device` (nil: the default source) on `connection`.
    ///
    /// - Throws: `DeviceError.unsupported` for a channel count other than 1 or 2 or a frame duration other
    ///   than 10 or 20 ms; `.notFound` naming the device if the server has no such source;
    ///   `.disconnected` if the connection is closed or the server away.
    public init(
        connection: PulseAudioConnection, device: String? = nil, channelCount: Int = 1,
        frameDuration: Duration = .milliseconds(10)
    ) async throws(DeviceError) {
        let name = device ?? "default source"
        guard channelCount == 1 || channelCount == 2 else {
            throw .unsupported(device: name, reason: "channel count \(channelCount) (1 or 2 only)")
        }
        guard frameDuration == .milliseconds(10) || frameDuration == .milliseconds(20) else {
            throw .unsupported(device: name, reason: "frame duration \(frameDuration) (10 or 20 ms only)")
        }
        self.connection = connection
        self.device = device
        self.channelCount = channelCount
        self.frameDuration = frameDuration
        let (frames, continuation) = AsyncStream<AudioFrame>.makeStream(bufferingPolicy: .unbounded)
        self.frames = frames
        core = PulseRecordStream(
            connection: connection.core, device: device, channelCount: channelCount,
            frameSampleCount: AudioFrame.sampleCount(in: frameDuration), frames: continuation)
        try await core.start()
    }

    /// Every stream event from now on (started, interrupted, resumed, overrun, ended).
    public func events() -> AsyncStream<PulseAudioStreamEvent> { core.events.subscribe() }

    /// Counters and latency figures so far.
    public var statistics: Statistics { core.currentStatistics }

    /// Stops capturing and finishes `frames`. Idempotent.
    public func stop() { core.stop() }

    deinit { core.stop() }

    /// What the source has done so far.
    public struct Statistics: Sendable, Equatable {
        /// Frames handed out.
        public var framesDelivered = 0
        /// Holes libpulse reported in the recorded data (each filled with silence).
        public var overruns = 0
        /// Samples (per channel) of silence inserted: holes, and the partial frame at an interruption.
        public var silenceInserted = 0
        /// Times the server went away under the stream.
        public var interruptions = 0
        /// The fragment size the server granted (asked: `PulseAudioSource.fragment`).
        public var fragment: Duration?
        /// The stream latency libpulse reported at the last read: how long ago the oldest unread sample
        /// was captured (the source's own latency plus what waits in the stream's buffer).
        public var latency: Duration?
        /// From the capture of a frame's last sample to the frame being handed out: the last one,
        /// the largest and the mean.
        public var lastCaptureDelay: Duration = .zero
        public var maximumCaptureDelay: Duration = .zero
        public var meanCaptureDelay: Duration = .zero
    }
}

/// The capture stream behind a `PulseAudioSource`; every mutable field is guarded by the loop's lock.
final class PulseRecordStream: PulseStreamClient, @unchecked Sendable {
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
    private let frameSampleCount: Int
    private let frames: AsyncStream<AudioFrame>.Continuation
    private let clock = SystemMediaClock()

    // Guarded by the loop's lock.
    private var phase = Phase.starting
    private var stream: OpaquePointer?
    private var startWaiter: CheckedContinuation<DeviceError?, Never>?
    /// Samples not yet handed out (interleaved); `pending[0]` is sample `pendingPosition` of the capture.
    private var pending: [Int16] = []
    private var pendingPosition = 0
    /// Position of the first sample of the current libpulse stream, once known, and samples read from it.
    private var segmentOrigin: Int? = 0
    private var segmentRead = 0
    /// The latest capture-time measurement: sample `position` was captured at `instant`.
    private var anchor: (position: Int, instant: MonotonicInstant)?
    private var statistics = PulseAudioSource.Statistics()
    private var totalCaptureDelay = Duration.zero

    init(
        connection: PulseConnectionCore, device: String?, channelCount: Int, frameSampleCount: Int,
        frames: AsyncStream<AudioFrame>.Continuation
    ) {
        self.connection = connection
        self.device = device
        self.channelCount = channelCount
        self.frameSampleCount = frameSampleCount
        self.frames = frames
    }

    private var deviceName: String { device ?? "default source" }

    var currentStatistics: PulseAudioSource.Statistics { connection.loop.withLock { statistics } }

    /// Registers with the connection and waits for the stream to run.
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
            startWaiter?.resume(returning: .disconnected(deviceName))
            startWaiter = nil
        }
        frames.finish()
        events.finish()
    }

    // MARK: PulseStreamClient (lock held).

    func connect(on context: OpaquePointer) {
        var spec = pulseSampleSpec(channelCount: channelCount)
        let properties = pulsePhoneProplist()
        defer { if let properties { pa_proplist_free(properties) } }
        guard let stream = pa_stream_new_with_proplist(context, "Parley capture", &spec, nil, properties) else {
            fail(.system(
                call: "pa_stream_new", code: pa_context_errno(context), detail: pulseErrorText(pa_context_errno(context))))
            return
        }
        self.stream = stream
        segmentRead = 0
        let me = Unmanaged.passUnretained(self).toOpaque()
        pa_stream_set_state_callback(
            stream,
            { stream, userdata in
                guard let stream, let userdata else { return }
                Unmanaged<PulseRecordStream>.fromOpaque(userdata).takeUnretainedValue().stateChanged(stream)
            }, me)
        pa_stream_set_read_callback(
            stream,
            { stream, _, userdata in
                guard let stream, let userdata else { return }
                Unmanaged<PulseRecordStream>.fromOpaque(userdata).takeUnretainedValue().readable(stream)
            }, me)
        pa_stream_set_moved_callback(
            stream,
            { stream, userdata in
                guard let stream, let userdata else { return }
                Unmanaged<PulseRecordStream>.fromOpaque(userdata).takeUnretainedValue().moved(stream)
            }, me)
        // maxlength, tlength, prebuf, minreq: the server's choice (unused by or generous for recording).
        var attributes = pa_buffer_attr(
            maxlength: UInt32.max, tlength: UInt32.max, prebuf: UInt32.max, minreq: UInt32.max,
            fragsize: pulseBytes(in: PulseAudioSource.fragment, channelCount: channelCount))
        if pa_stream_connect_record(stream, device, &attributes, pulseLowLatencyFlags) < 0 {
            fail(streamError(context: context))
        }
    }

    func contextLost(reason: String) {
        guard stream != nil || isRunningOrStarting else { return }
        dropStream()
        completePartialFrame()
        if case .running = phase {
            phase = .interrupted(since: clock.now())
            statistics.interruptions += 1
            segmentOrigin = nil
            events.yield(.interrupted(reason: reason))
        }
    }

    func connectionClosed() {
        phase = .ended
        dropStream()
        startWaiter?.resume(returning: .disconnected(deviceName))
        startWaiter = nil
        frames.finish()
        events.yield(.ended(.disconnected("PulseAudio connection to \(connection.serverName)")))
        events.finish()
    }

    // MARK: Callbacks (loop thread).

    private var isRunningOrStarting: Bool {
        switch phase {
        case .running, .starting: true
        default: false
        }
    }

    private func stateChanged(_ stream: OpaquePointer) {
        guard stream == self.stream else { return }
        switch pa_stream_get_state(stream) {
        case PA_STREAM_READY:
            if let attributes = pa_stream_get_buffer_attr(stream) {
                statistics.fragment = AudioFrame.duration(
                    ofSamples: Int(attributes.pointee.fragsize) / (2 * channelCount))
            }
            if case .starting = phase { phase = .running }
            startWaiter?.resume(returning: nil)
            startWaiter = nil
            events.yield(.started(device: currentDeviceName(stream)))
        case PA_STREAM_FAILED, PA_STREAM_TERMINATED:
            // When the whole context fails, `contextLost` handles it; only a failure of this stream alone
            // (its device removed, or not found) ends the source.
            guard let context = pa_stream_get_context(stream), pa_context_get_state(context) == PA_CONTEXT_READY
            else { return }
            fail(streamError(context: context))
        default:
            break
        }
    }

    private func moved(_ stream: OpaquePointer) {
        guard stream == self.stream else { return }
        events.yield(.started(device: currentDeviceName(stream)))
    }

    private func currentDeviceName(_ stream: OpaquePointer) -> String {
        pa_stream_get_device_name(stream).map { String(cString: $0) } ?? deviceName
    }

    private func readable(_ stream: OpaquePointer) {
        guard stream == self.stream else { return }
        let now = clock.now()
        let bytesPerSample = 2 * channelCount
        var latency: Duration?
        var microseconds: pa_usec_t = 0
        var negative: Int32 = 0
        if pa_stream_get_latency(stream, &microseconds, &negative) == 0 {
            let value = pulseDuration(microseconds: microseconds)
            latency = negative != 0 ? .zero - value : value
            statistics.latency = latency
        }

        if segmentOrigin == nil {
            // The first read after an interruption: place the new stream on the capture clock.
            let oldest = now - (latency ?? AudioFrame.duration(ofSamples: pa_stream_readable_size(stream) / bytesPerSample))
            var origin = pendingPosition
            if let anchor {
                let expected = anchor.instant + AudioFrame.duration(ofSamples: pendingPosition - anchor.position)
                origin += max(0, AudioFrame.sampleCount(in: oldest - expected))
            }
            segmentOrigin = origin
            pendingPosition = origin
            anchor = (origin, oldest)
            if case .interrupted(let since) = phase {
                phase = .running
                events.yield(.resumed(downtime: now - since))
            }
        }
        guard let origin = segmentOrigin else { return }
        if let latency {
            anchor = (origin + segmentRead, now - latency)
        } else if anchor == nil {
            anchor = (origin + segmentRead, now)
        }
        while true {
            var data: UnsafeRawPointer?
            var length = 0
            guard pa_stream_peek(stream, &data, &length) == 0, length > 0 else { break }
            let count = length / bytesPerSample
            if let data {
                let samples = UnsafeBufferPointer(start: data.assumingMemoryBound(to: Int16.self), count: count * channelCount)
                pending.append(contentsOf: samples)
            } else {
                // A hole: the server lost this much. Keep the sample clock whole with silence.
                pending.append(contentsOf: repeatElement(0, count: count * channelCount))
                statistics.overruns += 1
                statistics.silenceInserted += count
                events.yield(.overrun(total: statistics.overruns))
            }
            pa_stream_drop(stream)
            segmentRead += count
        }
        deliverWholeFrames(now: now)
    }

    private func deliverWholeFrames(now: MonotonicInstant) {
        let frameLength = frameSampleCount * channelCount
        guard pending.count >= frameLength else { return }
        var offset = 0
        while pending.count - offset >= frameLength {
            let captured = anchor.map { $0.instant + AudioFrame.duration(ofSamples: pendingPosition - $0.position) } ?? now
            let frame = AudioFrame(
                channelCount: channelCount, samples: Array(pending[offset..<offset + frameLength]),
                presentationTime: AudioFrame.duration(ofSamples: pendingPosition), captureInstant: captured)
            offset += frameLength
            pendingPosition += frameSampleCount
            record(delay: now - (captured + AudioFrame.duration(ofSamples: frameSampleCount - 1)))
            frames.yield(frame)
        }
        pending.removeFirst(offset)
    }

    private func record(delay: Duration) {
        statistics.framesDelivered += 1
        statistics.lastCaptureDelay = delay
        statistics.maximumCaptureDelay = max(statistics.maximumCaptureDelay, delay)
        totalCaptureDelay += delay
        statistics.meanCaptureDelay = totalCaptureDelay / statistics.framesDelivered
    }

    /// Completes a partial frame with silence and delivers it, so no captured sample is lost.
    private func completePartialFrame() {
        guard !pending.isEmpty else { return }
        let missing = frameSampleCount * channelCount - pending.count
        pending.append(contentsOf: repeatElement(0, count: missing))
        statistics.silenceInserted += missing / channelCount
        deliverWholeFrames(now: clock.now())
    }

    // MARK: Helpers (lock held).

    private func streamError(context: OpaquePointer) -> DeviceError {
        let code = pa_context_errno(context)
        if code == Int32(PA_ERR_NOENTITY.rawValue) { return .notFound(deviceName) }
        if code == Int32(PA_ERR_KILLED.rawValue) { return .disconnected(deviceName) }
        return .system(call: "pa_stream_connect_record(\(deviceName))", code: code, detail: pulseErrorText(code))
    }

    /// The stream failed on its own: the start throws, or a running source ends.
    private func fail(_ error: DeviceError) {
        dropStream()
        if let startWaiter {
            self.startWaiter = nil
            startWaiter.resume(returning: error)
            return
        }
        if case .ended = phase { return }
        completePartialFrame()
        phase = .ended
        connection.unregister(self)
        frames.finish()
        events.yield(.ended(error))
        events.finish()
    }

    private func dropStream() {
        guard let stream else { return }
        self.stream = nil
        pa_stream_set_state_callback(stream, nil, nil)
        pa_stream_set_read_callback(stream, nil, nil)
        pa_stream_set_moved_callback(stream, nil, nil)
        if pa_stream_get_state(stream) == PA_STREAM_READY || pa_stream_get_state(stream) == PA_STREAM_CREATING {
            pa_stream_disconnect(stream)
        }
        pa_stream_unref(stream)
    }
}
