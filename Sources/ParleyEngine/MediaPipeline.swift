import CParleyShims
import Dispatch
import Glibc
import Logging
import ParleyDevices
import ParleyMedia
import ParleyRuntime
import ParleySession
import ParleyWire
import Synchronization

/// What a call's media threads counted: what was encoded and sent, and what the sinks recognised in
/// what was received. Read by `Calls/Stats`.
struct MediaCounters: Sendable, Equatable {
    var audioFramesEncoded = 0
    var audioBytesEncoded = 0
    var videoFramesEncoded = 0
    var keyFramesEncoded = 0
    var videoBytesEncoded = 0
    var videoFramesSkipped = 0
    var encodeFailures = 0
    var sentWidth = 0
    var sentHeight = 0
    var targetBitrate = 0

    var videoFramesDecoded = 0
    var videoDecodeFailures = 0
    var videoFramesDroppedByQueue = 0
    var decodedWidth = 0
    var decodedHeight = 0
    var stampsRead = 0
    var stampsOutOfOrder = 0
    var stampFailures = 0
    var lastStampFrameNumber: UInt32?
    var latencyTotalMicroseconds: Int64 = 0
    var latencyLastMicroseconds: Int64 = 0
    var latencyMaximumMicroseconds: Int64 = 0

    var audioSamplesPlayed = 0
    var audioMarkersHeard = 0
    var audioPullsMissed = 0
}

/// One call's media on three threads: video capture → encode → session at the frame rate
/// (`parley-venc`); session → video decode (`parley-vdec`); and full-duplex audio every 20 ms, as a sound
/// card runs it (`parley-audio`: microphone → encode → session, then session → decode → sink). With a
/// PulseAudio source, capture is paced by the device instead and the audio thread only plays.
///
/// The network path never waits for media: the encoders hand frames to the session on their own
/// threads (the host's loop thread is not woken for them), and received video frames wait in a bounded
/// queue (the oldest is dropped and counted when the decoder falls behind, and the session is told so it
/// asks for a key frame). Sources are the synthetic camera and microphone; sinks are the analysis
/// sinks, which read the camera's stamps and the microphone's markers back.
final class CallMediaPipeline: Sendable {
    /// What the front-end controls, read by the sending threads at each tick.
    struct Controls: Sendable {
        var sendsAudio: Bool
        var sendsVideo: Bool
        var video: VideoSettings
        var settingsChanged = false
        var keyFrameWanted = false
        var isRunning = true
        var isSending = false
    }

    let call: CallHandle
    let recordings = CallRecordings()
    private let host: SessionHost
    private let logger: Logger
    private let controls: Mutex<Controls>
    private let counters = Mutex(MediaCounters())
    private let incomingVideo = FrameQueue<IncomingVideoFrame>(capacity: 8)
    private let threadsDone = DispatchGroup()

    private let videoSource: String
    private let cameraFrames = FrameQueue<VideoFrame>(capacity: 2)
    private let camera = Mutex<V4L2Capture?>(nil)
    /// Called once if the camera goes away mid-call (the call goes on without video).
    private let onVideoSourceLost: @Sendable (String, DeviceError) -> Void
    private let audioSource: AudioEndpoint
    private let audioSink: AudioEndpoint
    private let pulse: PulseAudioConnection?
    /// The PulseAudio streams in use, once open (stopped with the pipeline).
    private let pulseSource = Mutex<PulseAudioSource?>(nil)
    private let pulseSink = Mutex<PulseAudioSink?>(nil)
    private let audioTasks = Mutex<[Task<Void, Never>]>([])

