public import ParleyCrypto
import ParleyRTP
public import ParleyWire

/// A media codec id in a media stream field (offer-answer.md §3.1).
public struct CodecID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Opus (RFC 7587): audio, clock rate 48 000, 1 or 2 channels.
    public static let opus = CodecID(rawValue: 1)
    /// VP8 (RFC 7741): video, clock rate 90 000, channels 0.
    public static let vp8 = CodecID(rawValue: 2)

    public var description: String {
        switch self {
        case .opus: "opus"
        case .vp8: "vp8"
        default: "codec \(rawValue)"
        }
    }
}


/// Retransmissions (RFC 4588) of a video stream: their own SSRC and payload type.
public struct RetransmissionStream: Equatable, Sendable {
    /// The RTX stream's SSRC.
    public var ssrc: SSRC
    /// The RTX payload type (96…127).
    public var payloadType: UInt8

    public init(ssrc: SSRC, payloadType: UInt8) {
        self.ssrc = ssrc
        self.payloadType = payloadType
    }
}

/// One media stream a side will send (field type 0x01).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     kind      |     codec     | payload type  |   channels    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                             SSRC                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          clock rate                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      RTX SSRC (optional)                      |  length 17 only
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |    RTX PT     |
/// +-+-+-+-+-+-+-+-+
/// ```
public struct MediaStreamDescription: Equatable, Sendable {
    /// Bytes without RTX.
    public static let baseSize = 12
    /// Bytes with RTX.
    public static let sizeWithRetransmission = 17

    public var kind: MediaKind
    public var codec: CodecID
    /// RTP payload type: 96…127 (Opus and VP8 are dynamic payload formats).
    public var payloadType: UInt8
    /// Audio channels (Opus: 1 or 2; video: 0).
    public var channels: UInt8
    public var ssrc: SSRC
    /// RTP clock rate in Hz (Opus 48 000, VP8 90 000).
    public var clockRate: UInt32
    /// RTX for this stream (video only), if any.
    public var retransmission: RetransmissionStream?

    public init(
        kind: MediaKind, codec: CodecID, payloadType: UInt8, ssrc: SSRC, clockRate: UInt32, channels: UInt8,
        retransmission: RetransmissionStream? = nil
    ) {
        self.kind = kind
        self.codec = codec
        self.payloadType = payloadType
        self.channels = channels
        self.ssrc = ssrc
        self.clockRate = clockRate
        self.retransmission = retransmission
    }

    /// An Opus audio stream (48 kHz, `channels` channels).
    public static func opus(ssrc: SSRC, payloadType: UInt8 = 111, channels: UInt8 = 2) -> MediaStreamDescription {
        MediaStreamDescription(kind: .audio, codec: .opus, payloadType: payloadType, ssrc: ssrc, clockRate: 48_000, channels: channels)
    }

    /// A VP8 video stream (90 kHz), with RTX if given.
    public static func vp8(
        ssrc: SSRC, payloadType: UInt8 = 96, retransmission: RetransmissionStream? = nil
    ) -> MediaStreamDescription {
        MediaStreamDescription(
            kind: .video, codec: .vp8, payloadType: payloadType, ssrc: ssrc, clockRate: 90_000, channels: 0,
            retransmission: retransmission)
    }

    /// Parses a media stream field's value.
    public init(parsing value: ArraySlice<UInt8>) throws(WireError) {
        guard value.count == Self.baseSize || value.count == Self.sizeWithRetransmission else {
            throw .lengthMismatch(field: "media stream", declared: value.count, actual: Self.baseSize)
        }
        var reader = ByteReader(value)
        let kindByte = try reader.readUInt8("media kind")
        guard let kind = MediaKind(rawValue: kindByte) else {
            throw .invalidValue(field: "media kind", reason: "must be 0 (audio) or 1 (video), got \(kindByte)")
        }
        self.kind = kind
        codec = CodecID(rawValue: try reader.readUInt8("codec"))
        payloadType = try reader.readUInt8("payload type")
        channels = try reader.readUInt8("channels")
        ssrc = SSRC(try reader.readUInt32("SSRC"))
        clockRate = try reader.readUInt32("clock rate")
        retransmission = nil
        if !reader.isAtEnd {
            let rtxSSRC = SSRC(try reader.readUInt32("RTX SSRC"))
            retransmission = RetransmissionStream(ssrc: rtxSSRC, payloadType: try reader.readUInt8("RTX payload type"))
        }
        try validate()
    }

