import Foundation
import ParleyControl
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

/// A deliberately small JSON Schema checker covering the keywords the envelope schemas use: `type`,
/// `required`, `properties`, `additionalProperties: false`, `enum`, `const`, `minimum`, `maximum`,
/// `pattern`, `oneOf`. Any other keyword (except annotations) is reported, so a schema can never use a
/// rule this checker would silently skip. Returns the violations, empty when `value` conforms.
func violations(of value: JSONValue, against schema: JSONValue, at path: String = "$") -> [String] {
    guard case .object(let rules) = schema else { return ["\(path): schema is not an object"] }
    var found: [String] = []
    let annotations: Set = ["$schema", "$id", "title", "description"]
    for (keyword, rule) in rules where !annotations.contains(keyword) {
        switch (keyword, rule) {
        case ("type", .string(let type)):
            if !matches(value, type: type) { found.append("\(path): expected \(type), found \(value.kindDescription)") }
        case ("required", .array(let names)):
            guard case .object(let object) = value else { continue }
            for case .string(let name) in names where object[name] == nil { found.append("\(path): missing \(name)") }
        case ("properties", .object(let properties)):
            guard case .object(let object) = value else { continue }
            for (name, member) in object {
                if let memberSchema = properties[name] { found += violations(of: member, against: memberSchema, at: "\(path).\(name)") }
            }
        case ("additionalProperties", .bool(false)):
            guard case .object(let object) = value, case .object(let properties)? = rules["properties"] else { continue }
            for name in object.keys where properties[name] == nil { found.append("\(path): unexpected member \(name)") }
        case ("enum", .array(let allowed)):
            if !allowed.contains(value) { found.append("\(path): \(value.serialized()) not in enum") }
        case ("const", let constant):
            if value != constant { found.append("\(path): \(value.serialized()) is not \(constant.serialized())") }
        case ("minimum", .number(let bound)):
            if case .number(let number) = value, number.double < bound.double { found.append("\(path): below \(bound)") }
        case ("maximum", .number(let bound)):
            if case .number(let number) = value, number.double > bound.double { found.append("\(path): above \(bound)") }
        case ("pattern", .string(let pattern)):
            guard case .string(let text) = value else { continue }
            let expression = try? NSRegularExpression(pattern: pattern)
            let range = NSRange(text.startIndex..., in: text)
            if expression?.firstMatch(in: text, range: range) == nil { found.append("\(path): \(text) does not match \(pattern)") }
        case ("oneOf", .array(let choices)):
            let passing = choices.filter { violations(of: value, against: $0, at: path).isEmpty }.count
            if passing != 1 { found.append("\(path): matches \(passing) of oneOf, not exactly 1") }
        default:
            found.append("\(path): checker does not understand keyword \(keyword)")
        }
    }
    return found
}

func matches(_ value: JSONValue, type: String) -> Bool {
    switch (type, value) {
    case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("number", .number):
        true
    case ("integer", .number(let number)): number.double.rounded() == number.double
    default: false
    }
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
            #expect(violations(of: frame, against: try schema(name)) == [], "\(frame.serialized())")
        }
    }

    @Test func everyServerFrameMatchesExactlyOneReplySchema() throws {
        let replySchemas = try ["reply", "error", "event", "end"].map(schema)
        for bytes in framesTheCodeWrites {
            let frame = try JSONValue(parsing: Array(bytes.dropLast()))
            guard !["request", "cancel"].contains(schemaName(of: frame)) else { continue }
            #expect(replySchemas.filter { violations(of: frame, against: $0).isEmpty }.count == 1, "\(frame.serialized())")
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
            #expect(!violations(of: try JSONValue(parsing: line), against: try schema(name)).isEmpty, "\(line)")
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
