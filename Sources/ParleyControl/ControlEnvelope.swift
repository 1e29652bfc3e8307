/// The id a client gives a request: a string or an integer, echoed in every frame that answers it.
///
/// Integers must lie within ±(2^53 − 1) so that every JSON implementation carries them exactly; the
/// throwing initializer checks this, so an id out of range can never be built or written. Ids are the
/// client's: the server only compares and echoes them.
public struct ControlRequestID: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral,
    ExpressibleByIntegerLiteral
{
    /// The two forms an id takes.
    public enum Value: Hashable, Sendable {
        /// A string id, any text.
        case string(String)
        /// An integer id within ±(2^53 − 1).
        case integer(Int64)
    }

    /// The largest integer id magnitude, 2^53 − 1.
    public static let maximumInteger: Int64 = (1 << 53) - 1

    /// The id's form and value.
    public let value: Value

    /// A string id.
    public init(_ text: String) { value = .string(text) }

    /// An integer id; throws `invalidArgument(field: "id", …)` outside ±(2^53 − 1). (Labelled, because
    /// `ControlRequestID(5)` with a literal is the literal initializer.)
    public init(integer: Int64) throws(ControlError) {
        guard integer.magnitude <= UInt64(ControlRequestID.maximumInteger) else {
            throw .invalidArgument(field: "id", reason: "an integer id must lie within ±(2^53 − 1), found \(integer)")
        }
        value = .integer(integer)
    }

    /// A string id (reads as `.string("a")` where an id is expected).
    public static func string(_ text: String) -> ControlRequestID { ControlRequestID(text) }

    /// A string id from a literal.
    public init(stringLiteral value: String) { self.init(value) }

    /// An integer id from a literal; a literal outside ±(2^53 − 1) is a programming error.
    public init(integerLiteral value: Int64) {
        guard let id = try? ControlRequestID(integer: value) else { preconditionFailure("integer id literal outside ±(2^53 − 1)") }
        self = id
    }

    /// The id read from `field` of a frame; throws naming the field when it has another type or range.
    public init(_ field: JSONField) throws(ControlError) {
        let found = try field.required()
        switch found {
        case .string(let text): value = .string(text)
        case .number(let number):
            guard let integer = number.exactInteger, integer.magnitude <= UInt64(ControlRequestID.maximumInteger) else {
                throw .invalidArgument(field: field.path, reason: "an integer id must lie within ±(2^53 − 1), found \(number)")
            }
            value = .integer(integer)
        default:
            throw field.mismatch(expected: "a string or an integer", found: found)
        }
    }

    /// The id as a JSON value.
    public var json: JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .integer(let integer): .number(JSONNumber(integer))
        }
    }

    /// The id as JSON text.
    public var description: String { json.serialized() }
}

/// A call of one method: `{"id", "method", "params"?, "deadline_ms"?}`.
public struct ControlRequest: Sendable, Equatable {
    /// The largest `deadline_ms`, 2^31 − 1 (about 24.8 days).
    public static let maximumDeadlineMilliseconds: Int64 = (1 << 31) - 1

    /// The client's id, echoed in every answer.
    public var id: ControlRequestID
    /// The method called.
    public var method: MethodName
    /// The parameters (an empty object when the frame has none).
    public var params: JSONObject
    /// Milliseconds from the server's receipt of the frame after which the call fails with
    /// DEADLINE_EXCEEDED; `nil` for no deadline. From 1 to `maximumDeadlineMilliseconds`.
    public private(set) var deadlineMilliseconds: Int64?

    /// A request without a deadline.
    public init(id: ControlRequestID, method: MethodName, params: JSONObject = [:]) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// A request with a deadline; throws `invalidArgument(field: "deadline_ms", …)` outside
    /// 1...`maximumDeadlineMilliseconds`.
    public init(id: ControlRequestID, method: MethodName, params: JSONObject = [:], deadlineMilliseconds: Int64?)
        throws(ControlError)
    {
        self.init(id: id, method: method, params: params)
        if let deadlineMilliseconds {
            guard (1...ControlRequest.maximumDeadlineMilliseconds).contains(deadlineMilliseconds) else {
                throw .invalidArgument(
                    field: "deadline_ms",
                    reason: "must lie in 1...\(ControlRequest.maximumDeadlineMilliseconds), found \(deadlineMilliseconds)")
            }
        }
        self.deadlineMilliseconds = deadlineMilliseconds
    }

    /// The parameters as a field at path `params`, for typed access whose errors name `params.…`.
    public var arguments: JSONField { JSONField(.object(params), path: "params") }

    /// The frame as a JSON object, members in the order id, method, params, deadline_ms.
    public var json: JSONValue {
        var object: JSONObject = ["id": id.json, "method": .string(method.description), "params": .object(params)]
        if let deadlineMilliseconds { object["deadline_ms"] = .number(JSONNumber(deadlineMilliseconds)) }
        return .object(object)
    }

