public import ParleyWire

/// The part of the 4-byte RTCP common header (RFC 3550 §6.4.1) a packet type chooses; serializing derives
/// the rest (version, padding bit, length).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|RC/SC/FMT|      PT       |             length            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 content (length × 4 bytes) ...                |
/// |                               +-------------------------------+
/// |                               | padding ...   | padding count |  (if P)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// `length` is the packet's size in 32-bit words minus one (header and padding included). With P set,
/// the packet's last byte counts the padding bytes at its end, itself included.
///
/// Padding: the parser accepts P on any packet of a compound (RFC 3550 says only the last *should*
/// carry it, and libwebrtc pads every transport-wide feedback packet it bundles); the serializer pads a
/// packet exactly when its content is not a whole number of words, so padding is not kept as a value.
/// Packet types must lie in 192…223 (RFC 5761 §4), which keeps RTP packets out of the RTCP parser.
public struct RTCPHeader: Equatable, Sendable {
    /// The 5-bit field after P: report count (SR, RR), source count (SDES, BYE) or feedback message type (FMT).
    public var count: UInt8
    /// The packet type (PT): 200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP, 205 RTPFB, 206 PSFB, 207 XR.
    public var packetType: UInt8

    /// A header with `count` (5 bits; higher bits are dropped when serialized) and `packetType`.
    public init(count: UInt8, packetType: UInt8) {
        self.count = count
        self.packetType = packetType
    }

    /// Size of the common header in bytes.
    public static let size = 4

    static let senderReport: UInt8 = 200
    static let receiverReport: UInt8 = 201
    static let sourceDescription: UInt8 = 202
    static let bye: UInt8 = 203
    static let transportLayerFeedback: UInt8 = 205
    static let payloadSpecificFeedback: UInt8 = 206

    /// Reads one packet from the front of `reader`: its header and its content without padding.
    static func readPacket(from reader: inout ByteReader) throws(WireError) -> (RTCPHeader, ArraySlice<UInt8>) {
        let first = try reader.readUInt8("RTCP version/P/count")
        guard first >> 6 == 2 else {
            throw .invalidValue(field: "RTCP version", reason: "must be 2, got \(first >> 6)")
        }
        let packetType = try reader.readUInt8("RTCP packet type")
        guard (192...223).contains(packetType) else {
            throw .invalidValue(field: "RTCP packet type", reason: "must be in 192…223, got \(packetType)")
        }
        let contentSize = Int(try reader.readUInt16("RTCP length")) * 4
        guard reader.remaining >= contentSize else {
            throw .lengthMismatch(field: "RTCP length", declared: size + contentSize, actual: size + reader.remaining)
        }
        var content = try reader.readBytes(contentSize, "RTCP packet")
        if first & 0x20 != 0 {
            guard let padding = content.last else {
                throw .truncated(field: "RTCP padding count", needed: 1, available: 0)
            }
            guard padding > 0, Int(padding) <= content.count else {
                throw .lengthMismatch(field: "RTCP padding count", declared: Int(padding), actual: content.count)
            }
            content = content.dropLast(Int(padding))
        }
        return (RTCPHeader(count: first & 0x1F, packetType: packetType), content)
    }

    /// Throws unless this header has `packetType` and, if given, the feedback message type `format`.
    func expect(packetType expected: UInt8, format: UInt8? = nil) throws(WireError) {
        guard packetType == expected else {
            throw .invalidValue(field: "RTCP packet type", reason: "expected \(expected), got \(packetType)")
        }
        if let format, count != format {
            throw .invalidValue(field: "RTCP feedback message type", reason: "expected \(format), got \(count)")
        }
    }
}

extension ByteReader {
    /// Throws unless `self` (a packet's content) has been read to its end.
    func expectEndOfRTCPContent(_ content: ArraySlice<UInt8>, _ field: StaticString) throws(WireError) {
        guard isAtEnd else {
            throw .lengthMismatch(field: "\(field)", declared: content.count, actual: content.count - remaining)
        }
    }
}

