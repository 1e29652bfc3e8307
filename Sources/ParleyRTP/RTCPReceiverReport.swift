public import ParleyWire

/// A receiver report (RFC 3550 §6.4.2): reception statistics from a participant that is not sending.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|    RC   |   PT=RR=201   |             length            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     SSRC of packet sender                     |
/// +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// |                 report block 1 (24 bytes) ...                 |
/// +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// |                  profile-specific extensions                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct RTCPReceiverReport: RTCPPacketBody {
    /// The reporting participant.
    public var ssrc: SSRC
    /// One block per source reported on; at most 31 (serializing writes the first 31).
    public var reportBlocks: [RTCPReportBlock]
    /// Bytes after the report blocks, kept opaque.
    public var profileExtension: ArraySlice<UInt8>

    /// A report from `ssrc` with `reportBlocks` and an optional profile-specific extension.
    public init(ssrc: SSRC, reportBlocks: [RTCPReportBlock] = [], profileExtension: ArraySlice<UInt8> = []) {
        self.ssrc = ssrc
        self.reportBlocks = reportBlocks
        self.profileExtension = profileExtension
    }

    /// Parses an RR's content.
    public init(header: RTCPHeader, content: ArraySlice<UInt8>) throws(WireError) {
        try header.expect(packetType: RTCPHeader.receiverReport)
        var reader = ByteReader(content)
        ssrc = SSRC(try reader.readUInt32("RR sender SSRC"))
        reportBlocks = try RTCPReportBlock.read(count: header.count, from: &reader)
        profileExtension = reader.readRest()
    }

    /// RC = the number of report blocks, PT = 201.
    public var header: RTCPHeader {
        RTCPHeader(count: UInt8(min(reportBlocks.count, 31)), packetType: RTCPHeader.receiverReport)
    }

    /// 4 + 24 per report block + the extension.
    public var contentSize: Int {
        4 + RTCPReportBlock.size * min(reportBlocks.count, 31) + profileExtension.count
    }

    /// Appends the content.
    public func serializeContent(into writer: inout ByteWriter) {
        writer.writeUInt32(ssrc.rawValue)
        RTCPReportBlock.write(reportBlocks, into: &writer)
        writer.writeBytes(profileExtension)
    }
}

/// Reception statistics for one source (RFC 3550 §6.4.1), carried in SRs and RRs.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// |                 SSRC_1 (SSRC of first source)                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | fraction lost |       cumulative number of packets lost       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           extended highest sequence number received           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      interarrival jitter                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         last SR (LSR)                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   delay since last SR (DLSR)                  |
/// +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// ```
public struct RTCPReportBlock: Equatable, Sendable {
    /// The source this block reports on.
    public var ssrc: SSRC
    /// Packets lost since the previous report, as a fraction of those expected, in 1/256ths.
    public var fractionLost: UInt8
    /// Packets lost since reception began: a 24-bit signed field (duplicates can make it negative),
    /// so serializing clamps it to −8 388 608…8 388 607.
    public var cumulativeLost: Int32
    /// The highest sequence number received, extended with the count of wraps in the high 16 bits.
    public var extendedHighestSequenceNumber: UInt32
    /// Interarrival jitter in timestamp units (RFC 3550 §6.4.1, A.8).
    public var jitter: UInt32
    /// LSR: the middle 32 bits of the last SR's NTP timestamp from this source, 0 if none.
    public var lastSenderReport: UInt32
    /// DLSR: time from receiving that SR to sending this block, in 1/65536 s; 0 if none.
    public var delaySinceLastSenderReport: UInt32

    /// A block with the given fields.
    public init(
        ssrc: SSRC, fractionLost: UInt8 = 0, cumulativeLost: Int32 = 0, extendedHighestSequenceNumber: UInt32,
        jitter: UInt32 = 0, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0
    ) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequenceNumber = extendedHighestSequenceNumber
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    /// Size of a block in bytes.
    public static let size = 24

    /// The range of the 24-bit signed cumulative-loss field.
    public static let cumulativeLostRange: ClosedRange<Int32> = -0x80_0000...0x7F_FFFF

    /// The round-trip time this block measures (RFC 3550 §6.4.1: arrival − LSR − DLSR), nil if LSR is 0.
    ///
    /// `arrival` is when the block arrived, as the middle 32 bits of a timestamp on the clock the SR's
    /// NTP timestamps were taken from. The result is negative if those clocks disagree.
    public func roundTripTime(arrival: UInt32) -> Duration? {
        guard lastSenderReport != 0 else { return nil }
        let units = Int64(Int32(bitPattern: arrival &- lastSenderReport &- delaySinceLastSenderReport))
        return .nanoseconds(units * 1_000_000_000 / 65_536)
    }

    /// Reads `count` blocks.
    static func read(count: UInt8, from reader: inout ByteReader) throws(WireError) -> [RTCPReportBlock] {
        var blocks: [RTCPReportBlock] = []
        blocks.reserveCapacity(Int(count))
        for _ in 0..<count {
            let ssrc = SSRC(try reader.readUInt32("report block SSRC"))
            let fractionLost = try reader.readUInt8("report block fraction lost")
            let lost = try reader.readUInt24("report block cumulative lost")
            blocks.append(RTCPReportBlock(
                ssrc: ssrc,
                fractionLost: fractionLost,
                cumulativeLost: Int32(bitPattern: lost << 8) >> 8,
                extendedHighestSequenceNumber: try reader.readUInt32("report block extended highest sequence"),
                jitter: try reader.readUInt32("report block jitter"),
                lastSenderReport: try reader.readUInt32("report block LSR"),
                delaySinceLastSenderReport: try reader.readUInt32("report block DLSR")
            ))
        }
        return blocks
    }

    /// Writes the first 31 of `blocks`.
    static func write(_ blocks: [RTCPReportBlock], into writer: inout ByteWriter) {
        for block in blocks.prefix(31) {
            let lost = min(max(block.cumulativeLost, cumulativeLostRange.lowerBound), cumulativeLostRange.upperBound)
            writer.writeUInt32(block.ssrc.rawValue)
            writer.writeUInt8(block.fractionLost)
            writer.writeUInt24(UInt32(bitPattern: lost))
            writer.writeUInt32(block.extendedHighestSequenceNumber)
            writer.writeUInt32(block.jitter)
            writer.writeUInt32(block.lastSenderReport)
            writer.writeUInt32(block.delaySinceLastSenderReport)
        }
    }
}
