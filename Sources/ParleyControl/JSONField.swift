/// A value found (or not) at a JSON path, with typed accessors whose errors name that path.
///
/// Walk with subscripts, then ask for the type you need:
/// `try request.arguments["video"]["width"].int64()` throws
/// `ControlError.invalidArgument(field: "params.video.width", reason: …)` when the member is missing or
/// has another type. A wrong type higher up is reported at the path where it was found.
/// The `optional…` accessors return `nil` for a missing member or `null`.
public struct JSONField: Sendable, Equatable {
    enum Content: Sendable, Equatable {
        case present(JSONValue)
        case absent
        case unreachable(ControlError)
    }

    /// The path from the frame's root, e.g. `params.address` or `params.items[2]`.
    public let path: String
    let content: Content

    /// The field at `path` holding `value` (`nil` when the member is absent).
    public init(_ value: JSONValue?, path: String) {
        self.path = path
        content = value.map(Content.present) ?? .absent
    }

    init(path: String, content: Content) {
        self.path = path
        self.content = content
    }

    /// The raw value, or `nil` when the member is absent or could not be reached.
    public var value: JSONValue? {
        if case .present(let value) = content { return value }
        return nil
    }

    /// Whether a value (possibly `null`) is present here.
    public var isPresent: Bool { value != nil }

    /// The member `key` of this object.
    public subscript(key: String) -> JSONField {
        let childPath = path.isEmpty ? key : "\(path).\(key)"
        switch content {
        case .present(.object(let object)): return JSONField(object[key], path: childPath)
        case .present(let other):
            return JSONField(path: childPath, content: .unreachable(mismatch(expected: "an object", found: other)))
        case .absent: return JSONField(path: childPath, content: .unreachable(missing()))
        case .unreachable(let error): return JSONField(path: childPath, content: .unreachable(error))
        }
    }

    /// The element at `index` of this array.
    public subscript(index: Int) -> JSONField {
        let childPath = "\(path)[\(index)]"
        switch content {
        case .present(.array(let elements)):
            return JSONField(elements.indices.contains(index) ? elements[index] : nil, path: childPath)
        case .present(let other):
            return JSONField(path: childPath, content: .unreachable(mismatch(expected: "an array", found: other)))
        case .absent: return JSONField(path: childPath, content: .unreachable(missing()))
        case .unreachable(let error): return JSONField(path: childPath, content: .unreachable(error))
        }
    }

    func missing() -> ControlError { .invalidArgument(field: path, reason: "missing") }

    func mismatch(expected: String, found: JSONValue) -> ControlError {
        .invalidArgument(field: path, reason: "expected \(expected), found \(found.kindDescription)")
    }

    func required() throws(ControlError) -> JSONValue {
        switch content {
        case .present(let value): return value
        case .absent: throw missing()
        case .unreachable(let error): throw error
        }
    }

    func optional() throws(ControlError) -> JSONValue? {
        switch content {
        case .present(.null), .absent: return nil
        case .present(let value): return value
        case .unreachable(let error): throw error
        }
    }

    func string(from value: JSONValue) throws(ControlError) -> String {
        guard case .string(let text) = value else { throw mismatch(expected: "a string", found: value) }
        return text
    }

    func bool(from value: JSONValue) throws(ControlError) -> Bool {
        guard case .bool(let flag) = value else { throw mismatch(expected: "a boolean", found: value) }
        return flag
    }

    func double(from value: JSONValue) throws(ControlError) -> Double {
        guard case .number(let number) = value else { throw mismatch(expected: "a number", found: value) }
        return number.double
    }

    func int64(from value: JSONValue) throws(ControlError) -> Int64 {
        guard case .number(let number) = value else { throw mismatch(expected: "an integer", found: value) }
        guard let integer = number.exactInteger else {
            throw .invalidArgument(field: path, reason: "expected an integer, found \(number)")
        }
        return integer
    }

    func object(from value: JSONValue) throws(ControlError) -> JSONObject {
        guard case .object(let object) = value else { throw mismatch(expected: "an object", found: value) }
        return object
    }

    func array(from value: JSONValue) throws(ControlError) -> [JSONValue] {
        guard case .array(let elements) = value else { throw mismatch(expected: "an array", found: value) }
        return elements
    }

    /// The string here; throws when missing or not a string.
    public func string() throws(ControlError) -> String { try string(from: required()) }
    /// The boolean here; throws when missing or not a boolean.
    public func bool() throws(ControlError) -> Bool { try bool(from: required()) }
    /// The number here as a `Double`; throws when missing or not a number.
    public func double() throws(ControlError) -> Double { try double(from: required()) }
    /// The integer here, exact; throws when missing, not a number, or not an integer within Int64.
    public func int64() throws(ControlError) -> Int64 { try int64(from: required()) }
    /// The object here; throws when missing or not an object.
    public func object() throws(ControlError) -> JSONObject { try object(from: required()) }
    /// The array here; throws when missing or not an array.
    public func array() throws(ControlError) -> [JSONValue] { try array(from: required()) }

    /// The integer here, which must lie in `range`; throws naming the range otherwise.
    public func int64(in range: ClosedRange<Int64>) throws(ControlError) -> Int64 {
        let value = try int64()
        guard range.contains(value) else {
            throw .invalidArgument(field: path, reason: "must lie in \(range.lowerBound)...\(range.upperBound), found \(value)")
        }
        return value
    }

    /// The string here, or `nil` when missing or `null`; throws for any other type.
    public func optionalString() throws(ControlError) -> String? { try optional().map { value throws(ControlError) in try string(from: value) } }
    /// The boolean here, or `nil` when missing or `null`; throws for any other type.
    public func optionalBool() throws(ControlError) -> Bool? { try optional().map { value throws(ControlError) in try bool(from: value) } }
    /// The number here, or `nil` when missing or `null`; throws for any other type.
    public func optionalDouble() throws(ControlError) -> Double? { try optional().map { value throws(ControlError) in try double(from: value) } }
    /// The integer here, or `nil` when missing or `null`; throws for any other type or a non-integer.
    public func optionalInt64() throws(ControlError) -> Int64? { try optional().map { value throws(ControlError) in try int64(from: value) } }
    /// The object here, or `nil` when missing or `null`; throws for any other type.
    public func optionalObject() throws(ControlError) -> JSONObject? { try optional().map { value throws(ControlError) in try object(from: value) } }
    /// The array here, or `nil` when missing or `null`; throws for any other type.
    public func optionalArray() throws(ControlError) -> [JSONValue]? { try optional().map { value throws(ControlError) in try array(from: value) } }
}
