import Foundation
import ParleyDevices
import ParleyMedia
import ParleyWire
import Testing

/// PulseAudio on a real daemon: `Scripts/pulse-test-env` starts it with a null sink `parley_test`, whose
/// monitor `parley_test.monitor` records whatever is played into it. Parley's sink plays the synthetic
/// microphone's marker chirps (one every 500 ms) into the null sink, and Parley's source records them back.
///
/// Serialized: one test restarts the daemon, and all share its one null sink.
@Suite(.serialized, .enabled(if: PulseTestDaemon.isAvailable, PulseTestDaemon.skipReason))
struct PulseAudioDaemonTests {
    /// What one play-and-capture run saw.
    struct Capture {
        var channelCount: Int
        var clip: AudioFrame
        var frames: [ReceivedFrame]
        var sourceStatistics: PulseAudioSource.Statistics
        var sinkStatistics: PulseAudioSink.Statistics
        /// When the sink expected each played marker to be heard.
        var expectedPlayout: [MonotonicInstant?]
        /// Where the markers are in the clip, and when each 10 ms of the clip was handed to the sink.
        var playedMarkers: [Int]
        var handedOver: [MonotonicInstant]

        /// All captured samples, interleaved.
        var samples: [Int16] { frames.flatMap(\.frame.samples) }
        var frameSampleCount: Int { frames.first?.frame.sampleCount ?? 1 }

        /// When captured sample `index` (counted from the first frame) was captured, by the frame stamps.
        func captureInstant(ofSample index: Int) -> MonotonicInstant {
            let frame = frames[index / frameSampleCount].frame
            return frame.captureInstant + AudioFrame.duration(ofSamples: index % frameSampleCount)
        }

        /// When the frame holding captured sample `index` reached the test.
        func arrival(ofSample index: Int) -> MonotonicInstant { frames[index / frameSampleCount].arrival }
    }

    /// Plays 3 s of the synthetic microphone (6 markers) through Parley's sink into the null sink, and
    /// records 4 s from its monitor with Parley's source.
    func playAndCapture(channelCount: Int, frameDuration: Duration) async throws -> Capture {
        let connection = try await PulseAudioConnection()
        defer { connection.close() }
        let source = try await PulseAudioSource(
            connection: connection, device: PulseTestDaemon.monitor, channelCount: channelCount,
            frameDuration: frameDuration)
        let sink = try await PulseAudioSink(
            connection: connection, device: PulseTestDaemon.sink, channelCount: channelCount,
            maximumQueuedDuration: .seconds(5))
        var microphone = try SyntheticMicrophone(channelCount: channelCount)
        let clip = microphone.nextFrame(sampleCount: 3 * AudioFrame.sampleRate, captureInstant: .zero)

        let collecting = collectFrames(from: source, count: 4_000 / Int(frameDuration.inMilliseconds))
        try await Task.sleep(for: .milliseconds(200))
        // Hand the clip over in real time, 10 ms at a time, as a call's jitter buffer would.
        let start = sink.position
        let chunk = AudioFrame.sampleRate / 100
        var handedOver: [MonotonicInstant] = []
        let begin = testClock.now()
        for index in 0..<clip.sampleCount / chunk {
            try await testClock.sleep(until: begin + .milliseconds(10 * index))
            let samples = clip.samples[index * chunk * channelCount..<(index + 1) * chunk * channelCount]
            sink.play(AudioFrame(channelCount: channelCount, samples: Array(samples)))
            handedOver.append(testClock.now())
        }
        await sink.drain()
        let frames = await collecting.value
        source.stop()
        let markers = microphone.markerStarts(in: 0..<clip.sampleCount)
        let expected = markers.map { sink.estimatedPlayoutInstant(ofSample: start + $0) }
        let capture = Capture(
            channelCount: channelCount, clip: clip, frames: frames, sourceStatistics: source.statistics,
            sinkStatistics: sink.statistics, expectedPlayout: expected, playedMarkers: markers,
            handedOver: handedOver)
        sink.stop()
        return capture
    }