    var serializedSize: Int { retransmission == nil ? Self.baseSize : Self.sizeWithRetransmission }

    func serialize(into writer: inout ByteWriter) {
        writer.writeUInt8(kind.rawValue)
        writer.writeUInt8(codec.rawValue)
        writer.writeUInt8(payloadType)
        writer.writeUInt8(channels)
        writer.writeUInt32(ssrc.rawValue)
        writer.writeUInt32(clockRate)
        if let retransmission {
            writer.writeUInt32(retransmission.ssrc.rawValue)
            writer.writeUInt8(retransmission.payloadType)
        }
    }

    func validate() throws(WireError) {
        guard (96...127).contains(payloadType) else {
            throw .invalidValue(field: "payload type", reason: "\(payloadType) is not dynamic (96…127)")
        }
        switch codec {
        case .opus:
            guard kind == .audio else { throw .invalidValue(field: "media kind", reason: "opus is audio") }
            guard clockRate == 48_000 else { throw .invalidValue(field: "clock rate", reason: "opus uses 48000, got \(clockRate)") }
            guard channels == 1 || channels == 2 else {
                throw .invalidValue(field: "channels", reason: "opus has 1 or 2, got \(channels)")
            }
        case .vp8:
            guard kind == .video else { throw .invalidValue(field: "media kind", reason: "vp8 is video") }
            guard clockRate == 90_000 else { throw .invalidValue(field: "clock rate", reason: "vp8 uses 90000, got \(clockRate)") }
            guard channels == 0 else { throw .invalidValue(field: "channels", reason: "video has 0, got \(channels)") }
        default:
            guard codec.rawValue != 0 else { throw .invalidValue(field: "codec", reason: "0 is reserved") }
            guard clockRate > 0 else { throw .invalidValue(field: "clock rate", reason: "must not be 0") }
        }
        if let retransmission {
            guard kind == .video else { throw .invalidValue(field: "RTX", reason: "only video streams have RTX") }
            guard (96...127).contains(retransmission.payloadType), retransmission.payloadType != payloadType else {
                throw .invalidValue(
                    field: "RTX payload type", reason: "\(retransmission.payloadType): must be 96…127 and differ from \(payloadType)")
            }
        }
    }
}

/// One RTP header extension id → URI mapping (field type 0x02), as RFC 8285's `extmap`.
///
/// ```
///  0                   1
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 ...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      id       |  URI (UTF-8, 1…255 bytes)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct HeaderExtensionMapping: Equatable, Sendable {
    public static let maximumURILength = 255
    /// The local id, 1…14 (one-byte header form of RFC 8285).
    public var id: UInt8
    /// The extension's URI.
    public var uri: String

    public init(id: UInt8, uri: String) {
        self.id = id
        self.uri = uri
    }

    /// Parley's mapping (`RTPExtensionRegistry.parleyDefault`): 1 transport-wide sequence number,
    /// 2 absolute send time, 3 frame marking.
    public static let parleyDefault = [
        HeaderExtensionMapping(id: 1, uri: TransportWideSequenceNumber.uri),
        HeaderExtensionMapping(id: 2, uri: AbsoluteSendTime.uri),
        HeaderExtensionMapping(id: 3, uri: FrameMarking.uri),
    ]

    init(parsing value: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(value)
        id = try reader.readUInt8("header extension id")
        let uriBytes = reader.readRest()
        guard let uri = String(validating: uriBytes, as: UTF8.self) else {
            throw .invalidValue(field: "header extension URI", reason: "not UTF-8")
        }
        self.uri = uri
        try validate()
    }

    var serializedSize: Int { 1 + uri.utf8.count }

    func serialize(into writer: inout ByteWriter) {
        writer.writeUInt8(id)
        writer.writeBytes(uri.utf8)
    }

    func validate() throws(WireError) {
        guard (1...14).contains(id) else { throw .invalidValue(field: "header extension id", reason: "\(id) is not 1…14") }
        guard (1...Self.maximumURILength).contains(uri.utf8.count) else {
            throw .invalidValue(field: "header extension URI", reason: "\(uri.utf8.count) bytes, must be 1…255")
        }
    }
}

