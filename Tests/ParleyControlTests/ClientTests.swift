import ParleyControl
import Testing

/// A regression that loses a reply fails after a minute instead of hanging the run.
@Suite(.timeLimit(.minutes(1))) struct ClientTests {
    @Test func healthAnswersServing() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path)
        #expect(try await client.call(engineHealth) == ["status": "SERVING"])
        client.close()
        await server.stop()
    }

    @Test func describeListsTheServedMethodsByServiceWithTheirKindsAndTheLimits() async throws {
        let server = try await TestServer(maximumFrameSize: 4096)
        let client = try ControlClient(connectingTo: server.path)
        let description = try await client.call(testMethod("Describe", service: "Engine"))
        guard case .object(let root) = description, case .array(let services)? = root["services"] else {
            Issue.record("unexpected Describe result \(description.serialized())")
            return
        }
        let names = services.compactMap { service -> String? in
            if case .object(let object) = service, case .string(let name)? = object["name"] { return name }
            return nil
        }
        // The catalog's services come first, in its order; the test service after.
        #expect(names == ["parley.v1.Engine", "parley.v1.Test"])
        // Each catalog method also carries its schema (MethodSchemaTests checks those); compared without it.
        #expect(services.first.map(withoutSchemas) == [
            "name": "parley.v1.Engine",
            "methods": [
                ["name": "Health", "full_name": "parley.v1.Engine/Health", "kind": "unary"],
                ["name": "Describe", "full_name": "parley.v1.Engine/Describe", "kind": "unary"],
            ],
        ])
        guard case .object(let test) = services.last, case .array(let methods)? = test["methods"] else {
            Issue.record("no test service")
            return
        }
        #expect(methods.contains(["name": "Count", "full_name": "parley.v1.Test/Count", "kind": "stream"]))
        #expect(methods.contains(["name": "Echo", "full_name": "parley.v1.Test/Echo", "kind": "unary"]))
        if case .object(let limits)? = root["limits"] {
            #expect(limits["max_frame_bytes"] == 4096)
        } else {
            Issue.record("no limits")
        }
        client.close()
        await server.stop()
    }

    @Test func twentyClientsAtOnceEachGetTheirOwnAnswers() async throws {
        let server = try await TestServer()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for clientNumber in 0..<20 {
                group.addTask {
                    let client = try ControlClient(connectingTo: server.path)
                    defer { client.close() }
                    try await withThrowingTaskGroup(of: Void.self) { calls in
                        for call in 0..<10 {
                            calls.addTask {
                                let params: JSONObject = ["client": .number(JSONNumber(Int64(clientNumber))), "call": .number(JSONNumber(Int64(call)))]
                                let result = try await client.call(testMethod("Echo"), params: params)
                                #expect(result == .object(params))
                            }
                        }
                        try await calls.waitForAll()
                    }
                    #expect(try await client.call(engineHealth) == ["status": "SERVING"])
                }
            }
            try await group.waitForAll()
        }
        #expect(server.server.statistics.acceptedConnections == 20)
        await server.stop()
    }

    @Test func anErrorFrameIsThrownWithItsStatusMessageAndDetails() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path)
        await #expect(throws: ControlClientError.status(
            .invalidArgument, message: "params.address: refused by the test", details: ["field": "params.address"])
        ) {
            try await client.call(testMethod("Fail"), params: ["field": "address"])
        }
        await #expect(throws: ControlClientError.status(
            .unimplemented, message: "method parley.v1.Calls/Dail is not served", details: ["method": "parley.v1.Calls/Dail"])
        ) {
            try await client.call(testMethod("Dail", service: "Calls"))
        }
        // A handler's own status (not one of the protocol's framing errors) reaches the client as sent.
        await #expect(throws: ControlClientError.status(.notFound, message: "no call 7", details: ["call": 7])) {
            try await client.call(testMethod("Missing"), params: ["call": 7])
        }
        // The connection is still usable after errors.
        #expect(try await client.call(testMethod("Echo"), params: ["ok": true]) == ["ok": true])
        client.close()
        await server.stop()
    }

    @Test func aDeadlineShorterThanTheHandlerThrowsDeadlineExceeded() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path)
        do {
            _ = try await client.call(testMethod("Slow"), deadline: .milliseconds(10))
            Issue.record("the slow call returned")
        } catch {
            #expect(error.status == .deadlineExceeded)
        }
        await server.handlers.slowCancelled.wait()
        client.close()
        await server.stop()
    }

    @Test func cancellingTheCallingTaskCancelsTheCallOnTheServer() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path)
        let call = Task { () async throws(ControlClientError) -> JSONValue in try await client.call(testMethod("Slow")) }
        await server.handlers.slowStarted.wait()
        call.cancel()
        await #expect(throws: ControlClientError.status(.cancelled, message: "cancelled by the client", details: nil)) {
            try await call.value
        }
        await server.handlers.slowCancelled.wait()
        client.close()
        await server.stop()
    }

    @Test func aStreamYieldsEventsThenFinishesAtEndOK() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path)
        var received: [JSONValue] = []
        for try await event in client.stream(testMethod("Count"), params: ["count": 4]) { received.append(event) }
        #expect(received == [["n": 0], ["n": 1], ["n": 2], ["n": 3]])
        client.close()
        await server.stop()
    }

    @Test func aStreamEndingWithAnErrorCodeThrowsItAfterItsEvents() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path)
        var received: [JSONValue] = []
        do {
            for try await event in client.stream(testMethod("Broken")) { received.append(event) }
            Issue.record("the broken stream finished normally")
        } catch let error as ControlClientError {
            #expect(error == .status(.invalidArgument, message: "params.stream: broken on purpose", details: ["field": "params.stream"]))
        }
        #expect(received == [["n": 0]])
        client.close()
        await server.stop()
    }

    @Test func stoppingIterationEarlyCancelsTheStreamOnTheServer() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path)
        for try await event in client.stream(testMethod("Forever")) {
            #expect(event == ["ready": true])
            break
        }
        await server.handlers.streamCancelled.wait()
        // The connection goes on serving.
        #expect(try await client.call(engineHealth) == ["status": "SERVING"])
        client.close()
        await server.stop()
    }

    @Test func manyCallsInFlightOnOneConnectionEachGetTheirOwnReply() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path)
        let slow = Task { () async throws(ControlClientError) -> JSONValue in try await client.call(testMethod("Slow")) }
        await server.handlers.slowStarted.wait()
        // Replies overtake the slow call in flight before them.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<100 {
                group.addTask {
                    let result = try await client.call(testMethod("Echo"), params: ["n": .number(JSONNumber(Int64(n)))])
                    #expect(result == ["n": .number(JSONNumber(Int64(n)))])
                }
            }
            try await group.waitForAll()
        }
        slow.cancel()
        await #expect(throws: ControlClientError.self) { try await slow.value }
        client.close()
        await server.stop()
    }

    @Test func closeFailsTheCallsStillWaiting() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path)
        let call = Task { () async throws(ControlClientError) -> JSONValue in try await client.call(testMethod("Slow")) }
        await server.handlers.slowStarted.wait()
        client.close()
        await #expect(throws: ControlClientError.connectionClosed) { try await call.value }
        // The server notices the client went away and cancels its call.
        await server.handlers.slowCancelled.wait()
        await server.stop()
    }

    @Test func aRequestLongerThanTheFrameLimitIsNotSent() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path, maximumFrameSize: 100)
        await #expect(throws: ControlClientError.requestTooLarge(limit: 100)) {
            try await client.call(testMethod("Echo"), params: ["text": .string(String(repeating: "x", count: 200))])
        }
        #expect(try await client.call(engineHealth) == ["status": "SERVING"])
        client.close()
        await server.stop()
    }
}

/// A Describe service entry with its methods' `schema` members left out.
private func withoutSchemas(_ service: JSONValue) -> JSONValue {
    guard case .object(var object) = service, case .array(let methods)? = object["methods"] else { return service }
    object["methods"] = .array(methods.map { method in
        guard case .object(var entry) = method else { return method }
        entry["schema"] = nil
        return .object(entry)
    })
    return .object(object)
}
