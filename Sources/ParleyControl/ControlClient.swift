import Glibc
import Synchronization

/// Why a `ControlClient` call failed.
public enum ControlClientError: Error, Equatable, Sendable {
    /// The server answered with an `error` frame, or ended a stream with a code other than OK.
    case status(ControlStatus, message: String, details: JSONObject?)
    /// The connection closed (or `close()` was called) before the answer arrived.
    case connectionClosed
    /// The request would be longer than the frame limit `limit`, so it was not sent.
    case requestTooLarge(limit: Int)
    /// The server sent a frame for this call that the protocol does not allow (e.g. an event for a
    /// unary call).
    case invalidReply(String)
    /// The socket path is empty, contains NUL, or is too long for a Unix socket address.
    case invalidPath(String)
    /// A system call failed while connecting.
    case system(call: String, errno: Int32)

    /// The status the server reported, or `nil` for a local failure.
    public var status: ControlStatus? {
        if case .status(let status, _, _) = self { return status }
        return nil
    }
}

/// A client of the control socket: many calls in flight on one connection, ids allocated here.
///
/// `call` sends a unary request and returns its `result`; an `error` frame is thrown as
/// `ControlClientError.status`. `stream` returns the events of a server-streaming call; the sequence
/// finishes at `end` `OK` and throws `ControlClientError.status` for any other end. Cancelling the
/// task awaiting `call`, or ending the iteration of a stream early, sends `cancel` for that id.
/// Frames are written by a writer thread and read by a reader thread, so no call blocks the
/// cooperative pool. Call `close()` when done: it fails every call still waiting with
/// `connectionClosed` and releases the socket.
public final class ControlClient: Sendable {
    private enum Pending {
        case unary(CheckedContinuation<Result<JSONValue, ControlClientError>, Never>)
        case stream(AsyncThrowingStream<JSONValue, any Error>.Continuation)

        var kindName: String {
            switch self {
            case .unary: "unary"
            case .stream: "streaming"
            }
        }
    }

    private struct State {
        var pending: [Int64: Pending] = [:]
        var cancelledBeforeSending: Set<Int64> = []
        var nextID: Int64 = 0
        var closed = false
        var threadsRunning = 2
    }

    private let fd: Int32
    private let writer: SocketWriter
    private let state = Mutex(State())
    /// The longest frame this client sends or accepts, in bytes.
    public let maximumFrameSize: Int

    /// Connects to the server at `path`. `maximumFrameSize` bounds the frames sent and read (the
    /// protocol's default, 1 MiB, unless the server was configured otherwise).
    public init(connectingTo path: String, maximumFrameSize: Int = ControlFramer.defaultMaximumFrameSize)
        throws(ControlClientError)
    {
        guard UnixSocket.withAddress(path, { _, _ in () }) != nil else { throw .invalidPath(path) }
        let fd: Int32
        do { fd = try UnixSocket.makeStreamSocket() } catch { throw .system(call: error.call, errno: error.errno) }
        let result = UnixSocket.connect(fd, to: path)
        guard result == 0 else {
            Glibc.close(fd)
            throw .system(call: "connect", errno: result)
        }
        self.fd = fd
        self.maximumFrameSize = max(1, maximumFrameSize)
        writer = SocketWriter(fd: fd, maximumQueuedBytes: 64 << 20)
        startThread(name: "parley-client-read") { [self] in
            runReader()
            threadEnded()
        }
        startThread(name: "parley-client-write") { [self] in
            writer.run { [self] in self.close() }
            threadEnded()
        }
    }

