import ArgumentParser
import Foundation
import Glibc
import ParleyControl
import Synchronization

/// `parley demo`: two real engines on loopback call each other, and the figures prove that
/// encrypted audio and video flowed both ways.
///
/// Starts two `parleyd` processes (A and B) with temporary state, waits until both answer
/// `Engine/Health`, watches both (`Calls/Watch`), has A dial B and B accept, checks that both ends
/// show the same SAS, shows a live table for `--seconds`, hangs up, shuts both engines down and
/// prints a summary. Exits 0 only when, at each end, the call became active, video frames were
/// decoded and their stamps read, audio packets arrived and left the jitter buffer, and the SAS
/// matched. Whatever happens (a failure, Ctrl-C), the daemons are stopped: `Engine/Shutdown`, then
/// SIGTERM, then SIGKILL; a second Ctrl-C kills them at once.
struct LoopbackDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start two engines on loopback, call one from the other, and show the media flowing.",
        discussion: """
            Needs parleyd (by default the one next to this parley). Each engine gets a temporary \
            state directory and control socket, logs to a.log / b.log there (shown if something \
            fails), and is stopped at the end, also on failure or Ctrl-C. Exit status 0 when media \
            flowed both ways and was decrypted, 1 otherwise (with the reason), 130 when interrupted.
            """)

    @Option(help: "How long the call lasts, in seconds (1…3600).")
    var seconds: Int = 20
    @Option(help: ArgumentHelp("The parleyd executable (default: next to parley).", valueName: "path"))
    var parleyd: String?
    @Flag(help: "Keep the temporary directory (state, sockets, logs) and print where it is.")
    var keepState = false
    @Flag(help: "No progress lines nor live table: only the summary.")
    var quiet = false

    func validate() throws {
        guard (1...3_600).contains(seconds) else { throw ValidationError("--seconds must be 1…3600") }
    }

    func run() async throws {
        let executable = try locateParleyd()
        let directory: String
        do { directory = try makeTemporaryDirectory() } catch { throw failure(error) }
        let engines = DemoEngines(directory: directory, executable: executable)
        let settings = DemoSettings(seconds: seconds, quiet: quiet, directory: directory)
        let keepState = keepState

        let (result, interrupted) = await runInterruptibly(onRepeat: {
            Terminal.error("\nparley demo: interrupted twice; killing the engines")
            ChildProcess.killAll()
            if !keepState { try? FileManager.default.removeItem(atPath: directory) }
        }) {
            try await DemoRun(engines: engines, settings: settings).run()
        }

        // Clean up from this task, which Ctrl-C does not cancel.
        if interrupted { Terminal.error("\nparley demo: interrupted; stopping the engines…") }
        let stops = await engines.shutDown()
        var exitCode: Int32 = 0
        switch result {
        case .success(let outcome):
            let (lines, failures) = outcome.summary(stops: stops)
            for line in lines { Terminal.out(line) }
            if !failures.isEmpty {
                exitCode = 1
                engines.printLogTails()
            }
        case .failure(let error):
            if !interrupted { Terminal.error("parley demo: FAILED — \(DemoRun.describe(error))") }
            for end in End.allCases { Terminal.error("  parleyd \(end.rawValue) \(stops[end] ?? "not started")") }
            if !interrupted { engines.printLogTails() }
            exitCode = interrupted ? 130 : 1
        }
        if keepState {
            Terminal.out("state, sockets and logs kept in \(directory)")
        } else {
            try? FileManager.default.removeItem(atPath: directory)
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }

    /// `--parleyd`, or `parleyd` in the directory of the running executable (/proc/self/exe).
    private func locateParleyd() throws -> String {
        let path: String
        if let parleyd {
            path = parleyd
        } else {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
            guard length > 0 else { throw failure(CLIFailure("cannot read /proc/self/exe; pass --parleyd PATH")) }
            let exe = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            path = (exe as NSString).deletingLastPathComponent + "/parleyd"
        }
        guard access(path, X_OK) == 0 else {
            throw failure(
                CLIFailure("no executable parleyd at \(path) (build it: swift build --product parleyd, or pass --parleyd PATH)"))
        }
        return path
    }

    /// A new directory `parley-demo.XXXXXX` under $TMPDIR (when short enough for socket paths) or /tmp.
    private func makeTemporaryDirectory() throws(CLIFailure) -> String {
        var base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        if base.isEmpty || base.utf8.count > 60 { base = "/tmp" }
        var template = Array((base + "/parley-demo.XXXXXX").utf8CString)
        guard let result = mkdtemp(&template) else {
            throw CLIFailure("cannot create a temporary directory in \(base): \(errnoText(errno))")
        }
        return String(cString: result)
    }

    private func failure(_ error: any Error) -> any Error {
        if let failure = error as? CLIFailure { Terminal.error("parley demo: \(failure.message)") }
        return ExitCode(1)
    }
}

