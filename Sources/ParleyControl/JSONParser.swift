extension JSONValue {
    /// Parses one JSON text (RFC 8259), strictly.
    ///
    /// Whitespace may surround the value; anything else after it is an error. Rejected, each with a
    /// `ControlError.invalidJSON` whose reason names the byte offset: trailing commas, duplicate keys in
    /// one object, raw control characters in strings, lone surrogate escapes, leading zeros, numbers
    /// outside `Double`'s finite range, invalid UTF-8, and nesting deeper than `maximumDepth`.
    public init(parsing text: String) throws(ControlError) {
        try self.init(parsing: Array(text.utf8))
    }

    /// Parses one JSON text from UTF-8 bytes; see `init(parsing:)` for a `String`.
    public init(parsing bytes: [UInt8]) throws(ControlError) {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else {
            throw parser.failure("unexpected \(parser.describeCurrent()) after the value")
        }
        self = value
    }
}

/// A recursive-descent parser over UTF-8 bytes; depth is bounded, so input can never exhaust the stack.
struct JSONParser {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func failure(_ reason: String) -> ControlError {
        .invalidJSON(reason: "\(reason) at byte \(position)")
    }

    func describeCurrent() -> String {
        guard position < bytes.count else { return "end of input" }
        let byte = bytes[position]
        if byte >= 0x21 && byte < 0x7F { return "character '\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16))"
    }

    mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    mutating func parseValue(depth: Int) throws(ControlError) -> JSONValue {
        guard position < bytes.count else { throw failure("expected a value, found end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw failure("expected a value, found \(describeCurrent())")
        }
    }

    mutating func expectLiteral(_ literal: String) throws(ControlError) {
        for expected in literal.utf8 {
            guard position < bytes.count, bytes[position] == expected else {
                throw failure("invalid literal, expected \(literal)")
            }
            position += 1
        }
    }

    mutating func parseObject(depth: Int) throws(ControlError) -> JSONValue {
        guard depth <= JSONValue.maximumDepth else { throw failure("nesting deeper than \(JSONValue.maximumDepth)") }
        position += 1  // {
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<String>()
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(JSONObject(uniqueMembers: members))
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw failure("expected a member name, found \(describeCurrent())")
            }
            let keyStart = position
            let key = try parseString()
            guard seen.insert(key).inserted else {
                position = keyStart
                throw failure("duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw failure("expected ':', found \(describeCurrent())")
            }
            position += 1
            skipWhitespace()
            members.append((key, try parseValue(depth: depth)))
            skipWhitespace()
            guard position < bytes.count else { throw failure("unterminated object") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; break }
            throw failure("expected ',' or '}', found \(describeCurrent())")
        }
        return .object(JSONObject(uniqueMembers: members))
    }

    mutating func parseArray(depth: Int) throws(ControlError) -> JSONValue {
        guard depth <= JSONValue.maximumDepth else { throw failure("nesting deeper than \(JSONValue.maximumDepth)") }
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard position < bytes.count else { throw failure("unterminated array") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; break }
            throw failure("expected ',' or ']', found \(describeCurrent())")
        }
        return .array(elements)
    }

    mutating func parseString() throws(ControlError) -> String {
        position += 1  // opening quote
        var utf8: [UInt8] = []
        while true {
            guard position < bytes.count else { throw failure("unterminated string") }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                guard let text = String(validating: utf8, as: UTF8.self) else {
                    throw failure("invalid UTF-8 in string")
                }
                return text
            case UInt8(ascii: "\\"):
                position += 1
                guard position < bytes.count else { throw failure("unterminated escape") }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""): utf8.append(0x22)
                case UInt8(ascii: "\\"): utf8.append(0x5C)
                case UInt8(ascii: "/"): utf8.append(0x2F)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    let scalar = try parseUnicodeEscape()
                    utf8.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    position -= 1
                    throw failure("invalid escape \(describeCurrent())")
                }
            case 0x00..<0x20:
                throw failure("raw control character 0x\(String(byte, radix: 16)) in string")
            default:
                utf8.append(byte)
                position += 1
            }
        }
    }

    /// After `\u`: four hex digits, or a surrogate pair written as two escapes.
    mutating func parseUnicodeEscape() throws(ControlError) -> Unicode.Scalar {
        let first = try parseHex4()
        if (0xD800..<0xDC00).contains(first) {
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                throw failure("lone high surrogate \\u\(String(first, radix: 16))")
            }
            position += 2
            let second = try parseHex4()
            guard (0xDC00..<0xE000).contains(second) else {
                throw failure("high surrogate not followed by a low surrogate")
            }
            let value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            guard let scalar = Unicode.Scalar(value) else { throw failure("invalid surrogate pair") }
            return scalar
        }
        guard let scalar = Unicode.Scalar(first) else {
            throw failure("lone low surrogate \\u\(String(first, radix: 16))")
        }
        return scalar
    }

    mutating func parseHex4() throws(ControlError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard position < bytes.count, let digit = Character(Unicode.Scalar(bytes[position])).hexDigitValue else {
                throw failure("expected four hex digits after \\u")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// RFC 8259 number grammar; the exact integer is computed from the decimal digits, not from the Double.
    mutating func parseNumber() throws(ControlError) -> JSONNumber {
        let start = position
        var negative = false
        if bytes[position] == UInt8(ascii: "-") { negative = true; position += 1 }
        var digits: [UInt8] = []  // significant decimal digits, integer part then fraction
        var fractionCount = 0
        guard position < bytes.count, isDigit(bytes[position]) else { throw failure("expected a digit") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < bytes.count, isDigit(bytes[position]) { throw failure("leading zero in a number") }
            digits.append(0)
        } else {
            while position < bytes.count, isDigit(bytes[position]) { digits.append(bytes[position] - 48); position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else { throw failure("expected a digit after '.'") }
            while position < bytes.count, isDigit(bytes[position]) {
                digits.append(bytes[position] - 48)
                fractionCount += 1
                position += 1
            }
        }
        var exponent = 0
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            var exponentNegative = false
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                exponentNegative = bytes[position] == UInt8(ascii: "-")
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else { throw failure("expected a digit in the exponent") }
            while position < bytes.count, isDigit(bytes[position]) {
                exponent = min(exponent * 10 + Int(bytes[position] - 48), 1_000_000)  // clamped: only range matters
                position += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        guard let double = Double(text), double.isFinite else {
            position = start
            throw failure("number \(text) is outside the finite range")
        }
        return JSONNumber(double: double, exactInteger: exactInteger(digits, scale: exponent - fractionCount, negative: negative))
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    /// `digits × 10^scale` when that is an integer within Int64, else nil. Accumulates negatively so
    /// that Int64.min is reachable.
    func exactInteger(_ digits: [UInt8], scale: Int, negative: Bool) -> Int64? {
        var digits = digits[...]
        while let first = digits.first, first == 0, digits.count > 1 { digits = digits.dropFirst() }
        var scale = scale
        while scale < 0, let last = digits.last, last == 0, digits.count > 1 { digits = digits.dropLast(); scale += 1 }
        if digits == [0] { return 0 }
        guard scale >= 0, digits.count + scale <= 19 else { return nil }
        var value: Int64 = 0
        for digit in digits.map(Int64.init) + Array(repeating: 0, count: scale) {
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.subtractingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = next
        }
        if negative { return value }
        return value == Int64.min ? nil : -value
    }
}
