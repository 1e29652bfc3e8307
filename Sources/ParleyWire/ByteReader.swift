/// Reads big-endian (network order) fields from the front of a byte buffer, consuming them.
///
/// Every read names the field it reads, so a short buffer fails with `WireError.truncated` naming
/// what was cut off. Reads never trap. The reader holds a slice: `readBytes` returns sub-slices
/// that share the caller's storage (no copy).
public struct ByteReader: Sendable {
    /// The bytes not yet read.
    public private(set) var remainingBytes: ArraySlice<UInt8>

    /// A reader over `bytes`.
    public init(_ bytes: ArraySlice<UInt8>) {
        remainingBytes = bytes
    }

    /// A reader over `bytes`.
    public init(_ bytes: [UInt8]) {
        remainingBytes = bytes[...]
    }

    /// How many bytes are left.
    public var remaining: Int { remainingBytes.count }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { remainingBytes.isEmpty }

    /// Index (in the underlying storage) of the next byte to read.
    public var position: Int { remainingBytes.startIndex }

    /// Reads one byte.
    public mutating func readUInt8(_ field: StaticString) throws(WireError) -> UInt8 {
        try need(1, field)
        return remainingBytes.removeFirst()
    }

    /// Reads a 16-bit big-endian integer.
    public mutating func readUInt16(_ field: StaticString) throws(WireError) -> UInt16 {
        UInt16(truncatingIfNeeded: try readInteger(2, field))
    }

    /// Reads a 24-bit big-endian integer.
    public mutating func readUInt24(_ field: StaticString) throws(WireError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readInteger(3, field))
    }

    /// Reads a 32-bit big-endian integer.
    public mutating func readUInt32(_ field: StaticString) throws(WireError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readInteger(4, field))
    }

    /// Reads a 64-bit big-endian integer.
    public mutating func readUInt64(_ field: StaticString) throws(WireError) -> UInt64 {
        try readInteger(8, field)
    }

    /// Reads `count` bytes, sharing storage with the buffer.
    public mutating func readBytes(_ count: Int, _ field: StaticString) throws(WireError) -> ArraySlice<UInt8> {
        try need(count, field)
        let bytes = remainingBytes.prefix(count)
        remainingBytes = remainingBytes.dropFirst(count)
        return bytes
    }

    /// Reads every remaining byte.
    public mutating func readRest() -> ArraySlice<UInt8> {
        let bytes = remainingBytes
        remainingBytes = remainingBytes[remainingBytes.endIndex...]
        return bytes
    }

    /// Skips `count` bytes.
    public mutating func skip(_ count: Int, _ field: StaticString) throws(WireError) {
        try need(count, field)
        remainingBytes = remainingBytes.dropFirst(count)
    }

    /// The next byte without consuming it.
    public func peekUInt8(_ field: StaticString) throws(WireError) -> UInt8 {
        guard let byte = remainingBytes.first else {
            throw .truncated(field: "\(field)", needed: 1, available: 0)
        }
        return byte
    }

    private mutating func readInteger(_ size: Int, _ field: StaticString) throws(WireError) -> UInt64 {
        try need(size, field)
        var value: UInt64 = 0
        var index = remainingBytes.startIndex
        for _ in 0..<size {
            value = value << 8 | UInt64(remainingBytes[index])
            index += 1
        }
        remainingBytes = remainingBytes[index...]
        return value
    }

    private func need(_ count: Int, _ field: StaticString) throws(WireError) {
        guard count >= 0, remainingBytes.count >= count else {
            throw .truncated(field: "\(field)", needed: count, available: remainingBytes.count)
        }
    }
}

/// Appends big-endian (network order) fields to a growing byte buffer.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// How many bytes have been written.
    public var count: Int { bytes.count }

    /// Appends one byte.
    public mutating func writeUInt8(_ value: UInt8) {
        bytes.append(value)
    }

    /// Appends a 16-bit big-endian integer.
    public mutating func writeUInt16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends the low 24 bits of `value`, big-endian.
    public mutating func writeUInt24(_ value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends a 32-bit big-endian integer.
    public mutating func writeUInt32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    /// Appends a 64-bit big-endian integer.
    public mutating func writeUInt64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// Appends `data`.
    public mutating func writeBytes<Bytes: Sequence>(_ data: Bytes) where Bytes.Element == UInt8 {
        bytes.append(contentsOf: data)
    }

    /// Appends `count` zero bytes.
    public mutating func writeZeros(_ count: Int) {
        bytes.append(contentsOf: repeatElement(0, count: count))
    }

    /// Overwrites the 16-bit big-endian integer at `offset` (already written).
    public mutating func setUInt16(_ value: UInt16, at offset: Int) {
        precondition(offset >= 0 && offset + 2 <= bytes.count, "setUInt16 outside the written bytes")
        bytes[offset] = UInt8(truncatingIfNeeded: value >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    /// Overwrites the byte at `offset` (already written).
    public mutating func setUInt8(_ value: UInt8, at offset: Int) {
        precondition(offset >= 0 && offset < bytes.count, "setUInt8 outside the written bytes")
        bytes[offset] = value
    }
}
