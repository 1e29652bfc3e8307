import ParleyControl

/// A forgiving, read-only view of a JSON reply: walk with subscripts, read with typed properties that
/// are `nil` when the member is missing, `null` or of another type.
///
/// Replies are the engine's to shape and v1 lets it add members (v1.md §8), so the CLI reads what it
/// shows and ignores the rest; a missing figure prints as "-" rather than failing the command.
struct JSONView: Sendable {
    /// The value here, or `nil` when the path does not exist.
    let value: JSONValue?

    /// A view of `value`.
    init(_ value: JSONValue?) { self.value = value }

    /// The member `key` of this object (an absent view for anything else).
    subscript(key: String) -> JSONView {
        guard case .object(let object)? = value else { return JSONView(nil) }
        return JSONView(object[key])
    }

    /// The element at `index` of this array (an absent view for anything else or out of range).
    subscript(index: Int) -> JSONView {
        guard case .array(let elements)? = value, elements.indices.contains(index) else { return JSONView(nil) }
        return JSONView(elements[index])
    }

    /// The string here.
    var string: String? {
        if case .string(let text)? = value { return text }
        return nil
    }

    /// The number here as a `Double`.
    var double: Double? {
        if case .number(let number)? = value { return number.double }
        return nil
    }

    /// The number here as an integer (exact, or the `Double` truncated when it is not integral).
    var int: Int64? {
        guard case .number(let number)? = value else { return nil }
        if let exact = number.exactInteger { return exact }
        return number.double.magnitude < 9.2e18 ? Int64(number.double) : nil
    }

    /// The boolean here.
    var bool: Bool? {
        if case .bool(let flag)? = value { return flag }
        return nil
    }

    /// The elements of the array here; empty for anything else.
    var array: [JSONView] {
        guard case .array(let elements)? = value else { return [] }
        return elements.map(JSONView.init)
    }

    /// The strings of the array here (other elements skipped).
    var strings: [String] { array.compactMap(\.string) }

    /// Whether the member is missing or `null`.
    var isNull: Bool {
        switch value {
        case nil, .null?: true
        default: false
        }
    }

    /// Compact JSON text of the value (`null` when absent), one line.
    var serialized: String { value?.serialized() ?? "null" }
}