    /// A pipeline for `call`, not yet running.
    init(
        call: CallHandle, host: SessionHost, video: VideoSettings, sendsAudio: Bool, sendsVideo: Bool,
        audioSource: AudioEndpoint = .builtIn, audioSink: AudioEndpoint = .builtIn, pulse: PulseAudioConnection? = nil,
        videoSource: String = DeviceCatalog.syntheticCamera,
        onVideoSourceLost: @escaping @Sendable (String, DeviceError) -> Void = { _, _ in }, logger: Logger
    ) {
        self.call = call
        self.videoSource = videoSource
        self.onVideoSourceLost = onVideoSourceLost
        self.host = host
        self.logger = logger
        self.audioSource = audioSource
        self.audioSink = audioSink
        self.pulse = pulse
        controls = Mutex(Controls(sendsAudio: sendsAudio, sendsVideo: sendsVideo, video: video))
    }

    /// Starts the receiving side (decode thread and audio playout) right away; sending waits for
    /// `startSending()` (the call is active).
    func start() {
        if case .pulse(let name) = audioSink, let pulse {
            let task = Task { [self] in
                do {
                    let sink = try await PulseAudioSink(connection: pulse, device: name, channelCount: 1)
                    pulseSink.withLock { $0 = sink }
                    if !controls.withLock({ $0.isRunning }) { sink.stop() }
                } catch {
                    logger.error("PulseAudio sink failed to open; received audio is analysed only", metadata: ["sink": "\(name)", "error": "\(error)"])
                }
            }
            audioTasks.withLock { $0.append(task) }
        }
        threadsDone.enter()
        startDetachedThread(name: "parley-vdec") { [self] in
            receiveVideo()
            threadsDone.leave()
        }
        threadsDone.enter()
        startDetachedThread(name: "parley-audio") { [self] in
            runAudio()
            threadsDone.leave()
        }
    }

    /// Starts the capture and encode threads (once).
    func startSending() {
        let first = controls.withLock { controls in
            defer { controls.isSending = true }
            return !controls.isSending && controls.isRunning
        }
        guard first else { return }
        threadsDone.enter()
        if videoSource.hasPrefix(DeviceCatalog.v4l2Prefix) {
            let path = String(videoSource.dropFirst(DeviceCatalog.v4l2Prefix.count))
            startDetachedThread(name: "parley-venc") { [self] in
                sendCameraVideo(path: path)
                threadsDone.leave()
            }
        } else {
            startDetachedThread(name: "parley-venc") { [self] in
                sendVideo()
                threadsDone.leave()
            }
        }
        // The synthetic microphone starts on the audio thread's next tick (it reads `isSending`).
        if case .pulse(let name) = audioSource, let pulse {
            let task = Task { [self] in await sendCapturedAudio(from: pulse, device: name) }
            audioTasks.withLock { $0.append(task) }
        }
    }

    /// Stops every thread and task and waits for them.
    func stop() async {
        controls.withLock { $0.isRunning = false }
        incomingVideo.close()
        cameraFrames.close()
        camera.withLock { $0?.stop() }
        defer { recordings.closeAll() }
        pulseSource.withLock { $0?.stop() }
        pulseSink.withLock { $0?.stop() }
        for task in audioTasks.withLock({ $0 }) {
            task.cancel()
            await task.value
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            threadsDone.notify(queue: .global()) { continuation.resume() }
        }
    }

    /// A video frame the session delivered, for the decode thread.
    func deliver(_ frame: IncomingVideoFrame) {
        if let dropped = incomingVideo.push(frame) {
            counters.withLock { $0.videoFramesDroppedByQueue += 1 }
            host.videoFrameUndecodable(dropped, call: call)
        }
    }

    /// Turns sending of each medium on or off.
    func setSending(audio: Bool? = nil, video: Bool? = nil) {
        controls.withLock { controls in
            if let audio { controls.sendsAudio = audio }
            if let video {
                if video, !controls.sendsVideo { controls.keyFrameWanted = true }
                controls.sendsVideo = video
            }
        }
    }

    /// New video settings from the next frame.
    func setVideo(_ settings: VideoSettings) {
        controls.withLock { controls in
            controls.video = settings
            controls.settingsChanged = true
        }
    }

