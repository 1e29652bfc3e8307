public import ParleyWire

/// Transport-wide congestion-control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1,
/// RTPFB FMT 15): for a range of transport-wide sequence numbers, which packets arrived and when.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|  FMT=15 |    PT=205     |           length              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     SSRC of packet sender                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      SSRC of media source                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      base sequence number     |      packet status count      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 reference time                | fb pkt. count |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          packet chunk         |         packet chunk          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// .                                                               .
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         packet chunk          |  recv delta   |  recv delta   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// .                                                               .
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           recv delta          |  recv delta   | zero padding  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// run-length chunk:            status vector chunk:
///  0                   1        0                   1
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |T| S |       Run Length        | |T|S|       symbol list         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  T=0: S (2 bits) repeated         T=1: S=0 → 14 one-bit symbols,
///  Run Length (13 bits) times             S=1 → 7 two-bit symbols
/// ```
/// Status symbols: 0 not received, 1 received with a small delta (1 byte, 0…255 ticks), 2 received with
/// a large or negative delta (2 bytes, signed), 3 reserved (rejected). One-bit symbols are 0 or 1.
/// Deltas count 250 µs ticks; the first is from the reference time (24-bit signed, 64 ms units), each
/// next from the previous received packet. The last chunk may describe more packets than the status
/// count; those are ignored. Up to 3 bytes after the deltas are accepted (the draft's zero padding);
/// the serializer pads with the RTCP P bit instead, as libwebrtc does.
///
/// This type is the logical description: serializing chooses the chunks (a run-length chunk where a
/// run covers the most packets, else a one-bit vector if no large delta is among the next 14, else a
/// two-bit vector) and each delta's size, and parsing returns the same description.
public struct RTCPTransportFeedback: RTCPPacketBody {
    /// What the feedback says about one packet.
    public enum PacketStatus: Equatable, Sendable {
        /// The packet did not arrive (yet).
        case notReceived
        /// The packet arrived `delta` ticks of 250 µs after the previous received packet (for the
        /// first received packet: after the reference time).
        case received(delta: Int16)
    }

    /// One packet's arrival, in the receiver's clock.
    public struct Arrival: Equatable, Sendable {
        /// The transport-wide sequence number.
        public var sequenceNumber: SequenceNumber
        /// When it arrived.
        public var instant: MonotonicInstant

        /// The arrival of `sequenceNumber` at `instant`.
        public init(sequenceNumber: SequenceNumber, instant: MonotonicInstant) {
            self.sequenceNumber = sequenceNumber
            self.instant = instant
        }
    }

    /// The participant sending the feedback.
    public var senderSSRC: SSRC
    /// The media source (unused by the draft; kept as received).
    public var mediaSSRC: SSRC
    /// The transport-wide sequence number of the first packet described.
    public var baseSequenceNumber: SequenceNumber
    /// The reference time in 64 ms units, a 24-bit signed field (−8 388 608…8 388 607; serializing keeps
    /// the low 24 bits).
    public var referenceTime: Int32
    /// Counts feedback packets sent (wrapping), so the media sender can detect lost feedback.
    public var feedbackPacketCount: UInt8
    /// One status per packet from `baseSequenceNumber` on; at most 65535.
    public var packetStatuses: [PacketStatus]

    /// A delta tick: 250 µs.
    public static let deltaTick: Duration = .microseconds(250)
    /// A reference-time unit: 64 ms (256 delta ticks).
    public static let referenceTimeUnit: Duration = .milliseconds(64)

    static let format: UInt8 = 15

