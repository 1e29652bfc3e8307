/// Any JSON value, as the control protocol carries it: objects keep their members in order.
///
/// Parse with `JSONValue(parsing:)` (strict RFC 8259: no trailing commas, no duplicate keys, no lone
/// surrogates, nesting at most `JSONValue.maximumDepth`); write with `serialized()`, which never emits a
/// raw newline, so the result always fits on one NDJSON line. Equality is structural and order-sensitive.
public enum JSONValue: Sendable, Equatable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A finite number; integral values also keep an exact `Int64`.
    case number(JSONNumber)
    /// A string (any Unicode text).
    case string(String)
    /// An array, in order.
    case array([JSONValue])
    /// An object whose members keep the order they were written or parsed in.
    case object(JSONObject)

    /// The deepest nesting of arrays and objects the parser accepts; deeper input is `invalidJSON`.
    public static let maximumDepth = 64

    /// The type's name as error messages spell it: "null", "a boolean", "a number", "a string"…
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A finite JSON number: its `Double` value, and its exact `Int64` value when it is an integer that fits.
///
/// Parsed text keeps integers exact beyond 2^53 (`9007199254740993` has `exactInteger` 9007199254740993
/// while `double` rounds to 9007199254740992). Integral text such as `1.0` or `1e3` counts as an integer.
/// Serialization writes `exactInteger` when present, else the shortest text that round-trips `double`.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The value as a `Double` (rounded to nearest when the text has more precision).
    public let double: Double
    /// The exact value when the number is an integer within `Int64`, else `nil`.
    public let exactInteger: Int64?

    /// An integer, kept exact.
    public init(_ integer: Int64) {
        double = Double(integer)
        exactInteger = integer
    }

    /// A `Double`; `nil` when it is infinite or NaN, which JSON cannot carry.
    public init?(_ double: Double) {
        guard double.isFinite else { return nil }
        self.double = double
        exactInteger = Int64(exactly: double)
    }

    init(double: Double, exactInteger: Int64?) {
        self.double = double
        self.exactInteger = exactInteger
    }

    /// The number as JSON text.
    public var description: String {
        if let exactInteger { return String(exactInteger) }
        return "\(double)"
    }
}

/// A JSON object: members with unique keys, in order.
///
/// Setting a key that exists replaces its value in place; setting a new key appends it; setting `nil`
/// removes it. Two objects are equal when they hold the same members in the same order.
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral, Sequence {
    /// The members, in order.
    public private(set) var members: [(key: String, value: JSONValue)]

    /// An empty object.
    public init() { members = [] }

    /// An object from a literal, in the literal's order. Duplicate keys in a literal are a programming error.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = []
        for (key, value) in elements {
            precondition(self[key] == nil, "duplicate key \(key) in a JSONObject literal")
            members.append((key, value))
        }
    }

    init(uniqueMembers: [(key: String, value: JSONValue)]) { members = uniqueMembers }

    /// The keys, in order.
    public var keys: [String] { members.map(\.key) }

    /// The number of members.
    public var count: Int { members.count }

    /// Whether the object has no members.
    public var isEmpty: Bool { members.isEmpty }

    /// The value for `key`, or `nil` when absent. Setting keeps order as the type's summary describes.
    public subscript(key: String) -> JSONValue? {
        get { members.first(where: { $0.key == key })?.value }
        set {
            let index = members.firstIndex(where: { $0.key == key })
            switch (index, newValue) {
            case (let index?, let value?): members[index].value = value
            case (let index?, nil): members.remove(at: index)
            case (nil, let value?): members.append((key, value))
            case (nil, nil): break
            }
        }
    }

    /// Iterates the members in order.
    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> { members.makeIterator() }

    /// Order-sensitive equality of members.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    /// A string literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer literal, kept exact.
    public init(integerLiteral value: Int64) { self = .number(JSONNumber(value)) }
    /// A boolean literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An array literal.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// An object literal, in the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var object = JSONObject()
        for (key, value) in elements {
            precondition(object[key] == nil, "duplicate key \(key) in a JSONValue literal")
            object[key] = value
        }
        self = .object(object)
    }
    /// A floating-point literal; a literal too large to be finite is a programming error.
    public init(floatLiteral value: Double) {
        guard let number = JSONNumber(value) else { preconditionFailure("non-finite JSON literal") }
        self = .number(number)
    }
}

// MARK: - Serialization

extension JSONValue {
    /// Compact JSON text for this value: no insignificant whitespace, members in order, and control
    /// characters (newlines included) escaped, so the text never contains a raw LF or CR.
    public func serialized() -> String {
        var output = ""
        write(to: &output)
        return output
    }

    func write(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .number(let number): output += number.description
        case .string(let text): JSONValue.writeString(text, to: &output)
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                element.write(to: &output)
            }
            output += "]"
        case .object(let object):
            output += "{"
            for (index, member) in object.members.enumerated() {
                if index > 0 { output += "," }
                JSONValue.writeString(member.key, to: &output)
                output += ":"
                member.value.write(to: &output)
            }
            output += "}"
        }
    }

    static func writeString(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}

// MARK: - Codable

struct JSONCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension JSONValue: Codable {
    /// Decodes any JSON value. Member order follows the decoder's `allKeys`, which Foundation's
    /// `JSONDecoder` does not keep: use `JSONValue(parsing:)` when order matters.
    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: JSONCodingKey.self) {
            var object = JSONObject()
            for key in container.allKeys {
                object[key.stringValue] = try container.decode(JSONValue.self, forKey: key)
            }
            self = .object(object)
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            while !container.isAtEnd { elements.append(try container.decode(JSONValue.self)) }
            self = .array(elements)
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .number(JSONNumber(value))
        } else if let value = try? container.decode(Double.self) {
            guard let number = JSONNumber(value) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "non-finite number")
            }
            self = .number(number)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    /// Encodes the value; objects are written member by member in order.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .number(let number):
            var container = encoder.singleValueContainer()
            if let integer = number.exactInteger { try container.encode(integer) } else { try container.encode(number.double) }
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .array(let elements):
            var container = encoder.unkeyedContainer()
            for element in elements { try container.encode(element) }
        case .object(let object):
            var container = encoder.container(keyedBy: JSONCodingKey.self)
            for member in object.members { try container.encode(member.value, forKey: JSONCodingKey(stringValue: member.key)) }
        }
    }
}