    /// The peer asked for a key frame.
    func forceKeyFrame() {
        controls.withLock { $0.keyFrameWanted = true }
    }

    /// What the threads counted so far.
    var snapshot: MediaCounters { counters.withLock { $0 } }

    // MARK: - Sending

    private func sendVideo() {
        var settings = controls.withLock { $0.video }
        var camera: SyntheticCamera
        var encoder: VP8Encoder
        do {
            camera = try SyntheticCamera(width: settings.width, height: settings.height, frameRate: Double(settings.frameRate))
            encoder = try VP8Encoder(configuration: Self.encoderConfiguration(settings))
        } catch {
            logger.error("video source or encoder failed to start", metadata: ["error": "\(error)"])
            counters.withLock { $0.encodeFailures += 1 }
            return
        }
        counters.withLock { counters in
            counters.sentWidth = settings.width
            counters.sentHeight = settings.height
            counters.targetBitrate = settings.maximumBitrate
        }
        var next = HostClock.now()
        while true {
            let state = controls.withLock { controls in
                defer {
                    controls.settingsChanged = false
                    controls.keyFrameWanted = false
                }
                return controls
            }
            guard state.isRunning else { return }
            if state.settingsChanged, state.video != settings {
                do {
                    if state.video.width != settings.width || state.video.height != settings.height {
                        camera = try SyntheticCamera(
                            width: state.video.width, height: state.video.height, frameRate: Double(state.video.frameRate))
                        encoder = try VP8Encoder(configuration: Self.encoderConfiguration(state.video))
                    } else {
                        try encoder.apply(Self.encoderConfiguration(state.video))
                    }
                    settings = state.video
                    counters.withLock { counters in
                        counters.sentWidth = settings.width
                        counters.sentHeight = settings.height
                        counters.targetBitrate = settings.maximumBitrate
                    }
                } catch {
                    logger.warning("new video settings refused", metadata: ["error": "\(error)"])
                }
            }
            let interval = Duration.nanoseconds(1_000_000_000 / Int64(settings.frameRate))
            next = Self.sleep(until: next + interval, interval: interval) { skipped in
                counters.withLock { $0.videoFramesSkipped += skipped }
            }
            guard state.sendsVideo else { continue }
            if state.keyFrameWanted { encoder.forceKeyFrame() }
            let captured = HostClock.now()
            let frame = camera.nextFrame(captureInstant: captured)
            recordings.record(frame, as: .localVideo, frameRate: settings.frameRate)
            do {
                guard let encoded = try encoder.encode(frame) else { continue }
                send(encoded, captured: captured)
            } catch {
                counters.withLock { $0.encodeFailures += 1 }
            }
        }
    }

    /// The nice value of the audio threads: audio has a deadline every 20 ms and little work, so it goes
    /// ahead of the video encoder when cores are scarce (applied only where permitted, e.g. as root).
    static let audioThreadNice: Int32 = -10

