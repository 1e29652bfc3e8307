import Foundation
import ParleyDevices
import ParleyMedia
import ParleyWire
import Testing

/// The PulseAudio daemon `Scripts/pulse-test-env` starts for the device tests.
///
/// The tests that need it are enabled only when the script runs them (`make test` wraps the device
/// tests in `Scripts/pulse-test-env run -- …`, which exports `PULSE_SERVER` and `PARLEY_PULSE_DIR`).
/// Without them those tests are reported as *skipped*, with this reason, never as passed.
enum PulseTestDaemon {
    static let environment = ProcessInfo.processInfo.environment

    /// True when a test daemon from `Scripts/pulse-test-env` is there to use.
    static var isAvailable: Bool {
        environment["PULSE_SERVER"] != nil && environment["PARLEY_PULSE_DIR"] != nil
    }

    static let skipReason: Comment =
        "needs the test PulseAudio daemon: run under `Scripts/pulse-test-env run -- swift test …` (make test does)"

    /// The null sink the script loads, and its monitor.
    static let sink = "parley_test"
    static let monitor = "parley_test.monitor"

    /// The script, as exported by itself, else found from this file's path.
    static var script: String {
        if let path = environment["PARLEY_PULSE_SCRIPT"] { return path }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Scripts/pulse-test-env").path
    }

    /// Runs `Scripts/pulse-test-env <command>` for this run's daemon; throws if it fails.
    static func control(_ command: String) async throws {
        try await run(script, [command])
    }

    /// Runs `pactl ARGS…` against the test daemon and returns its output.
    @discardableResult
    static func pactl(_ arguments: String...) async throws -> String {
        try await run("/usr/bin/env", ["pactl"] + arguments)
    }

    @discardableResult
    private static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard status == 0 else {
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) exited with \(status): \(text)")
        }
        return text
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The machine's monotonic clock (the one capture instants are on).
let testClock = SystemMediaClock()

/// A frame as it arrived, with the instant the test received it.
struct ReceivedFrame: Sendable {
    var frame: AudioFrame
    var arrival: MonotonicInstant
}

/// Reads `source.frames` in a task of its own until `count` frames have come (or the stream ends).
func collectFrames(from source: PulseAudioSource, count: Int) -> Task<[ReceivedFrame], Never> {
    Task {
        var received: [ReceivedFrame] = []
        for await frame in source.frames {
            received.append(ReceivedFrame(frame: frame, arrival: testClock.now()))
            if received.count >= count { break }
        }
        return received
    }
}

/// Waits up to `timeout` for the first element of `stream` that `matches`; nil if none came in time.
func first<Element: Sendable>(
    in stream: AsyncStream<Element>, within timeout: Duration, where matches: @escaping @Sendable (Element) -> Bool
) async -> Element? {
    await withTaskGroup(of: Element?.self) { group in
        group.addTask {
            for await element in stream where matches(element) { return element }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let result = await group.next() ?? nil
        group.cancelAll()
        return result
    }
}

/// The first channel of interleaved `samples`.
func firstChannel(of samples: [Int16], channelCount: Int) -> [Int16] {
    channelCount == 1 ? samples : stride(from: 0, to: samples.count, by: channelCount).map { samples[$0] }
}

/// Milliseconds with one decimal, for reports.
func milliseconds(_ duration: Duration) -> String {
    String(format: "%.1f ms", duration.inMilliseconds)
}
