import Foundation
import ParleyControl
import Testing

/// Parses `text`, which the test expects to be valid.
func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: text) }

/// The number `text` parses to.
func number(_ text: String) throws -> JSONNumber {
    guard case .number(let number) = try json(text) else { throw ControlError.invalidJSON(reason: "not a number") }
    return number
}

@Suite struct JSONNumberTests {
    @Test(arguments: [
        ("0", 0),
        ("-0", 0),
        ("42", 42),
        ("1.0", 1),  // integral text with a fraction still counts as an integer
        ("1e3", 1000),
        ("100e-2", 1),
        ("1.5e1", 15),
        ("9007199254740991", 9_007_199_254_740_991),  // 2^53 − 1
        ("9007199254740993", 9_007_199_254_740_993),  // 2^53 + 1: not a Double, still exact
        ("9223372036854775807", Int64.max),
        ("-9223372036854775808", Int64.min),
        ("12345678901234567890e-1", 1_234_567_890_123_456_789),  // 20 digits scaled into range
    ] as [(String, Int64)])
    func integersStayExact(text: String, expected: Int64) throws {
        #expect(try number(text).exactInteger == expected)
    }

    @Test(arguments: ["0.5", "1e-1", "9223372036854775808", "-9223372036854775809", "1e19", "1e300"])
    func nonIntegersAndIntegersBeyondInt64HaveNoExactValue(text: String) throws {
        #expect(try number(text).exactInteger == nil)
    }

    @Test func theDoubleOfAnIntegerBeyond2To53IsRoundedButTheIntegerIsNot() throws {
        let parsed = try number("9007199254740993")
        #expect(parsed.double == 9_007_199_254_740_992)
        #expect(parsed != (try number("9007199254740992")))
        #expect(JSONValue.number(parsed).serialized() == "9007199254740993")
    }

    @Test func numbersSerializeAsIntegersWhenExactAndShortestDoublesOtherwise() throws {
        #expect(JSONValue.number(try number("1.0")).serialized() == "1")
        #expect(JSONValue.number(try number("0.1")).serialized() == "0.1")
        #expect(JSONValue.number(try number("-2.5e-7")).serialized() == "-2.5e-07")
        #expect(try json(JSONValue.number(try number("1e300")).serialized()) == .number(try number("1e300")))
    }

    @Test func nonFiniteDoublesAreNotJSONNumbers() {
        #expect(JSONNumber(Double.nan) == nil)
        #expect(JSONNumber(Double.infinity) == nil)
        #expect(JSONNumber(2.5)?.exactInteger == nil)
        #expect(JSONNumber(3.0)?.exactInteger == 3)
    }
}

@Suite struct JSONValueTests {
    @Test func nestedObjectsKeepKeyOrderThroughParseAndSerialize() throws {
        let text = #"{"z":1,"a":{"y":2,"b":3,"m":null},"m":[{"k2":true,"k1":false}],"b":"x"}"#
        let value = try json(text)
        guard case .object(let root) = value, case .object(let inner)? = root["a"],
            case .array(let list)? = root["m"], case .object(let element) = list[0]
        else {
            Issue.record("unexpected shape \(value)")
            return
        }
        #expect(root.keys == ["z", "a", "m", "b"])
        #expect(inner.keys == ["y", "b", "m"])
        #expect(element.keys == ["k2", "k1"])
        #expect(value.serialized() == text)
    }

    @Test func objectEqualityIsOrderSensitive() throws {
        #expect(try json(#"{"a":1,"b":2}"#) != json(#"{"b":2,"a":1}"#))
        #expect(try json(#"{"a":1,"b":2}"#) == ["a": 1, "b": 2])
    }

    @Test func settingAMemberReplacesInPlaceAppendsOrRemoves() {
        var object: JSONObject = ["a": 1, "b": 2]
        object["a"] = "one"
        object["c"] = 3
        object["b"] = nil
        #expect(object.keys == ["a", "c"])
        #expect(object["a"] == "one")
    }

    @Test func stringsDecodeEscapesAndSurrogatePairs() throws {
        #expect(try json(#""\u00e9\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t""#) == .string("é😀 \"q\" \\ / \u{08}\u{0C}\n\r\t"))
    }

    @Test func stringsSerializeWithControlCharactersEscaped() throws {
        let value = JSONValue.string("a\"b\\c\nd\u{01}é")
        #expect(value.serialized() == #""a\"b\\c\nd\u0001é""#)
        #expect(try json(value.serialized()) == value)
    }

    @Test func whitespaceAroundTokensIsAccepted() throws {
        #expect(try json(" \t{ \"a\" : [ 1 , 2 ] }\r\n ") == ["a": [1, 2]])
    }

