import Dispatch
import Glibc
import Synchronization

/// A unary method's handler: gets the request, returns the `result` object or throws the error to send.
///
/// A result that is not a JSON object is a bug in the handler; the caller gets `INTERNAL`. When the call
/// is cancelled, passes its deadline or its client goes away, the handler's task is cancelled and
/// whatever it returns afterwards is dropped.
public typealias ControlUnaryHandler = @Sendable (ControlRequest) async throws(ControlError) -> JSONValue

/// A server-streaming method's handler: sends events through the sink and returns when the stream
/// ends (the server then sends `end` `OK`); a thrown error ends the stream with that error's code.
///
/// When the client cancels, the deadline passes or the client goes away, the handler's task is
/// cancelled (so `Task.isCancelled` turns true and `Task.sleep` throws) and the sink refuses further
/// events; the handler should then return.
public typealias ControlStreamHandler = @Sendable (ControlRequest, ControlEventSink) async throws(ControlError) -> Void

/// Where a streaming handler sends its events. Sending never blocks: each event joins the
/// connection's bounded outbound queue (`ControlServer.Configuration.maximumQueuedBytes`).
public struct ControlEventSink: Sendable {
    let connection: ControlConnection
    let id: ControlRequestID
    let serial: UInt64

    /// Sends one `event` frame. Returns `false`, sending nothing, once the stream has ended (cancelled,
    /// deadline passed, client gone or dropped for falling behind).
    @discardableResult
    public func send(event: JSONObject) -> Bool {
        connection.sendEvent(event, id: id, serial: serial)
    }
}

/// Why a `ControlServer` could not start.
public enum ControlServerError: Error, Equatable, Sendable {
    /// The path is empty, contains NUL, or is longer than a Unix socket address holds.
    case invalidPath(String)
    /// Another server is accepting connections at the path.
    case addressInUse(String)
    /// Something other than a socket exists at the path; it is left alone.
    case notASocket(String)
    /// `start()` was called on a server that was started before.
    case alreadyStarted
    /// A system call failed.
    case system(call: String, errno: Int32)
}

/// Counters of a server's connections since it started.
public struct ControlServerStatistics: Sendable, Equatable {
    /// Connections accepted from permitted peers.
    public var acceptedConnections = 0
    /// Connections closed unanswered because the peer's uid was neither the server's nor 0.
    public var refusedPeers = 0
    /// Connections dropped because the client let its outbound queue pass the bound.
    public var slowClientsDisconnected = 0
    /// Connections open now.
    public var openConnections = 0

    /// All zero.
    public init() {}
}

