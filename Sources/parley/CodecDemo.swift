import ArgumentParser
import Foundation
import ParleyMedia
import ParleyWire
import Synchronization

/// `parley codec-demo`: synthetic camera and microphone through encoder and decoder, with live figures.
/// No engine and no network: it measures the codecs and the stamp and marker readers alone.
struct CodecDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec-demo",
        abstract: "Run the synthetic camera and microphone through VP8 and Opus and show live figures.",
        discussion: """
            Video: frames per second, bitrate, luma PSNR of decoded against source, stamps recognised,
            time from capture to decoded picture. Audio: bitrate, markers found against expected and
            their offset from their true position. Exits 0 when every stamp and marker was recognised.
            """
    )

    @Option(help: "How long to run, in seconds (1…600).")
    var seconds: Int = 10
    @Option(help: "Picture width in pixels.")
    var width: Int = 640
    @Option(help: "Picture height in pixels.")
    var height: Int = 480
    @Option(help: "Frames per second.")
    var frameRate: Double = 30
    @Option(help: "Video bitrate in bits per second.")
    var videoBitrate: Int = 1_000_000
    @Option(help: "Audio bitrate in bits per second.")
    var audioBitrate: Int = 48_000
    @Option(help: "Source pace: nominal (real time) or fast (as fast as the codecs go).")
    var pace: PaceOption = .nominal

    func validate() throws {
        guard (1...600).contains(seconds) else { throw ValidationError("--seconds must be 1…600") }
    }

    func run() async throws {
        let clock = SystemMediaClock()
        let stats = CodecDemoStats()
        let start = clock.now()
        let end = start + .seconds(seconds)
        let camera = try SyntheticCamera(width: width, height: height, frameRate: frameRate)
        let videoConfiguration = VP8EncoderConfiguration(
            width: width, height: height, frameRate: frameRate, bitrate: videoBitrate)
        let audioConfiguration = OpusEncoderConfiguration(bitrate: audioBitrate)
        _ = try VP8Encoder(configuration: videoConfiguration)  // refuse bad settings before printing anything
        _ = try OpusEncoder(configuration: audioConfiguration)

        print("parley codec-demo: \(width)x\(height) @ \(frameRate) fps VP8 \(videoBitrate / 1_000) kbit/s, "
            + "Opus \(audioBitrate / 1_000) kbit/s, \(seconds) s, \(pace.rawValue) pace")
        let pace = pace.capturePace
        print(CodecDemoStats.header)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await runVideo(
                    camera: camera, configuration: videoConfiguration, pace: pace, clock: clock, until: end, stats: stats)
            }
            group.addTask {
                try await runAudio(configuration: audioConfiguration, pace: pace, clock: clock, until: end, stats: stats)
            }
            group.addTask {
                var second = 1
                while clock.now() < end {
                    try await clock.sleep(until: min(end, start + .seconds(second)))
                    print(stats.takeReport(elapsed: clock.now() - start))
                    second += 1
                }
            }
            try await group.waitForAll()
        }
        let summary = stats.summary()
        print(summary.text)
        if !summary.passed { throw ExitCode.failure }
    }
}

/// The `--pace` choices.
enum PaceOption: String, ExpressibleByArgument {
    case nominal
    case fast

    var capturePace: CapturePace { self == .nominal ? .nominal : .asFastAsPossible }
}

