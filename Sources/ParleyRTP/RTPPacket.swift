public import ParleyWire

/// An RTP packet (RFC 3550 §5.1) with RFC 8285 header extensions.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|X|  CC   |M|     PT      |       sequence number         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                           timestamp                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           synchronization source (SSRC) identifier            |
/// +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// |            contributing source (CSRC) identifiers             |
/// |                             ....                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      defined by profile       |           length              |  (if X)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        header extension                       |
/// |                             ....                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                            payload  ...                       |
/// |                               +-------------------------------+
/// |                               | padding ...   | padding count |  (if P)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Every packet type in Parley has the same three operations: `init(parsing:)` (typed error),
/// `serialize()` / `serialize(into:)`, and `serializedSize`.
public struct RTPPacket: Equatable, Sendable {
    /// The fixed header, CSRCs and extensions.
    public var header: RTPHeader
    /// The payload, without padding.
    public var payload: ArraySlice<UInt8>
    /// Padding bytes after the payload, including the final count byte (0 for none; 1…255).
    public var paddingCount: UInt8

    /// A packet with `header` and `payload`, padded with `paddingCount` bytes (0 for none).
    public init(header: RTPHeader, payload: ArraySlice<UInt8>, paddingCount: UInt8 = 0) {
        self.header = header
        self.payload = payload
        self.paddingCount = paddingCount
    }

    /// A packet with `header` and `payload`, padded with `paddingCount` bytes (0 for none).
    public init(header: RTPHeader, payload: [UInt8], paddingCount: UInt8 = 0) {
        self.init(header: header, payload: payload[...], paddingCount: paddingCount)
    }

    /// Parses one RTP packet. The payload shares `bytes`' storage.
    ///
    /// - Throws: `WireError` naming the field that is truncated or invalid.
    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(bytes)
        header = try RTPHeader(reading: &reader)
        var rest = reader.readRest()
        paddingCount = 0
        if header.hasPadding {
            guard let count = rest.last else {
                throw .truncated(field: "padding count", needed: 1, available: 0)
            }
            guard count > 0, Int(count) <= rest.count else {
                throw .lengthMismatch(field: "padding count", declared: Int(count), actual: rest.count)
            }
            paddingCount = count
            rest = rest.dropLast(Int(count))
        }
        payload = rest
    }

    /// Parses one RTP packet.
    public init(parsing bytes: [UInt8]) throws(WireError) {
        try self.init(parsing: bytes[...])
    }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int {
        header.serializedSize + payload.count + Int(paddingCount)
    }

    /// The packet as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the packet to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        var header = self.header
        header.hasPadding = paddingCount > 0
        header.serialize(into: &writer)
        writer.writeBytes(payload)
        if paddingCount > 0 {
            writer.writeZeros(Int(paddingCount) - 1)
            writer.writeUInt8(paddingCount)
        }
    }
}

/// The header of an RTP packet: fixed fields, CSRCs and header extensions.
public struct RTPHeader: Equatable, Sendable {
    /// The padding bit; `RTPPacket` sets it from its padding when serializing.
    public var hasPadding: Bool
    /// The marker bit: for video, the last packet of a frame; for audio, the first after silence.
    public var marker: Bool
    /// Payload type, 0…127.
    public var payloadType: UInt8
    /// Sequence number.
    public var sequenceNumber: SequenceNumber
    /// Media timestamp in the payload format's clock.
    public var timestamp: RTPTimestamp
    /// The stream's synchronisation source.
    public var ssrc: SSRC
    /// Contributing sources (at most 15).
    public var csrcs: [SSRC]
    /// Header extensions (RFC 8285), in order.
    public var extensions: RTPHeaderExtensions

    /// A header with the given fields and no CSRCs or extensions unless given.
    public init(
        marker: Bool = false, payloadType: UInt8, sequenceNumber: SequenceNumber, timestamp: RTPTimestamp,
        ssrc: SSRC, csrcs: [SSRC] = [], extensions: RTPHeaderExtensions = .init(), hasPadding: Bool = false
    ) {
        precondition(payloadType < 128, "payload type is 7 bits")
        precondition(csrcs.count <= 15, "at most 15 CSRCs")
        self.hasPadding = hasPadding
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.extensions = extensions
    }

    /// Size of the fixed header in bytes.
    public static let fixedSize = 12

    /// Reads a header from the front of `reader`, leaving it at the payload.
    public init(reading reader: inout ByteReader) throws(WireError) {
        let first = try reader.readUInt8("version/P/X/CC")
        guard first >> 6 == 2 else {
            throw .invalidValue(field: "version", reason: "must be 2, got \(first >> 6)")
        }
        let second = try reader.readUInt8("M/payload type")
        hasPadding = first & 0x20 != 0
        let hasExtension = first & 0x10 != 0
        let csrcCount = Int(first & 0x0F)
        marker = second & 0x80 != 0
        payloadType = second & 0x7F
        sequenceNumber = SequenceNumber(try reader.readUInt16("sequence number"))
        timestamp = RTPTimestamp(try reader.readUInt32("timestamp"))
        ssrc = SSRC(try reader.readUInt32("SSRC"))
        csrcs = []
        csrcs.reserveCapacity(csrcCount)
        for _ in 0..<csrcCount {
            csrcs.append(SSRC(try reader.readUInt32("CSRC")))
        }
        extensions = hasExtension ? try RTPHeaderExtensions(reading: &reader) : RTPHeaderExtensions()
    }

    /// Bytes the header takes on the wire.
    public var serializedSize: Int {
        Self.fixedSize + 4 * csrcs.count + extensions.serializedSize
    }

    /// Appends the header to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        let hasExtension = !extensions.isEmptyOnWire
        writer.writeUInt8(2 << 6 | (hasPadding ? 0x20 : 0) | (hasExtension ? 0x10 : 0) | UInt8(csrcs.count & 0x0F))
        writer.writeUInt8((marker ? 0x80 : 0) | payloadType & 0x7F)
        writer.writeUInt16(sequenceNumber.rawValue)
        writer.writeUInt32(timestamp.rawValue)
        writer.writeUInt32(ssrc.rawValue)
        for csrc in csrcs.prefix(15) {
            writer.writeUInt32(csrc.rawValue)
        }
        if hasExtension {
            extensions.serialize(into: &writer)
        }
    }
}
