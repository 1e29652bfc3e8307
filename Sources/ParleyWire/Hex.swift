extension Array where Element == UInt8 {
    /// The bytes spelled by `hexString` (upper or lower case); whitespace between digits is ignored.
    ///
    /// `nil` if any other character appears or the digit count is odd. For specs, fixtures and logs.
    public init?(hexString: String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hexString.utf8.count / 2)
        var high: UInt8?
        for character in hexString where !character.isWhitespace {
            guard let digit = character.hexDigitValue else { return nil }
            if let first = high {
                bytes.append(first << 4 | UInt8(digit))
                high = nil
            } else {
                high = UInt8(digit)
            }
        }
        guard high == nil else { return nil }
        self = bytes
    }

    /// The bytes as lower-case hex digits, two per byte, without separators.
    public var hexString: String {
        let digits = Array<UInt8>("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(count * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