/// A UDP transport address this side receives on (field type 0x05).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | family (4/6)  |          UDP port             |  address ...  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+               +
/// |                 (4 bytes for 4, 16 bytes for 6)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct TransportCandidate: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    /// UDP port, 1…65535.
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `a.b.c.d:port` or `[v6]:port`.
    public var description: String {
        switch address {
        case .v4: "\(address):\(port)"
        case .v6: "[\(address)]:\(port)"
        }
    }

    init(parsing value: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(value)
        let family = try reader.readUInt8("address family")
        port = try reader.readUInt16("port")
        let expected: Int
        switch family {
        case 4: expected = 4
        case 6: expected = 16
        default: throw .invalidValue(field: "address family", reason: "must be 4 or 6, got \(family)")
        }
        guard reader.remaining == expected else {
            throw .lengthMismatch(field: "candidate address", declared: reader.remaining, actual: expected)
        }
        address = family == 4
            ? .v4(try reader.readUInt32("IPv4 address"))
            : .v6(high: try reader.readUInt64("IPv6 address"), low: try reader.readUInt64("IPv6 address"))
        try validate()
    }

    var serializedSize: Int {
        if case .v4 = address { 7 } else { 19 }
    }

    func serialize(into writer: inout ByteWriter) {
        switch address {
        case .v4(let value):
            writer.writeUInt8(4)
            writer.writeUInt16(port)
            writer.writeUInt32(value)
        case .v6(let high, let low):
            writer.writeUInt8(6)
            writer.writeUInt16(port)
            writer.writeUInt64(high)
            writer.writeUInt64(low)
        }
    }

    func validate() throws(WireError) {
        guard port != 0 else { throw .invalidValue(field: "port", reason: "0 is not a port") }
    }
}

/// Optional features (field type 0x06, a 32-bit mask). Bits not defined here are reserved: senders set
/// them to 0 and receivers ignore them.
public struct CallCapabilities: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Text chat over the pairwise channel (bit 0).
    public static let chat = CallCapabilities(rawValue: 1 << 0)
    /// File transfer (bit 1).
    public static let fileTransfer = CallCapabilities(rawValue: 1 << 1)
    /// Every bit version 1 defines.
    public static let known: CallCapabilities = [.chat, .fileTransfer]
}

/// Why an answer declines the call (field type 0x0A). Unknown codes are kept as they are.
public struct DeclineReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// No SRTP protection profile in the offer is supported.
    public static let noCommonSRTPProfile = DeclineReason(rawValue: 1)
    /// No SFrame cipher suite in the offer is supported.
    public static let noCommonSFrameCipherSuite = DeclineReason(rawValue: 2)
    /// No offered stream can be received, and the answerer sends none.
    public static let noCommonStreams = DeclineReason(rawValue: 3)
    /// The callee is in another call.
    public static let busy = DeclineReason(rawValue: 4)
    /// The user refused.
    public static let rejected = DeclineReason(rawValue: 5)

    public var description: String {
        switch self {
        case .noCommonSRTPProfile: "no common SRTP profile"
        case .noCommonSFrameCipherSuite: "no common SFrame cipher suite"
        case .noCommonStreams: "no common streams"
        case .busy: "busy"
        case .rejected: "rejected"
        default: "reason \(rawValue)"
        }
    }
}
