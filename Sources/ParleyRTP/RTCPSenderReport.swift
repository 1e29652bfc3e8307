public import ParleyWire

/// A 64-bit NTP timestamp (RFC 3550 §4): whole seconds in the high 32 bits, the fraction in the low 32.
///
/// Parley only needs it to be a consistent clock for one sender (RFC 3550 allows any wallclock), so a
/// session may derive it from its monotonic clock with `init(_:)`.
public struct NTPTimestamp: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 32.32 fixed-point value as sent.
    public var rawValue: UInt64

    /// The timestamp `rawValue`.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The instant as 32.32 fixed-point seconds since its clock's epoch (wrapping every 2^32 s).
    public init(_ instant: MonotonicInstant) {
        let nanoseconds = instant.nanoseconds
        let seconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds + 1) / 1_000_000_000 - 1
        let fraction = (UInt64(nanoseconds - seconds * 1_000_000_000) << 32) / 1_000_000_000
        rawValue = UInt64(truncatingIfNeeded: seconds) << 32 | fraction
    }

    /// The middle 32 bits (16.16 fixed point): LSR in report blocks, and the unit of RTT arithmetic.
    public var compact: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 16) }

    /// The raw value in hexadecimal.
    public var description: String { "NTP 0x" + String(rawValue, radix: 16, uppercase: true) }
}

/// A sender report (RFC 3550 §6.4.1): what an active sender sent, and its reception statistics.
///
/// ```
///         0                   1                   2                   3
///         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// header |V=2|P|    RC   |   PT=SR=200   |             length            |
///        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///        |                         SSRC of sender                        |
///        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// sender |              NTP timestamp, most significant word             |
/// info   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///        |             NTP timestamp, least significant word             |
///        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///        |                         RTP timestamp                         |
///        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///        |                     sender's packet count                     |
///        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///        |                      sender's octet count                     |
///        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// report |                 report block 1 (24 bytes) ...                 |
///        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
///        |                  profile-specific extensions                  |
///        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct RTCPSenderReport: RTCPPacketBody {
    /// The sender.
    public var ssrc: SSRC
    /// Wallclock time when the report was sent.
    public var ntpTimestamp: NTPTimestamp
    /// The same instant in the stream's RTP timestamp units.
    public var rtpTimestamp: RTPTimestamp
    /// RTP packets sent since the stream began (wrapping).
    public var packetCount: UInt32
    /// RTP payload octets sent since the stream began (wrapping).
    public var octetCount: UInt32
    /// One block per source reported on; at most 31 (serializing writes the first 31).
    public var reportBlocks: [RTCPReportBlock]
    /// Bytes after the report blocks, kept opaque.
    public var profileExtension: ArraySlice<UInt8>

    /// A report with the given fields.
    public init(
        ssrc: SSRC, ntpTimestamp: NTPTimestamp, rtpTimestamp: RTPTimestamp, packetCount: UInt32, octetCount: UInt32,
        reportBlocks: [RTCPReportBlock] = [], profileExtension: ArraySlice<UInt8> = []
    ) {
        self.ssrc = ssrc
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reportBlocks = reportBlocks
        self.profileExtension = profileExtension
    }

    /// Parses an SR's content.
    public init(header: RTCPHeader, content: ArraySlice<UInt8>) throws(WireError) {
        try header.expect(packetType: RTCPHeader.senderReport)
        var reader = ByteReader(content)
        ssrc = SSRC(try reader.readUInt32("SR sender SSRC"))
        ntpTimestamp = NTPTimestamp(rawValue: try reader.readUInt64("SR NTP timestamp"))
        rtpTimestamp = RTPTimestamp(try reader.readUInt32("SR RTP timestamp"))
        packetCount = try reader.readUInt32("SR packet count")
        octetCount = try reader.readUInt32("SR octet count")
        reportBlocks = try RTCPReportBlock.read(count: header.count, from: &reader)
        profileExtension = reader.readRest()
    }

    /// RC = the number of report blocks, PT = 200.
    public var header: RTCPHeader {
        RTCPHeader(count: UInt8(min(reportBlocks.count, 31)), packetType: RTCPHeader.senderReport)
    }

    /// 24 + 24 per report block + the extension.
    public var contentSize: Int {
        24 + RTCPReportBlock.size * min(reportBlocks.count, 31) + profileExtension.count
    }

    /// Appends the content.
    public func serializeContent(into writer: inout ByteWriter) {
        writer.writeUInt32(ssrc.rawValue)
        writer.writeUInt64(ntpTimestamp.rawValue)
        writer.writeUInt32(rtpTimestamp.rawValue)
        writer.writeUInt32(packetCount)
        writer.writeUInt32(octetCount)
        RTCPReportBlock.write(reportBlocks, into: &writer)
        writer.writeBytes(profileExtension)
    }
}
