import Glibc
import Synchronization

/// One accepted client of a `ControlServer`: its calls in flight and its two threads.
///
/// The reader thread frames and parses input and starts a task per request. Every call ends with
/// exactly one final frame (`result`, `error` or `end`), sent by whichever comes first: the handler
/// returning, the deadline, a cancel, or the connection closing (which sends nothing). The call's
/// entry is removed and its final frame queued under one lock, so no frame of a call can follow its
/// final frame and a finished id is reusable as soon as its reply is on the way.
final class ControlConnection: Sendable {
    private struct Call {
        let serial: UInt64
        let kind: ControlMethodKind
        var task: Task<Void, Never>?
    }

    private struct State {
        var calls: [ControlRequestID: Call] = [:]
        var nextSerial: UInt64 = 0
        var readClosed = false
        /// The server is stopping (`closeGracefully()`), not the client closing.
        var serverStopping = false
        var ended = false
        var threadsRunning = 2
    }

    let fd: Int32
    let core: ControlServerCore
    let writer: SocketWriter
    private let state = Mutex(State())

    init(fd: Int32, core: ControlServerCore) {
        self.fd = fd
        self.core = core
        writer = SocketWriter(fd: fd, maximumQueuedBytes: core.configuration.maximumQueuedBytes)
    }

    /// Starts the reader and writer threads.
    func start() {
        core.connectionThreads.enter()
        core.connectionThreads.enter()
        startThread(name: "parley-control-read") { [self] in
            runReader()
            threadEnded()
        }
        startThread(name: "parley-control-write") { [self] in
            writer.run { [self] in abort() }
            threadEnded()
        }
    }

    /// Closes the connection now: cancels every call and drops queued replies.
    func abort() {
        let tasks = state.withLock { state -> [Task<Void, Never>] in
            state.ended = true
            defer { state.calls.removeAll() }
            return state.calls.values.compactMap(\.task)
        }
        for task in tasks { task.cancel() }
        writer.abort()
    }

    /// Closes the connection for a stopping server: reading stops, streams end with `UNAVAILABLE`, unary
    /// calls in flight still answer; once none is left, the queued frames are written and the socket is
    /// shut down (the server aborts what is still open after its grace period).
    func closeGracefully() {
        state.withLock { $0.serverStopping = true }
        // The reader sees the end of its input and goes through `readSideClosed()`.
        Glibc.shutdown(fd, Int32(SHUT_RD))
    }

    private func threadEnded() {
        let last = state.withLock { state -> Bool in
            state.threadsRunning -= 1
            return state.threadsRunning == 0
        }
        if last {
            close(fd)
            core.connectionClosed(self)
        }
        core.connectionThreads.leave()
    }

    // MARK: Input

    private func runReader() {
        guard var framer = try? ControlFramer(maximumFrameSize: core.configuration.maximumFrameSize) else { return }
        _ = readUntilEnd(fd) { bytes in
            for outcome in framer.feed(bytes) { handle(outcome) }
        }
        for outcome in framer.finish() { handle(outcome) }
        readSideClosed()
    }

    /// Input ended. A peer gone altogether (closed, or shut down both ways: POLLHUP) has all its calls
    /// cancelled. A peer that only shut down its sending side has its streams cancelled while unary
    /// calls in flight still answer; the connection closes once none is left.
    private func readSideClosed() {
        var events = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        if poll(&events, 1, 0) > 0, events.revents & Int16(POLLHUP | POLLERR) != 0 {
            abort()
            return
        }
        let (streams, idle, serverStopping) = state.withLock { state -> ([(ControlRequestID, UInt64)], Bool, Bool) in
            state.readClosed = true
            let streams = state.calls.filter { $0.value.kind == .serverStreaming }.map { ($0.key, $0.value.serial) }
            return (streams, state.calls.isEmpty, state.serverStopping)
        }
        let end =
            serverStopping
            ? ControlEnd(code: .unavailable, message: "the engine is shutting down")
            : ControlEnd(code: .cancelled, message: "the client closed the connection")
        for (id, serial) in streams {
            conclude(id: id, serial: serial, with: ControlReply(id: id, body: .end(end)))
        }
        if idle { writer.finish() }
    }

    private func handle(_ outcome: ControlFramer.Outcome) {
        switch outcome {
        case .frame(let line):
            do throws(ControlInboundError) {
                switch try ControlInbound(parsing: line) {
                case .request(let request): receive(request)
                case .cancel(let cancel): receive(cancel)
                }
            } catch {
                send(error.reply)
            }
        case .oversized, .invalidUTF8:
            if let error = outcome.error { send(ControlReply(id: nil, error: error)) }
        }
    }