    /// Captures from a V4L2 camera (the best mode at or under the call's size and rate; libv4l2 converts
    /// to I420) and sends its frames, paced by the camera. A camera that goes away ends video, not the
    /// call: `onVideoSourceLost` is told once.
    private func sendCameraVideo(path: String) {
        let settings = controls.withLock { $0.video }
        let capture: V4L2Capture
        do {
            capture = try V4L2Capture(
                path: path,
                request: V4L2CaptureRequest(
                    maximumWidth: settings.width, maximumHeight: settings.height, maximumFrameRate: Double(settings.frameRate)))
        } catch {
            logger.error("camera failed to open: no video is sent", metadata: ["camera": "\(path)", "error": "\(error)"])
            counters.withLock { $0.encodeFailures += 1 }
            onVideoSourceLost(DeviceCatalog.v4l2Prefix + path, error)
            return
        }
        camera.withLock { $0 = capture }
        logger.info(
            "capturing video from V4L2",
            metadata: ["camera": "\(path)", "card": "\(capture.device.card)", "size": "\(capture.size)", "rate": "\(capture.frameRate)"])
        let events = capture.events
        let frames = cameraFrames
        let lost = onVideoSourceLost
        let reader = Task {
            for await event in events {
                switch event {
                case .frame(let frame): _ = frames.push(frame)
                case .disconnected(let error), .failed(let error):
                    lost(DeviceCatalog.v4l2Prefix + path, error)
                    frames.close()
                    return
                }
            }
            frames.close()
        }
        defer {
            reader.cancel()
            capture.stop()
        }
        var encoder: VP8Encoder?
        var encoderSettings = settings
        while let frame = cameraFrames.pop() {
            let state = controls.withLock { controls in
                defer {
                    controls.settingsChanged = false
                    controls.keyFrameWanted = false
                }
                return controls
            }
            guard state.isRunning else { return }
            recordings.record(frame, as: .localVideo, frameRate: Int(capture.frameRate.rounded()))
            guard state.sendsVideo else { continue }
            do {
                // The camera decides the size; the call's settings give the bitrate.
                var wanted = state.video
                wanted.width = frame.width
                wanted.height = frame.height
                if encoder == nil || wanted != encoderSettings {
                    let configuration = Self.encoderConfiguration(wanted)
                    if let encoder, encoderSettings.width == wanted.width, encoderSettings.height == wanted.height {
                        try encoder.apply(configuration)
                    } else {
                        encoder = try VP8Encoder(configuration: configuration)
                    }
                    encoderSettings = wanted
                    counters.withLock { counters in
                        counters.sentWidth = wanted.width
                        counters.sentHeight = wanted.height
                        counters.targetBitrate = wanted.maximumBitrate
                    }
                }
                guard let encoder else { continue }
                if state.keyFrameWanted { encoder.forceKeyFrame() }
                guard let encoded = try encoder.encode(frame) else { continue }
                send(encoded, captured: frame.captureInstant)
            } catch {
                counters.withLock { $0.encodeFailures += 1 }
            }
        }
    }

    /// Records a captured audio block and, unless muted, encodes and sends it.
    private func send(_ frame: AudioFrame, through encoder: OpusEncoder, sending: Bool) {
        recordings.record(frame.samples, as: .localAudio)
        guard sending else { return }
        do {
            let encoded = try encoder.encode(frame)
            host.sendAudio(encoded.payload, sampleCount: encoded.sampleCount, call: call)
            counters.withLock { counters in
                counters.audioFramesEncoded += 1
                counters.audioBytesEncoded += encoded.payload.count
            }
        } catch {
            counters.withLock { $0.encodeFailures += 1 }
        }
    }

    /// Sends an encoded video frame captured at `captured` and counts it.
    private func send(_ encoded: EncodedVideoFrame, captured: MonotonicInstant) {
        host.sendVideoFrame(encoded.payload, isKeyFrame: encoded.isKeyFrame, captureInstant: captured, call: call)
        counters.withLock { counters in
            counters.videoFramesEncoded += 1
            counters.videoBytesEncoded += encoded.payload.count
            if encoded.isKeyFrame { counters.keyFramesEncoded += 1 }
        }
    }

    /// Captures from a PulseAudio source in 20 ms frames (the device's clock paces it) and sends them.
    private func sendCapturedAudio(from pulse: PulseAudioConnection, device: String) async {
        let source: PulseAudioSource
        let encoder: OpusEncoder
        do {
            source = try await PulseAudioSource(connection: pulse, device: device, channelCount: 1, frameDuration: .milliseconds(20))
            encoder = try OpusEncoder()
        } catch {
            logger.error("PulseAudio source failed to open: no audio is sent", metadata: ["source": "\(device)", "error": "\(error)"])
            counters.withLock { $0.encodeFailures += 1 }
            return
        }
        pulseSource.withLock { $0 = source }
        logger.info("capturing audio from PulseAudio", metadata: ["source": "\(device)"])
        for await frame in source.frames {
            let state = controls.withLock { $0 }
            guard state.isRunning, !Task.isCancelled else { break }
            send(frame, through: encoder, sending: state.sendsAudio)
        }
        source.stop()
    }