    @Test("markers played into the null sink are captured from its monitor 500 ms apart, latency reported")
    func capturedMarkersKeepTheirSpacing() async throws {
        let capture = try await playAndCapture(channelCount: 1, frameDuration: .milliseconds(10))
        #expect(capture.frames.count == 400)
        // Every sample arrives, in order: the presentation times run on without a gap.
        for (index, received) in capture.frames.enumerated() {
            #expect(received.frame.presentationTime == .milliseconds(10 * index), "frame \(index)")
        }
        let starts = AudioMarker.detectStarts(in: capture.samples)
        #expect(starts.count == 6, "markers found at \(starts)")
        let interval = AudioFrame.sampleRate / 2
        for (earlier, later) in zip(starts, starts.dropFirst()) {
            // 500 ms ± 1 ms, on the sample clock.
            #expect(abs(later - earlier - interval) <= AudioFrame.sampleRate / 1_000, "markers at \(earlier), \(later)")
        }

        // The frames' capture stamps put the markers 500 ms apart on the monotonic clock too. Each stamp is
        // read when the reading thread runs, so it carries that thread's scheduling delay: the spread is
        // printed (≈ 0.1 ms on an idle machine, ~2 ms under load) and only a bound far above any
        // scheduling delay is asserted — it catches a stamp that ignores the latency correction or its
        // units, not a slow machine.
        let instants = starts.map(capture.captureInstant(ofSample:))
        let deviations = zip(instants, instants.dropFirst()).map { abs(($1 - $0 - .milliseconds(500)).inMilliseconds) }
        print("PulseAudio capture: marker stamps deviate from 500 ms by at most \(deviations.max() ?? 0) ms")
        for deviation in deviations {
            #expect(deviation <= 20, "stamps \(instants)")
        }

        // Play-to-capture latency: from handing the 10 ms holding a marker's last sample to Parley's sink,
        // to receiving the frame holding it from Parley's source (sink buffer + null sink + capture).
        let last = AudioMarker.length - 1
        let loopLatencies = zip(starts, capture.playedMarkers).map { captured, played in
            capture.arrival(ofSample: captured + last) - capture.handedOver[(played + last) / (AudioFrame.sampleRate / 100)]
        }
        // Capture latency: from the instant the sink expected a marker's last sample to be played into the
        // null sink (its latency estimate) to the arrival of the frame holding it. The null sink renders
        // ahead of its clock and its monitor gets the samples then, so this comes out negative.
        let latencies = zip(starts, capture.expectedPlayout).compactMap { start, expected in
            expected.map { capture.arrival(ofSample: start + last) - ($0 + AudioFrame.duration(ofSamples: last)) }
        }
        let stampError = zip(instants, capture.expectedPlayout).compactMap { captured, expected in
            expected.map { milliseconds(captured - $0) }
        }
        let source = capture.sourceStatistics
        let sink = capture.sinkStatistics
        print(
            """
            PulseAudio capture (mono, 10 ms frames): fragment asked \(milliseconds(PulseAudioSource.fragment)), \
            granted \(source.fragment.map(milliseconds) ?? "?"); source latency libpulse reported at the last read \
            \(source.latency.map(milliseconds) ?? "?"); play-to-capture latency (10 ms handed to Parley's sink → \
            received from Parley's source) \(loopLatencies.map(milliseconds)), mean \
            \(milliseconds(loopLatencies.reduce(.zero, +) / max(1, loopLatencies.count))); marker's last sample \
            expected played → its frame received \(latencies.map(milliseconds)) (negative: the null sink renders \
            ahead, its monitor has samples before they are due); frames handed out after their last sample's \
            capture stamp: mean \(milliseconds(source.meanCaptureDelay)), max \
            \(milliseconds(source.maximumCaptureDelay)); overruns \(source.overruns)
            PulseAudio playback: buffer \(sink.bufferLength.map(milliseconds) ?? "?"), latency reported \
            \(sink.latency.map(milliseconds) ?? "?"), underruns \(sink.underruns) (the last at the clip's end)
            markers captured at samples \(starts); stamp spacing \
            \(zip(instants, instants.dropFirst()).map { milliseconds($1 - $0) }); capture stamp − sink's expected \
            playout \(stampError)
            """)
        #expect(source.overruns == 0)
    }

