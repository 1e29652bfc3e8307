import ParleyWire

extension ByteReader {
    /// Reads the 4 bytes every Parley session datagram starts with (Protocols/peer/v1.md §1): the type
    /// byte, which must be `expected`, then 24 reserved bits, which must be zero.
    ///
    /// - Parameters:
    ///   - field: the name a wrong or missing type byte is reported under.
    ///   - mismatch: the reason given for a type byte other than `expected`.
    mutating func readDatagramStart(
        expecting expected: UInt8, field: StaticString, mismatch: (UInt8) -> String
    ) throws(WireError) {
        let type = try readUInt8(field)
        guard type == expected else { throw .invalidValue(field: "\(field)", reason: mismatch(type)) }
        guard try readUInt24("reserved") == 0 else { throw .invalidValue(field: "reserved", reason: "must be zero") }
    }
}