/// One RTCP packet type: what sets it apart is its header fields and its content; the common header,
/// padding and the three operations every Parley wire type has come with the protocol.
///
/// - `init(parsing:)` parses exactly one packet (no bytes may follow), `serialize()` /
///   `serialize(into:)` write one, `serializedSize` says how many bytes that takes.
/// - Conforming types implement `init(header:content:)` (content = the bytes after the common header,
///   padding removed), `header`, `contentSize` and `serializeContent(into:)`.
public protocol RTCPPacketBody: Equatable, Sendable {
    /// Parses the packet's content; `header` has been read and must match this type.
    ///
    /// - Throws: `WireError` naming the field that is truncated or invalid.
    init(header: RTCPHeader, content: ArraySlice<UInt8>) throws(WireError)
    /// The count/format and packet type this packet is sent with.
    var header: RTCPHeader { get }
    /// Bytes `serializeContent(into:)` writes: the packet without its common header and padding.
    var contentSize: Int { get }
    /// Appends the content (everything after the common header, before padding) to `writer`.
    func serializeContent(into writer: inout ByteWriter)
}

extension RTCPPacketBody {
    /// Parses one RTCP packet that fills `bytes` exactly. Opaque fields share `bytes`' storage.
    ///
    /// - Throws: `WireError` naming the field that is truncated or invalid.
    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(bytes)
        let (header, content) = try RTCPHeader.readPacket(from: &reader)
        guard reader.isAtEnd else {
            throw .lengthMismatch(field: "RTCP length", declared: bytes.count - reader.remaining, actual: bytes.count)
        }
        try self.init(header: header, content: content)
    }

    /// Parses one RTCP packet that fills `bytes` exactly.
    public init(parsing bytes: [UInt8]) throws(WireError) {
        try self.init(parsing: bytes[...])
    }

    /// Bytes `serialize()` produces: header, content and padding to a whole number of words.
    public var serializedSize: Int {
        RTCPHeader.size + (contentSize + 3) / 4 * 4
    }

    /// The packet as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the packet to `writer`, padded (P bit and count byte) when its content is not whole words.
    ///
    /// A packet may hold at most 65535 words after its header; larger content is a programming error.
    public func serialize(into writer: inout ByteWriter) {
        let header = self.header
        let size = contentSize
        let padding = (4 - size % 4) % 4
        let words = (size + padding) / 4
        precondition(words <= 0xFFFF, "an RTCP packet holds at most 65535 words after its header")
        writer.writeUInt8(2 << 6 | (padding > 0 ? 0x20 : 0) | header.count & 0x1F)
        writer.writeUInt8(header.packetType)
        writer.writeUInt16(UInt16(words))
        serializeContent(into: &writer)
        if padding > 0 {
            writer.writeZeros(padding - 1)
            writer.writeUInt8(UInt8(padding))
        }
    }
}

/// Any RTCP packet: one of the types Parley understands, or an opaque packet kept as bytes.
///
/// Dispatch is on packet type and, for feedback (RFC 4585 §6.1), on the FMT field: RTPFB 1 generic
/// NACK, RTPFB 15 transport-wide feedback, PSFB 1 PLI, PSFB 4 FIR. Everything else (APP, XR, REMB,
/// TMMBR…) becomes `.unknown` and round-trips unchanged.
public enum RTCPPacket: RTCPPacketBody {
    /// A sender report (RFC 3550 §6.4.1).
    case senderReport(RTCPSenderReport)
    /// A receiver report (RFC 3550 §6.4.2).
    case receiverReport(RTCPReceiverReport)
    /// Source description items (RFC 3550 §6.5).
    case sourceDescription(RTCPSourceDescription)
    /// A goodbye (RFC 3550 §6.6).
    case bye(RTCPBye)
    /// A generic NACK (RFC 4585 §6.2.1).
    case genericNACK(RTCPGenericNACK)
    /// A picture loss indication (RFC 4585 §6.3.1).
    case pictureLossIndication(RTCPPictureLossIndication)
    /// A full intra request (RFC 5104 §4.3.1).
    case fullIntraRequest(RTCPFullIntraRequest)
    /// Transport-wide congestion-control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
    case transportFeedback(RTCPTransportFeedback)
    /// Any other packet, kept as bytes.
    case unknown(RTCPUnknownPacket)