private func runVideo(
    camera: SyntheticCamera, configuration: VP8EncoderConfiguration, pace: CapturePace, clock: SystemMediaClock,
    until end: MonotonicInstant, stats: CodecDemoStats
) async throws {
    var camera = camera
    let encoder = try VP8Encoder(configuration: configuration)
    let decoder = try VP8Decoder()
    var ticker = CaptureTicker(clock: clock, interval: camera.frameInterval, pace: pace)
    while true {
        let source = try await camera.nextFrame(pacedBy: &ticker)
        let captured = source.captureInstant
        guard captured < end else { break }
        let encodeStart = clock.now()
        guard let encoded = try encoder.encode(source) else { continue }
        let decodeStart = clock.now()
        let decoded = try decoder.decode(
            encoded.payload, presentationTime: encoded.presentationTime, captureInstant: encoded.captureInstant)
        let done = clock.now()
        let stamp = VideoStamp.read(from: decoded)
        let recognised = stamp == VideoStamp(frameNumber: camera.nextFrameNumber &- 1, captureInstant: captured)
        stats.recordVideo(
            bytes: encoded.payload.count, psnr: MediaQuality.psnr(decoded, reference: source) ?? 0,
            stampRecognised: recognised, encode: decodeStart - encodeStart, decode: done - decodeStart,
            captureToDecoded: stamp.map { done - $0.captureInstant } ?? .zero)
    }
}

private func runAudio(
    configuration: OpusEncoderConfiguration, pace: CapturePace, clock: SystemMediaClock, until end: MonotonicInstant,
    stats: CodecDemoStats
) async throws {
    var microphone = try SyntheticMicrophone(channelCount: configuration.channelCount)
    let encoder = try OpusEncoder(configuration: configuration)
    let decoder = try OpusDecoder(channelCount: configuration.channelCount)
    var ticker = CaptureTicker(clock: clock, interval: configuration.frameDuration.duration, pace: pace)
    var decoded: [Int16] = []
    var searchedUpTo = 0
    var lastMarker = Int.min
    while true {
        let source = try await microphone.nextFrame(pacedBy: &ticker)
        guard source.captureInstant < end else { break }
        let packet = try encoder.encode(source)
        let frame = try decoder.decode(packet.payload)
        decoded += configuration.channelCount == 1
            ? frame.samples : stride(from: 0, to: frame.samples.count, by: 2).map { frame.samples[$0] }
        // Look for markers in what arrived since the last search (overlapping by one marker length).
        guard decoded.count - searchedUpTo >= AudioFrame.sampleRate / 4 else {
            stats.recordAudio(bytes: packet.payload.count, markers: [])
            continue
        }
        let from = max(0, searchedUpTo - AudioMarker.length)
        let found = AudioMarker.detectStarts(in: Array(decoded[from...])).map { $0 + from }.filter { $0 > lastMarker + AudioMarker.length }
        lastMarker = found.last ?? lastMarker
        searchedUpTo = decoded.count
        let lookahead = encoder.lookahead
        // Match each detection to the true marker within 50 ms; anything else is a false detection.
        var offsets: [Duration] = []
        var falseDetections = 0
        for position in found {
            let near = (position - lookahead - 2_400)..<(position - lookahead + 2_400 + AudioMarker.length)
            if let truePosition = microphone.markerStarts(in: near).first {
                offsets.append(AudioFrame.duration(ofSamples: position - lookahead - truePosition))
            } else {
                falseDetections += 1
            }
        }
        stats.recordFalseMarkers(falseDetections)
        stats.recordAudio(bytes: packet.payload.count, markers: offsets)
        stats.setExpectedMarkers(microphone.markerStarts(in: 0..<(decoded.count - lookahead)).count)
    }
}

/// Figures the demo's tasks record and the reporter prints; shared, so behind a lock.
final class CodecDemoStats: Sendable {
    static let header = """
            t │ video fps  kbit/s  PSNR-Y   stamps  enc ms  dec ms  capture→decoded │ audio kbit/s  markers  offset ms (mean, worst)
        ──────┼────────────────────────────────────────────────────────────────────┼─────────────────────────────────────────────────
        """

    private struct Window {
        var frames = 0
        var videoBytes = 0
        var psnrSum = 0.0
        var stampsRecognised = 0
        var encodeSum = Duration.zero
        var decodeSum = Duration.zero
        var latencySum = Duration.zero
        var audioBytes = 0
        var markerOffsets: [Duration] = []
    }

    private struct State {
        var window = Window()
        var total = Window()
        var windowStart = Duration.zero
        var expectedMarkers = 0
        var falseMarkers = 0
        var worstMarkerOffset = Duration.zero
    }