/// The two ends of the demo call.
enum End: String, CaseIterable, Sendable, Hashable {
    case a = "A"
    case b = "B"

    /// The other end.
    var peer: End { self == .a ? .b : .a }
    /// The end's name in file names: `a`, `b`.
    var file: String { rawValue.lowercased() }
}

/// What the demo run needs to know from the command line.
struct DemoSettings: Sendable {
    var seconds: Int
    var quiet: Bool
    var directory: String
}

/// A failure of the demo, with the reason printed to the user.
struct DemoFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// The two engines: their processes, control connections and files. Shared between the run (which
/// starts them) and the command (which stops them whatever happened), so behind a lock.
final class DemoEngines: Sendable {
    /// The temporary directory.
    let directory: String
    /// The parleyd executable.
    let executable: String

    private struct Engine {
        var process: ChildProcess?
        var connection: EngineConnection?
    }

    private let engines = Mutex<[End: Engine]>([.a: Engine(), .b: Engine()])

    init(directory: String, executable: String) {
        self.directory = directory
        self.executable = executable
    }

    /// The control socket of `end`.
    func socketPath(_ end: End) -> String { "\(directory)/\(end.file).sock" }
    /// The log file of `end`.
    func logPath(_ end: End) -> String { "\(directory)/\(end.file).log" }

    /// Starts `end`'s parleyd: `--socket DIR/a.sock --state-dir DIR/a --port 0 --bind 127.0.0.1
    /// --log-level warning --exit-with-parent` (so even a killed demo leaves no engine behind), output
    /// into DIR/a.log.
    func start(_ end: End) throws -> ChildProcess {
        let stateDirectory = "\(directory)/\(end.file)"
        guard mkdir(stateDirectory, 0o700) == 0 || errno == EEXIST else {
            throw DemoFailure("cannot create \(stateDirectory): \(errnoText(errno))")
        }
        let process = try ChildProcess.spawn(
            name: "parleyd \(end.rawValue)", executable: executable,
            arguments: [
                "--socket", socketPath(end), "--state-dir", stateDirectory, "--port", "0", "--bind", "127.0.0.1",
                "--log-level", "warning", "--exit-with-parent",
            ],
            logPath: logPath(end))
        engines.withLock { $0[end]?.process = process }
        return process
    }

    /// `end`'s process, once started.
    func process(_ end: End) -> ChildProcess? {
        engines.withLock { $0[end]?.process }
    }

    /// Records `end`'s control connection (closed by `shutDown`).
    func attach(_ connection: EngineConnection, to end: End) {
        engines.withLock { $0[end]?.connection = connection }
    }

    /// Stops both engines, in parallel: `Engine/Shutdown` when connected and up to 5 s for the
    /// process to exit, then (or at once when it could not be asked) SIGTERM, 5 s, SIGKILL.
    /// Returns how each ended.
    func shutDown() async -> [End: String] {
        let snapshot = engines.withLock { engines in
            engines.mapValues { ($0.process, $0.connection) }
        }
        return await withTaskGroup(of: (End, String?).self) { group in
            for (end, (process, connection)) in snapshot {
                group.addTask {
                    var notes: [String] = []
                    var asked = false
                    if let connection {
                        if let process, process.poll() == nil {
                            do {
                                _ = try await connection.call(Method.shutdown, timeout: .seconds(3))
                                asked = true
                            } catch {
                                notes.append("Engine/Shutdown failed (\(DemoRun.describe(error)))")
                            }
                        }
                        connection.close()
                    }
                    guard let process else { return (end, nil) }
                    let (termination, forced) = await process.stop(asked: asked, grace: .seconds(5))
                    return (end, ([termination.description] + notes + [forced].compactMap { $0 }).joined(separator: "; "))
                }
            }
            var result: [End: String] = [:]
            for await (end, text) in group { result[end] = text }
            return result
        }
    }

