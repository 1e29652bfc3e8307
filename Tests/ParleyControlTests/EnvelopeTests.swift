import ParleyControl
import Testing

/// The frame's bytes as text, for comparing serializations.
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

let dial = try! MethodName(parsing: "parley.v1.Calls/Dial")

@Suite struct RequestEnvelopeTests {
    @Test func aRequestWithIntegerIdParsesWithEveryMember() throws {
        let line = #"{"id":7,"method":"parley.v1.Calls/Dial","params":{"address":"198.51.100.7:4000"},"deadline_ms":5000}"#
        let expected = try ControlRequest(id: 7, method: dial, params: ["address": "198.51.100.7:4000"], deadlineMilliseconds: 5000)
        #expect(try ControlInbound(parsing: line) == .request(expected))
        #expect(text(expected.serialized()) == line + "\n")
    }

    @Test func aRequestWithStringIdAndNoParamsGetsEmptyParams() throws {
        let inbound = try ControlInbound(parsing: #"{"method":"parley.v1.Engine/Health","id":"h-1"}"#)
        guard case .request(let request) = inbound else {
            Issue.record("not a request: \(inbound)")
            return
        }
        #expect(request.id == .string("h-1"))
        #expect(request.method.service == "Engine" && request.method.method == "Health" && request.method.version == 1)
        #expect(request.params.isEmpty)
        #expect(request.deadlineMilliseconds == nil)
        #expect(text(request.serialized()) == #"{"id":"h-1","method":"parley.v1.Engine/Health","params":{}}"# + "\n")
    }

    @Test(arguments: [
        ControlInbound.request(ControlRequest(id: "a\nb", method: dial, params: ["nested": ["k": [1, "two", .null]]])),
        .request(try! ControlRequest(id: -9_007_199_254_740_991, method: dial, deadlineMilliseconds: 2_147_483_647)),
        .cancel(ControlCancel(id: 9_007_199_254_740_991)),
        .cancel(ControlCancel(id: "")),
    ])
    func framesSurviveSerializeAndParse(frame: ControlInbound) throws {
        let bytes = frame.serialized()
        #expect(bytes.last == 0x0A)
        #expect(try ControlInbound(parsing: Array(bytes.dropLast())) == frame)
    }

    @Test func buildingAnOutOfRangeIdOrDeadlineThrowsNamingTheField() throws {
        #expect(throws: ControlError.invalidArgument(field: "id", reason: "an integer id must lie within ±(2^53 − 1), found 9007199254740992")) {
            try ControlRequestID(integer: 9_007_199_254_740_992)
        }
        #expect(throws: ControlError.invalidArgument(field: "deadline_ms", reason: "must lie in 1...2147483647, found 0")) {
            try ControlRequest(id: 1, method: dial, deadlineMilliseconds: 0)
        }
        #expect(try ControlRequestID(integer: -9_007_199_254_740_991).value == .integer(-9_007_199_254_740_991))
    }

    @Test func aCancelParses() throws {
        #expect(try ControlInbound(parsing: #"{"id":"s-9","cancel":true}"#) == .cancel(ControlCancel(id: "s-9")))
        #expect(text(ControlCancel(id: 3).serialized()) == #"{"id":3,"cancel":true}"# + "\n")
    }

    /// Each malformed frame, the id the error frame echoes, and the exact error.
    @Test(arguments: [
        ("not json", nil, ControlError.invalidJSON(reason: "invalid literal, expected null at byte 1")),
        ("<frame/>", nil, .invalidJSON(reason: "expected a value, found character '<' at byte 0")),
        ("[1]", nil, .invalidArgument(field: "frame", reason: "expected an object, found an array")),
        (#"{"id":1,"id":2}"#, nil, .invalidJSON(reason: #"duplicate key "id" at byte 8"#)),
        (#"{"method":"parley.v1.Engine/Health"}"#, nil, .invalidArgument(field: "id", reason: "missing")),
        (#"{"id":true,"cancel":true}"#, nil, .invalidArgument(field: "id", reason: "expected a string or an integer, found a boolean")),
        (#"{"id":null,"cancel":true}"#, nil, .invalidArgument(field: "id", reason: "expected a string or an integer, found null")),
        (#"{"id":1.5,"cancel":true}"#, nil, .invalidArgument(field: "id", reason: "an integer id must lie within ±(2^53 − 1), found 1.5")),
        (
            #"{"id":9007199254740992,"cancel":true}"#, nil,
            .invalidArgument(field: "id", reason: "an integer id must lie within ±(2^53 − 1), found 9007199254740992")
        ),
        (#"{"id":"a"}"#, "a", .invalidArgument(field: "method", reason: #"missing (a frame is a request with "method" or a cancel with "cancel")"#)),
        (#"{"id":"a","method":"parley.v1.Engine/Health","extra":1}"#, "a", .invalidArgument(field: "extra", reason: "not a member of a request frame")),
        (#"{"id":1,"cancel":true,"method":"parley.v1.Engine/Health"}"#, 1, .invalidArgument(field: "cancel", reason: "not a member of a request frame")),
        (#"{"id":1,"cancel":true,"x":0}"#, 1, .invalidArgument(field: "x", reason: "not a member of a cancel frame")),
        (#"{"id":1,"method":7}"#, 1, .invalidArgument(field: "method", reason: "expected a string, found a number")),
        (
            #"{"id":1,"method":"Calls/Dial"}"#, 1,
            .invalidArgument(field: "method", reason: #"expected parley.v<N>.<Service>/<Method>, found "Calls/Dial""#)
        ),
        (#"{"id":1,"method":"parley.v0.Calls/Dial"}"#, 1, .invalidArgument(field: "method", reason: #"version "v0" is not v1...v9999"#)),
        (
            #"{"id":1,"method":"parley.v1.calls/Dial"}"#, 1,
            .invalidArgument(field: "method", reason: #"service "calls" is not an UpperCamelCase ASCII identifier of at most 64 characters"#)
        ),
        (
            #"{"id":1,"method":"parley.v1.Calls/"}"#, 1,
            .invalidArgument(field: "method", reason: #"method "" is not an UpperCamelCase ASCII identifier of at most 64 characters"#)
        ),
        (#"{"id":1,"method":"parley.v1.Calls/Dial","params":[]}"#, 1, .invalidArgument(field: "params", reason: "expected an object, found an array")),
        (#"{"id":1,"method":"parley.v1.Calls/Dial","params":null}"#, 1, .invalidArgument(field: "params", reason: "expected an object, found null")),
        (#"{"id":1,"method":"parley.v1.Calls/Dial","deadline_ms":0}"#, 1, .invalidArgument(field: "deadline_ms", reason: "must lie in 1...2147483647, found 0")),
        (
            #"{"id":1,"method":"parley.v1.Calls/Dial","deadline_ms":2147483648}"#, 1,
            .invalidArgument(field: "deadline_ms", reason: "must lie in 1...2147483647, found 2147483648")
        ),
        (#"{"id":1,"method":"parley.v1.Calls/Dial","deadline_ms":1.5}"#, 1, .invalidArgument(field: "deadline_ms", reason: "expected an integer, found 1.5")),
        (#"{"id":1,"method":"parley.v1.Calls/Dial","deadline_ms":"5"}"#, 1, .invalidArgument(field: "deadline_ms", reason: "expected an integer, found a string")),
        (#"{"id":1,"cancel":false}"#, 1, .invalidArgument(field: "cancel", reason: "must be true")),
        (#"{"id":1,"cancel":"yes"}"#, 1, .invalidArgument(field: "cancel", reason: "expected a boolean, found a string")),
    ] as [(String, ControlRequestID?, ControlError)])
    func malformedFramesGiveTheExactErrorAndEchoTheIdWhenReadable(line: String, id: ControlRequestID?, error: ControlError) {
        #expect(throws: ControlInboundError(id: id, error: error)) { try ControlInbound(parsing: line) }
    }

    @Test func anErrorForAFrameWithoutIdIsAnErrorFrameWithNullId() {
        let failure = ControlInboundError(id: nil, error: .invalidArgument(field: "id", reason: "missing"))
        #expect(
            text(failure.reply.serialized())
                == #"{"id":null,"error":{"code":"INVALID_ARGUMENT","message":"id: missing","details":{"field":"id"}}}"# + "\n")
    }

    @Test func idsAreEchoedExactlyInReplies() {
        #expect(text(ControlReply(id: "x-1", body: .result([:])).serialized()) == #"{"id":"x-1","result":{}}"# + "\n")
        #expect(text(ControlReply(id: 42, body: .event(["n": 1])).serialized()) == #"{"id":42,"event":{"n":1}}"# + "\n")
    }
}

@Suite struct MethodNameTests {
    @Test func laterVersionsAreWellFormedSoTheServerCanAnswerUnimplemented() throws {
        let name = try MethodName(parsing: "parley.v2.Calls/Dial")
        #expect(name.version == 2)
        #expect(name.description == "parley.v2.Calls/Dial")
        #expect(ControlError.unknownMethod(name: name.description).status == .unimplemented)
    }

    @Test(arguments: ["parley.v1.Calls.Dial", "parley.v01.Calls/Dial", "parley.v1.Calls/Di-al", "parley.v1.Calls/Dial/X", "parley.v١.Calls/Dial"])
    func malformedNamesAreRejectedNamingTheMethodField(name: String) {
        do {
            _ = try MethodName(parsing: name)
            Issue.record("\(name) was accepted")
        } catch {
            guard case .invalidArgument(let field, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(field == "method")
        }
    }

    @Test func theCatalogHoldsTheMethodsOfIssuesSixAndSevenAndOnlyWatchStreams() {
        // Issue 6's 24 methods and issue 7's Calls/Record.
        #expect(ControlCatalog.version1.count == 25)
        #expect(Set(ControlCatalog.version1.map(\.name)).count == 25)
        #expect(ControlCatalog.version1.filter { $0.kind == .serverStreaming }.map(\.name.description) == ["parley.v1.Calls/Watch"])
    }
}

@Suite struct ReplyEnvelopeTests {
    @Test(arguments: [
        ControlReply(id: 1, body: .result(["state": "idle", "calls": []])),
        ControlReply(id: "w", body: .event(["kind": "ringing"])),
        ControlReply(id: "w", body: .end(ControlEnd(code: .ok))),
        ControlReply(id: "w", body: .end(ControlEnd(code: .cancelled, message: "cancelled by the client", details: ["at": 3]))),
        ControlReply(id: nil, error: .oversized(limit: 1_048_576)),
        ControlReply(id: 5, error: .unknownMethod(name: "parley.v1.Calls/Nope")),
    ])
    func repliesSurviveSerializeAndParse(reply: ControlReply) throws {
        #expect(try ControlReply(parsing: Array(reply.serialized().dropLast())) == reply)
    }

    @Test func anEndWithOKAndNoMessageIsMinimal() {
        #expect(text(ControlReply(id: 4, body: .end(ControlEnd(code: .ok))).serialized()) == #"{"id":4,"end":{"code":"OK"}}"# + "\n")
    }

    @Test(arguments: [
        (#"{"result":{}}"#, ControlError.invalidArgument(field: "id", reason: "missing")),
        (#"{"id":1}"#, .invalidArgument(field: "result", reason: "missing (a reply has one of result, error, event, end)")),
        (#"{"id":1,"result":{},"event":{}}"#, .invalidArgument(field: "event", reason: "a reply has exactly one of result, error, event, end")),
        (#"{"id":null,"result":{}}"#, .invalidArgument(field: "id", reason: "null is allowed only in an error frame")),
        (#"{"id":1,"error":{"code":"OK","message":""}}"#, .invalidArgument(field: "error.code", reason: "OK is not an error")),
        (#"{"id":1,"error":{"code":"NOPE","message":""}}"#, .invalidArgument(field: "error.code", reason: #"unknown status "NOPE""#)),
        (#"{"id":1,"error":{"code":"INTERNAL"}}"#, .invalidArgument(field: "error.message", reason: "missing")),
        (#"{"id":1,"end":{"code":"OK","why":1}}"#, .invalidArgument(field: "end.why", reason: "not a member of an end body")),
        (#"{"id":1,"end":{"code":"OK","message":null}}"#, .invalidArgument(field: "end.message", reason: "expected a string, found null")),
        (#"{"id":1,"outcome":{}}"#, .invalidArgument(field: "outcome", reason: "not a member of a reply frame")),
    ])
    func malformedRepliesGiveTheExactError(line: String, error: ControlError) {
        #expect(throws: error) { try ControlReply(parsing: line) }
    }
}

@Suite struct ControlStatusTests {
    @Test func namesAndNumbersAreGRPCs() {
        let expected = [
            "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
            "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
            "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
        ]
        #expect(ControlStatus.allCases.map(\.name) == expected)
        #expect(ControlStatus.allCases.map(\.rawValue) == Array(0...16))
        for status in ControlStatus.allCases { #expect(ControlStatus(name: status.name) == status) }
        #expect(ControlStatus(name: "ok") == nil)
    }

    @Test func errorsMapToStatusesMessagesAndDetails() {
        let cases: [(ControlError, ControlStatus, String, JSONObject?)] = [
            (.invalidJSON(reason: "x at byte 0"), .invalidArgument, "invalid JSON: x at byte 0", nil),
            (.invalidUTF8, .invalidArgument, "the frame is not valid UTF-8", nil),
            (.invalidArgument(field: "params.address", reason: "missing"), .invalidArgument, "params.address: missing", ["field": "params.address"]),
            (.oversized(limit: 1_048_576), .resourceExhausted, "frame longer than 1048576 bytes; discarded", ["limit": 1_048_576]),
            (.unknownMethod(name: "parley.v1.Calls/Nope"), .unimplemented, "method parley.v1.Calls/Nope is not served", ["method": "parley.v1.Calls/Nope"]),
        ]
        for (error, status, message, details) in cases {
            #expect(error.status == status)
            #expect(error.message == message)
            #expect(error.details == details)
        }
    }
}
