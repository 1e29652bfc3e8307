import Foundation
import ParleyControl
import ParleyTestSupport
import Testing

/// Protocols/control/schemas/, found from this file's path in the repository.
let schemaDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Protocols/control/schemas")

/// The schema `name` (e.g. "request") parsed from the repository.
func schema(_ name: String) throws -> JSONValue {
    let bytes = try Data(contentsOf: schemaDirectory.appendingPathComponent("\(name).json"))
    return try JSONValue(parsing: Array(bytes))
}

/// The shared checker (ParleyTestSupport) reading Protocols/control/schemas/.
let schemaChecker = JSONSchemaChecker(directory: schemaDirectory)

/// The violations of `value` against the envelope schema `name` (e.g. "request"); empty when it conforms.
func violations(of value: JSONValue, againstSchemaNamed name: String) -> [String] {
    schemaChecker.violations(of: value, against: "\(name).json")
}

/// The schema file a frame belongs to, chosen by its body member.
func schemaName(of frame: JSONValue) -> String {
    guard case .object(let object) = frame else { return "none" }
    for (member, name) in [("method", "request"), ("cancel", "cancel"), ("result", "reply"), ("error", "error"), ("event", "event"), ("end", "end")]
    where object[member] != nil {
        return name
    }
    return "none"
}

/// Frames of every kind, as the code writes them.
let framesTheCodeWrites: [[UInt8]] = [
    try! ControlRequest(id: 1, method: dial, params: ["address": "198.51.100.7:4000"], deadlineMilliseconds: 5000).serialized(),
    ControlRequest(id: "engine-1", method: try! MethodName(parsing: "parley.v1.Engine/Health")).serialized(),
    ControlCancel(id: -9_007_199_254_740_991).serialized(),
    ControlReply(id: 1, body: .result(["calls": []])).serialized(),
    ControlReply(id: "w", body: .event(["kind": "ringing"])).serialized(),
    ControlReply(id: "w", body: .end(ControlEnd(code: .ok))).serialized(),
    ControlReply(id: "w", body: .end(ControlEnd(code: .deadlineExceeded, message: "deadline passed", details: ["deadline_ms": 5]))).serialized(),
    ControlReply(id: nil, error: .oversized(limit: 1_048_576)).serialized(),
    ControlReply(id: nil, error: .invalidUTF8).serialized(),
    ControlReply(id: nil, error: .invalidJSON(reason: "x")).serialized(),
    ControlReply(id: 2, error: .invalidArgument(field: "params.address", reason: "missing")).serialized(),
    ControlReply(id: "z", error: .unknownMethod(name: "parley.v9.Calls/Dial")).serialized(),
    ControlInboundError(id: nil, error: .invalidArgument(field: "id", reason: "missing")).reply.serialized(),
] + ControlStatus.allCases.filter { $0 != .ok }.map {
    ControlReply(id: 3, body: .error(ControlErrorBody(code: $0, message: "m"))).serialized()
} + ControlCatalog.version1.map { ControlRequest(id: 4, method: $0.name).serialized() }

@Suite struct SchemaConformanceTests {
    @Test func everyFrameTheCodeWritesValidatesAgainstItsSchema() throws {
        for bytes in framesTheCodeWrites {
            let frame = try JSONValue(parsing: Array(bytes.dropLast()))
            let name = schemaName(of: frame)
            #expect(name != "none", "no schema for \(frame.serialized())")
            guard name != "none" else { continue }
            #expect(violations(of: frame, againstSchemaNamed: name) == [], "\(frame.serialized())")
        }
    }

    @Test func everyServerFrameMatchesExactlyOneReplySchema() throws {
        let replySchemas = ["reply", "error", "event", "end"]
        for bytes in framesTheCodeWrites {
            let frame = try JSONValue(parsing: Array(bytes.dropLast()))
            guard !["request", "cancel"].contains(schemaName(of: frame)) else { continue }
            #expect(replySchemas.filter { violations(of: frame, againstSchemaNamed: $0).isEmpty }.count == 1, "\(frame.serialized())")
        }
    }

    @Test func theCheckerRejectsFramesThatBreakTheSchemas() throws {
        let broken: [(String, String)] = [
            ("request", #"{"id":1}"#),  // no method
            ("request", #"{"id":1.5,"method":"parley.v1.Calls/Dial"}"#),  // id neither string nor integer
            ("request", #"{"id":1,"method":"Calls/Dial"}"#),  // method outside the pattern
            ("request", #"{"id":1,"method":"parley.v1.Calls/Dial","deadline_ms":0}"#),  // below the minimum
            ("request", #"{"id":1,"method":"parley.v1.Calls/Dial","extra":true}"#),  // unknown member
            ("cancel", #"{"id":1,"cancel":false}"#),  // cancel must be true
            ("reply", #"{"id":null,"result":{}}"#),  // null id outside an error frame
            ("error", #"{"id":1,"error":{"code":"OK","message":""}}"#),  // OK is not an error
            ("error", #"{"id":1,"error":{"code":"INTERNAL"}}"#),  // no message
            ("end", #"{"id":1,"end":{"code":"FINE"}}"#),  // unknown status
            ("event", #"{"id":1,"event":[]}"#),  // event must be an object
        ]
        for (name, line) in broken {
            #expect(!violations(of: try JSONValue(parsing: line), againstSchemaNamed: name).isEmpty, "\(line)")
        }
    }

    @Test func theSchemasListEveryStatusName() throws {
        guard case .object(let end) = try schema("end"), case .object(let properties)? = end["properties"],
            case .object(let body)? = properties["end"], case .object(let bodyProperties)? = body["properties"],
            case .object(let code)? = bodyProperties["code"], case .array(let names)? = code["enum"]
        else {
            Issue.record("end.json has an unexpected shape")
            return
        }
        #expect(names == ControlStatus.allCases.map { .string($0.name) })
    }
}
