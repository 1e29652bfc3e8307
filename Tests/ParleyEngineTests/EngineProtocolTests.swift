import Foundation
import ParleyControl
import ParleyCrypto
import Testing

/// The control protocol as a live `parleyd` serves it: status codes, field names, deadlines, cancel,
/// several clients, bad frames.
@Suite("parleyd control protocol", .serialized)
struct EngineProtocolTests {
    /// Expects `body` to fail with `status` and, if given, `details.field == field`.
    func expectFailure(
        _ status: ControlStatus, field: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            Issue.record("expected \(status), got a result", sourceLocation: sourceLocation)
        } catch ControlClientError.status(let got, let message, let details) {
            #expect(got == status, "message: \(message)", sourceLocation: sourceLocation)
            if let field { #expect(details?["field"] == .string(field), "details: \(String(describing: details))", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("expected \(status), got \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("Unknown methods, missing, ill-typed and unknown fields, and unknown calls get their status and the field")
    func badRequestsGetTheirStatusAndField() async throws {
        let daemon = try await Daemon("proto")
        let client = try daemon.client()
        await expectFailure(.unimplemented) { _ = try await client.call(MethodName.v1("Calls/Dail")) }
        await expectFailure(.invalidArgument, field: "params.call_id") { _ = try await client.call(MethodName.v1("Calls/Get")) }
        await expectFailure(.invalidArgument, field: "params.call_id") {
            _ = try await client.call(MethodName.v1("Calls/Get"), params: ["call_id": 5])
        }
        await expectFailure(.invalidArgument, field: "params.verbose") {
            _ = try await client.call(MethodName.v1("Calls/List"), params: ["verbose": true])
        }
        await expectFailure(.notFound, field: "params.call_id") {
            _ = try await client.call(MethodName.v1("Calls/Hangup"), params: ["call_id": "call-99"])
        }
        await expectFailure(.invalidArgument, field: "params.peer") {
            _ = try await client.call(MethodName.v1("Calls/Dial"), params: ["peer": "parley:not-a-key", "address": "127.0.0.1:9"])
        }
        await expectFailure(.invalidArgument, field: "params.address") {
            _ = try await client.call(MethodName.v1("Calls/Dial"), params: ["peer": .string(IdentityKeyPair().publicKey.base64URL)])
        }
        let own = try #require(try await client.call(MethodName.v1("Identity/Get"))["uri"]?.text)
        await expectFailure(.invalidArgument, field: "params.peer") {
            _ = try await client.call(MethodName.v1("Calls/Dial"), params: ["peer": .string(own)])
        }
        await expectFailure(.invalidArgument, field: "params.width") {
            _ = try await client.call(MethodName.v1("Calls/SetVideo"), params: ["call_id": "call-1", "width": 7])
        }
        await expectFailure(.notFound, field: "params.video_source") {
            _ = try await client.call(MethodName.v1("Devices/Select"), params: ["video_source": "/dev/video9"])
        }
        await expectFailure(.invalidArgument, field: "params.audio_source") {
            _ = try await client.call(MethodName.v1("Devices/Select"), params: ["audio_source": "synthetic-camera"])
        }
        client.close()
        await daemon.stop()
    }

    @Test("A deadline that passes while a dial waits for an answer gives DEADLINE_EXCEEDED")
    func deadlineIsEnforced() async throws {
        let daemon = try await Daemon("deadline")
        let client = try daemon.client()
        let nobody = IdentityKeyPair().publicKey.base64URL
        let clock = ContinuousClock()
        let start = clock.now
        await expectFailure(.deadlineExceeded) {
            _ = try await client.call(
                MethodName.v1("Calls/Dial"), params: ["peer": .string(nobody), "address": "127.0.0.1:9", "wait": true],
                deadline: .milliseconds(300))
        }
        #expect(clock.now - start < .seconds(5))
        client.close()
        await daemon.stop()
    }

    @Test("Engine methods answer: Version, Describe lists every method of v1, State, Devices")
    func engineMethodsAnswer() async throws {
        let daemon = try await Daemon("engine")
        let client = try daemon.client()
        let version = try await client.call(MethodName.v1("Engine/Version"))
        #expect(version["control_protocol"] == 1)
        let described = try await client.call(MethodName.v1("Engine/Describe"))
        let names = Set(described["services"]?.elements.flatMap { $0["methods"]?.elements ?? [] }.compactMap { $0["full_name"]?.text } ?? [])
        #expect(names == Set(ControlCatalog.version1.map(\.name.description)))
        let state = try await client.call(MethodName.v1("Engine/State"))
        #expect(state["identity.key"] == (try await client.call(MethodName.v1("Identity/Get")))["key"])
        #expect(state["engine.udp.addresses"]?.elements.isEmpty == false)
        let devices = try await client.call(MethodName.v1("Devices/List"))
        let sources = devices["sources"]?.elements.compactMap { $0["id"]?.text } ?? []
        #expect(sources.contains("synthetic-camera") && sources.contains("synthetic-microphone"))
        client.close()
        await daemon.stop()
    }

    @Test("Two clients both receive a call's events")
    func twoClientsBothReceiveEvents() async throws {
        let pair = try await DaemonPair.start()
        let first = EventLog(try pair.b.client())
        let second = EventLog(try pair.b.client())
        _ = await first.first { $0["type"]?.text == "snapshot" }
        _ = await second.first { $0["type"]?.text == "snapshot" }
        let b = try pair.b.client()
        let uri = try #require(try await b.call(MethodName.v1("Identity/Get"))["uri"]?.text)
        _ = try await pair.a.client().call(MethodName.v1("Calls/Dial"), params: ["peer": .string(uri)])
        let one = await first.first(where: Events.isIncomingCall)
        let two = await second.first(where: Events.isIncomingCall)
        #expect(one != nil && one == two)
        first.stop()
        second.stop()
        await pair.stop()
    }

    @Test("Cancel ends a Watch stream with CANCELLED; bad and oversized lines get an error and the connection goes on")
    func cancelAndBadFramesOnARawConnection() async throws {
        let daemon = try await Daemon("raw")
        let connection = try RawConnection(path: daemon.socketPath)
        try connection.send(#"{"id":"w","method":"parley.v1.Calls/Watch"}"#)
        let snapshot = try #require(try connection.readFrame())
        #expect(snapshot["id"] == "w" && snapshot["event.type"] == "snapshot")
        try connection.send(#"{"id":"w","cancel":true}"#)
        let end = try #require(try connection.readFrame())
        #expect(end["id"] == "w" && end["end.code"] == "CANCELLED")

        try connection.send("this is not json")
        let notJSON = try #require(try connection.readFrame())
        #expect(notJSON["id"] == .null && notJSON["error.code"] == "INVALID_ARGUMENT")
        try connection.send(String(repeating: "x", count: ControlFramer.defaultMaximumFrameSize + 10))
        let oversized = try #require(try connection.readFrame())
        #expect(oversized["error.code"] == "RESOURCE_EXHAUSTED")
        try connection.send(#"{"id":7,"method":"parley.v1.Engine/Health"}"#)
        let health = try #require(try connection.readFrame())
        #expect(health["id"] == 7 && health["result.status"] == "SERVING")
        connection.close()
        await daemon.stop()
    }
}

/// A control connection by hand: lines out, frames in (for what the Swift client never sends).
final class RawConnection {
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else { throw POSIXError(.EPIPE) }
            offset += written
        }
    }

    /// The next frame, parsed; nil if the connection closed or nothing came within 10 s.
    func readFrame() throws -> JSONValue? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                return try JSONValue(parsing: line)
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count = read(descriptor, &chunk, chunk.count)
            guard count > 0 else { return nil }
            buffer += chunk[..<count]
        }
    }

    func close() { Glibc.close(descriptor) }
}