    private func receive(_ request: ControlRequest) {
        let receivedAt = ContinuousClock.now
        guard let handler = core.handler(for: request.method) else {
            send(ControlReply(id: request.id, error: .unknownMethod(name: request.method.description)))
            return
        }
        let limit = core.configuration.maximumCallsPerConnection
        enum Admission { case admitted(UInt64), duplicate, tooMany, ended }
        let admission = state.withLock { state -> Admission in
            if state.ended { return .ended }
            if state.calls[request.id] != nil { return .duplicate }
            if state.calls.count >= limit { return .tooMany }
            state.nextSerial += 1
            state.calls[request.id] = Call(serial: state.nextSerial, kind: handler.kind)
            return .admitted(state.nextSerial)
        }
        let serial: UInt64
        switch admission {
        case .ended: return
        case .duplicate:
            send(ControlReply(id: request.id, body: .error(ControlErrorBody(
                code: .alreadyExists, message: "id \(request.id) is already in flight on this connection",
                details: ["field": "id"]))))
            return
        case .tooMany:
            send(ControlReply(id: request.id, body: .error(ControlErrorBody(
                code: .resourceExhausted, message: "more than \(limit) calls in flight on this connection",
                details: ["limit": .number(JSONNumber(Int64(limit)))]))))
            return
        case .admitted(let admitted): serial = admitted
        }
        let task = Task { [self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.run(handler, request, serial: serial) }
                if let milliseconds = request.deadlineMilliseconds {
                    group.addTask {
                        try? await Task.sleep(until: receivedAt + .milliseconds(milliseconds), clock: .continuous)
                        guard !Task.isCancelled else { return }
                        self.conclude(id: request.id, serial: serial, with: self.finalFrame(
                            handler.kind, id: request.id, code: .deadlineExceeded,
                            message: "deadline of \(milliseconds) ms exceeded"))
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
        let keep = state.withLock { state -> Bool in
            guard state.calls[request.id]?.serial == serial else { return false }
            state.calls[request.id]?.task = task
            return true
        }
        if !keep { task.cancel() }
    }

    private func receive(_ cancel: ControlCancel) {
        let call = state.withLock { $0.calls[cancel.id] }
        guard let call else { return }
        conclude(id: cancel.id, serial: call.serial, with: finalFrame(
            call.kind, id: cancel.id, code: .cancelled, message: "cancelled by the client"))
    }

    // MARK: Calls

    private func finalFrame(_ kind: ControlMethodKind, id: ControlRequestID, code: ControlStatus, message: String) -> ControlReply {
        switch kind {
        case .unary: ControlReply(id: id, body: .error(ControlErrorBody(code: code, message: message)))
        case .serverStreaming: ControlReply(id: id, body: .end(ControlEnd(code: code, message: message)))
        }
    }

    private func run(_ handler: ControlHandler, _ request: ControlRequest, serial: UInt64) async {
        let reply: ControlReply
        switch handler {
        case .unary(let body):
            do throws(ControlError) {
                let result = try await body(request)
                if case .object(let object) = result {
                    reply = ControlReply(id: request.id, body: .result(object))
                } else {
                    reply = ControlReply(id: request.id, body: .error(ControlErrorBody(
                        code: .internal, message: "the handler of \(request.method) returned \(result.kindDescription), not an object")))
                }
            } catch {
                reply = ControlReply(id: request.id, error: error)
            }
        case .stream(let body):
            do throws(ControlError) {
                try await body(request, ControlEventSink(connection: self, id: request.id, serial: serial))
                reply = ControlReply(id: request.id, body: .end(ControlEnd(code: .ok)))
            } catch {
                reply = ControlReply(id: request.id, body: .end(ControlEnd(code: error.status, message: error.message, details: error.details)))
            }
        }
        conclude(id: request.id, serial: serial, with: reply)
    }

    /// Sends `reply` as call `id`'s final frame if the call (this `serial` of it) is still in flight,
    /// and cancels its task. Returns whether it was still in flight.
    @discardableResult
    private func conclude(id: ControlRequestID, serial: UInt64, with reply: ControlReply) -> Bool {
        let bytes = reply.serialized()
        let outcome = state.withLock { state -> (task: Task<Void, Never>?, queued: Bool, drained: Bool)? in
            guard let call = state.calls[id], call.serial == serial else { return nil }
            state.calls[id] = nil
            let queued = writer.enqueue(bytes)
            return (call.task, queued, state.readClosed && state.calls.isEmpty)
        }
        guard let outcome else { return false }
        outcome.task?.cancel()
        if !outcome.queued { dropSlowClient() }
        if outcome.drained { writer.finish() }
        return true
    }

    /// Queues an event of stream `id` unless the stream has ended; `false` when it was not sent.
    func sendEvent(_ event: JSONObject, id: ControlRequestID, serial: UInt64) -> Bool {
        let bytes = ControlReply(id: id, body: .event(event)).serialized()
        let queued = state.withLock { state -> Bool? in
            guard state.calls[id]?.serial == serial else { return nil }
            return writer.enqueue(bytes)
        }
        guard let queued else { return false }
        if !queued { dropSlowClient() }
        return queued
    }

    /// Sends a frame that answers no call in flight (an error about the frame itself).
    private func send(_ reply: ControlReply) {
        if !writer.enqueue(reply.serialized()) { dropSlowClient() }
    }

    private func dropSlowClient() {
        let first = state.withLock { state -> Bool in
            defer { state.ended = true }
            return !state.ended
        }
        guard first else { return }
        core.count { $0.slowClientsDisconnected += 1 }
        abort()
    }
}