/// The control socket server (Protocols/control/v1.md): newline-delimited JSON over a Unix stream
/// socket, many clients at once.
///
/// `start()` creates the socket's directory (0700) when missing, removes a stale socket file (one no
/// server answers on), binds, sets the socket's mode to 0600 and listens. Each accepted peer is checked
/// with SO_PEERCRED: a uid other than the server's or 0 is closed without a reply
/// (`statistics.refusedPeers`). Each connection has a reader thread (framing, parsing, dispatch) and a
/// writer thread draining a bounded outbound queue; handlers run as tasks. A client whose queued
/// replies pass `maximumQueuedBytes` is disconnected (`statistics.slowClientsDisconnected`), so it
/// never holds up another.
///
/// `parley.v1.Engine/Health` and `parley.v1.Engine/Describe` are served from the start; register the
/// other methods with `register(_:unary:)` and `register(_:stream:)`, before or after `start()`.
/// `stop()` closes the listener and every connection (cancelling their calls) and removes the socket.
public actor ControlServer {
    /// Where and how a server listens.
    public struct Configuration: Sendable {
        /// The socket's path.
        public var socketPath: String
        /// The longest frame accepted, in bytes (reported by `Engine/Describe`).
        public var maximumFrameSize: Int
        /// The most bytes of replies queued for one client before it is disconnected as too slow.
        public var maximumQueuedBytes: Int
        /// The most requests in flight on one connection; one more is answered RESOURCE_EXHAUSTED.
        public var maximumCallsPerConnection: Int

        /// A configuration with the defaults: 1 MiB frames, 8 MiB queued per client, 1024 calls in
        /// flight per connection.
        public init(
            socketPath: String, maximumFrameSize: Int = ControlFramer.defaultMaximumFrameSize,
            maximumQueuedBytes: Int = 8 << 20, maximumCallsPerConnection: Int = 1024
        ) {
            self.socketPath = socketPath
            self.maximumFrameSize = maximumFrameSize
            self.maximumQueuedBytes = maximumQueuedBytes
            self.maximumCallsPerConnection = maximumCallsPerConnection
        }
    }

    /// The configuration the server was made with.
    public nonisolated let configuration: Configuration
    let core: ControlServerCore
    private var listenFD: Int32 = -1
    private var wakeFDs: (read: Int32, write: Int32) = (-1, -1)
    private var socketIdentity: (device: UInt, inode: UInt)?
    private var started = false
    private let listenerDone = DispatchGroup()

    /// A server for `configuration`, not yet listening. Frame and queue limits below 1 are raised to 1.
    public init(configuration: Configuration) {
        var configuration = configuration
        configuration.maximumFrameSize = max(1, configuration.maximumFrameSize)
        configuration.maximumQueuedBytes = max(1, configuration.maximumQueuedBytes)
        configuration.maximumCallsPerConnection = max(1, configuration.maximumCallsPerConnection)
        self.configuration = configuration
        core = ControlServerCore(configuration: configuration)
    }

    /// A server at `socketPath` with the default limits.
    public init(socketPath: String) {
        self.init(configuration: Configuration(socketPath: socketPath))
    }

    /// Serves `method` with a unary handler, replacing any handler it had.
    public nonisolated func register(_ method: MethodName, unary handler: @escaping ControlUnaryHandler) {
        core.register(method, .unary(handler))
    }

    /// Serves `method` with a server-streaming handler, replacing any handler it had.
    public nonisolated func register(_ method: MethodName, stream handler: @escaping ControlStreamHandler) {
        core.register(method, .stream(handler))
    }

    /// The connection counters so far.
    public nonisolated var statistics: ControlServerStatistics { core.statistics }

    /// Creates the socket and starts accepting connections.
    public func start() throws(ControlServerError) {
        guard !started else { throw .alreadyStarted }
        started = true
        let path = configuration.socketPath
        guard UnixSocket.withAddress(path, { _, _ in () }) != nil else { throw .invalidPath(path) }
        try Self.makeDirectory(parentOf: path)
        try Self.removeStaleSocket(at: path)
        let fd: Int32
        do { fd = try UnixSocket.makeStreamSocket() } catch { throw .system(call: error.call, errno: error.errno) }
        let bound = UnixSocket.withAddress(path) { address, length in bind(fd, address, length) } ?? -1
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw code == EADDRINUSE ? .addressInUse(path) : .system(call: "bind", errno: code)
        }
        var info = stat()
        guard chmod(path, 0o600) == 0, stat(path, &info) == 0, listen(fd, 128) == 0 else {
            let code = errno
            close(fd)
            unlink(path)
            throw .system(call: "chmod/stat/listen", errno: code)
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            let code = errno
            close(fd)
            unlink(path)
            throw .system(call: "pipe", errno: code)
        }
        for pipeFD in pipeFDs { _ = fcntl(pipeFD, F_SETFD, FD_CLOEXEC) }
        listenFD = fd
        wakeFDs = (pipeFDs[0], pipeFDs[1])
        socketIdentity = (UInt(info.st_dev), UInt(info.st_ino))
        let core = self.core
        let wakeRead = pipeFDs[0]
        listenerDone.enter()
        let done = listenerDone
        startThread(name: "parley-control-accept") {
            core.acceptLoop(listenFD: fd, wakeFD: wakeRead)
            done.leave()
        }
    }

    /// Stops accepting and closes every connection: streams end with `UNAVAILABLE`, unary calls in flight
    /// may still answer for up to `closingGrace` (then they are cancelled and their answers dropped), and
    /// what is queued is written. Waits for the connection threads to end and removes the socket file
    /// (when it is still the one this server made).
    public func stop() async {
        guard started, listenFD >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(wakeFDs.write, &byte, 1)
        await Self.wait(for: listenerDone)
        close(listenFD)
        close(wakeFDs.read)
        close(wakeFDs.write)
        listenFD = -1
        var info = stat()
        if let identity = socketIdentity, stat(configuration.socketPath, &info) == 0,
            UInt(info.st_dev) == identity.device, UInt(info.st_ino) == identity.inode
        {
            unlink(configuration.socketPath)
        }
        // Answers in flight (Engine/Shutdown's own among them) still go out; what is left after the
        // grace period is dropped.
        core.closeAllConnections(gracefully: true)
        if !(await Self.wait(for: core.connectionThreads, atMost: Self.closingGrace)) {
            core.closeAllConnections(gracefully: false)
            await Self.wait(for: core.connectionThreads)
        }
    }

    /// How long `stop()` lets unary calls in flight answer before it drops them.
    static let closingGrace = Duration.seconds(2)

    private static func wait(for group: DispatchGroup) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            group.notify(queue: .global()) { continuation.resume() }
        }
    }

    /// Waits until `group` is done or `limit` passed; true when it is done.
    private static func wait(for group: DispatchGroup, atMost limit: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let resumed = Mutex(false)
            let resumeOnce: @Sendable (Bool) -> Void = { done in
                let first = resumed.withLock { resumed in
                    defer { resumed = true }
                    return !resumed
                }
                if first { continuation.resume(returning: done) }
            }
            group.notify(queue: .global()) { resumeOnce(true) }
            let (seconds, attoseconds) = limit.components
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))) {
                resumeOnce(false)
            }
        }
    }

    /// Creates the directories above `path` that are missing, each with mode 0700.
    private static func makeDirectory(parentOf path: String) throws(ControlServerError) {
        var components = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        guard !components.isEmpty else { return }
        var missing: [String] = []
        while !components.isEmpty {
            let directory = components.joined(separator: "/")
            if directory.isEmpty { break }
            var info = stat()
            if stat(directory, &info) == 0 { break }
            missing.append(directory)
            components = components.dropLast()
        }
        for directory in missing.reversed() {
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else { throw .system(call: "mkdir", errno: errno) }
            guard chmod(directory, 0o700) == 0 else { throw .system(call: "chmod", errno: errno) }
        }
    }

    /// Removes a socket file nobody answers on; refuses when a server answers or the file is no socket.
    private static func removeStaleSocket(at path: String) throws(ControlServerError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path) }
        let probe: Int32
        do { probe = try UnixSocket.makeStreamSocket() } catch { throw .system(call: error.call, errno: error.errno) }
        let result = UnixSocket.connect(probe, to: path)
        close(probe)
        if result == 0 { throw .addressInUse(path) }
        guard unlink(path) == 0 || errno == ENOENT else { throw .system(call: "unlink", errno: errno) }
    }
}

