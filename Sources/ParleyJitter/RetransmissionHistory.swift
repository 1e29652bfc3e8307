public import ParleyRTP
public import ParleyWire

/// The sender's store of recently sent media packets, answering NACKs with retransmissions (RFC 4588).
///
/// A packet is kept for max(3 × RTT, `minimumRetention`) after it was sent (the RTT as known when the
/// NACK arrives) and among the newest `maximumPackets` sequence numbers, whichever ends first; a packet
/// is resent at most once per RTT, since a second NACK sooner is the same loss reported again. Memory is
/// bounded by `maximumPackets`. Sans-IO: every call takes `now`.
public struct RetransmissionHistory: Sendable {
    private struct Entry: Sendable {
        var sequence: Int64
        var packet: RTPPacket
        var sentAt: MonotonicInstant
        var lastResentAt: MonotonicInstant?
    }

    /// The shortest time a packet is kept, whatever the RTT.
    public let minimumRetention: Duration
    /// The most packets kept (the newest sequence numbers).
    public let maximumPackets: Int
    /// What the history has answered so far.
    public private(set) var statistics = RetransmissionStatistics()

    private var unwrapper = CounterUnwrapper<UInt16>()
    private var entries: [Entry?]

    /// A history keeping packets at least `minimumRetention` (and 3 RTTs), at most `maximumPackets`
    /// (at least 1; default 2048, about 2.5 MB of 1200-byte packets).
    public init(minimumRetention: Duration = .seconds(1), maximumPackets: Int = 2048) {
        self.minimumRetention = minimumRetention
        self.maximumPackets = max(maximumPackets, 1)
        entries = Array(repeating: nil, count: self.maximumPackets)
    }

    /// Keeps a sent media packet (plaintext RTP, before SRTP) for retransmission.
    public mutating func record(_ packet: RTPPacket, sentAt: MonotonicInstant) {
        let sequence = unwrapper.unwrap(packet.header.sequenceNumber).rawValue
        entries[slot(sequence)] = Entry(sequence: sequence, packet: packet, sentAt: sentAt)
    }

    /// How long a packet is kept when the round-trip time is `roundTripTime`: max(3 × RTT, minimum).
    public func retention(roundTripTime: Duration?) -> Duration {
        max((roundTripTime ?? .zero) * 3, minimumRetention)
    }

    /// The packet to resend for a NACKed sequence number, or `nil`: unknown (never sent, or pushed out
    /// by newer packets), older than max(3 × RTT, `minimumRetention`), or already resent less than one
    /// RTT ago (with no RTT known, it is resent every time).
    public mutating func retransmission(
        of sequenceNumber: SequenceNumber, now: MonotonicInstant, roundTripTime: Duration?
    ) -> RTPPacket? {
        let sequence = unwrapper.peek(sequenceNumber.rawValue)
        let index = slot(sequence)
        guard let entry = entries[index], entry.sequence == sequence else {
            statistics.requestsUnknown += 1
            return nil
        }
        guard now - entry.sentAt <= retention(roundTripTime: roundTripTime) else {
            statistics.requestsTooOld += 1
            return nil
        }
        if let last = entry.lastResentAt, let roundTripTime, now - last < roundTripTime {
            statistics.requestsThrottled += 1
            return nil
        }
        entries[index]?.lastResentAt = now
        statistics.retransmittedPackets += 1
        statistics.retransmittedBytes += entry.packet.payload.count
        return entry.packet
    }

    private func slot(_ sequence: Int64) -> Int {
        Int(sequence % Int64(maximumPackets))
    }
}

/// What a `RetransmissionHistory` did with the NACKed sequence numbers it was asked for.
public struct RetransmissionStatistics: Equatable, Sendable {
    /// Packets resent (W3C `retransmittedPacketsSent`).
    public var retransmittedPackets = 0
    /// Payload bytes resent, headers and padding excluded (W3C `retransmittedBytesSent`).
    public var retransmittedBytes = 0
    /// Requests for packets kept longer than the retention allows.
    public var requestsTooOld = 0
    /// Requests for sequence numbers never recorded or no longer kept.
    public var requestsUnknown = 0
    /// Requests for packets already resent less than one RTT before.
    public var requestsThrottled = 0

    /// All counters zero.
    public init() {}
}
