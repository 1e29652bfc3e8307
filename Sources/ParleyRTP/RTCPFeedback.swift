public import ParleyWire

// Feedback messages (RFC 4585 §6.1) share one layout; FMT in the count field selects the message:
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |V=2|P|   FMT   |       PT      |          length               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                  SSRC of packet sender                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                  SSRC of media source                         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// :            Feedback Control Information (FCI)                 :
// :                                                               :

/// Reads the two SSRCs every feedback message starts with, after checking PT and FMT.
func readFeedbackSSRCs(
    _ header: RTCPHeader, packetType: UInt8, format: UInt8, from reader: inout ByteReader
) throws(WireError) -> (sender: SSRC, media: SSRC) {
    try header.expect(packetType: packetType, format: format)
    return (SSRC(try reader.readUInt32("feedback sender SSRC")), SSRC(try reader.readUInt32("feedback media SSRC")))
}

/// Writes the two SSRCs every feedback message starts with.
func writeFeedbackSSRCs(sender: SSRC, media: SSRC, into writer: inout ByteWriter) {
    writer.writeUInt32(sender.rawValue)
    writer.writeUInt32(media.rawValue)
}

/// A generic NACK (RFC 4585 §6.2.1, RTPFB FMT 1): RTP packets the receiver asks to be resent.
///
/// Each FCI entry names a lost packet (PID) and, in a bitmask (BLP), which of the 16 after it are lost too:
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            PID                |             BLP               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// Bit i of BLP (least significant = 0) set means PID + i + 1 is lost.
public struct RTCPGenericNACK: RTCPPacketBody {
    /// The participant asking.
    public var senderSSRC: SSRC
    /// The stream whose packets are lost.
    public var mediaSSRC: SSRC
    /// The PID + BLP entries, in order.
    public var entries: [Entry]

    /// One PID + BLP pair.
    public struct Entry: Equatable, Sendable {
        /// A lost packet.
        public var packetID: SequenceNumber
        /// Bit i set: packet `packetID + i + 1` is lost too.
        public var lostBitmask: UInt16

        /// The entry `packetID` with `lostBitmask`.
        public init(packetID: SequenceNumber, lostBitmask: UInt16 = 0) {
            self.packetID = packetID
            self.lostBitmask = lostBitmask
        }
    }

    static let format: UInt8 = 1

    /// A NACK with explicit entries.
    public init(senderSSRC: SSRC, mediaSSRC: SSRC, entries: [Entry]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.entries = entries
    }

    /// A NACK for `lostSequenceNumbers`, compressed into as few entries as their order allows.
    ///
    /// Give the numbers oldest first (wrap-aware order). A number within 16 after the current entry's PID
    /// joins its bitmask; a repeat is ignored; anything else starts a new entry.
    public init(senderSSRC: SSRC, mediaSSRC: SSRC, lostSequenceNumbers: some Sequence<SequenceNumber>) {
        var entries: [Entry] = []
        for number in lostSequenceNumbers {
            if let last = entries.last {
                let distance = number.distance(from: last.packetID)
                if distance == 0 { continue }
                if (1...16).contains(distance) {
                    entries[entries.count - 1].lostBitmask |= 1 << (distance - 1)
                    continue
                }
            }
            entries.append(Entry(packetID: number))
        }
        self.init(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, entries: entries)
    }

    /// Every sequence number the entries name, in entry order (each PID, then its bitmask's numbers).
    public var lostSequenceNumbers: [SequenceNumber] {
        var numbers: [SequenceNumber] = []
        for entry in entries {
            numbers.append(entry.packetID)
            for bit in 0..<16 where entry.lostBitmask & (1 << bit) != 0 {
                numbers.append(entry.packetID.advanced(by: bit + 1))
            }
        }
        return numbers
    }

    /// Parses a generic NACK's content.
    public init(header: RTCPHeader, content: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(content)
        (senderSSRC, mediaSSRC) = try readFeedbackSSRCs(
            header, packetType: RTCPHeader.transportLayerFeedback, format: Self.format, from: &reader)
        entries = []
        while !reader.isAtEnd {
            let packetID = SequenceNumber(try reader.readUInt16("NACK PID"))
            entries.append(Entry(packetID: packetID, lostBitmask: try reader.readUInt16("NACK BLP")))
        }
    }

    /// FMT 1, PT 205.
    public var header: RTCPHeader {
        RTCPHeader(count: Self.format, packetType: RTCPHeader.transportLayerFeedback)
    }