    @Test("Parley's stereo playback comes back from the monitor unchanged: same markers, same waveform")
    func playbackMatchesWhatWasPlayed() async throws {
        let capture = try await playAndCapture(channelCount: 2, frameDuration: .milliseconds(20))
        let left = firstChannel(of: capture.samples, channelCount: 2)
        let right = firstChannel(of: Array(capture.samples.dropFirst()), channelCount: 2)
        #expect(left == right, "the microphone puts the same signal on both channels")
        let played = firstChannel(of: capture.clip.samples, channelCount: 2)
        let playedStarts = AudioMarker.detectStarts(in: played)
        let capturedStarts = AudioMarker.detectStarts(in: left)
        #expect(capturedStarts.count == playedStarts.count, "captured \(capturedStarts), played \(playedStarts)")
        guard let offset = capturedStarts.first.map({ $0 - playedStarts[0] }), offset >= 0,
            offset + played.count <= left.count
        else {
            Issue.record("the clip is not wholly inside the capture (markers at \(capturedStarts))")
            return
        }
        #expect(capturedStarts.map { $0 - offset } == playedStarts)
        let recorded = Array(left[offset..<offset + played.count])
        var product = 0.0
        var playedEnergy = 0.0
        var recordedEnergy = 0.0
        var largestDifference = 0
        for (a, b) in zip(played, recorded) {
            product += Double(a) * Double(b)
            playedEnergy += Double(a) * Double(a)
            recordedEnergy += Double(b) * Double(b)
            largestDifference = max(largestDifference, abs(Int(a) - Int(b)))
        }
        let correlation = product / (playedEnergy * recordedEnergy).squareRoot()
        print(
            "PulseAudio stereo loop: clip found \(offset) samples into the capture; correlation \(correlation), "
                + "largest sample difference \(largestDifference); sink underruns \(capture.sinkStatistics.underruns)")
        #expect(correlation > 0.99)
    }

    @Test("a sink that runs dry counts each underrun and reports it")
    func underrunsAreCountedAndReported() async throws {
        let connection = try await PulseAudioConnection()
        defer { connection.close() }
        let sink = try await PulseAudioSink(connection: connection, device: PulseTestDaemon.sink)
        defer { sink.stop() }
        let events = sink.events()
        var microphone = try SyntheticMicrophone()
        for expected in 1...2 {
            // 100 ms at once, then nothing: the server plays it and runs dry.
            sink.play(microphone.nextFrame(sampleCount: 4_800, captureInstant: .zero))
            await sink.drain()
            let event = await first(in: events, within: .seconds(2)) { event in
                if case .underrun = event { return true }
                return false
            }
            #expect(event == .underrun(total: expected))
            #expect(sink.statistics.underruns == expected)
        }
        #expect(sink.statistics.samplesWritten == 9_600)
        #expect(sink.statistics.overruns == 0)
    }

    @Test("enumeration lists the null sink and its monitor, with descriptions")
    func enumerationListsTheNullSinkAndItsMonitor() async throws {
        let connection = try await PulseAudioConnection()
        defer { connection.close() }
        let devices = try await connection.devices()
        let sink = try #require(devices.first { $0.kind == .sink && $0.name == PulseTestDaemon.sink })
        #expect(sink.description == "Parley-test-sink")
        #expect(sink.sampleRate == 48_000)
        let monitor = try #require(devices.first { $0.kind == .source && $0.name == PulseTestDaemon.monitor })
        #expect(monitor.monitorOf == PulseTestDaemon.sink)
        #expect(monitor.description.contains("Parley-test-sink"))
        #expect(try await connection.sinks().contains(sink))
        #expect(try await connection.sources().contains(monitor))
    }

