extension JSONValue {
    /// The member at a dotted path of object members (`call.state`), or nil where the path leaves the
    /// objects or a member is missing. For reading replies in clients and tests.
    public subscript(path: String) -> JSONValue? {
        var current: JSONValue? = self
        for key in path.split(separator: ".") {
            guard case .object(let object)? = current else { return nil }
            current = object[String(key)]
        }
        return current
    }

    /// The string, if this is one.
    public var text: String? { if case .string(let value) = self { value } else { nil } }

    /// The number as a Double, if this is one.
    public var double: Double? { if case .number(let value) = self { value.double } else { nil } }

    /// The array's elements; empty if this is not an array.
    public var elements: [JSONValue] { if case .array(let values) = self { values } else { [] } }
}

extension MethodName {
    /// `parley.v1.<name>` for a `Service/Method` name known to be well formed (a literal in code);
    /// a malformed one is a programming error.
    public static func v1(_ name: String) -> MethodName {
        guard let parsed = try? MethodName(parsing: "parley.v1.\(name)") else { preconditionFailure("bad method name \(name)") }
        return parsed
    }
}