    private let state = Mutex(State())

    func recordVideo(
        bytes: Int, psnr: Double, stampRecognised: Bool, encode: Duration, decode: Duration, captureToDecoded: Duration
    ) {
        state.withLock { state in
            for keyPath in [\State.window, \State.total] {
                state[keyPath: keyPath].frames += 1
                state[keyPath: keyPath].videoBytes += bytes
                state[keyPath: keyPath].psnrSum += psnr
                state[keyPath: keyPath].stampsRecognised += stampRecognised ? 1 : 0
                state[keyPath: keyPath].encodeSum += encode
                state[keyPath: keyPath].decodeSum += decode
                state[keyPath: keyPath].latencySum += captureToDecoded
            }
        }
    }

    func recordAudio(bytes: Int, markers: [Duration]) {
        state.withLock { state in
            for keyPath in [\State.window, \State.total] {
                state[keyPath: keyPath].audioBytes += bytes
                state[keyPath: keyPath].markerOffsets += markers
            }
            for offset in markers where abs(offset.inMilliseconds) > abs(state.worstMarkerOffset.inMilliseconds) {
                state.worstMarkerOffset = offset
            }
        }
    }

    func recordFalseMarkers(_ count: Int) {
        state.withLock { $0.falseMarkers += count }
    }

    func setExpectedMarkers(_ count: Int) {
        state.withLock { $0.expectedMarkers = count }
    }

    /// One line of figures for the time since the last report, then starts a new window.
    func takeReport(elapsed: Duration) -> String {
        state.withLock { state in
            let window = state.window
            let span = max(0.001, (elapsed - state.windowStart).inSeconds)
            state.window = Window()
            state.windowStart = elapsed
            let frames = max(1, window.frames)
            let offsetsMs = window.markerOffsets.map(\.inMilliseconds)
            let offsets = offsetsMs.isEmpty
                ? "—"
                : String(
                    format: "%+.2f, %+.2f", offsetsMs.reduce(0, +) / Double(offsetsMs.count),
                    offsetsMs.max { abs($0) < abs($1) }!)
            return String(
                format: "%4.0fs │ %9.1f %7.1f %5.1f dB %4d/%-4d %6.2f %7.2f %12.2f ms │ %12.1f %8d  %@",
                elapsed.inSeconds, Double(window.frames) / span, Double(window.videoBytes * 8) / span / 1_000,
                window.psnrSum / Double(frames), window.stampsRecognised, window.frames,
                window.encodeSum.inMilliseconds / Double(frames), window.decodeSum.inMilliseconds / Double(frames),
                window.latencySum.inMilliseconds / Double(frames), Double(window.audioBytes * 8) / span / 1_000,
                window.markerOffsets.count, offsets)
        }
    }

    /// The run's totals, and whether every stamp and every expected marker was recognised.
    func summary() -> (text: String, passed: Bool) {
        state.withLock { state in
            let total = state.total
            let frames = max(1, total.frames)
            let stampsOK = total.frames > 0 && total.stampsRecognised == total.frames
            let markersOK = total.markerOffsets.count >= state.expectedMarkers && state.expectedMarkers > 0
                && abs(state.worstMarkerOffset.inMilliseconds) <= 1 && state.falseMarkers == 0
            let text = String(
                format: """
                    total: %d frames, mean PSNR-Y %.1f dB, %d/%d stamps recognised, mean capture→decoded %.2f ms;
                           %d/%d audio markers found, %d false, worst offset %+.2f ms — %@
                    """,
                total.frames, total.psnrSum / Double(frames), total.stampsRecognised, total.frames,
                total.latencySum.inMilliseconds / Double(frames), total.markerOffsets.count, state.expectedMarkers,
                state.falseMarkers, state.worstMarkerOffset.inMilliseconds, stampsOK && markersOK ? "OK" : "FAILED")
            return (text, stampsOK && markersOK)
        }
    }
}