    /// Feedback with the given fields.
    public init(
        senderSSRC: SSRC, mediaSSRC: SSRC, baseSequenceNumber: SequenceNumber, referenceTime: Int32,
        feedbackPacketCount: UInt8, packetStatuses: [PacketStatus]
    ) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.baseSequenceNumber = baseSequenceNumber
        self.referenceTime = referenceTime
        self.feedbackPacketCount = feedbackPacketCount
        self.packetStatuses = packetStatuses
    }

    /// Feedback packets reporting `arrivals`, numbered from `firstFeedbackPacketCount` on.
    ///
    /// Arrivals may come in any order; they are unwrapped in the order given, sorted by sequence number,
    /// and a repeated sequence number keeps its first arrival. A feedback packet's reference time is the
    /// arrival of its first received packet rounded down to 64 ms; arrivals are rounded down to 250 µs.
    /// A packet starts a new feedback packet when its delta does not fit 16 signed bits (beyond about
    /// ±8.19 s from the previous received packet) or the status count would pass 65535; the new
    /// feedback starts at the first sequence number the previous one did not cover, so losses in the gap
    /// are still reported (unless that alone would pass 65535 statuses: then it starts at the packet).
    public static func makeFeedback(
        reporting arrivals: [Arrival], senderSSRC: SSRC, mediaSSRC: SSRC, firstFeedbackPacketCount: UInt8
    ) -> [RTCPTransportFeedback] {
        var unwrapper = CounterUnwrapper<UInt16>()
        var firstArrivals: [Int64: MonotonicInstant] = [:]
        for arrival in arrivals {
            let number = unwrapper.unwrap(arrival.sequenceNumber.rawValue)
            if firstArrivals[number] == nil { firstArrivals[number] = arrival.instant }
        }
        let tick = deltaTick.totalNanoseconds
        var feedback: [RTCPTransportFeedback] = []
        var next: Int64 = 0  // first sequence number the last feedback did not cover
        var lastTicks: Int64 = 0
        for (number, instant) in firstArrivals.sorted(by: { $0.key < $1.key }) {
            let ticks = floorDivide(instant.nanoseconds, tick)
            let gap = Int(number - next)
            if let current = feedback.last, current.packetStatuses.count + gap < 0xFFFF,
                let delta = Int16(exactly: ticks - lastTicks)
            {
                feedback[feedback.count - 1].packetStatuses += repeatElement(.notReceived, count: gap) + [.received(delta: delta)]
            } else {
                let units = floorDivide(ticks, 256)
                let leading = feedback.isEmpty || gap >= 0xFFFF ? 0 : gap
                feedback.append(RTCPTransportFeedback(
                    senderSSRC: senderSSRC, mediaSSRC: mediaSSRC,
                    baseSequenceNumber: SequenceNumber(UInt16(truncatingIfNeeded: number - Int64(leading))),
                    referenceTime: Int32(truncatingIfNeeded: (units << 40) >> 40),
                    feedbackPacketCount: firstFeedbackPacketCount &+ UInt8(truncatingIfNeeded: feedback.count),
                    packetStatuses: Array(repeating: .notReceived, count: leading) + [.received(delta: Int16(ticks - units * 256))]
                ))
            }
            lastTicks = ticks
            next = number + 1
        }
        return feedback
    }

    /// Each received packet's arrival: reference time × 64 ms plus the running sum of deltas.
    ///
    /// Instants are in the feedback sender's clock modulo 2^24 × 64 ms (about 12.4 days, the reference
    /// time's range); compare only differences between them.
    public var arrivals: [Arrival] {
        var ticks = Int64(referenceTime) * 256
        var result: [Arrival] = []
        for (offset, status) in packetStatuses.enumerated() {
            guard case .received(let delta) = status else { continue }
            ticks += Int64(delta)
            result.append(Arrival(
                sequenceNumber: baseSequenceNumber.advanced(by: offset),
                instant: .zero + Self.deltaTick * Int(ticks)
            ))
        }
        return result
    }

    /// Parses the content of a transport-wide feedback packet.
    public init(header: RTCPHeader, content: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(content)
        (senderSSRC, mediaSSRC) = try readFeedbackSSRCs(
            header, packetType: RTCPHeader.transportLayerFeedback, format: Self.format, from: &reader)
        baseSequenceNumber = SequenceNumber(try reader.readUInt16("TWCC base sequence number"))
        let count = Int(try reader.readUInt16("TWCC packet status count"))
        referenceTime = Int32(bitPattern: try reader.readUInt24("TWCC reference time") << 8) >> 8
        feedbackPacketCount = try reader.readUInt8("TWCC feedback packet count")

        var symbols: [UInt8] = []
        symbols.reserveCapacity(count)
        while symbols.count < count {
            let chunk = try reader.readUInt16("TWCC packet status chunk")
            let left = count - symbols.count
            if chunk & 0x8000 == 0 {
                symbols += repeatElement(UInt8(chunk >> 13 & 0x3), count: min(Int(chunk & 0x1FFF), left))
            } else if chunk & 0x4000 == 0 {
                symbols += (0..<min(14, left)).map { UInt8(chunk >> (13 - $0) & 0x1) }
            } else {
                symbols += (0..<min(7, left)).map { UInt8(chunk >> (12 - 2 * $0) & 0x3) }
            }
        }
        packetStatuses = []
        packetStatuses.reserveCapacity(count)
        for symbol in symbols {
            switch symbol {
            case 0: packetStatuses.append(.notReceived)
            case 1: packetStatuses.append(.received(delta: Int16(try reader.readUInt8("TWCC receive delta"))))
            case 2: packetStatuses.append(.received(delta: Int16(bitPattern: try reader.readUInt16("TWCC receive delta"))))
            default: throw .invalidValue(field: "TWCC packet status symbol", reason: "3 is reserved")
            }
        }
        guard reader.remaining < 4 else {
            throw .lengthMismatch(field: "TWCC receive deltas", declared: content.count, actual: content.count - reader.remaining)
        }
    }

    /// FMT 15, PT 205.
    public var header: RTCPHeader {
        RTCPHeader(count: Self.format, packetType: RTCPHeader.transportLayerFeedback)
    }

    /// The status symbol of each packet (0 not received, 1 small delta, 2 large or negative delta).
    private var symbols: [UInt8] {
        packetStatuses.map { status in
            switch status {
            case .notReceived: 0
            case .received(let delta): (0...255).contains(delta) ? 1 : 2
            }
        }
    }

    /// 16 + 2 per chunk + 1 or 2 per received packet (before padding).
    public var contentSize: Int {
        let symbols = self.symbols
        return 16 + 2 * Self.encodeChunks(symbols).count + symbols.reduce(0) { $0 + Int($1) }
    }

    /// Appends the content: header fields, chunks and deltas.
    public func serializeContent(into writer: inout ByteWriter) {
        precondition(packetStatuses.count <= 0xFFFF, "TWCC feedback describes at most 65535 packets")
        writeFeedbackSSRCs(sender: senderSSRC, media: mediaSSRC, into: &writer)
        writer.writeUInt16(baseSequenceNumber.rawValue)
        writer.writeUInt16(UInt16(packetStatuses.count))
        writer.writeUInt24(UInt32(bitPattern: referenceTime))
        writer.writeUInt8(feedbackPacketCount)
        for chunk in Self.encodeChunks(symbols) {
            writer.writeUInt16(chunk)
        }
        for case .received(let delta) in packetStatuses {
            if (0...255).contains(delta) {
                writer.writeUInt8(UInt8(delta))
            } else {
                writer.writeUInt16(UInt16(bitPattern: delta))
            }
        }
    }

    /// Packet status chunks for `symbols`: at each point the chunk that covers the most symbols.
    static func encodeChunks(_ symbols: [UInt8]) -> [UInt16] {
        var chunks: [UInt16] = []
        var start = symbols.startIndex
        while start < symbols.endIndex {
            let symbol = symbols[start]
            let run = symbols[start...].prefix(0x1FFF).prefix { $0 == symbol }.count
            let oneBit = symbols[start...].prefix(14)
            let oneBitFits = oneBit.allSatisfy { $0 < 2 }
            let twoBit = symbols[start...].prefix(7)
            if run >= (oneBitFits ? oneBit.count : twoBit.count) {
                chunks.append(UInt16(symbol) << 13 | UInt16(run))
                start += run
            } else if oneBitFits {
                chunks.append(oneBit.enumerated().reduce(UInt16(0x8000)) { $0 | UInt16($1.element) << (13 - $1.offset) })
                start += oneBit.count
            } else {
                chunks.append(twoBit.enumerated().reduce(UInt16(0xC000)) { $0 | UInt16($1.element) << (12 - 2 * $1.offset) })
                start += twoBit.count
            }
        }
        return chunks
    }
}

/// `dividend / divisor` rounded towards negative infinity (`divisor` > 0).
private func floorDivide(_ dividend: Int64, _ divisor: Int64) -> Int64 {
    let quotient = dividend / divisor
    return dividend % divisor < 0 ? quotient - 1 : quotient
}