    @Test(arguments: [
        ("", "expected a value, found end of input at byte 0"),
        ("[1,]", "expected a value, found character ']' at byte 3"),
        (#"{"a":1,}"#, "expected a member name, found character '}' at byte 7"),
        (#"{"a":1,"a":2}"#, #"duplicate key "a" at byte 7"#),
        ("01", "leading zero in a number at byte 1"),
        ("1.", "expected a digit after '.' at byte 2"),
        ("-", "expected a digit at byte 1"),
        ("1e400", "number 1e400 is outside the finite range at byte 0"),
        ("NaN", "expected a value, found character 'N' at byte 0"),
        ("tru", "invalid literal, expected true at byte 3"),
        ("1 2", "unexpected character '2' after the value at byte 2"),
        (#"{"a" 1}"#, "expected ':', found character '1' at byte 5"),
        (#""abc"#, "unterminated string at byte 4"),
        ("\"a\u{0A}b\"", "raw control character 0xa in string at byte 2"),
        (#""\ud800""#, #"lone high surrogate \ud800 at byte 7"#),
        (#""\udc00""#, #"lone low surrogate \udc00 at byte 7"#),
        (#""\x""#, "invalid escape character 'x' at byte 2"),
        (#""\u12""#, #"expected four hex digits after \u at byte 5"#),
    ])
    func malformedTextIsRejectedWithItsOffset(text: String, reason: String) {
        #expect(throws: ControlError.invalidJSON(reason: reason)) { try JSONValue(parsing: text) }
    }

    @Test func invalidUTF8InsideAStringIsRejected() {
        #expect(throws: ControlError.invalidJSON(reason: "invalid UTF-8 in string at byte 4")) {
            try JSONValue(parsing: [0x22, 0xC3, 0x28, 0x22])  // "\xC3(" — a broken 2-byte sequence
        }
    }

    @Test func nestingIsAcceptedUpToTheLimitAndRejectedBeyondWithoutCrashing() throws {
        let depth = JSONValue.maximumDepth
        _ = try json(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
        #expect(throws: ControlError.invalidJSON(reason: "nesting deeper than \(depth) at byte \(depth)")) {
            try JSONValue(parsing: String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1))
        }
        #expect(throws: ControlError.self) {
            try JSONValue(parsing: String(repeating: #"{"a":"#, count: 100_000))
        }
    }
}

@Suite struct JSONFieldTests {
    let params = JSONField(["address": "198.51.100.7:4000", "video": ["width": 640, "height": "tall"], "list": [1, 2.5]], path: "params")

    @Test func typedAccessorsReturnValuesOfTheRightType() throws {
        #expect(try params["address"].string() == "198.51.100.7:4000")
        #expect(try params["video"]["width"].int64() == 640)
        #expect(try params["list"][1].double() == 2.5)
        #expect(try params["missing"].optionalString() == nil)
        #expect(try params["video"].object().keys == ["width", "height"])
    }

    @Test func errorsNameTheFullPath() {
        #expect(throws: ControlError.invalidArgument(field: "params.port", reason: "missing")) { try params["port"].int64() }
        #expect(throws: ControlError.invalidArgument(field: "params.video.height", reason: "expected an integer, found a string")) {
            try params["video"]["height"].int64()
        }
        #expect(throws: ControlError.invalidArgument(field: "params.list[1]", reason: "expected an integer, found 2.5")) {
            try params["list"][1].int64()
        }
        #expect(throws: ControlError.invalidArgument(field: "params.list[2]", reason: "missing")) { try params["list"][2].int64() }
        #expect(throws: ControlError.invalidArgument(field: "params.video.width", reason: "must lie in 1...320, found 640")) {
            try params["video"]["width"].int64(in: 1...320)
        }
    }

    @Test func aWrongTypeHigherUpIsReportedWhereItWasFound() {
        #expect(throws: ControlError.invalidArgument(field: "params.address", reason: "expected an object, found a string")) {
            try params["address"]["host"].string()
        }
        #expect(throws: ControlError.invalidArgument(field: "params.audio", reason: "missing")) {
            try params["audio"]["codec"].optionalString()
        }
    }
}

@Suite struct CodableTests {
    @Test func aJSONValueSurvivesFoundationsEncoderAndDecoder() throws {
        let value: JSONValue = ["list": [true, .null, "x", 1.5, -7], "nested": ["only": ["deep": 9_007_199_254_740_993]]]
        let decoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        // Foundation does not keep member order, so compare member by member.
        let field = JSONField(decoded, path: "")
        #expect(try field["list"].array() == [true, .null, "x", 1.5, -7])
        #expect(try field["nested"]["only"]["deep"].int64() == 9_007_199_254_740_993)
    }

    @Test func statusesEncodeAsTheirNames() throws {
        let data = try JSONEncoder().encode([ControlStatus.invalidArgument, .ok])
        #expect(String(decoding: data, as: UTF8.self) == #"["INVALID_ARGUMENT","OK"]"#)
        #expect(try JSONDecoder().decode([ControlStatus].self, from: Data(#"["CANCELLED"]"#.utf8)) == [.cancelled])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([ControlStatus].self, from: Data(#"["cancelled"]"#.utf8)) }
    }
}
