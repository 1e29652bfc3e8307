import Foundation
import ParleyControl
import ParleyDevices
import ParleyMedia
import Testing

/// Whether a test PulseAudio daemon is up (`Scripts/pulse-test-env run -- …`, which `make test` uses for
/// this suite); without one the suite is reported as skipped, never as passed.
let pulseTestDaemonIsUp = ProcessInfo.processInfo.environment["PULSE_SERVER"] != nil
    && ProcessInfo.processInfo.environment["PARLEY_PULSE_DIR"] != nil

/// A call whose caller captures from PulseAudio (the monitor of the test daemon's null sink) and whose
/// callee plays into PulseAudio (a second null sink, whose monitor the test records).
@Suite("parleyd with PulseAudio", .serialized, .enabled(if: pulseTestDaemonIsUp, "needs Scripts/pulse-test-env"))
struct PulseCallTests {
    @Test("A caller capturing from PulseAudio sends the markers played into the null sink; the callee plays them into PulseAudio and records them 500 ms apart")
    func pulseAudioSourceFeedsACall() async throws {
        // (A's playback stays on the analysis sink: played into parley_test it would loop B's own voice back.)
        async let startedA = Daemon("pulse-a", arguments: ["--audio-source", "pulse:parley_test.monitor"])
        // B plays what it receives into a second null sink (loaded below), whose monitor the test records.
        let module = try pactl("load-module", "module-null-sink", "sink_name=parley_playback")
        defer { _ = try? pactl("unload-module", module.trimmingCharacters(in: .whitespacesAndNewlines)) }
        async let startedB = Daemon("pulse-b", arguments: ["--auto-answer", "--audio-sink", "pulse:parley_playback"])
        let pair = try await DaemonPair(a: startedA, b: startedB)
        let a = try pair.a.client()
        let b = try pair.b.client()
        let devices = try await a.call(MethodName.v1("Devices/List"))
        let sources = devices["sources"]?.elements.compactMap { $0["id"]?.text } ?? []
        #expect(sources.contains("pulse:parley_test.monitor"), "sources: \(sources)")
        let sinks = devices["sinks"]?.elements.compactMap { $0["id"]?.text } ?? []
        #expect(sinks.contains("pulse:parley_test"), "sinks: \(sinks)")

        // Play the synthetic voice with its markers into the null sink whose monitor A captures.
        let connection = try await PulseAudioConnection(applicationName: "parley-test-player")
        let player = try await PulseAudioSink(connection: connection, device: "parley_test", channelCount: 1)
        let playing = Task {
            var microphone = try SyntheticMicrophone()
            let clock = ContinuousClock()
            let start = clock.now
            for block in 0..<400 {  // 8 s of 20 ms blocks, paced
                try await Task.sleep(until: start + .milliseconds(20 * block), clock: clock)
                player.play(microphone.nextFrame(sampleCount: 960, captureInstant: .zero))
            }
        }
        let uriB = try #require(try await b.call(MethodName.v1("Identity/Get"))["uri"]?.text)
        let call = try await a.call(MethodName.v1("Calls/Dial"), params: ["peer": .string(uriB), "wait": true])
        let callA = try #require(call["call_id"]?.text)
        let calls = try await b.call(MethodName.v1("Calls/List"))["calls"]?.elements ?? []
        let callB = try #require(calls.first?["call_id"]?.text)
        let recording = pair.b.directory.appendingPathComponent("from-pulse.wav").path
        _ = try await b.call(MethodName.v1("Calls/Record"), params: ["call_id": .string(callB), "received_audio": .string(recording)])
        // Meanwhile, B's playback into PulseAudio: what B pulls from its jitter buffer reaches its sink.
        let heard = try await playbackReachesPulseAudio(on: pair, call: callB)
        #expect(heard >= 3, "markers captured from the monitor of B's playback sink: \(heard)")
        _ = try await b.call(MethodName.v1("Calls/Record"), params: ["call_id": .string(callB), "received_audio": .null])
        let stats = try await a.call(MethodName.v1("Calls/Stats"), params: ["call_id": .string(callA)])
        playing.cancel()
        player.stop()
        connection.close()

        let sound = try WAVFile(path: recording)
        let markers = AudioMarker.detectStarts(in: sound.samples)
        let gaps = zip(markers.dropFirst(), markers).map { Double($0 - $1) / 48 }.sorted()
        #expect(markers.count >= 4, "markers in the callee's recording: \(markers)")
        #expect(!gaps.isEmpty && abs(gaps[gaps.count / 2] - 500) < 20, "median spacing \(gaps) ms")
        #expect((stats["outbound"]?.elements.first { $0["kind"]?.text == "audio" }?["framesEncoded"]?.double ?? 0) > 100)
        await pair.stop()
    }
}

/// Runs `pactl ARGS…` against the test daemon; its standard output.
func pactl(_ arguments: String...) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/pactl")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return text
}

/// Records 3 s of `parley_playback.monitor` while B's call plays into it; the markers found.
func playbackReachesPulseAudio(on pair: DaemonPair, call: String) async throws -> Int {
    let connection = try await PulseAudioConnection(applicationName: "parley-test-listener")
    defer { connection.close() }
    let source = try await PulseAudioSource(connection: connection, device: "parley_playback.monitor", channelCount: 1, frameDuration: .milliseconds(20))
    defer { source.stop() }
    var samples: [Int16] = []
    for await frame in source.frames {
        samples += frame.samples
        if samples.count >= 3 * 48_000 { break }
    }
    return AudioMarker.detectStarts(in: samples).count
}
