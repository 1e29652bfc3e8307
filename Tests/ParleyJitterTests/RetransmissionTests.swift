import ParleyJitter
import ParleyRTP
import ParleyWire
import Testing

@Suite struct RetransmissionTests {
    static let start = MonotonicInstant(nanoseconds: 2_000_000_000)

    static func packet(_ sequenceNumber: UInt16, payloadSize: Int = 100) -> RTPPacket {
        RTPPacket(
            header: RTPHeader(
                payloadType: 96, sequenceNumber: SequenceNumber(sequenceNumber), timestamp: RTPTimestamp(0),
                ssrc: SSRC(1)),
            payload: [UInt8](repeating: 0xAB, count: payloadSize))
    }

    @Test(arguments: [(nil, 1_000), (100, 1_000), (333, 1_000), (334, 1_002), (500, 1_500), (2_000, 6_000)] as [(Int?, Int)])
    func historyKeepsPacketsForTheLargerOfThreeRoundTripsAndOneSecond(_ rtt: Int?, _ retention: Int) {
        let roundTripTime = rtt.map { Duration.milliseconds($0) }
        var history = RetransmissionHistory()
        history.record(Self.packet(7), sentAt: Self.start)
        history.record(Self.packet(8), sentAt: Self.start)
        #expect(history.retention(roundTripTime: roundTripTime) == .milliseconds(retention))
        let kept = Self.start + .milliseconds(retention)
        #expect(history.retransmission(of: SequenceNumber(7), now: kept, roundTripTime: roundTripTime) == Self.packet(7))
        #expect(history.retransmission(of: SequenceNumber(8), now: kept + .nanoseconds(1), roundTripTime: roundTripTime) == nil)
        #expect(history.statistics.retransmittedPackets == 1)
        #expect(history.statistics.requestsTooOld == 1)
    }

    @Test func packetIsNotResentWithinOneRoundTrip() {
        var history = RetransmissionHistory()
        let rtt = Duration.milliseconds(80)
        history.record(Self.packet(65_535, payloadSize: 321), sentAt: Self.start)
        let first = Self.start + .milliseconds(50)
        #expect(history.retransmission(of: SequenceNumber(65_535), now: first, roundTripTime: rtt) != nil)
        #expect(history.retransmission(of: SequenceNumber(65_535), now: first + rtt - .nanoseconds(1), roundTripTime: rtt) == nil)
        #expect(history.retransmission(of: SequenceNumber(65_535), now: first + rtt, roundTripTime: rtt) != nil)
        #expect(history.statistics.retransmittedPackets == 2)
        #expect(history.statistics.retransmittedBytes == 642)
        #expect(history.statistics.requestsThrottled == 1)
    }

    @Test func unknownOrPushedOutSequenceNumbersAreNotResent() {
        var history = RetransmissionHistory(maximumPackets: 16)
        for number in 65_530..<65_536 { history.record(Self.packet(UInt16(number)), sentAt: Self.start) }
        for number in 0..<20 { history.record(Self.packet(UInt16(number)), sentAt: Self.start) }  // wraps
        let now = Self.start + .milliseconds(10)
        #expect(history.retransmission(of: SequenceNumber(19), now: now, roundTripTime: nil) == Self.packet(19))
        #expect(history.retransmission(of: SequenceNumber(4), now: now, roundTripTime: nil) == Self.packet(4))
        #expect(history.retransmission(of: SequenceNumber(3), now: now, roundTripTime: nil) == nil)  // pushed out
        #expect(history.retransmission(of: SequenceNumber(65_535), now: now, roundTripTime: nil) == nil)
        #expect(history.retransmission(of: SequenceNumber(20), now: now, roundTripTime: nil) == nil)  // never sent
        #expect(history.retransmission(of: SequenceNumber(30_000), now: now, roundTripTime: nil) == nil)
        #expect(history.statistics.requestsUnknown == 4)
    }

    /// Sender (history, limiter) and receiver over a link with `loss` in both directions on media,
    /// retransmissions and feedback, and `rtt / 2` of delay each way.
    struct LossLoop {
        enum Event {
            case media(SentVideoPacket, isRetransmission: Bool)
            case nack([SequenceNumber])
            case keyFrameRequest
        }

        var receiver: VideoReceiverHarness
        var history = RetransmissionHistory()
        var limiter = KeyFrameRequestLimiter()
        var sender = SyntheticVideoSender()
        var generator: SplitMix64
        var events: [(time: MonotonicInstant, order: Int, event: Event)] = []
        var order = 0
        var lostOriginals: Set<SequenceNumber> = []
        var keyFramePending = false
        let loss: Double
        let oneWay: Duration

        init(loss: Double, rtt: Duration, seed: UInt64, start: MonotonicInstant) {
            receiver = VideoReceiverHarness(start: start)
            receiver.receiver.setRoundTripTime(rtt)
            generator = SplitMix64(seed: seed)
            self.loss = loss
            oneWay = rtt / 2
        }

        mutating func schedule(_ event: Event, at time: MonotonicInstant) {
            guard Double.random(in: 0..<1, using: &generator) >= loss else { return }
            order += 1
            events.append((time, order, event))
        }