/// A registered handler.
enum ControlHandler: Sendable {
    case unary(ControlUnaryHandler)
    case stream(ControlStreamHandler)

    var kind: ControlMethodKind {
        switch self {
        case .unary: .unary
        case .stream: .serverStreaming
        }
    }
}

/// The schemas `Engine/Describe` serves, parsed once from `ControlSchemas`.
enum DescribedSchemas {
    /// Each method's `schema` entry by full name: its file's `params`, `result` and (streams) `event`,
    /// with their `$ref`s into objects.json kept as they are.
    static let methods: [String: JSONObject] = ControlSchemas.methods.compactMapValues { text in
        guard case .object(let file)? = try? JSONValue(parsing: text), case .object(let properties)? = file["properties"] else {
            return nil
        }
        var schema = JSONObject()
        for part in ["params", "result", "event"] { schema[part] = properties[part] }
        return schema
    }

    /// objects.json's `$defs`: the shared objects, by name.
    static let objects: JSONValue = {
        guard case .object(let file)? = try? JSONValue(parsing: ControlSchemas.objects), let definitions = file["$defs"] else {
            return [:]
        }
        return definitions
    }()
}

/// The server's state shared with its threads and tasks: handlers, counters, open connections.
final class ControlServerCore: Sendable {
    let configuration: ControlServer.Configuration
    private let handlers = Mutex<[MethodName: ControlHandler]>([:])
    private let counters = Mutex(ControlServerStatistics())
    private let connections = Mutex<(open: [ObjectIdentifier: ControlConnection], closing: Bool)>(([:], false))
    /// Entered by each connection thread, left when it ends.
    let connectionThreads = DispatchGroup()

