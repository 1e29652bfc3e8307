import Foundation
import Glibc
import ParleyControl
import Synchronization
import Testing

/// A fresh private directory under /tmp, removed by `removeTemporaryDirectory`.
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/parley-control-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    try #require(made != nil)
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func removeTemporaryDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// A method name used by the tests (`parley.v1.Test/<method>`).
func testMethod(_ method: String, service: String = "Test") -> MethodName {
    guard let name = try? MethodName(service: service, method: method) else { preconditionFailure("bad test method name") }
    return name
}

/// A one-shot signal a handler raises and a test awaits (no timing involved).
final class Signal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() { (stream, continuation) = AsyncStream<Void>.makeStream() }

    func raise() { continuation.yield() }

    /// Returns once `raise()` has been called (at any time before or after).
    func wait() async {
        for await _ in stream { return }
    }
}

/// The handlers the tests serve, with signals raised when a handler sees cancellation.
final class TestHandlers: Sendable {
    let slowCancelled = Signal()
    let streamCancelled = Signal()
    let slowStarted = Signal()
    let streamStarted = Signal()
    let slowClientDropped = Signal()
    let gateStarted = Signal()
    let gateOpened = Signal()

    func install(on server: ControlServer) {
        // Echo: returns its params as the result.
        server.register(testMethod("Echo"), unary: { request throws(ControlError) in .object(request.params) })
        // Missing: fails NOT_FOUND naming params.call, the way a Calls handler reports an unknown call.
        server.register(testMethod("Missing"), unary: { request throws(ControlError) in
            throw .failed(
                status: .notFound, message: "no call \(request.params["call"]?.serialized() ?? "null")",
                details: ["call": request.params["call"] ?? .null])
        })
        // Fail: refuses with the field named in params.field.
        server.register(testMethod("Fail"), unary: { request throws(ControlError) in
            throw .invalidArgument(field: "params.\((try? request.arguments["field"].string()) ?? "x")", reason: "refused by the test")
        })
        // Slow: never finishes on its own; raises slowCancelled when its task is cancelled.
        server.register(testMethod("Slow"), unary: { [self] _ throws(ControlError) in
            slowStarted.raise()
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            slowCancelled.raise()
            return [:]
        })
        // Gate: answers {"done": true} once the test raises gateOpened.
        server.register(testMethod("Gate"), unary: { [self] _ throws(ControlError) in
            gateStarted.raise()
            await gateOpened.wait()
            return ["done": true]
        })
        // Count: sends params.count events {"n": i}, then ends OK.
        server.register(testMethod("Count"), stream: { request, sink throws(ControlError) in
            let count = try request.arguments["count"].int64(in: 0...10_000)
            for n in 0..<count { sink.send(event: ["n": .number(JSONNumber(n))]) }
        })
        // Forever: sends one event, then waits until cancelled and raises streamCancelled.
        server.register(testMethod("Forever"), stream: { [self] _, sink throws(ControlError) in
            sink.send(event: ["ready": true])
            streamStarted.raise()
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            streamCancelled.raise()
        })
        // Broken: a stream that fails after one event.
        server.register(testMethod("Broken"), stream: { _, sink throws(ControlError) in
            sink.send(event: ["n": 0])
            throw .invalidArgument(field: "params.stream", reason: "broken on purpose")
        })
        // Flood: sends 4 KiB events until the sink refuses one; raises slowClientDropped then.
        server.register(testMethod("Flood"), stream: { [self] _, sink throws(ControlError) in
            let padding = JSONValue.string(String(repeating: "x", count: 4096))
            for _ in 0..<1_000_000 where !sink.send(event: ["padding": padding]) {
                slowClientDropped.raise()
                return
            }
        })
    }
}

/// A running server in a temporary directory with the test handlers installed.
struct TestServer {
    let directory: String
    let server: ControlServer
    let handlers = TestHandlers()

    var path: String { server.configuration.socketPath }

    init(
        maximumFrameSize: Int = ControlFramer.defaultMaximumFrameSize, maximumQueuedBytes: Int = 8 << 20,
        maximumCallsPerConnection: Int = 1024
    ) async throws {
        directory = try makeTemporaryDirectory()
        server = ControlServer(configuration: .init(
            socketPath: directory + "/run/control.sock", maximumFrameSize: maximumFrameSize,
            maximumQueuedBytes: maximumQueuedBytes, maximumCallsPerConnection: maximumCallsPerConnection))
        handlers.install(on: server)
        try await server.start()
    }

    func stop() async {
        await server.stop()
        removeTemporaryDirectory(directory)
    }
}

/// Lines read by a thread, awaited by one test task in order.
final class LineQueue: Sendable {
    private struct State {
        var lines: [String] = []
        var finished = false
        var waiter: CheckedContinuation<String?, Never>?
    }

    private let state = Mutex(State())

    func push(_ line: String) {
        let waiter = state.withLock { state -> CheckedContinuation<String?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.lines.append(line)
            return nil
        }
        waiter?.resume(returning: line)
    }

    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<String?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next line; `nil` once finished, or when the awaiting task is cancelled (e.g. by a time limit).
    func next() async -> String? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
                let ready = state.withLock { state -> String?? in
                    if !state.lines.isEmpty { return .some(state.lines.removeFirst()) }
                    if state.finished { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }
}

/// The `sockaddr_un` of `path` (shorter than `sun_path`, as every test path is).
func unixAddress(_ path: String) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return address
}

/// Connects a new stream socket to `path`; fails the test when it cannot.
func connectRaw(to path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    var address = unixAddress(path)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    try #require(connected == 0, "connect: errno \(errno)")
    return fd
}

/// A connection that writes raw bytes and reads raw reply lines, for frames no well-behaved client
/// sends. A dedicated thread reads, so awaiting a reply never blocks the cooperative pool.
final class RawConnection: Sendable {
    let fd: Int32
    private let lines = LineQueue()

    /// Connects to `path`; with `reading` false nothing reads the replies (a client that fell behind).
    init(path: String, reading: Bool = true) throws {
        let fd = try connectRaw(to: path)
        self.fd = fd
        guard reading else { return }
        let lines = self.lines
        let thread = Thread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                for byte in buffer[..<count] {
                    if byte == 0x0A {
                        lines.push(String(decoding: pending, as: UTF8.self))
                        pending.removeAll()
                    } else {
                        pending.append(byte)
                    }
                }
            }
            lines.finish()
        }
        thread.start()
    }

    func send(_ text: String) { send(bytes: Array(text.utf8)) }

    func send(bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }

    /// The next reply line, or `nil` once the server has closed the connection.
    func nextLine() async -> String? { await lines.next() }

    /// The next reply, parsed; fails the test when the connection closes or the line is not a reply.
    func nextReply(sourceLocation: SourceLocation = #_sourceLocation) async throws -> ControlReply {
        let line = try #require(await nextLine(), "the server closed the connection", sourceLocation: sourceLocation)
        return try ControlReply(parsing: line)
    }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }
}

/// The body of an error frame, or a test failure.
func errorBody(_ reply: ControlReply, sourceLocation: SourceLocation = #_sourceLocation) throws -> ControlErrorBody {
    guard case .error(let body) = reply.body else {
        Issue.record("expected an error frame, found \(reply.json.serialized())", sourceLocation: sourceLocation)
        throw CancellationError()
    }
    return body
}
