public import ParleyWire

/// Reception statistics for one RTP source (RFC 3550 A.1, A.3, A.8), fed with arrivals, producing
/// report blocks for SRs and RRs. A value with no clock: every instant is an input.
///
/// - Sequence numbers follow A.1 without probation: a packet up to 3000 ahead of the highest seen
///   advances it (counting wraps); up to 100 behind is a duplicate or reordered packet and is counted;
///   anything else is ignored, unless the next packet follows it, which is taken as a restart of the
///   source and resets the statistics from there.
/// - Loss follows A.3: expected = extended highest − first + 1; lost = expected − received, where
///   duplicates count as received (so loss can go negative); the fraction lost covers the packets since
///   the previous `makeReportBlock(now:)`.
/// - Jitter follows A.8: for each counted packet, D = the change in transit time (arrival in timestamp
///   units − RTP timestamp) from the previous counted packet, and J += (|D| − J) / 16.
public struct ReceptionStatistics: Equatable, Sendable {
    /// The source these statistics describe.
    public let ssrc: SSRC
    /// The source's RTP clock rate in Hz (e.g. 90 000 for video, 48 000 for Opus).
    public let clockRate: Int
    /// Packets counted since the first (or since a restart), duplicates included.
    public private(set) var receivedCount: Int64 = 0
    /// Interarrival jitter in timestamp units.
    public private(set) var jitter: Double = 0

    private struct Sequence: Equatable, Sendable {
        var base: Int64
        var highest: UInt16
        var cycles: Int64 = 0
        var bad: UInt16?
    }

    private struct SenderReportArrival: Equatable, Sendable {
        var ntpTimestamp: NTPTimestamp
        var arrival: MonotonicInstant
    }

    private var sequence: Sequence?
    private var expectedPrior: Int64 = 0
    private var receivedPrior: Int64 = 0
    private var lastTransit: UInt32?
    private var lastSenderReport: SenderReportArrival?

    private static let maxDropout: UInt16 = 3000
    private static let maxMisorder: UInt16 = 100

    /// Statistics for `ssrc`, whose RTP timestamps run at `clockRate` Hz (> 0), before any packet.
    public init(ssrc: SSRC, clockRate: Int) {
        precondition(clockRate > 0, "the RTP clock rate must be positive")
        self.ssrc = ssrc
        self.clockRate = clockRate
    }

    /// Records an RTP packet of this source that arrived at `arrival`.
    ///
    /// - Returns: whether it was counted; false for a packet far outside the expected sequence range (A.1).
    @discardableResult
    public mutating func record(sequenceNumber: SequenceNumber, timestamp: RTPTimestamp, arrival: MonotonicInstant) -> Bool {
        let number = sequenceNumber.rawValue
        if var sequence {
            let ahead = number &- sequence.highest
            if ahead < Self.maxDropout {
                if number < sequence.highest { sequence.cycles += 1 }
                sequence.highest = number
                self.sequence = sequence
            } else if ahead <= UInt16.max - Self.maxMisorder + 1 {
                guard number == sequence.bad else {
                    self.sequence?.bad = number &+ 1
                    return false
                }
                restart(at: number)
            }  // else: a duplicate or a reordered packet, counted below
        } else {
            restart(at: number)
        }
        receivedCount += 1
        updateJitter(timestamp: timestamp, arrival: arrival)
        return true
    }

    private mutating func restart(at number: UInt16) {
        sequence = Sequence(base: Int64(number), highest: number)
        receivedCount = 0
        expectedPrior = 0
        receivedPrior = 0
        lastTransit = nil
    }

    private mutating func updateJitter(timestamp: RTPTimestamp, arrival: MonotonicInstant) {
        let (seconds, nanoseconds) = arrival.nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        let arrivalUnits = seconds * Int64(clockRate) + nanoseconds * Int64(clockRate) / 1_000_000_000
        let transit = UInt32(truncatingIfNeeded: arrivalUnits) &- timestamp.rawValue
        if let lastTransit {
            let difference = Int64(Int32(bitPattern: transit &- lastTransit)).magnitude
            jitter += (Double(difference) - jitter) / 16
        }
        lastTransit = transit
    }

    /// Records a sender report from this source, for LSR and DLSR in the next report blocks.
    public mutating func recordSenderReport(ntpTimestamp: NTPTimestamp, arrival: MonotonicInstant) {
        lastSenderReport = SenderReportArrival(ntpTimestamp: ntpTimestamp, arrival: arrival)
    }

    /// The highest sequence number received, with the count of wraps above it (0 before any packet).
    public var extendedHighestSequenceNumber: Int64 {
        sequence.map { $0.cycles << 16 + Int64($0.highest) } ?? 0
    }

    /// Packets expected so far: extended highest − first + 1 (0 before any packet).
    public var expectedCount: Int64 {
        sequence.map { extendedHighestSequenceNumber - $0.base + 1 } ?? 0
    }

    /// Packets lost so far (expected − received), unclamped; negative when duplicates outnumber losses.
    public var cumulativeLost: Int64 {
        expectedCount - receivedCount
    }

    /// The report block for this source at `now`, or nil before any packet; starts a new interval for
    /// the fraction lost.
    ///
    /// LSR and DLSR come from the last `recordSenderReport`: the middle 32 bits of its NTP timestamp, and
    /// the time from its arrival to `now` in 1/65536 s (0 and 0 if none).
    public mutating func makeReportBlock(now: MonotonicInstant) -> RTCPReportBlock? {
        guard sequence != nil else { return nil }
        let expected = expectedCount
        let expectedInterval = expected - expectedPrior
        let lostInterval = expectedInterval - (receivedCount - receivedPrior)
        expectedPrior = expected
        receivedPrior = receivedCount
        let fraction = expectedInterval == 0 || lostInterval <= 0 ? 0 : min(255, (lostInterval << 8) / expectedInterval)
        let range = RTCPReportBlock.cumulativeLostRange
        var delay: Int64 = 0
        if let lastSenderReport {
            let (seconds, nanoseconds) = max(0, (now - lastSenderReport.arrival).totalNanoseconds)
                .quotientAndRemainder(dividingBy: 1_000_000_000)
            delay = min(Int64(UInt32.max), seconds * 65_536 + nanoseconds * 65_536 / 1_000_000_000)
        }
        return RTCPReportBlock(
            ssrc: ssrc,
            fractionLost: UInt8(fraction),
            cumulativeLost: Int32(min(max(cumulativeLost, Int64(range.lowerBound)), Int64(range.upperBound))),
            extendedHighestSequenceNumber: UInt32(truncatingIfNeeded: extendedHighestSequenceNumber),
            jitter: UInt32(min(jitter, Double(UInt32.max))),
            lastSenderReport: lastSenderReport?.ntpTimestamp.compact ?? 0,
            delaySinceLastSenderReport: UInt32(delay)
        )
    }
}