    /// 8 + 4 per entry.
    public var contentSize: Int { 8 + 4 * entries.count }

    /// Appends the content.
    public func serializeContent(into writer: inout ByteWriter) {
        writeFeedbackSSRCs(sender: senderSSRC, media: mediaSSRC, into: &writer)
        for entry in entries {
            writer.writeUInt16(entry.packetID.rawValue)
            writer.writeUInt16(entry.lostBitmask)
        }
    }
}

/// A picture loss indication (RFC 4585 §6.3.1, PSFB FMT 1): the decoder lost picture data; send a key frame.
/// It carries no FCI.
public struct RTCPPictureLossIndication: RTCPPacketBody {
    /// The participant asking.
    public var senderSSRC: SSRC
    /// The video stream concerned.
    public var mediaSSRC: SSRC

    static let format: UInt8 = 1

    /// A PLI from `senderSSRC` about `mediaSSRC`.
    public init(senderSSRC: SSRC, mediaSSRC: SSRC) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
    }

    /// Parses a PLI's content (exactly the two SSRCs).
    public init(header: RTCPHeader, content: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(content)
        (senderSSRC, mediaSSRC) = try readFeedbackSSRCs(
            header, packetType: RTCPHeader.payloadSpecificFeedback, format: Self.format, from: &reader)
        try reader.expectEndOfRTCPContent(content, "PLI length")
    }

    /// FMT 1, PT 206.
    public var header: RTCPHeader {
        RTCPHeader(count: Self.format, packetType: RTCPHeader.payloadSpecificFeedback)
    }

    /// 8 bytes.
    public var contentSize: Int { 8 }

    /// Appends the content.
    public func serializeContent(into writer: inout ByteWriter) {
        writeFeedbackSSRCs(sender: senderSSRC, media: mediaSSRC, into: &writer)
    }
}

/// A full intra request (RFC 5104 §4.3.1, PSFB FMT 4): each listed stream must send a decoder refresh point.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                              SSRC                             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Seq nr.       |    Reserved                                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// The media-source SSRC of the common header is unused (sent as 0); reserved bits are ignored.
public struct RTCPFullIntraRequest: RTCPPacketBody {
    /// The participant asking.
    public var senderSSRC: SSRC
    /// The header's media-source SSRC: 0 by RFC 5104, kept as received.
    public var mediaSSRC: SSRC
    /// One request per stream.
    public var entries: [Entry]

    /// One FCI entry: a stream and the request's command sequence number.
    public struct Entry: Equatable, Sendable {
        /// The stream that must send a key frame.
        public var ssrc: SSRC
        /// Incremented per new request to this stream (a repeat keeps the number).
        public var sequenceNumber: UInt8

        /// The entry for `ssrc` with `sequenceNumber`.
        public init(ssrc: SSRC, sequenceNumber: UInt8) {
            self.ssrc = ssrc
            self.sequenceNumber = sequenceNumber
        }
    }

    static let format: UInt8 = 4

    /// A FIR from `senderSSRC` with `entries`.
    public init(senderSSRC: SSRC, mediaSSRC: SSRC = SSRC(0), entries: [Entry]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.entries = entries
    }

    /// Parses a FIR's content.
    public init(header: RTCPHeader, content: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(content)
        (senderSSRC, mediaSSRC) = try readFeedbackSSRCs(
            header, packetType: RTCPHeader.payloadSpecificFeedback, format: Self.format, from: &reader)
        entries = []
        while !reader.isAtEnd {
            let ssrc = SSRC(try reader.readUInt32("FIR SSRC"))
            let sequenceNumber = try reader.readUInt8("FIR sequence number")
            try reader.skip(3, "FIR reserved")
            entries.append(Entry(ssrc: ssrc, sequenceNumber: sequenceNumber))
        }
    }

    /// FMT 4, PT 206.
    public var header: RTCPHeader {
        RTCPHeader(count: Self.format, packetType: RTCPHeader.payloadSpecificFeedback)
    }

    /// 8 + 8 per entry.
    public var contentSize: Int { 8 + 8 * entries.count }

    /// Appends the content.
    public func serializeContent(into writer: inout ByteWriter) {
        writeFeedbackSSRCs(sender: senderSSRC, media: mediaSSRC, into: &writer)
        for entry in entries {
            writer.writeUInt32(entry.ssrc.rawValue)
            writer.writeUInt8(entry.sequenceNumber)
            writer.writeZeros(3)
        }
    }
}