    init(configuration: ControlServer.Configuration) {
        self.configuration = configuration
        register(Self.health, .unary { _ throws(ControlError) in ["status": "SERVING"] })
        register(Self.describe, .unary { [weak self] _ throws(ControlError) in self?.description() ?? [:] })
    }

    static let health = knownName(service: "Engine", method: "Health")
    static let describe = knownName(service: "Engine", method: "Describe")

    private static func knownName(service: String, method: String) -> MethodName {
        guard let name = try? MethodName(service: service, method: method) else { preconditionFailure("malformed built-in name") }
        return name
    }

    func register(_ method: MethodName, _ handler: ControlHandler) {
        handlers.withLock { $0[method] = handler }
    }

    func handler(for method: MethodName) -> ControlHandler? {
        handlers.withLock { $0[method] }
    }

    var statistics: ControlServerStatistics {
        var statistics = counters.withLock { $0 }
        statistics.openConnections = connections.withLock { $0.open.count }
        return statistics
    }

    func count(_ update: (inout ControlServerStatistics) -> Void) {
        counters.withLock { update(&$0) }
    }

    /// `Engine/Describe`'s result: the served methods grouped by service, catalog methods first in the
    /// catalog's order, then any others by name, each with its schema when the protocol specifies one
    /// (services.md); the limits; and the shared objects the schemas refer to.
    func description() -> JSONValue {
        let served = handlers.withLock { $0 }
        let catalog = ControlCatalog.version1.map(\.name)
        let ordered = catalog.filter { served[$0] != nil }
            + served.keys.filter { !catalog.contains($0) }.sorted { $0.description < $1.description }
        var services: [(name: String, methods: [JSONValue])] = []
        for name in ordered {
            let serviceName = "parley.v\(name.version).\(name.service)"
            var method: JSONObject = [
                "name": .string(name.method), "full_name": .string(name.description),
                "kind": served[name]?.kind == .serverStreaming ? "stream" : "unary",
            ]
            method["schema"] = DescribedSchemas.methods[name.description].map(JSONValue.object)
            if let index = services.firstIndex(where: { $0.name == serviceName }) {
                services[index].methods.append(.object(method))
            } else {
                services.append((serviceName, [.object(method)]))
            }
        }
        return [
            "services": .array(services.map { ["name": .string($0.name), "methods": .array($0.methods)] }),
            "limits": [
                "max_frame_bytes": .number(JSONNumber(Int64(configuration.maximumFrameSize))),
                "max_queued_bytes": .number(JSONNumber(Int64(configuration.maximumQueuedBytes))),
                "max_calls_per_connection": .number(JSONNumber(Int64(configuration.maximumCallsPerConnection))),
            ],
            "objects": DescribedSchemas.objects,
        ]
    }

    /// The listener thread: accepts until a byte arrives on `wakeFD`.
    func acceptLoop(listenFD: Int32, wakeFD: Int32) {
        var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { continue }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            admit(fd)
        }
    }

    /// Checks the peer's uid and starts serving the connection, or closes it unanswered.
    private func admit(_ fd: Int32) {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }: three 32-bit words, uid the second.
        var credentials: [UInt32] = [0, 0, 0]
        var length = socklen_t(MemoryLayout<UInt32>.size * 3)
        let known = credentials.withUnsafeMutableBytes { raw in
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, raw.baseAddress, &length) == 0
        }
        guard known, length == socklen_t(MemoryLayout<UInt32>.size * 3), credentials[1] == getuid() || credentials[1] == 0 else {
            close(fd)
            count { $0.refusedPeers += 1 }
            return
        }
        let connection = ControlConnection(fd: fd, core: self)
        let admitted = connections.withLock { state -> Bool in
            guard !state.closing else { return false }
            state.open[ObjectIdentifier(connection)] = connection
            return true
        }
        guard admitted else {
            close(fd)
            return
        }
        count { $0.acceptedConnections += 1 }
        connection.start()
    }

    func connectionClosed(_ connection: ControlConnection) {
        connections.withLock { _ = $0.open.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    /// Refuses new connections and closes the open ones: gracefully (see
    /// `ControlConnection.closeGracefully()`) or at once, dropping what is queued.
    func closeAllConnections(gracefully: Bool) {
        let open = connections.withLock { state in
            state.closing = true
            return Array(state.open.values)
        }
        for connection in open {
            if gracefully { connection.closeGracefully() } else { connection.abort() }
        }
    }
}