    @Test("a sink loaded and unloaded on the server is reported added and removed, with its monitor")
    func hotPlugEventsReportAddedAndRemovedDevices() async throws {
        let connection = try await PulseAudioConnection()
        defer { connection.close() }
        let events = connection.events()
        let module = try await PulseTestDaemon.pactl(
            "load-module", "module-null-sink", "sink_name=parley_hotplug",
            "sink_properties=device.description=Parley-hot-plug"
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        let added = await first(in: events, within: .seconds(5)) { event in
            if case .deviceAdded(let device) = event { return device.name == "parley_hotplug.monitor" }
            return false
        }
        try await PulseTestDaemon.pactl("unload-module", module)
        let removed = await first(in: events, within: .seconds(5)) { event in
            if case .deviceRemoved(let device) = event { return device.name == "parley_hotplug" }
            return false
        }
        guard case .deviceAdded(let monitor) = added else {
            Issue.record("no event for the new sink's monitor")
            return
        }
        #expect(monitor.monitorOf == "parley_hotplug")
        guard case .deviceRemoved(let sink) = removed else {
            Issue.record("no event for the removed sink")
            return
        }
        #expect(sink.kind == .sink)
        #expect(sink.description == "Parley-hot-plug")
        #expect(try await !connection.sinks().contains { $0.name == "parley_hotplug" })
    }

    @Test("a source that does not exist is reported by name")
    func missingDeviceIsNamed() async throws {
        let connection = try await PulseAudioConnection()
        defer { connection.close() }
        await #expect(throws: DeviceError.notFound("parley_no_such_source")) {
            _ = try await PulseAudioSource(connection: connection, device: "parley_no_such_source")
        }
        await #expect(throws: DeviceError.notFound("parley_no_such_sink")) {
            _ = try await PulseAudioSink(connection: connection, device: "parley_no_such_sink")
        }
    }

    @Test("after `pulseaudio --kill` and a restart mid-capture, capture resumes within 2 s with an event")
    func captureResumesAfterTheDaemonRestarts() async throws {
        let connection = try await PulseAudioConnection()
        defer { connection.close() }
        let connectionEvents = connection.events()
        let source = try await PulseAudioSource(connection: connection, device: PulseTestDaemon.monitor)
        defer { source.stop() }
        let sourceEvents = source.events()
        let sink = try await PulseAudioSink(connection: connection, device: PulseTestDaemon.sink)
        defer { sink.stop() }
        let sinkEvents = sink.events()

        // The microphone plays on and on: 100 ms whenever less than 200 ms is queued.
        let feeding = Task {
            var microphone = try SyntheticMicrophone()
            while !Task.isCancelled {
                if sink.queuedDuration < .milliseconds(200) {
                    sink.play(microphone.nextFrame(sampleCount: 4_800, captureInstant: .zero))
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        defer { feeding.cancel() }
        let collecting = collectFrames(from: source, count: 100_000)

        try await Task.sleep(for: .seconds(1))
        let killed = testClock.now()
        try await PulseTestDaemon.control("stop")  // pulseaudio --kill
        let lost = await first(in: connectionEvents, within: .seconds(2)) { event in
            if case .connectionLost = event { return true }
            return false
        }
        #expect(lost != nil, "the connection reports the loss")
        try await Task.sleep(for: .milliseconds(300))
        try await PulseTestDaemon.control("start")
        let ready = testClock.now()

        let resumed = await first(in: sourceEvents, within: .seconds(5)) { event in
            if case .resumed = event { return true }
            return false
        }
        let resumedAt = testClock.now()
        let reconnected = await first(in: connectionEvents, within: .seconds(1)) { event in
            if case .reconnected = event { return true }
            return false
        }
        let sinkResumed = await first(in: sinkEvents, within: .seconds(1)) { event in
            if case .resumed = event { return true }
            return false
        }
        try await Task.sleep(for: .milliseconds(1_500))
        source.stop()
        let frames = await collecting.value

        let firstNewFrame = frames.first { $0.frame.captureInstant >= ready }
        print(
            """
            PulseAudio restart: killed at 0, daemon answering again after \(milliseconds(ready - killed)); \
            source \(resumed.map { "\($0)" } ?? "never resumed") \(milliseconds(resumedAt - ready)) after the \
            daemon was back; first frame from the new daemon received \
            \(firstNewFrame.map { milliseconds($0.arrival - ready) } ?? "never") after it was back; \
            connection \(reconnected.map { "\($0)" } ?? "no event"); sink \(sinkResumed.map { "\($0)" } ?? "no event")
            """)
        #expect(resumed != nil, "the source reports that it resumed")
        #expect(reconnected != nil, "the connection reports that it reconnected")
        #expect(sinkResumed != nil, "the sink reports that it resumed")
        let newFrame = try #require(firstNewFrame, "frames flow again")
        #expect(newFrame.arrival - ready <= .seconds(2))
        // Presentation times keep increasing across the gap, and what the sink plays after the restart
        // is captured: markers are found in the frames from the new daemon.
        for (earlier, later) in zip(frames, frames.dropFirst()) {
            #expect(later.frame.presentationTime > earlier.frame.presentationTime)
        }
        let after = frames.filter { $0.frame.captureInstant >= ready }.flatMap(\.frame.samples)
        #expect(!AudioMarker.detectStarts(in: after).isEmpty, "markers after the restart")
    }
}

/// Errors that need no daemon.
@Suite struct PulseAudioServerErrorTests {
    @Test("a server that is not there gives serverUnavailable naming it")
    func missingServerIsNamed() async {
        let server = "unix:/nonexistent/parley-\(getpid())/native"
        do {
            _ = try await PulseAudioConnection(server: server)
            Issue.record("connected to \(server)")
        } catch {
            guard case .serverUnavailable(let named, let reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(named == server)
            #expect(!reason.isEmpty)
            #expect(error.description.contains(server))
            print("missing server: \(error)")
        }
    }
}
