public import ParleyWire

/// The table-of-contents byte at the front of every Opus packet (RFC 6716 §3.1).
///
/// ```
///  0 1 2 3 4 5 6 7
/// +-+-+-+-+-+-+-+-+
/// | config  |s| c |
/// +-+-+-+-+-+-+-+-+
/// ```
/// `config` selects mode, bandwidth and frame duration; `s` is stereo; `c` codes the frame count
/// (0: one frame, 1: two of equal size, 2: two of different sizes, 3: an arbitrary number).
public struct OpusTOC: Equatable, Sendable {
    /// The codec mode a configuration selects.
    public enum Mode: Equatable, Sendable {
        /// SILK only (configurations 0…11).
        case silk
        /// SILK and CELT (configurations 12…15).
        case hybrid
        /// CELT only (configurations 16…31).
        case celt
    }

    /// The byte as sent.
    public var rawValue: UInt8

    /// The TOC byte `rawValue`.
    public init(_ rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// The configuration number, 0…31.
    public var configuration: Int { Int(rawValue >> 3) }
    /// Whether the packet is stereo.
    public var isStereo: Bool { rawValue & 0x04 != 0 }
    /// The frame count code `c`, 0…3.
    public var frameCountCode: Int { Int(rawValue & 0x03) }

    /// The codec mode.
    public var mode: Mode {
        switch configuration {
        case 0...11: .silk
        case 12...15: .hybrid
        default: .celt
        }
    }

    /// Samples per channel in each frame at 48 kHz: 120 (2.5 ms) … 2880 (60 ms).
    public var samplesPerFrame: Int {
        switch mode {
        case .silk: [480, 960, 1920, 2880][configuration % 4]
        case .hybrid: [480, 960][configuration % 2]
        case .celt: [120, 240, 480, 960][configuration % 4]
        }
    }
}

/// The payload of one Opus RTP packet: exactly one Opus packet (RFC 7587 §4.2), 48 kHz timestamps.
///
/// Parsing checks the packet lightly — a TOC byte is present and the frame count is coded and lasts at
/// most 120 ms (RFC 6716 §3.2.5) — without decoding it.
public struct OpusRTPPayload: Equatable, Sendable {
    /// The Opus packet; shares the parsed buffer's storage.
    public private(set) var packet: ArraySlice<UInt8>
    /// How many Opus frames the packet holds.
    public private(set) var frameCount: Int

    /// The most audio one packet may carry: 120 ms at 48 kHz.
    public static let maximumSampleCount = 5_760

    /// Parses (and lightly validates) one Opus packet.
    ///
    /// - Throws: `WireError.truncated` for an empty packet or a missing frame count or length byte;
    ///   `WireError.invalidValue` for a frame count of 0, an odd code-1 length, or over 120 ms of audio.
    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(bytes)
        let toc = OpusTOC(try reader.readUInt8("Opus TOC"))
        switch toc.frameCountCode {
        case 0:
            frameCount = 1
        case 1:
            guard reader.remaining % 2 == 0 else {
                throw .invalidValue(field: "Opus frames", reason: "code 1 needs two frames of equal size")
            }
            frameCount = 2
        case 2:
            _ = try reader.peekUInt8("Opus frame length")
            frameCount = 2
        default:
            frameCount = Int(try reader.readUInt8("Opus frame count") & 0x3F)
            guard frameCount > 0 else { throw .invalidValue(field: "Opus frame count", reason: "must be at least 1") }
        }
        guard frameCount * toc.samplesPerFrame <= Self.maximumSampleCount else {
            throw .invalidValue(
                field: "Opus frame count",
                reason: "\(frameCount) frames of \(toc.samplesPerFrame) samples exceed 120 ms")
        }
        packet = bytes
    }

    /// Parses one Opus packet.
    public init(parsing bytes: [UInt8]) throws(WireError) {
        try self.init(parsing: bytes[...])
    }

    /// The packet's TOC byte.
    public var toc: OpusTOC { OpusTOC(packet[packet.startIndex]) }

    /// Samples per channel the packet lasts at 48 kHz: how far the RTP timestamp advances after it.
    public var sampleCount: Int { frameCount * toc.samplesPerFrame }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int { packet.count }

    /// The RTP payload as sent: the Opus packet itself.
    public func serialize() -> [UInt8] { Array(packet) }

    /// Appends the RTP payload to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        writer.writeBytes(packet)
    }
}

/// Puts Opus packets into RTP payloads with 48 kHz timestamps (RFC 7587 §4.1–4.2).
///
/// Each packet's timestamp is the previous one's plus the previous packet's duration, read from its
/// TOC. When packets are not sent (discontinuous transmission), advance `nextTimestamp` by the audio
/// skipped; setting the marker bit on the first packet of a talkspurt is the caller's choice.
public struct OpusPacketizer: Sendable {
    /// The timestamp the next packet gets.
    public var nextTimestamp: RTPTimestamp

    /// A packetizer whose first packet gets `firstTimestamp` (random, RFC 3550 §5.1).
    public init(firstTimestamp: RTPTimestamp) {
        nextTimestamp = firstTimestamp
    }

    /// The RTP payload (the packet itself) and the timestamp to send it with.
    ///
    /// - Throws: `WireError` (see `OpusRTPPayload.init(parsing:)`) if the packet is malformed; the
    ///   timestamp then does not advance.
    public mutating func packetize(_ packet: [UInt8]) throws(WireError) -> (payload: [UInt8], timestamp: RTPTimestamp) {
        let parsed = try OpusRTPPayload(parsing: packet)
        let timestamp = nextTimestamp
        nextTimestamp = timestamp.advanced(by: Int64(parsed.sampleCount))
        return (packet, timestamp)
    }
}