    /// Calls unary `method` and returns its result object. `deadline` is sent as `deadline_ms`
    /// (rounded up to a whole millisecond, at most 2^31 − 1 ms); the server enforces it.
    public func call(_ method: MethodName, params: JSONObject = [:], deadline: Duration? = nil)
        async throws(ControlClientError) -> JSONValue
    {
        let id = state.withLock { state -> Int64 in
            state.nextID += 1
            return state.nextID
        }
        let bytes = try request(id: id, method: method, params: params, deadline: deadline)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<JSONValue, ControlClientError>, Never>) in
                let failure = state.withLock { state -> ControlClientError? in
                    if state.closed { return .connectionClosed }
                    if state.cancelledBeforeSending.remove(id) != nil {
                        return .status(.cancelled, message: "cancelled before it was sent", details: nil)
                    }
                    guard writer.enqueue(bytes) else { return .connectionClosed }
                    state.pending[id] = .unary(continuation)
                    return nil
                }
                if let failure { continuation.resume(returning: .failure(failure)) }
            }
        } onCancel: {
            sendCancel(id)
        }
        return try result.get()
    }

    /// Calls server-streaming `method` and returns its events; see the type's summary for how the
    /// sequence ends. Iterate it from one task.
    public func stream(_ method: MethodName, params: JSONObject = [:], deadline: Duration? = nil)
        -> AsyncThrowingStream<JSONValue, any Error>
    {
        let (events, continuation) = AsyncThrowingStream<JSONValue, any Error>.makeStream()
        let id = state.withLock { state -> Int64 in
            state.nextID += 1
            return state.nextID
        }
        let bytes: [UInt8]
        do throws(ControlClientError) {
            bytes = try request(id: id, method: method, params: params, deadline: deadline)
        } catch {
            continuation.finish(throwing: error)
            return events
        }
        continuation.onTermination = { [self] termination in
            if case .cancelled = termination { sendCancel(id) }
        }
        let sent = state.withLock { state -> Bool in
            guard !state.closed, writer.enqueue(bytes) else { return false }
            state.pending[id] = .stream(continuation)
            return true
        }
        if !sent { continuation.finish(throwing: ControlClientError.connectionClosed) }
        return events
    }

    /// Closes the connection; calls still waiting fail with `connectionClosed`.
    public func close() {
        let pending = state.withLock { state -> [Pending] in
            state.closed = true
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        writer.abort()
        for entry in pending { fail(entry, with: .connectionClosed) }
    }

    private func request(id: Int64, method: MethodName, params: JSONObject, deadline: Duration?)
        throws(ControlClientError) -> [UInt8]
    {
        var milliseconds: Int64?
        if let deadline {
            let (seconds, attoseconds) = deadline.components
            let whole = seconds.multipliedReportingOverflow(by: 1000)
            let rounded = whole.overflow ? Int64.max : whole.partialValue + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            milliseconds = min(max(rounded, 1), ControlRequest.maximumDeadlineMilliseconds)
        }
        guard let requestID = try? ControlRequestID(integer: id),
            let request = try? ControlRequest(id: requestID, method: method, params: params, deadlineMilliseconds: milliseconds)
        else { throw .invalidReply("request id \(id) out of range") }
        let bytes = request.serialized()
        guard bytes.count - 1 <= maximumFrameSize else { throw .requestTooLarge(limit: maximumFrameSize) }
        return bytes
    }

    /// Sends `cancel` for `id` if it is waiting; remembers it if its request is not sent yet.
    private func sendCancel(_ id: Int64) {
        let waiting = state.withLock { state -> Bool in
            if state.pending[id] != nil { return true }
            if !state.closed, id <= state.nextID { state.cancelledBeforeSending.insert(id) }
            return false
        }
        guard waiting, let requestID = try? ControlRequestID(integer: id) else { return }
        _ = writer.enqueue(ControlCancel(id: requestID).serialized())
    }

    private func fail(_ entry: Pending, with error: ControlClientError) {
        switch entry {
        case .unary(let continuation): continuation.resume(returning: .failure(error))
        case .stream(let continuation): continuation.finish(throwing: error)
        }
    }

    // MARK: Reading

    private func runReader() {
        guard var framer = try? ControlFramer(maximumFrameSize: maximumFrameSize) else { return }
        _ = readUntilEnd(fd) { bytes in
            for outcome in framer.feed(bytes) { receive(outcome) }
        }
        for outcome in framer.finish() { receive(outcome) }
        close()
    }

    private func threadEnded() {
        let last = state.withLock { state -> Bool in
            state.threadsRunning -= 1
            return state.threadsRunning == 0
        }
        if last { Glibc.close(fd) }
    }

    /// Routes one reply to its call. Frames that cannot be routed (unreadable, `"id": null`, an id not
    /// waiting, e.g. the `end` after a cancel) are dropped.
    private func receive(_ outcome: ControlFramer.Outcome) {
        guard case .frame(let line) = outcome, let reply = try? ControlReply(parsing: line),
            case .integer(let id) = reply.id?.value
        else { return }
        let entry = state.withLock { state -> Pending? in
            guard let entry = state.pending[id] else { return nil }
            switch (entry, reply.body) {
            case (.stream, .event): break
            default: state.pending[id] = nil
            }
            return entry
        }
        guard let entry else { return }
        switch (entry, reply.body) {
        case (.unary(let continuation), .result(let result)):
            continuation.resume(returning: .success(.object(result)))
        case (.unary(let continuation), .error(let error)):
            continuation.resume(returning: .failure(.status(error.code, message: error.message, details: error.details)))
        case (.stream(let continuation), .event(let event)):
            continuation.yield(.object(event))
        case (.stream(let continuation), .end(let end)):
            if end.code == .ok {
                continuation.finish()
            } else {
                continuation.finish(throwing: ControlClientError.status(end.code, message: end.message ?? "", details: end.details))
            }
        case (.stream(let continuation), .error(let error)):
            continuation.finish(throwing: ControlClientError.status(error.code, message: error.message, details: error.details))
        case (.unary, .event), (.unary, .end), (.stream, .result):
            fail(entry, with: .invalidReply("a \(entry.kindName) call got a frame of another kind"))
        }
    }
}

