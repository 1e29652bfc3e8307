import Foundation
import Glibc
import ParleyControl
import Testing

/// A regression that loses a reply fails after a minute instead of hanging the run.
@Suite(.timeLimit(.minutes(1))) struct ServerSocketTests {
    @Test func theSocketIsMode0600InANewDirectoryOfMode0700() async throws {
        let server = try await TestServer()
        defer { removeTemporaryDirectory(server.directory) }
        var info = stat()
        try #require(stat(server.path, &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o777 == 0o600)
        try #require(stat(server.directory + "/run", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        await server.stop()
    }

    @Test func stopRemovesTheSocketFileAndRefusesNewClients() async throws {
        let server = try await TestServer()
        defer { removeTemporaryDirectory(server.directory) }
        let client = try ControlClient(connectingTo: server.path)
        await server.server.stop()
        #expect(access(server.path, F_OK) != 0)
        #expect(throws: ControlClientError.self) { try ControlClient(connectingTo: server.path) }
        // The connection open at stop() was closed: a call on it fails instead of hanging.
        await #expect(throws: ControlClientError.connectionClosed) {
            try await client.call(engineHealth)
        }
        client.close()
    }

    @Test func aStaleSocketFileIsReplacedButALiveServerIsNot() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/control.sock"
        // A socket file nobody listens on, as a crashed server leaves behind.
        let stale = try RawListener(path: path)
        stale.close()
        let server = ControlServer(socketPath: path)
        try await server.start()
        let second = ControlServer(socketPath: path)
        await #expect(throws: ControlServerError.addressInUse(path)) { try await second.start() }
        let client = try ControlClient(connectingTo: path)
        #expect(try await client.call(engineHealth) == ["status": "SERVING"])
        client.close()
        await server.stop()
    }

    @Test func aFileThatIsNotASocketIsLeftAlone() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/control.sock"
        try #require(FileManager.default.createFile(atPath: path, contents: Data("keep".utf8)))
        await #expect(throws: ControlServerError.notASocket(path)) { try await ControlServer(socketPath: path).start() }
        #expect(FileManager.default.contents(atPath: path) == Data("keep".utf8))
    }

    @Test func aPeerWithAnotherUidIsClosedWithoutAReplyAndCounted() async throws {
        guard getuid() == 0 else { return }  // only root can run a child under another uid
        let server = try await TestServer()
        defer { removeTemporaryDirectory(server.directory) }
        // Let uid 65534 reach the socket (the server's own modes would stop it at connect()).
        chmod(server.directory, 0o755)
        chmod(server.directory + "/run", 0o755)
        chmod(server.path, 0o666)
        let script = """
            import os, socket, sys
            os.setgid(65534); os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            try:
                s.sendall(b'{"id":1,"method":"parley.v1.Engine/Health"}\\n')
            except OSError:
                pass
            s.settimeout(30)
            data = b''
            try:
                while not data.endswith(b'\\n'):
                    chunk = s.recv(4096)
                    if not chunk: break
                    data += chunk
            except OSError:
                pass
            sys.stdout.write('reply:' + repr(data))
            """
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        child.arguments = ["python3", "-c", script, server.path]
        let output = Pipe()
        child.standardOutput = output
        try child.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        #expect(child.terminationStatus == 0)
        #expect(text == "reply:b''")
        #expect(server.server.statistics.refusedPeers == 1)
        #expect(server.server.statistics.acceptedConnections == 0)
        await server.stop()
    }
}

/// `parley.v1.Engine/Health`, spelled out for tests.
let engineHealth = testMethod("Health", service: "Engine")