    /// Parses the content of the packet type `header` names.
    public init(header: RTCPHeader, content: ArraySlice<UInt8>) throws(WireError) {
        switch (header.packetType, header.count) {
        case (RTCPHeader.senderReport, _):
            self = .senderReport(try RTCPSenderReport(header: header, content: content))
        case (RTCPHeader.receiverReport, _):
            self = .receiverReport(try RTCPReceiverReport(header: header, content: content))
        case (RTCPHeader.sourceDescription, _):
            self = .sourceDescription(try RTCPSourceDescription(header: header, content: content))
        case (RTCPHeader.bye, _):
            self = .bye(try RTCPBye(header: header, content: content))
        case (RTCPHeader.transportLayerFeedback, RTCPGenericNACK.format):
            self = .genericNACK(try RTCPGenericNACK(header: header, content: content))
        case (RTCPHeader.transportLayerFeedback, RTCPTransportFeedback.format):
            self = .transportFeedback(try RTCPTransportFeedback(header: header, content: content))
        case (RTCPHeader.payloadSpecificFeedback, RTCPPictureLossIndication.format):
            self = .pictureLossIndication(try RTCPPictureLossIndication(header: header, content: content))
        case (RTCPHeader.payloadSpecificFeedback, RTCPFullIntraRequest.format):
            self = .fullIntraRequest(try RTCPFullIntraRequest(header: header, content: content))
        default:
            self = .unknown(RTCPUnknownPacket(header: header, content: content))
        }
    }

    private var body: any RTCPPacketBody {
        switch self {
        case .senderReport(let packet): packet
        case .receiverReport(let packet): packet
        case .sourceDescription(let packet): packet
        case .bye(let packet): packet
        case .genericNACK(let packet): packet
        case .pictureLossIndication(let packet): packet
        case .fullIntraRequest(let packet): packet
        case .transportFeedback(let packet): packet
        case .unknown(let packet): packet
        }
    }

    /// The header of the packet this case holds.
    public var header: RTCPHeader { body.header }

    /// The content size of the packet this case holds.
    public var contentSize: Int { body.contentSize }

    /// Appends the content of the packet this case holds.
    public func serializeContent(into writer: inout ByteWriter) {
        body.serializeContent(into: &writer)
    }
}

/// An RTCP packet Parley does not interpret (APP, XR, unhandled feedback types…), kept as bytes.
public struct RTCPUnknownPacket: RTCPPacketBody {
    /// The packet's count/format field and packet type.
    public var header: RTCPHeader
    /// The bytes after the common header, without padding.
    public var content: ArraySlice<UInt8>

    /// A packet with `header` and `content` (padded to whole words when serialized).
    public init(header: RTCPHeader, content: ArraySlice<UInt8>) {
        self.header = header
        self.content = content
    }

    /// Bytes of `content`.
    public var contentSize: Int { content.count }

    /// Appends `content`.
    public func serializeContent(into writer: inout ByteWriter) {
        writer.writeBytes(content)
    }
}

/// A compound RTCP packet (RFC 3550 §6.1): the RTCP packets one datagram carries, back to back.
///
/// Parsing applies RFC 3550 A.2's checks to every packet (version 2, length fields that add up to the
/// datagram exactly, consistent padding) except the first-packet-is-SR/RR rule: reduced-size RTCP
/// (RFC 5506), e.g. a lone PLI or NACK, is accepted, and `isReducedSize` says which kind arrived.
public struct RTCPCompoundPacket: Equatable, Sendable {
    /// The packets, in order.
    public var packets: [RTCPPacket]

    /// A compound of `packets`.
    public init(_ packets: [RTCPPacket]) {
        self.packets = packets
    }

    /// Parses every packet of a datagram (at least one). Opaque fields share `bytes`' storage.
    ///
    /// - Throws: `WireError` naming the field of the first packet that is truncated or invalid.
    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(bytes)
        packets = []
        repeat {
            let (header, content) = try RTCPHeader.readPacket(from: &reader)
            packets.append(try RTCPPacket(header: header, content: content))
        } while !reader.isAtEnd
    }

    /// Parses every packet of a datagram (at least one).
    public init(parsing bytes: [UInt8]) throws(WireError) {
        try self.init(parsing: bytes[...])
    }

    /// Whether this is reduced-size RTCP (RFC 5506): the first packet is neither SR nor RR.
    public var isReducedSize: Bool {
        switch packets.first {
        case .senderReport, .receiverReport: false
        default: true
        }
    }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int {
        packets.reduce(0) { $0 + $1.serializedSize }
    }

    /// The datagram as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends every packet to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        for packet in packets {
            packet.serialize(into: &writer)
        }
    }
}
