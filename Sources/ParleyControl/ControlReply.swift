/// The body of an `error` frame: `{"code", "message", "details"?}`. `code` is never OK.
public struct ControlErrorBody: Sendable, Equatable {
    /// The status; never `.ok`.
    public var code: ControlStatus
    /// A message for people.
    public var message: String
    /// Machine-readable details (e.g. `{"field": "params.address"}`), or `nil`.
    public var details: JSONObject?

    /// An error body; `code == .ok` is a programming error.
    public init(code: ControlStatus, message: String, details: JSONObject? = nil) {
        precondition(code != .ok, "an error frame cannot carry OK")
        self.code = code
        self.message = message
        self.details = details
    }

    /// The body for `error`: its status, message and details.
    public init(_ error: ControlError) {
        self.init(code: error.status, message: error.message, details: error.details)
    }
}

/// The body of an `end` frame closing a stream: `{"code", "message"?, "details"?}`; OK for success.
public struct ControlEnd: Sendable, Equatable {
    /// How the stream ended.
    public var code: ControlStatus
    /// A message for people, or `nil`.
    public var message: String?
    /// Machine-readable details, or `nil`.
    public var details: JSONObject?

    /// An end body.
    public init(code: ControlStatus, message: String? = nil, details: JSONObject? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }
}

/// A frame the server sends: a unary `result` or `error`, or a stream's `event` or closing `end`.
///
/// `id` echoes the request's id; it is `nil` (written `"id": null`) only in an error frame answering a
/// frame whose id could not be read. Clients parse replies with `init(parsing:)`.
public struct ControlReply: Sendable, Equatable {
    /// What the frame carries.
    public enum Body: Sendable, Equatable {
        /// A unary call's successful result.
        case result(JSONObject)
        /// A failure: of a unary call, of a stream before it started, or of the frame itself.
        case error(ControlErrorBody)
        /// One event of a stream.
        case event(JSONObject)
        /// The last frame of a stream.
        case end(ControlEnd)
    }

    /// The request id echoed, or `nil` for `"id": null` (error frames only).
    public var id: ControlRequestID?
    /// The payload.
    public var body: Body

    /// A reply; a `nil` id with anything but an error body is a programming error.
    public init(id: ControlRequestID?, body: Body) {
        if id == nil, case .error = body {} else { precondition(id != nil, "only error frames may have a null id") }
        self.id = id
        self.body = body
    }

    /// The error frame for `error` answering `id`.
    public init(id: ControlRequestID?, error: ControlError) {
        self.init(id: id, body: .error(ControlErrorBody(error)))
    }

    /// The frame as a JSON object: `id` first, then the body's member.
    public var json: JSONValue {
        var object: JSONObject = ["id": id?.json ?? .null]
        switch body {
        case .result(let result): object["result"] = .object(result)
        case .event(let event): object["event"] = .object(event)
        case .error(let error):
            var member: JSONObject = ["code": .string(error.code.name), "message": .string(error.message)]
            if let details = error.details { member["details"] = .object(details) }
            object["error"] = .object(member)
        case .end(let end):
            var member: JSONObject = ["code": .string(end.code.name)]
            if let message = end.message { member["message"] = .string(message) }
            if let details = end.details { member["details"] = .object(details) }
            object["end"] = .object(member)
        }
        return .object(object)
    }

    /// The frame's bytes: one line of JSON ending in `\n`.
    public func serialized() -> [UInt8] { ControlFramer.line(json) }

    /// Parses a reply frame (for clients). Errors name the field, e.g. `error.code` or `id`.
    public init(parsing line: String) throws(ControlError) {
        try self.init(parsing: Array(line.utf8))
    }

    /// Parses a reply frame from its UTF-8 bytes (for clients).
    public init(parsing line: [UInt8]) throws(ControlError) {
        let value = try JSONValue(parsing: line)
        guard case .object(let root) = value else {
            throw .invalidArgument(field: "frame", reason: "expected an object, found \(value.kindDescription)")
        }
        let frame = JSONField(value, path: "")
        let bodyKeys = root.keys.filter { $0 != "id" }
        guard root["id"] != nil else { throw .invalidArgument(field: "id", reason: "missing") }
        guard let kind = bodyKeys.first else {
            throw .invalidArgument(field: "result", reason: "missing (a reply has one of result, error, event, end)")
        }
        guard bodyKeys.count == 1 else {
            throw .invalidArgument(field: bodyKeys[1], reason: "a reply has exactly one of result, error, event, end")
        }
        let id: ControlRequestID? = root["id"] == .null ? nil : try ControlRequestID(frame["id"])
        let body: Body
        switch kind {
        case "result": body = .result(try frame["result"].object())
        case "event": body = .event(try frame["event"].object())
        case "error":
            try ControlInbound.rejectUnknownMembers(try frame["error"].object(), allowed: ["code", "message", "details"], kind: "error", path: "error")
            let code = try ControlReply.status(frame["error"]["code"])
            guard code != .ok else { throw .invalidArgument(field: "error.code", reason: "OK is not an error") }
            body = .error(ControlErrorBody(
                code: code, message: try frame["error"]["message"].string(), details: try ControlReply.details(frame["error"]["details"])))
        case "end":
            try ControlInbound.rejectUnknownMembers(try frame["end"].object(), allowed: ["code", "message", "details"], kind: "end", path: "end")
            body = .end(ControlEnd(
                code: try ControlReply.status(frame["end"]["code"]), message: frame["end"]["message"].isPresent ? try frame["end"]["message"].string() : nil,
                details: try ControlReply.details(frame["end"]["details"])))
        default:
            throw .invalidArgument(field: kind, reason: "not a member of a reply frame")
        }
        if id == nil, case .error = body {} else if id == nil {
            throw .invalidArgument(field: "id", reason: "null is allowed only in an error frame")
        }
        self.init(id: id, body: body)
    }

    static func details(_ field: JSONField) throws(ControlError) -> JSONObject? {
        field.isPresent ? try field.object() : nil
    }

    static func status(_ field: JSONField) throws(ControlError) -> ControlStatus {
        let name = try field.string()
        guard let status = ControlStatus(name: name) else {
            throw .invalidArgument(field: field.path, reason: "unknown status \"\(name)\"")
        }
        return status
    }
}