    /// The frame's bytes: one line of JSON ending in `\n`.
    public func serialized() -> [UInt8] { ControlFramer.line(json) }
}

/// A client's request to stop call `id`: `{"id", "cancel": true}`.
public struct ControlCancel: Sendable, Equatable {
    /// The id of the request to cancel.
    public var id: ControlRequestID

    /// A cancel for request `id`.
    public init(id: ControlRequestID) { self.id = id }

    /// The frame as a JSON object.
    public var json: JSONValue { ["id": id.json, "cancel": true] }

    /// The frame's bytes: one line of JSON ending in `\n`.
    public func serialized() -> [UInt8] { ControlFramer.line(json) }
}

/// Why an inbound frame was refused, with the id to answer under (`nil`, written `"id": null`, when the
/// frame's id is missing or unusable).
public struct ControlInboundError: Error, Equatable, Sendable {
    /// The id recovered from the frame, or `nil`.
    public let id: ControlRequestID?
    /// What was wrong.
    public let error: ControlError

    /// An error for the frame with `id`.
    public init(id: ControlRequestID?, error: ControlError) {
        self.id = id
        self.error = error
    }

    /// The error frame the server sends back.
    public var reply: ControlReply { ControlReply(id: id, error: error) }
}

/// A frame a client sends: a request or a cancel.
///
/// Parsing checks, in this order, stopping at the first failure: JSON syntax; the frame is an object;
/// `id` (present, a string or an integer in range); the kind (`method` present → request, else `cancel`
/// present → cancel); no member beyond the kind's own; then, for a request, `method`, `params`,
/// `deadline_ms`, and for a cancel, `cancel` is `true`. The error carries the id once it has been read.
public enum ControlInbound: Sendable, Equatable {
    /// A method call.
    case request(ControlRequest)
    /// A cancel of an earlier request.
    case cancel(ControlCancel)

    /// Parses one frame (a line without its terminator).
    public init(parsing line: String) throws(ControlInboundError) {
        try self.init(parsing: Array(line.utf8))
    }

    /// Parses one frame from its UTF-8 bytes (a line without its terminator).
    public init(parsing line: [UInt8]) throws(ControlInboundError) {
        let root: JSONObject
        do throws(ControlError) {
            let value = try JSONValue(parsing: line)
            guard case .object(let object) = value else {
                throw ControlError.invalidArgument(field: "frame", reason: "expected an object, found \(value.kindDescription)")
            }
            root = object
        } catch {
            throw ControlInboundError(id: nil, error: error)
        }
        let frame = JSONField(.object(root), path: "")
        let id: ControlRequestID
        do throws(ControlError) { id = try ControlRequestID(frame["id"]) } catch { throw ControlInboundError(id: nil, error: error) }
        do throws(ControlError) {
            if root["method"] != nil {
                try ControlInbound.rejectUnknownMembers(root, allowed: ["id", "method", "params", "deadline_ms"], kind: "request")
                let method = try MethodName(parsing: frame["method"].string())
                let params = root["params"] == nil ? [:] : try frame["params"].object()
                let deadline = root["deadline_ms"] == nil ? nil : try frame["deadline_ms"].int64()
                self = .request(try ControlRequest(id: id, method: method, params: params, deadlineMilliseconds: deadline))
            } else if root["cancel"] != nil {
                try ControlInbound.rejectUnknownMembers(root, allowed: ["id", "cancel"], kind: "cancel")
                guard try frame["cancel"].bool() else {
                    throw ControlError.invalidArgument(field: "cancel", reason: "must be true")
                }
                self = .cancel(ControlCancel(id: id))
            } else {
                throw ControlError.invalidArgument(field: "method", reason: "missing (a frame is a request with \"method\" or a cancel with \"cancel\")")
            }
        } catch {
            throw ControlInboundError(id: id, error: error)
        }
    }

    static func rejectUnknownMembers(
        _ object: JSONObject, allowed: Set<String>, kind: String, path: String = ""
    ) throws(ControlError) {
        if let unknown = object.keys.first(where: { !allowed.contains($0) }) {
            throw .invalidArgument(field: path.isEmpty ? unknown : "\(path).\(unknown)", reason: "not a member of \(kind == "error" || kind == "end" ? "an \(kind) body" : "a \(kind) frame")")
        }
    }

    /// The id of the frame.
    public var id: ControlRequestID {
        switch self {
        case .request(let request): request.id
        case .cancel(let cancel): cancel.id
        }
    }

    /// The frame's bytes: one line of JSON ending in `\n`.
    public func serialized() -> [UInt8] {
        switch self {
        case .request(let request): request.serialized()
        case .cancel(let cancel): cancel.serialized()
        }
    }
}