    /// Prints the last lines of both logs to stderr.
    func printLogTails(lines count: Int = 15) {
        for end in End.allCases {
            let path = logPath(end)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0)
            guard !text.isEmpty else {
                Terminal.error("── \(end.file).log: empty ──")
                continue
            }
            Terminal.error("── \(end.file).log (last \(min(count, lines.count)) of \(lines.count) lines) ──")
            for line in lines.suffix(count) { Terminal.error("  " + line) }
        }
    }
}

/// What the demo's event reader receives: an event of one end's watch, the end of a watch, or a
/// tick of the clock (so that timeouts and redraws happen while no event arrives).
private enum DemoInput: Sendable {
    case event(End, JSONValue)
    case watchEnded(End, String)
    case tick
}

/// One end's view of the call, as its events tell it.
struct EndState {
    var identity = JSONView(nil)
    var callID: String?
    var state: String?
    var endReason: String?
    var endDetail: String?
    var becameActive = false
    var sas = JSONView(nil)
    var safetyNumber: String?
    var stats: JSONView?
    var statsReceived: ContinuousClock.Instant?
    var peerKey: String?
    var snapshotSeen = false
    var accepted = false
}

/// The demo's steps, run in one task: start, connect, call, measure, hang up.
private final class DemoRun {
    let engines: DemoEngines
    let settings: DemoSettings
    private var connections: [End: EngineConnection] = [:]
    private var ends: [End: EndState] = [.a: EndState(), .b: EndState()]
    private var inputs: AsyncStream<DemoInput>.Iterator
    private let input: AsyncStream<DemoInput>.Continuation
    private var tasks: [Task<Void, Never>] = []
    private let clock = ContinuousClock()
    private var table = LiveBlock()
    private var running: (start: ContinuousClock.Instant, lastDraw: ContinuousClock.Instant)?

    init(engines: DemoEngines, settings: DemoSettings) {
        self.engines = engines
        self.settings = settings
        let (stream, continuation) = AsyncStream<DemoInput>.makeStream()
        inputs = stream.makeAsyncIterator()
        input = continuation
    }

    /// Runs the demo; returns the figures for the summary or throws why it failed.
    func run() async throws -> DemoOutcome {
        defer {
            for task in tasks { task.cancel() }
            input.finish()
        }
        say("parley demo: two engines on 127.0.0.1, \(settings.seconds) s call, files in \(settings.directory)")
        for end in End.allCases { _ = try engines.start(end) }
        try await waitUntilHealthy()
        for end in End.allCases {
            ends[end]?.identity = try await connection(end).call(Method.identity)
            say("\(end.rawValue): \(ends[end]?.identity["uri"].string ?? "?")")
        }
        startWatching()
        try await waitUntil("both watches to start", timeout: .seconds(5)) {
            self.ends.values.allSatisfy(\.snapshotSeen)
        }

        let target = ends[.b]!.identity
        guard let uri = target["uri"].string else { throw DemoFailure("B's Identity/Get has no uri") }
        var dial: JSONObject = ["peer": .string(uri)]
        if !uri.contains("@") {
            guard let address = target["addresses"].strings.first else {
                throw DemoFailure("B's identity has no address (uri \(uri), no addresses)")
            }
            dial["address"] = .string(address)
        }
        let call = try await connection(.a).call(Method.dial, dial)
        ends[.a]?.callID = call["call_id"].string
        say("A: dialing B (\(ends[.a]?.callID ?? "?"))")

        try await waitUntil("the call to become active at both ends", timeout: .seconds(30)) {
            try self.ends.values.allSatisfy { end in
                if end.state == "ended" {
                    throw DemoFailure("a call ended before it became active: \(end.endReason ?? "?")"
                        + (end.endDetail.map { " (\($0))" } ?? ""))
                }
                return end.becameActive && !end.sas.isNull
            }
        }
        let sasMatched = compareVerification()

        try await measure()
        finishTable()
        // The summary reads the engines' cumulative counters at this moment.
        var finalStats: [End: JSONView] = [:]
        for end in End.allCases {
            guard let id = ends[end]?.callID else { continue }
            finalStats[end] = (try? await connection(end).call(Method.stats, ["call_id": .string(id)], timeout: .seconds(5)))
                ?? ends[end]?.stats
        }

        say("A: hanging up")
        _ = try await connection(.a).call(Method.hangup, ["call_id": .string(ends[.a]?.callID ?? "")])
        try await waitUntil("both ends to end the call", timeout: .seconds(10)) {
            self.ends.values.allSatisfy { $0.state == "ended" }
        }
        return DemoOutcome(
            seconds: settings.seconds, ends: ends, finalStats: finalStats, sasMatched: sasMatched)
    }

