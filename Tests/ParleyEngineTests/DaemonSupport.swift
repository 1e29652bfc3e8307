import Foundation
import ParleyControl
import Synchronization
import Testing

/// Where `parleyd` and the repository are: beside this test bundle, and above this file.
enum Locations {
    /// The build directory holding `parleyd` (the test bundle's own directory).
    static let binaries: URL = {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        // `swift test` runs `<bin>/ParleyPackageTests.xctest`; its parent is the bin directory.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("parleyd").path),
            directory.path != "/"
        {
            directory = directory.deletingLastPathComponent()
        }
        return directory
    }()

    /// The repository's root.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}

/// A real `parleyd` process on loopback with its own state directory and control socket.
final class Daemon: Sendable {
    let name: String
    let directory: URL
    let socketPath: String
    let process: Process
    let log: URL

    /// Starts `parleyd` (`extraArguments` appended) and waits until it answers `Engine/Health`.
    init(_ name: String, arguments extraArguments: [String] = []) async throws {
        self.name = name
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        socketPath = directory.appendingPathComponent("control.sock").path
        log = directory.appendingPathComponent("parleyd.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = Locations.binaries.appendingPathComponent("parleyd")
        process.arguments =
            [
                "--socket", socketPath, "--state-dir", directory.appendingPathComponent("state").path, "--port", "0",
                "--bind", "127.0.0.1", "--video-size", "320x240", "--log-level", "info",
            ] + extraArguments
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let clock = ContinuousClock()
        let end = clock.now + .seconds(15)
        while clock.now < end {
            if let client = try? ControlClient(connectingTo: socketPath),
                (try? await client.call(MethodName.v1("Engine/Health"))) != nil
            {
                client.close()
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DaemonError.didNotStart(name: name, log: logText)
    }

    /// A new control connection to this daemon.
    func client() throws -> ControlClient { try ControlClient(connectingTo: socketPath) }

    /// The daemon's log so far.
    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Sends `signal` to the process.
    func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits (up to `timeout`) for the process to exit; its exit status, or nil if it is still running.
    func waitForExit(timeout: Duration = .seconds(10)) async -> Int32? {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while process.isRunning, clock.now < end {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Ends the process (SIGTERM, then SIGKILL) and removes its directory.
    func stop() async {
        if process.isRunning {
            send(SIGTERM)
            if await waitForExit(timeout: .seconds(5)) == nil {
                send(SIGKILL)
                _ = await waitForExit()
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

enum DaemonError: Error, CustomStringConvertible {
    case didNotStart(name: String, log: String)

    var description: String {
        switch self {
        case .didNotStart(let name, let log): "parleyd \(name) did not start; its log:\n\(log)"
        }
    }
}

/// Every request and reply a test exchanged, for checking against the JSON Schemas.
final class TrafficRecorder: Sendable {
    struct Exchange: Sendable {
        var method: String
        var params: JSONObject
        var result: JSONValue?
        var events: [JSONValue]
    }

    private let exchanges = Mutex<[Exchange]>([])

    /// Calls `name` on `client`, recording the exchange.
    @discardableResult
    func call(_ client: ControlClient, _ name: String, _ params: JSONObject = [:], deadline: Duration? = nil) async throws -> JSONValue {
        let result = try await client.call(MethodName.v1(name), params: params, deadline: deadline)
        exchanges.withLock { $0.append(Exchange(method: name, params: params, result: result, events: [])) }
        return result
    }

    /// Records one event of `Calls/Watch`.
    func recordEvent(_ event: JSONValue, params: JSONObject = [:]) {
        exchanges.withLock { $0.append(Exchange(method: "Calls/Watch", params: params, result: nil, events: [event])) }
    }

    /// Everything recorded.
    var all: [Exchange] { exchanges.withLock { $0 } }
}

/// A `Calls/Watch` stream collected in the background.
final class EventLog: Sendable {
    /// The events, shared with the collecting task.
    final class Store: Sendable {
        let events = Mutex<[JSONValue]>([])
    }

    private let store = Store()
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts watching every call on `client`, with stats every `statsInterval` ms if given.
    init(_ client: ControlClient, recorder: TrafficRecorder? = nil, statsInterval: Int64? = nil) {
        var params: JSONObject = [:]
        if let statsInterval { params["stats_interval_ms"] = .number(JSONNumber(statsInterval)) }
        let watchParams = params
        let stream = client.stream(MethodName.v1("Calls/Watch"), params: params)
        task.withLock { task in
            task = Task { [store] in
                do {
                    for try await event in stream {
                        store.events.withLock { $0.append(event) }
                        recorder?.recordEvent(event, params: watchParams)
                    }
                } catch {}
            }
        }
    }

    /// Every event so far.
    var all: [JSONValue] { store.events.withLock { $0 } }

    /// Waits (up to `timeout`) for an event satisfying `match`, and returns it.
    func first(timeout: Duration = .seconds(10), where match: (JSONValue) -> Bool) async -> JSONValue? {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            if let found = all.first(where: match) { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return all.first(where: match)
    }

    /// Stops watching.
    func stop() {
        task.withLock { $0?.cancel() }
    }
}

/// Matchers for `Calls/Watch` events.
enum Events {
    static func isState(_ state: String, of call: String) -> (JSONValue) -> Bool {
        { $0["type"]?.text == "state_changed" && $0["call.call_id"]?.text == call && $0["state"]?.text == state }
    }

    static func isIncomingCall(_ event: JSONValue) -> Bool { event["type"]?.text == "incoming_call" }
}

/// The inbound stream of `kind` in a Stats result.
func inbound(_ stats: JSONValue, _ kind: String) -> JSONValue? {
    stats["inbound"]?.elements.first { $0["kind"]?.text == kind }
}

/// Two daemons: `a` rings (front-end decides), `b` as configured; both stopped by `stop()`.
struct DaemonPair {
    let a: Daemon
    let b: Daemon

    static func start(bArguments: [String] = []) async throws -> DaemonPair {
        async let a = Daemon("a")
        async let b = Daemon("b", arguments: bArguments)
        return try await DaemonPair(a: a, b: b)
    }

    func stop() async {
        await a.stop()
        await b.stop()
    }
}