        mutating func sendFrame(at time: MonotonicInstant, lossless: Bool) {
            let size = Int.random(in: 300...5_000, using: &generator)
            let packets = sender.send(size: size, isKeyFrame: sender.framesSent == 0 || keyFramePending)
            keyFramePending = false
            for (offset, packet) in packets.enumerated() {
                let sent = time + .microseconds(500 * offset)
                history.record(packet.packet, sentAt: sent)
                sentMarkings[packet.packet.header.sequenceNumber] = packet.marking
                let before = events.count
                if lossless {
                    order += 1
                    events.append((sent + oneWay, order, .media(packet, isRetransmission: false)))
                } else {
                    schedule(.media(packet, isRetransmission: false), at: sent + oneWay)
                }
                if events.count == before { lostOriginals.insert(packet.packet.header.sequenceNumber) }
            }
        }

        /// Runs `frames` frames at 30 fps, the last one lossless, then `tail` more time.
        mutating func run(frames: Int, tail: Duration, start: MonotonicInstant) {
            var nextFrame = 0
            let end = SyntheticVideoSender.captureTime(ofFrame: frames, start: start) + tail
            while true {
                let frameTime = nextFrame < frames ? SyntheticVideoSender.captureTime(ofFrame: nextFrame, start: start) : nil
                let eventTime = events.min { ($0.time, $0.order) < ($1.time, $1.order) }?.time
                guard let now = [frameTime, eventTime].compactMap({ $0 }).min(), now <= end else { break }
                receiver.advance(to: now)
                forwardFeedback()
                if let frameTime, frameTime == now {
                    sendFrame(at: now, lossless: nextFrame == frames - 1)
                    nextFrame += 1
                    continue
                }
                let index = events.indices.min { (events[$0].time, events[$0].order) < (events[$1].time, events[$1].order) }!
                let (_, _, event) = events.remove(at: index)
                switch event {
                case .media(let packet, let isRetransmission):
                    receiver.deliver(packet, at: now, isRetransmission: isRetransmission)
                case .nack(let numbers):
                    for number in numbers {
                        if let packet = history.retransmission(of: number, now: now, roundTripTime: oneWay * 2) {
                            let sent = SentVideoPacket(packet: packet, marking: marking(of: packet), frameIndex: -1)
                            schedule(.media(sent, isRetransmission: true), at: now + oneWay)
                        }
                    }
                case .keyFrameRequest:
                    if limiter.shouldHonour(requestAt: now) { keyFramePending = true }
                }
                forwardFeedback()
            }
            receiver.advance(to: end)
        }

        /// Feedback the receiver produced since the last call goes back over the lossy link.
        mutating func forwardFeedback() {
            for nack in receiver.nacks[forwardedNACKs...] { schedule(.nack(nack.sequenceNumbers), at: nack.time + oneWay) }
            for request in receiver.keyFrameRequests[forwardedRequests...] { schedule(.keyFrameRequest, at: request + oneWay) }
            forwardedNACKs = receiver.nacks.count
            forwardedRequests = receiver.keyFrameRequests.count
        }

        var forwardedNACKs = 0
        var forwardedRequests = 0

        /// The frame marking the sender attached to a packet (the history keeps RTP packets only).
        func marking(of packet: RTPPacket) -> FrameMarking {
            sentMarkings[packet.header.sequenceNumber] ?? FrameMarking(startOfFrame: false, endOfFrame: false, isIndependent: false)
        }

        var sentMarkings: [SequenceNumber: FrameMarking] = [:]
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func fivePercentLossWithA100MillisecondRoundTripRecoversAtLeast99PercentOfLosses(_ seed: UInt64) {
        let start = MonotonicInstant(nanoseconds: 1_000_000_000)
        var loop = LossLoop(loss: 0.05, rtt: .milliseconds(100), seed: seed, start: start)
        loop.run(frames: 900, tail: .seconds(3), start: start)
        let released = loop.receiver.released
        var delivered: Set<SequenceNumber> = []
        for frame in released {
            for offset in 0..<frame.packetCount { delivered.insert(frame.firstSequenceNumber.advanced(by: offset)) }
        }
        let recovered = loop.lostOriginals.filter { delivered.contains($0) }.count
        let rate = Double(recovered) / Double(loop.lostOriginals.count)
        let statistics = loop.receiver.receiver.statistics
        print(
            "seed \(seed): lost \(loop.lostOriginals.count), recovered in released frames \(recovered) (\(rate)),",
            "frames released \(released.count)/900, dropped \(statistics.framesDropped), freezes \(statistics.freezeCount)",
            "(\(statistics.totalFreezesDuration) s), NACKs \(statistics.nackCount), PLIs \(statistics.pliCount),",
            "unrecoverable \(statistics.unrecoverablePackets), resent \(loop.history.statistics.retransmittedPackets),",
            "mean target delay \(statistics.jitterBufferTargetDelay / Double(statistics.jitterBufferEmittedCount)) s,",
            "mean buffer delay \(statistics.jitterBufferDelay / Double(statistics.jitterBufferEmittedCount)) s")
        #expect(loop.lostOriginals.count > 100)
        #expect(rate >= 0.99)
        #expect(statistics.recoveredByRetransmission >= Int((Double(loop.lostOriginals.count) * 0.99).rounded(.up)))
        let indices = released.frameIndices(firstTimestamp: loop.sender.firstTimestamp)
        #expect(indices == indices.sorted())
        #expect(released.count >= 890)
        // Waiting one repair in the render delay keeps slow repairs (a lost NACK or retransmission) from
        // freezing most of the time; without it these streams froze 10–17 times.
        #expect(statistics.freezeCount <= 10)
    }
}
