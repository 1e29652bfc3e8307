public import ParleyWire

/// The header in front of every SFrame ciphertext (RFC 9605 §4.3): the key id (KID) and the counter
/// (CTR) the frame was encrypted with.
///
/// ```
///  0 1 2 3 4 5 6 7
/// +-+-+-+-+-+-+-+-+------------------------+------------------------+
/// |X|  K  |Y|  C  |  KID… (0–8 bytes)      |  CTR… (0–8 bytes)      |
/// +-+-+-+-+-+-+-+-+------------------------+------------------------+
///
/// X = 0: K is the KID (0…7), no KID bytes follow.
/// X = 1: K + 1 big-endian KID bytes follow the config byte (KID ≥ 8).
/// Y = 0: C is the CTR (0…7), no CTR bytes follow.
/// Y = 1: C + 1 big-endian CTR bytes follow the KID bytes (CTR ≥ 8).
/// ```
///
/// Values 0…7 sit in the config byte; larger ones take the fewest bytes that hold them. RFC 9605 makes
/// that minimal encoding a MUST, so the parser refuses any other (an extended field holding 0…7, or
/// with a leading zero byte): every header has exactly one encoding, and parse → serialize gives back
/// the same bytes. A header is 1 to 17 bytes long.
public struct SFrameHeader: Hashable, Sendable, CustomStringConvertible {
    /// The key id: which base key (and so which derived key and salt) the frame uses.
    public var keyID: UInt64
    /// The counter: unique per frame for a KID; XORed into the salt to form the nonce.
    public var counter: UInt64

    /// The longest header: the config byte, 8 KID bytes and 8 CTR bytes.
    public static let maximumSize = 17

    /// A header for `keyID` and `counter`.
    public init(keyID: UInt64, counter: UInt64) {
        self.keyID = keyID
        self.counter = counter
    }

    /// Parses a buffer that holds exactly one header.
    ///
    /// - Throws: `CryptoError.malformed` naming the field that is truncated or not minimally encoded,
    ///   or `lengthMismatch` if bytes follow the header.
    public init(parsing bytes: ArraySlice<UInt8>) throws(CryptoError) {
        var reader = ByteReader(bytes)
        try self.init(reading: &reader)
        guard reader.isAtEnd else {
            let headerSize = reader.position - bytes.startIndex
            throw .malformed(.lengthMismatch(field: "SFrame header", declared: headerSize, actual: bytes.count))
        }
    }

    /// Parses a buffer that holds exactly one header.
    public init(parsing bytes: [UInt8]) throws(CryptoError) {
        try self.init(parsing: bytes[...])
    }

    /// Reads a header from the front of `reader`, leaving it at the ciphertext.
    ///
    /// - Throws: `CryptoError.malformed` naming the field that is truncated or not minimally encoded.
    public init(reading reader: inout ByteReader) throws(CryptoError) {
        do throws(WireError) {
            let config = try reader.readUInt8("SFrame config byte")
            let k = UInt64(config >> 4 & 0x07)
            let c = UInt64(config & 0x07)
            keyID = config & 0x80 == 0 ? k : try Self.readExtended(&reader, length: Int(k) + 1, "SFrame KID")
            counter = config & 0x08 == 0 ? c : try Self.readExtended(&reader, length: Int(c) + 1, "SFrame CTR")
        } catch {
            throw .malformed(error)
        }
    }

    /// Bytes the header takes on the wire: 1 to 17.
    public var serializedSize: Int {
        1 + Self.extendedLength(keyID) + Self.extendedLength(counter)
    }

    /// The header as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the header to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        let kidLength = Self.extendedLength(keyID)
        let ctrLength = Self.extendedLength(counter)
        writer.writeUInt8(configByte(kidLength: kidLength, ctrLength: ctrLength))
        for index in stride(from: kidLength - 1, through: 0, by: -1) {
            writer.writeUInt8(UInt8(truncatingIfNeeded: keyID >> (8 * UInt64(index))))
        }
        for index in stride(from: ctrLength - 1, through: 0, by: -1) {
            writer.writeUInt8(UInt8(truncatingIfNeeded: counter >> (8 * UInt64(index))))
        }
    }

    public var description: String { "SFrame(KID \(keyID), CTR \(counter))" }

    /// Writes the header at the start of `buffer` (at least `maximumSize` bytes or `serializedSize`)
    /// and returns its size. The allocation-free form of `serialize` for the protect path.
    func write(to buffer: UnsafeMutableRawBufferPointer) -> Int {
        let kidLength = Self.extendedLength(keyID)
        let ctrLength = Self.extendedLength(counter)
        precondition(buffer.count >= 1 + kidLength + ctrLength, "buffer too small for the SFrame header")
        buffer[0] = configByte(kidLength: kidLength, ctrLength: ctrLength)
        var offset = 1
        for index in stride(from: kidLength - 1, through: 0, by: -1) {
            buffer[offset] = UInt8(truncatingIfNeeded: keyID >> (8 * UInt64(index)))
            offset += 1
        }
        for index in stride(from: ctrLength - 1, through: 0, by: -1) {
            buffer[offset] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(index)))
            offset += 1
        }
        return offset
    }

    private func configByte(kidLength: Int, ctrLength: Int) -> UInt8 {
        let kidBits = kidLength == 0 ? UInt8(keyID) : 0x08 | UInt8(kidLength - 1)
        let ctrBits = ctrLength == 0 ? UInt8(counter) : 0x08 | UInt8(ctrLength - 1)
        return kidBits << 4 | ctrBits
    }

    /// Bytes after the config byte for `value`: 0 for 0…7 (carried in the config byte), else the fewest
    /// bytes that hold it.
    private static func extendedLength(_ value: UInt64) -> Int {
        value < 8 ? 0 : (UInt64.bitWidth - value.leadingZeroBitCount + 7) / 8
    }

    private static func readExtended(
        _ reader: inout ByteReader, length: Int, _ field: StaticString
    ) throws(WireError) -> UInt64 {
        let bytes = try reader.readBytes(length, field)
        var value: UInt64 = 0
        for byte in bytes {
            value = value << 8 | UInt64(byte)
        }
        guard extendedLength(value) == length else {
            throw .invalidValue(
                field: "\(field)", reason: "\(value) in \(length) bytes is not the minimal encoding (RFC 9605 §4.3)")
        }
        return value
    }
}
