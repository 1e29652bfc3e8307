public import ParleyRTP
public import ParleyWire

/// The payload of an RTP retransmission packet (RFC 4588 §4): the original sequence number, then the
/// original payload.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         RTP Header                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            OSN                |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               |
/// |                  Original RTP Packet Payload                  |
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct RTXPayload: Equatable, Sendable {
    /// OSN: the sequence number of the packet retransmitted.
    public var originalSequenceNumber: SequenceNumber
    /// The retransmitted packet's payload (without its padding); shares the parsed buffer's storage.
    public var originalPayload: ArraySlice<UInt8>

    /// The payload retransmitting `originalPayload`, sent first as `originalSequenceNumber`.
    public init(originalSequenceNumber: SequenceNumber, originalPayload: ArraySlice<UInt8>) {
        self.originalSequenceNumber = originalSequenceNumber
        self.originalPayload = originalPayload
    }

    /// Parses an RTX packet's payload.
    ///
    /// - Throws: `WireError.truncated` if it is shorter than the 2-byte OSN (an RTX packet with an empty
    ///   payload is padding, used for bandwidth probing, and has nothing to unwrap).
    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(bytes)
        originalSequenceNumber = SequenceNumber(try reader.readUInt16("RTX original sequence number"))
        originalPayload = reader.readRest()
    }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int { 2 + originalPayload.count }

    /// The RTX payload as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the RTX payload to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        writer.writeUInt16(originalSequenceNumber.rawValue)
        writer.writeBytes(originalPayload)
    }
}

/// How retransmission streams map to the streams they repair (RFC 4588 §8: SSRC multiplexing, `apt`).
///
/// A sender wraps a packet with `wrap(_:ssrc:payloadType:sequenceNumber:)`; a receiver unwraps with
/// `unwrap(_:)`, which restores the original packet exactly except for its padding.
public struct RTXMapping: Equatable, Sendable {
    /// RTX payload type → the original payload type it carries (the `apt` parameter).
    public var originalPayloadTypes: [UInt8: UInt8]
    /// RTX SSRC → the original SSRC it repairs.
    public var originalSSRCs: [SSRC: SSRC]

    /// A mapping from RTX payload types and SSRCs to the original ones.
    public init(originalPayloadTypes: [UInt8: UInt8], originalSSRCs: [SSRC: SSRC]) {
        self.originalPayloadTypes = originalPayloadTypes
        self.originalSSRCs = originalSSRCs
    }

    /// `original` as a retransmission: on the RTX stream `ssrc` with `payloadType` and that stream's
    /// next `sequenceNumber`; timestamp, marker, CSRCs and header extensions stay; the payload is the
    /// original sequence number followed by the original payload (padding is dropped).
    public static func wrap(
        _ original: RTPPacket, ssrc: SSRC, payloadType: UInt8, sequenceNumber: SequenceNumber
    ) -> RTPPacket {
        var header = original.header
        header.hasPadding = false
        header.ssrc = ssrc
        header.payloadType = payloadType
        header.sequenceNumber = sequenceNumber
        let payload = RTXPayload(originalSequenceNumber: original.header.sequenceNumber, originalPayload: original.payload)
        return RTPPacket(header: header, payload: payload.serialize())
    }

    /// The original packet a received retransmission carries.
    ///
    /// - Throws: `WireError.invalidValue` if the packet's payload type or SSRC is not an RTX one in
    ///   this mapping; `WireError.truncated` if its payload has no OSN.
    public func unwrap(_ retransmission: RTPPacket) throws(WireError) -> RTPPacket {
        var header = retransmission.header
        guard let payloadType = originalPayloadTypes[header.payloadType] else {
            throw .invalidValue(field: "RTX payload type", reason: "\(header.payloadType) is not an RTX payload type")
        }
        guard let ssrc = originalSSRCs[header.ssrc] else {
            throw .invalidValue(field: "RTX SSRC", reason: "\(header.ssrc) is not an RTX stream")
        }
        let payload = try RTXPayload(parsing: retransmission.payload)
        header.hasPadding = false
        header.payloadType = payloadType
        header.ssrc = ssrc
        header.sequenceNumber = payload.originalSequenceNumber
        return RTPPacket(header: header, payload: payload.originalPayload)
    }
}