/// A regression that loses a reply fails after a minute instead of hanging the run.
@Suite(.timeLimit(.minutes(1))) struct ServerBadInputTests {
    let health = #"{"id":"h","method":"parley.v1.Engine/Health"}"# + "\n"

    func expectHealthStillAnswered(on connection: RawConnection, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        connection.send(health)
        let reply = try await connection.nextReply(sourceLocation: sourceLocation)
        #expect(reply == ControlReply(id: "h", body: .result(["status": "SERVING"])), sourceLocation: sourceLocation)
    }

    @Test func anOversizedLineGetsResourceExhaustedAndTheConnectionStaysUsable() async throws {
        let server = try await TestServer(maximumFrameSize: 1024)
        let connection = try RawConnection(path: server.path)
        connection.send(String(repeating: "a", count: 5000) + "\n")
        let reply = try await connection.nextReply()
        #expect(reply.id == nil)
        let error = try errorBody(reply)
        #expect(error.code == .resourceExhausted)
        #expect(error.details == ["limit": 1024])
        try await expectHealthStillAnswered(on: connection)
        connection.close()
        await server.stop()
    }

    @Test func aNonJSONLineGetsInvalidArgumentWithANullIdAndTheConnectionStaysUsable() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send("hello, engine\n")
        let reply = try await connection.nextReply()
        #expect(reply.id == nil)
        #expect(try errorBody(reply).code == .invalidArgument)
        try await expectHealthStillAnswered(on: connection)
        connection.close()
        await server.stop()
    }

    @Test func aLineThatIsNotUTF8GetsInvalidArgumentAndTheConnectionStaysUsable() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(bytes: [0x7B, 0xFF, 0xFE, 0x7D, 0x0A])
        let reply = try await connection.nextReply()
        #expect(reply == ControlReply(id: nil, error: .invalidUTF8))
        try await expectHealthStillAnswered(on: connection)
        connection.close()
        await server.stop()
    }

    @Test func aBadEnvelopeGetsAnErrorNamingTheFieldUnderItsIdAndTheConnectionStaysUsable() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":7,"method":"parley.v1.Engine/Health","deadline":5}"# + "\n")
        let reply = try await connection.nextReply()
        #expect(reply.id == 7)
        let error = try errorBody(reply)
        #expect(error.code == .invalidArgument)
        #expect(error.details == ["field": "deadline"])
        connection.send(#"{"method":"parley.v1.Engine/Health"}"# + "\n")
        let missingID = try await connection.nextReply()
        #expect(missingID.json.serialized() == #"{"id":null,"error":{"code":"INVALID_ARGUMENT","message":"id: missing","details":{"field":"id"}}}"#)
        try await expectHealthStillAnswered(on: connection)
        connection.close()
        await server.stop()
    }

    @Test func anUnknownMethodGetsUnimplementedNamingTheMethod() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":2,"method":"parley.v1.Calls/Dail"}"# + "\n")
        let reply = try await connection.nextReply()
        #expect(reply.json.serialized()
            == #"{"id":2,"error":{"code":"UNIMPLEMENTED","message":"method parley.v1.Calls/Dail is not served","details":{"method":"parley.v1.Calls/Dail"}}}"#)
        connection.close()
        await server.stop()
    }

    @Test func aDuplicateInFlightIdGetsAlreadyExistsAndTheFirstCallIsUnaffected() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":"a","method":"parley.v1.Test/Slow"}"# + "\n")
        await server.handlers.slowStarted.wait()
        connection.send(#"{"id":"a","method":"parley.v1.Test/Echo","params":{"x":1}}"# + "\n")
        let duplicate = try await connection.nextReply()
        #expect(duplicate.id == "a")
        let error = try errorBody(duplicate)
        #expect(error.code == .alreadyExists)
        #expect(error.details == ["field": "id"])
        // The first call is still in flight: cancelling it answers it, and then the id is free again.
        connection.send(#"{"id":"a","cancel":true}"# + "\n")
        #expect(try errorBody(try await connection.nextReply()).code == .cancelled)
        connection.send(#"{"id":"a","method":"parley.v1.Test/Echo","params":{"x":1}}"# + "\n")
        #expect(try await connection.nextReply() == ControlReply(id: "a", body: .result(["x": 1])))
        connection.close()
        await server.stop()
    }

    @Test func aRequestBeyondTheCallsInFlightLimitGetsResourceExhausted() async throws {
        let server = try await TestServer(maximumCallsPerConnection: 1)
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":1,"method":"parley.v1.Test/Slow"}"# + "\n")
        await server.handlers.slowStarted.wait()
        connection.send(#"{"id":2,"method":"parley.v1.Test/Echo"}"# + "\n")
        let refused = try await connection.nextReply()
        #expect(refused.id == 2)
        let error = try errorBody(refused)
        #expect(error.code == .resourceExhausted)
        #expect(error.details == ["limit": 1])
        connection.send(#"{"id":1,"cancel":true}"# + "\n")
        #expect(try errorBody(try await connection.nextReply()).code == .cancelled)
        connection.send(#"{"id":3,"method":"parley.v1.Test/Echo"}"# + "\n")
        #expect(try await connection.nextReply() == ControlReply(id: 3, body: .result([:])))
        connection.close()
        await server.stop()
    }

    @Test func aCancelForAnUnknownIdGetsNoReply() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":99,"cancel":true}"# + "\n")
        try await expectHealthStillAnswered(on: connection)
        connection.close()
        await server.stop()
    }

    @Test func aClientThatStopsReadingIsDisconnectedAndCountedWithoutHoldingUpOthers() async throws {
        let server = try await TestServer(maximumQueuedBytes: 64 * 1024)
        let slow = try RawConnection(path: server.path, reading: false)
        slow.send(#"{"id":1,"method":"parley.v1.Test/Flood"}"# + "\n")
        // The handler's sink refuses once the queue passes 64 KiB behind a full socket buffer.
        await server.handlers.slowClientDropped.wait()
        #expect(server.server.statistics.slowClientsDisconnected == 1)
        let other = try ControlClient(connectingTo: server.path)
        #expect(try await other.call(engineHealth) == ["status": "SERVING"])
        other.close()
        slow.close()
        await server.stop()
    }
}

/// A regression that loses a reply fails after a minute instead of hanging the run.
@Suite(.timeLimit(.minutes(1))) struct ServerCallLifecycleTests {
    @Test func aHandlerSlowerThanItsDeadlineEndsWithDeadlineExceededAndIsCancelled() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":5,"method":"parley.v1.Test/Slow","deadline_ms":20}"# + "\n")
        let reply = try await connection.nextReply()
        #expect(reply.id == 5)
        #expect(try errorBody(reply).code == .deadlineExceeded)
        await server.handlers.slowCancelled.wait()
        connection.close()
        await server.stop()
    }

    @Test func aStreamYieldsItsEventsInOrderThenEndsOK() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":"s","method":"parley.v1.Test/Count","params":{"count":5}}"# + "\n")
        for n in 0..<5 {
            #expect(try await connection.nextReply() == ControlReply(id: "s", body: .event(["n": .number(JSONNumber(Int64(n)))])))
        }
        #expect(try await connection.nextReply() == ControlReply(id: "s", body: .end(ControlEnd(code: .ok))))
        connection.close()
        await server.stop()
    }

    @Test func cancellingAStreamEndsItWithCancelledAndTheHandlerSeesIt() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":"w","method":"parley.v1.Test/Forever"}"# + "\n")
        #expect(try await connection.nextReply() == ControlReply(id: "w", body: .event(["ready": true])))
        connection.send(#"{"id":"w","cancel":true}"# + "\n")
        let end = try await connection.nextReply()
        guard case .end(let body) = end.body else {
            Issue.record("expected end, found \(end.json.serialized())")
            return
        }
        #expect(end.id == "w")
        #expect(body.code == .cancelled)
        await server.handlers.streamCancelled.wait()
        connection.close()
        await server.stop()
    }

    @Test func aStreamWithADeadlineEndsWithDeadlineExceededAfterItsEvents() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":"d","method":"parley.v1.Test/Forever","deadline_ms":20}"# + "\n")
        #expect(try await connection.nextReply() == ControlReply(id: "d", body: .event(["ready": true])))
        let end = try await connection.nextReply()
        guard case .end(let body) = end.body else {
            Issue.record("expected end, found \(end.json.serialized())")
            return
        }
        #expect(body.code == .deadlineExceeded)
        await server.handlers.streamCancelled.wait()
        connection.close()
        await server.stop()
    }

    @Test func aClientClosingItsConnectionCancelsItsStreams() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":"w","method":"parley.v1.Test/Forever"}"# + "\n")
        await server.handlers.streamStarted.wait()
        connection.close()
        await server.handlers.streamCancelled.wait()
        await server.stop()
    }

    @Test func stoppingEndsStreamsWithUnavailableAndStillAnswersUnaryCallsInFlight() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":"w","method":"parley.v1.Test/Forever"}"# + "\n")
        #expect(try await connection.nextReply() == ControlReply(id: "w", body: .event(["ready": true])))
        connection.send(#"{"id":"g","method":"parley.v1.Test/Gate"}"# + "\n")
        await server.handlers.gateStarted.wait()

        let stopping = Task { await server.server.stop() }
        let end = try await connection.nextReply()
        #expect(end == ControlReply(id: "w", body: .end(ControlEnd(code: .unavailable, message: "the engine is shutting down"))))
        // The unary call in flight (as Engine/Shutdown's own is) still gets its answer, then the server closes.
        server.handlers.gateOpened.raise()
        #expect(try await connection.nextReply() == ControlReply(id: "g", body: .result(["done": true])))
        #expect(await connection.nextLine() == nil)
        await stopping.value
        connection.close()
        removeTemporaryDirectory(server.directory)
    }

    @Test func stoppingDropsAUnaryCallStillInFlightAfterTheGracePeriod() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":"s","method":"parley.v1.Test/Slow"}"# + "\n")
        await server.handlers.slowStarted.wait()
        await server.server.stop()  // returns after ControlServer.closingGrace: the handler never answers
        await server.handlers.slowCancelled.wait()
        #expect(await connection.nextLine() == nil)
        connection.close()
        removeTemporaryDirectory(server.directory)
    }

    @Test func aFinalLineWithoutNewlineBeforeHalfCloseIsAnswered() async throws {
        let server = try await TestServer()
        let connection = try RawConnection(path: server.path)
        connection.send(#"{"id":1,"method":"parley.v1.Engine/Health"}"#)
        shutdown(connection.fd, Int32(SHUT_WR))
        #expect(try await connection.nextReply() == ControlReply(id: 1, body: .result(["status": "SERVING"])))
        #expect(await connection.nextLine() == nil)
        connection.close()
        await server.stop()
    }
}

/// A listening socket made and closed by hand, leaving a stale socket file.
struct RawListener {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = unixAddress(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0 && listen(fd, 1) == 0)
    }

    func close() { Glibc.close(fd) }
}