    static func encoderConfiguration(_ settings: VideoSettings) -> VP8EncoderConfiguration {
        VP8EncoderConfiguration.forCalls(
            width: settings.width, height: settings.height, frameRate: Double(settings.frameRate),
            bitrate: settings.maximumBitrate)
    }

    /// Sleeps until the tick `deadline` on CLOCK_MONOTONIC and returns it. A thread running late by up
    /// to `backlog` returns at once, tick after tick, so the ticks it missed are caught up; later than
    /// that, the missed ticks beyond the backlog are skipped (`skipped` says how many). A camera has no
    /// backlog (a late frame is gone); a sound card has one.
    static func sleep(
        until deadline: MonotonicInstant, interval: Duration, backlog: Duration = .zero, skipped: (Int) -> Void
    ) -> MonotonicInstant {
        let now = HostClock.now()
        var target = deadline
        let allowance = max(interval, backlog)
        if now - target > allowance {
            let missed = Int((now - target - backlog).totalNanoseconds / max(1, interval.totalNanoseconds))
            skipped(missed)
            target = target + interval * missed
        }
        if target <= now { return target }
        var spec = timespec(
            tv_sec: Int(target.nanoseconds / 1_000_000_000), tv_nsec: Int(target.nanoseconds % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &spec, nil) == EINTR {}
        return target
    }

    // MARK: - Receiving

    private func receiveVideo() {
        let decoder: VP8Decoder
        do {
            decoder = try VP8Decoder()
        } catch {
            logger.error("video decoder failed to start", metadata: ["error": "\(error)"])
            return
        }
        while let frame = incomingVideo.pop() {
            let picture: VideoFrame
            do {
                picture = try decoder.decode(frame.payload)
            } catch {
                counters.withLock { $0.videoDecodeFailures += 1 }
                host.videoFrameUndecodable(frame, call: call)
                continue
            }
            host.videoFrameDecoded(frame, call: call)
            recordings.record(picture, as: .receivedVideo, frameRate: 30)
            let now = HostClock.now()
            let stamp = VideoStamp.read(from: picture)
            counters.withLock { counters in
                counters.videoFramesDecoded += 1
                counters.decodedWidth = picture.width
                counters.decodedHeight = picture.height
                guard let stamp else {
                    counters.stampFailures += 1
                    return
                }
                counters.stampsRead += 1
                if let last = counters.lastStampFrameNumber, stamp.frameNumber <= last, stamp.frameNumber != 0 {
                    counters.stampsOutOfOrder += 1
                }
                counters.lastStampFrameNumber = stamp.frameNumber
                // The stamp holds 48 bits of microseconds of the sender's CLOCK_MONOTONIC.
                let wrap: Int64 = 1 << 48
                let latency = ((now.microseconds - stamp.captureInstant.microseconds) % wrap + wrap) % wrap
                counters.latencyLastMicroseconds = latency
                counters.latencyTotalMicroseconds += latency
                counters.latencyMaximumMicroseconds = max(counters.latencyMaximumMicroseconds, latency)
            }
        }
    }

    /// The full-duplex audio thread: every 20 ms on CLOCK_MONOTONIC, as a sound card would, it captures
    /// a block from the synthetic microphone and sends it (once sending started, unless the source is
    /// PulseAudio), then pulls 20 ms of the peer's audio, plays and analyses it. One thread for both
    /// halves costs one wake-up per block instead of two.
    ///
    /// Running late, the two halves differ: like a sound card's capture buffer, the microphone loses
    /// nothing (the missed blocks are produced at once, up to half a second of them; beyond, the time is
    /// skipped); a missed pull is skipped and counted, not made up in a burst (the jitter buffer's playout
    /// point moves on regardless, and a burst of pulls would only drain it).
    private func runAudio() {
        _ = parley_set_thread_nice(Self.audioThreadNice)
        let interval = OpusFrameDuration.milliseconds20.duration
        let samples = OpusFrameDuration.milliseconds20.sampleCount
        let capturesHere = audioSource == .builtIn
        var microphone: SyntheticMicrophone?
        var encoder: OpusEncoder?
        var captureFailed = false
        var listener = AudioMarkerListener()
        var next = HostClock.now()
        while true {
            let state = controls.withLock { $0 }
            guard state.isRunning else { return }
            next = Self.sleep(until: next + interval, interval: interval, backlog: capturesHere ? .milliseconds(500) : .zero) {
                skipped in counters.withLock { $0.audioPullsMissed += skipped }
            }
            if capturesHere, state.isSending, !captureFailed {
                if encoder == nil {
                    do {
                        microphone = try SyntheticMicrophone()
                        encoder = try OpusEncoder()
                    } catch {
                        logger.error("audio source or encoder failed to start", metadata: ["error": "\(error)"])
                        counters.withLock { $0.encodeFailures += 1 }
                        captureFailed = true
                    }
                }
                // The microphone runs on while muted, so unmuting resumes the signal where the time is.
                if let encoder, let frame = microphone?.nextFrame(sampleCount: samples, captureInstant: HostClock.now()) {
                    send(frame, through: encoder, sending: state.sendsAudio)
                }
            }
            // A tick caught up on for the microphone is more than one interval old: its pull is missed.
            guard HostClock.now() - next < interval else {
                counters.withLock { $0.audioPullsMissed += 1 }
                continue
            }
            play(samples, listener: &listener)
        }
    }

    /// Pulls `sampleCount` samples of the peer's audio, plays them on the PulseAudio sink if there is one,
    /// and listens for the microphone's markers in them.
    private func play(_ sampleCount: Int, listener: inout AudioMarkerListener) {
        guard let playout = host.pullAudioBlocking(sampleCount: sampleCount, call: call) else {
            counters.withLock { $0.audioPullsMissed += 1 }
            return
        }
        recordings.record(playout.samples, as: .receivedAudio)
        if let sink = pulseSink.withLock({ $0 }) {
            sink.play(AudioFrame(channelCount: 1, samples: playout.samples, captureInstant: HostClock.now()))
        }
        let heard = listener.listen(to: playout.samples)
        counters.withLock { counters in
            counters.audioSamplesPlayed += playout.samples.count
            counters.audioMarkersHeard += heard
        }
    }
}

/// A bounded first-in first-out queue between threads: `push` never blocks (when full it drops and
/// returns the oldest), `pop` blocks until an item comes or the queue is closed (then nil).
final class FrameQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var isClosed = false
    }

    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Adds `item`; returns the item dropped to make room, if any.
    func push(_ item: Element) -> Element? {
        let (dropped, accepted): (Element?, Bool) = state.withLock { state in
            guard !state.isClosed else { return (nil, false) }
            state.items.append(item)
            if state.items.count > capacity { return (state.items.removeFirst(), false) }
            return (nil, true)
        }
        if accepted { available.signal() }
        return dropped
    }

    /// The oldest item, waiting for one; nil once closed.
    func pop() -> Element? {
        while true {
            available.wait()
            let (item, closed): (Element?, Bool) = state.withLock { state in
                if state.isClosed { return (nil, true) }
                return (state.items.isEmpty ? nil : state.items.removeFirst(), false)
            }
            if closed { return nil }
            if let item { return item }
        }
    }

    /// Wakes the consumer for good.
    func close() {
        state.withLock { $0.isClosed = true }
        available.signal()
    }
}