    // MARK: Steps

    /// Polls both engines' `Engine/Health` until both answer SERVING, for at most 10 s.
    private func waitUntilHealthy() async throws {
        let start = clock.now
        let deadline = start + .seconds(10)
        for end in End.allCases {
            while true {
                if let termination = engineProcessEnded(end) {
                    throw DemoFailure("parleyd \(end.rawValue) \(termination) while starting")
                }
                if let connection = try? EngineConnection.open(engines.socketPath(end)) {
                    let health = try? await connection.call(Method.health, timeout: .seconds(1))
                    if health?["status"].string == "SERVING" {
                        connections[end] = connection
                        engines.attach(connection, to: end)
                        say("\(end.rawValue): parleyd ready after \(Format.number((clock.now - start).seconds, decimals: 2)) s")
                        break
                    }
                    connection.close()
                }
                guard clock.now < deadline else {
                    throw DemoFailure("parleyd \(end.rawValue) did not answer Engine/Health within 10 s")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Opens `Calls/Watch` (stats every second) on both engines, and a 250 ms ticker.
    private func startWatching() {
        for end in End.allCases {
            guard let connection = connections[end] else { continue }
            let input = self.input
            tasks.append(
                Task {
                    do {
                        for try await event in connection.watch(["stats_interval_ms": 1000]) {
                            input.yield(.event(end, event))
                        }
                        input.yield(.watchEnded(end, "its event stream ended"))
                    } catch {
                        input.yield(.watchEnded(end, "its event stream failed: \(DemoRun.describe(error))"))
                    }
                })
        }
        let input = self.input
        tasks.append(
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    input.yield(.tick)
                }
            })
    }

    /// Prints both SAS and safety numbers; returns whether they match.
    private func compareVerification() -> Bool {
        let a = ends[.a]!
        let b = ends[.b]!
        let matched = a.sas.value == b.sas.value
        let numbersMatch = a.safetyNumber == b.safetyNumber
        say("A: call \(a.callID ?? "?") active; SAS  \(CallSummary.sasText(a.sas) ?? "-")")
        say("B: call \(b.callID ?? "?") active; SAS  \(CallSummary.sasText(b.sas) ?? "-")")
        say("SAS equal: \(matched ? "yes" : "NO")   safety numbers equal: \(numbersMatch ? "yes" : "NO")")
        return matched && numbersMatch
    }

    /// Shows the live table for `seconds`, redrawn every second; `finishTable` ends it.
    private func measure() async throws {
        let start = clock.now
        running = (start, start - .seconds(1))
        if !settings.quiet { Terminal.out() }
        let end = start + .seconds(settings.seconds)
        // The last table shows samples taken at the end: wait for one more stats event from each
        // engine (they come every second), or 1.5 s at most.
        try await waitUntil("the measurement", timeout: .seconds(settings.seconds + 5)) {
            for state in self.ends.values where state.state == "ended" {
                throw DemoFailure("a call ended during the measurement: \(state.endReason ?? "?")")
            }
            let now = self.clock.now
            let fresh = self.ends.values.allSatisfy { ($0.statsReceived ?? start) >= end - .milliseconds(300) }
            return now >= end && (fresh || now >= end + .milliseconds(1_500))
        }
    }

    /// Redraws the table a last time, and leaves it on the screen.
    private func finishTable() {
        draw()
        running = nil
        if !settings.quiet && table.inPlace { Terminal.out() }
    }

    /// Reads inputs until `condition` holds; throws when it does not within `timeout`, when a watch
    /// ends, or when the task is cancelled.
    private func waitUntil(_ what: String, timeout: Duration, _ condition: () throws -> Bool) async throws {
        let deadline = clock.now + timeout
        while try !condition() {
            try Task.checkCancellation()
            guard clock.now < deadline else { throw DemoFailure("timed out after \(timeout) waiting for \(what)") }
            guard let next = await inputs.next() else {
                try Task.checkCancellation()
                throw DemoFailure("the event streams closed")
            }
            try await handle(next)
        }
    }

    // MARK: Events

    private func handle(_ input: DemoInput) async throws {
        switch input {
        case .tick:
            // Each second, but not at the very end: `finishTable` draws that one.
            if let running, clock.now - running.lastDraw >= .seconds(1),
                clock.now - running.start < .seconds(settings.seconds) - .milliseconds(100)
            {
                draw()
            }
        case .watchEnded(let end, let reason):
            let exit = engineProcessEnded(end).map { "; parleyd \(end.rawValue) \($0)" } ?? ""
            throw DemoFailure("\(end.rawValue): \(reason)\(exit)")
        case .event(let end, let value):
            try await handle(JSONView(value), at: end)
        }
    }

    private func handle(_ event: JSONView, at end: End) async throws {
        switch event["type"].string {
        case "snapshot":
            ends[end]?.snapshotSeen = true
        case "call_added":
            update(end, call: event["call"])
        case "incoming_call":
            update(end, call: event["call"])
            if end == .b { try await accept(event["call"]) }
        case "state_changed":
            update(end, call: event["call"])
            if ends[end]?.state == "ended" {
                ends[end]?.endReason = event["reason"].string ?? event["call"]["end_reason"].string ?? ends[end]?.endReason
            }
        case "verification":
            guard event["call_id"].string == ends[end]?.callID else { return }
            ends[end]?.sas = event["sas"]
            ends[end]?.safetyNumber = event["safety_number"].string ?? ends[end]?.safetyNumber
        case "stats":
            guard event["stats"]["call_id"].string == ends[end]?.callID else { return }
            ends[end]?.stats = event["stats"]
            ends[end]?.statsReceived = clock.now
        default:
            break
        }
    }

    /// Folds a Call object into `end`'s state (the first call seen at an end is the demo's).
    private func update(_ end: End, call: JSONView) {
        guard let id = call["call_id"].string else { return }
        if ends[end]?.callID == nil { ends[end]?.callID = id }
        guard ends[end]?.callID == id, var state = ends[end] else { return }
        state.state = call["state"].string ?? state.state
        if state.state == "active" { state.becameActive = true }
        if !call["sas"].isNull { state.sas = call["sas"] }
        state.safetyNumber = call["safety_number"].string ?? state.safetyNumber
        state.peerKey = call["peer"]["key"].string ?? state.peerKey
        state.endReason = call["end_reason"].string ?? state.endReason
        state.endDetail = call["end_detail"].string ?? state.endDetail
        ends[end] = state
    }

    /// B answers the incoming call, once.
    private func accept(_ call: JSONView) async throws {
        guard let id = call["call_id"].string, id == ends[.b]?.callID, ends[.b]?.accepted == false else { return }
        ends[.b]?.accepted = true
        let key = call["peer"]["key"].string
        let expected = ends[.a]?.identity["key"].string
        let who = Format.keyPrefix(key) + (key != nil && key == expected ? " (A)" : " (not A's key!)")
        say("B: incoming call from \(who), accepting")
        say("   safety number \(call["safety_number"].string ?? "-")")
        _ = try await connection(.b).call(Method.accept, ["call_id": .string(id)])
    }

    // MARK: Output

    private func draw() {
        guard !settings.quiet, let running else { return }
        self.running?.lastDraw = clock.now
        let elapsed = min(Double(settings.seconds), (clock.now - running.start).seconds)
        var lines = [
            "\(Format.number(elapsed, decimals: 0))/\(settings.seconds) s   A calls B; per end: what it sends and receives",
            StatsTable.header,
        ]
        for end in End.allCases {
            let state = ends[end]!
            let title = "\(end.rawValue)  \(state.callID ?? "?")  \(state.state ?? "?")  with \(end.peer.rawValue)"
            lines += StatsTable.block(title: title, stats: state.stats)
        }
        table.show(lines)
    }

    private func say(_ line: String) {
        if !settings.quiet { Terminal.out(line) }
    }

    private func connection(_ end: End) throws -> EngineConnection {
        guard let connection = connections[end] else { throw DemoFailure("\(end.rawValue) is not connected") }
        return connection
    }

    private func engineProcessEnded(_ end: End) -> Termination? {
        engines.process(end)?.poll()
    }

    /// A one-line reason for any error of the demo.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let failure as DemoFailure: failure.reason
        case let failure as CLIFailure: failure.message
        case ControlClientError.status(let status, let message, _): "\(status.name): \(message)"
        case ControlClientError.connectionClosed: "the engine closed the control connection"
        case is CancellationError: "interrupted"
        default: "\(error)"
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// The figures of a finished demo, and the verdict.
struct DemoOutcome: Sendable {
    let seconds: Int
    let ends: [End: EndState]
    let finalStats: [End: JSONView]
    let sasMatched: Bool

    /// The summary's lines and the failed checks (empty when media flowed both ways).
    func summary(stops: [End: String]) -> (lines: [String], failures: [String]) {
        var lines = ["summary: \(seconds) s call, A \(ends[.a]?.callID ?? "?") → B \(ends[.b]?.callID ?? "?")"]
        var failures: [String] = []
        for sender in End.allCases {
            let receiver = sender.peer
            let direction = "\(sender.rawValue)→\(receiver.rawValue)"
            let sent = finalStats[sender] ?? JSONView(nil)
            let received = finalStats[receiver] ?? JSONView(nil)
            let videoOut = StatsTable.stream(sent, "outbound", "video")
            let videoIn = StatsTable.stream(received, "inbound", "video")
            let audioIn = StatsTable.stream(received, "inbound", "audio")
            let media = received["media"]
            let latency = media["video_latency_ms"]
            let stampsRead = media["video_stamps_read"].int
            let outOfOrder = media["video_stamps_out_of_order"].int
            lines.append(
                "  \(direction) video  \(Format.integer(videoOut["framesSent"].int ?? videoOut["framesEncoded"].int)) frames sent, "
                    + "\(Format.integer(videoIn["framesDecoded"].int)) decoded; stamps \(Format.integer(stampsRead)) read, "
                    + "\(Format.integer(outOfOrder)) out of order")
            lines.append(
                "             stamp latency mean \(Format.number(latency["mean"].double)) ms, "
                    + "max \(Format.number(latency["max"].double)) ms")
            lines.append(
                "  \(direction) audio  \(Format.integer(audioIn["packetsReceived"].int)) packets received, "
                    + "\(StatsTable.concealedPercent(received)) concealed, jitter buffer "
                    + "\(Format.number(StatsTable.jitterBufferMilliseconds(audioIn), decimals: 0)) ms")

            let state = ends[receiver] ?? EndState()
            if !state.becameActive { failures.append("\(receiver.rawValue)'s call never became active") }
            if (videoIn["framesDecoded"].int ?? 0) <= 0 { failures.append("\(direction): no video frame decoded") }
            if (stampsRead ?? 0) <= 0 { failures.append("\(direction): no video stamp read") }
            if (audioIn["packetsReceived"].int ?? 0) <= 0 { failures.append("\(direction): no audio packet received") }
            if (audioIn["jitterBufferEmittedCount"].int ?? 0) <= 0 {
                failures.append("\(direction): the audio jitter buffer emitted nothing")
            }
        }
        let rtt = End.allCases.map { end in
            "\(end.rawValue) " + Format.number(finalStats[end]?["transport"]["roundTripTime"].double.map { $0 * 1_000 }, decimals: 2)
                + " ms"
        }
        lines.append("  RTT        " + rtt.joined(separator: ", "))
        lines.append(
            "  SAS        " + (sasMatched ? "equal: \(CallSummary.sasText(ends[.a]?.sas ?? JSONView(nil)) ?? "-")" : "DIFFERENT"))
        if !sasMatched { failures.append("the SAS or safety numbers differ between A and B") }
        let reasons = End.allCases.map { "\($0.rawValue) \(ends[$0]?.endReason ?? "?")" }
        lines.append("  ended      " + reasons.joined(separator: ", "))
        let expected: [End: String] = [.a: "hangup", .b: "remote_hangup"]
        for end in End.allCases where ends[end]?.endReason != expected[end] {
            lines.append("  note: \(end.rawValue) ended with \(ends[end]?.endReason ?? "?"), expected \(expected[end]!)")
        }
        for end in End.allCases { lines.append("  parleyd \(end.rawValue)  \(stops[end] ?? "?")") }
        if failures.isEmpty {
            lines.append("result: OK — media flowed both ways and was decrypted")
        } else {
            lines.append("result: FAILED — " + failures.joined(separator: "; "))
        }
        return (lines, failures)
    }
}
