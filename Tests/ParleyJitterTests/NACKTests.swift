import ParleyJitter
import ParleyRTP
import ParleyWire
import Testing

@Suite struct NACKTests {
    static let start = MonotonicInstant(nanoseconds: 7_000_000_000)

    /// A key frame (frame 0) and a delta frame (frame 1) of three packets each.
    static func twoFrames() -> (SyntheticVideoSender, [SentVideoPacket], [SentVideoPacket]) {
        var sender = SyntheticVideoSender(firstSequenceNumber: 65_534)
        let key = sender.send(size: 2_700, isKeyFrame: true)
        let delta = sender.send(size: 2_700, isKeyFrame: false)
        return (sender, key, delta)
    }

    @Test func lostPacketIsNACKedAfterTheReorderingAllowanceAndRecoveredByRetransmission() {
        let (sender, key, delta) = Self.twoFrames()
        var harness = VideoReceiverHarness(start: Self.start)
        for packet in key { harness.deliver(packet, at: Self.start) }
        let lost = delta[1]
        let detected = Self.start + .milliseconds(33)
        harness.deliver(delta[0], at: detected)
        harness.deliver(delta[2], at: detected)
        #expect(harness.nacks.isEmpty)
        #expect(harness.deadline == detected + .milliseconds(10))
        harness.advance(to: detected + .milliseconds(10) - .nanoseconds(1))
        #expect(harness.nacks.isEmpty)
        harness.advance(to: detected + .milliseconds(10))
        #expect(harness.nacks.map(\.time) == [detected + .milliseconds(10)])
        #expect(harness.nacks.map(\.sequenceNumbers) == [[lost.packet.header.sequenceNumber]])
        #expect(harness.released.count == 1)

        harness.deliver(lost, at: detected + .milliseconds(110), isRetransmission: true)
        harness.advance(to: detected + .seconds(2))
        #expect(harness.released.frameIndices(firstTimestamp: sender.firstTimestamp) == [0, 1])
        #expect(harness.released.last?.data == SyntheticVideoSender.frameBytes(index: 1, size: 2_700))
        let statistics = harness.receiver.statistics
        #expect(statistics.recoveredByRetransmission == 1)
        #expect(statistics.retransmittedPacketsReceived == 1)
        #expect(statistics.nackCount == 1)
        #expect(statistics.pliCount == 0)
        #expect(statistics.framesReleasedLate == 1)
        #expect(harness.receiver.missingSequenceNumbers.isEmpty)
    }

    @Test func reorderedPacketWithinTheAllowanceIsNotNACKed() {
        let (_, key, delta) = Self.twoFrames()
        var harness = VideoReceiverHarness(start: Self.start)
        for packet in key { harness.deliver(packet, at: Self.start) }
        let time = Self.start + .milliseconds(33)
        harness.deliver(delta[0], at: time)
        harness.deliver(delta[2], at: time)
        harness.deliver(delta[1], at: time + .milliseconds(9))
        harness.advance(to: time + .seconds(1))
        #expect(harness.nacks.isEmpty)
        #expect(harness.released.count == 2)
        #expect(harness.receiver.statistics.recoveredByReordering == 1)
    }

    @Test func lossesOfOneInstantAreNACKedInOneBatch() {
        var sender = SyntheticVideoSender()
        let key = sender.send(size: 9_000, isKeyFrame: true)  // 10 packets
        var harness = VideoReceiverHarness(start: Self.start)
        let lost = [2, 3, 7]
        for (index, packet) in key.enumerated() where !lost.contains(index) { harness.deliver(packet, at: Self.start) }
        harness.advance(to: Self.start + .milliseconds(15))
        #expect(harness.nacks.map(\.sequenceNumbers) == [lost.map { key[$0].packet.header.sequenceNumber }])
        #expect(harness.receiver.statistics.nackCount == 1)
    }

    @Test(arguments: [20, 50, 200])
    func retriesFollowTheRoundTripTimeAndStopAtTheLimitWithAKeyFrameRequest(_ rttMilliseconds: Int) {
        let (_, key, delta) = Self.twoFrames()
        var configuration = VideoReceiver.Configuration()
        configuration.nack.maximumAge = .seconds(60)  // only the retry limit applies here
        let rtt = Duration.milliseconds(rttMilliseconds)
        let interval = max(rtt * 1.2, .milliseconds(20))
        var harness = VideoReceiverHarness(configuration: configuration, start: Self.start)
        harness.receiver.setRoundTripTime(rtt)
        for packet in key { harness.deliver(packet, at: Self.start) }
        harness.deliver(delta[0], at: Self.start)
        harness.deliver(delta[2], at: Self.start)
        harness.advance(to: Self.start + .seconds(20))

        let first = Self.start + .milliseconds(10)
        #expect(harness.nacks.map(\.time) == (0..<10).map { first + interval * $0 })
        #expect(harness.nacks.allSatisfy { $0.sequenceNumbers == [delta[1].packet.header.sequenceNumber] })
        // Given up one interval after the last NACK: the delta frame can never be decoded.
        #expect(harness.keyFrameRequests.first == first + interval * 10)
        #expect(harness.receiver.statistics.unrecoverablePackets == 1)
        #expect(harness.receiver.missingSequenceNumbers.isEmpty)
    }

    /// An RTT measured from RTCP is rarely a round number: 1.2 × 100.009521 ms has a sub-nanosecond
    /// remainder, which once made the retry deadline fire before the retry was due, forever (the call
    /// simulation's virtual time stopped). The harness records any `wait` that is not after `now`.
    @Test func retryDeadlinesWithAnUnevenRoundTripTimeAlwaysLeadToTheRetry() {
        let (_, key, delta) = Self.twoFrames()
        var harness = VideoReceiverHarness(start: Self.start)
        harness.receiver.setRoundTripTime(.nanoseconds(100_009_521))
        for packet in key { harness.deliver(packet, at: Self.start) }
        harness.deliver(delta[0], at: Self.start)
        harness.deliver(delta[2], at: Self.start)
        harness.advance(to: Self.start + .milliseconds(500))
        // NACKs at 10 ms, then every 120.011425 ms (whole nanoseconds).
        let interval = Duration.nanoseconds(120_011_425)
        #expect(harness.nacks.map(\.time) == (0..<5).map { Self.start + .milliseconds(10) + interval * $0 })
    }

    @Test func missingPacketIsGivenUpAtTheMaximumAge() {
        let (_, key, delta) = Self.twoFrames()
        var harness = VideoReceiverHarness(start: Self.start)
        harness.receiver.setRoundTripTime(.milliseconds(400))  // ten retries would take 4.8 s
        for packet in key { harness.deliver(packet, at: Self.start) }
        harness.deliver(delta[0], at: Self.start)
        harness.deliver(delta[2], at: Self.start)
        harness.advance(to: Self.start + .seconds(10))
        #expect(harness.nacks.map(\.time) == [0, 480, 960, 1_440].map { Self.start + .milliseconds(10 + $0) })
        #expect(harness.keyFrameRequests.first == Self.start + .milliseconds(1_500))
        #expect(harness.receiver.statistics.unrecoverablePackets == 1)
    }

    @Test func packetsBeforeANewKeyFrameAreNoLongerNACKed() {
        var (sender, key, delta) = Self.twoFrames()
        let nextKey = sender.send(size: 2_700, isKeyFrame: true)
        var harness = VideoReceiverHarness(start: Self.start)
        for packet in key { harness.deliver(packet, at: Self.start) }
        let time = Self.start + .milliseconds(33)
        harness.deliver(delta[0], at: time)
        harness.deliver(delta[2], at: time)
        for packet in nextKey { harness.deliver(packet, at: time + .milliseconds(5)) }
        #expect(harness.receiver.missingSequenceNumbers.isEmpty)
        harness.advance(to: time + .seconds(2))
        #expect(harness.nacks.isEmpty)
        #expect(harness.keyFrameRequests.isEmpty)
        #expect(harness.released.frameIndices(firstTimestamp: sender.firstTimestamp) == [0, 2])
        #expect(harness.receiver.statistics.packetsNoLongerNeeded == 1)
        #expect(harness.receiver.statistics.incompleteFramesDiscarded == 1)
        #expect(harness.receiver.statistics.framesDropped == 0)
    }

    @Test func aJumpLongerThanTheListGivesUpTheOldestAndRequestsAKeyFrame() {
        var sender = SyntheticVideoSender()
        let key = sender.send(size: 1_000, isKeyFrame: true)
        var configuration = VideoReceiver.Configuration()
        configuration.nack.maximumListSize = 50
        var harness = VideoReceiverHarness(configuration: configuration, start: Self.start)
        for packet in key { harness.deliver(packet, at: Self.start) }
        let skipped = (0..<80).map { _ in sender.send(size: 500, isKeyFrame: false) }
        let next = sender.send(size: 1_500, isKeyFrame: false)  // two packets: only the first arrives
        harness.deliver(next[0], at: Self.start + .milliseconds(40))
        #expect(harness.receiver.missingSequenceNumbers.count == 50)
        #expect(harness.receiver.missingSequenceNumbers.first == skipped[30][0].packet.header.sequenceNumber)
        #expect(harness.receiver.statistics.unrecoverablePackets == 30)
        #expect(harness.keyFrameRequests == [Self.start + .milliseconds(40)])
    }

    @Test func paddingOnlyPacketFillsItsGapWithoutBreakingTheChain() {
        var sender = SyntheticVideoSender()
        let key = sender.send(size: 1_000, isKeyFrame: true)
        var header = key[key.count - 1].packet.header
        header.sequenceNumber = header.sequenceNumber.advanced(by: 1)
        header.marker = false
        let padding = SentVideoPacket(
            packet: RTPPacket(header: header, payload: [], paddingCount: 200),
            marking: FrameMarking(startOfFrame: false, endOfFrame: false, isIndependent: false), frameIndex: -1)
        // The next frame starts one sequence number later, after the padding packet (a second sender
        // numbers it so; its frame 0 is discarded to keep PictureIDs and timestamps in step).
        var laterSender = SyntheticVideoSender(
            firstSequenceNumber: header.sequenceNumber.advanced(by: 1 - key.count).rawValue)
        _ = laterSender.send(size: 1_000, isKeyFrame: true)
        let delta = laterSender.send(size: 1_000, isKeyFrame: false)
        var harness = VideoReceiverHarness(start: Self.start)
        for packet in key { harness.deliver(packet, at: Self.start) }
        harness.deliver(padding, at: Self.start + .milliseconds(5))
        #expect(delta[0].packet.header.sequenceNumber == header.sequenceNumber.advanced(by: 1))
        for packet in delta { harness.deliver(packet, at: Self.start + .milliseconds(33)) }
        harness.advance(to: Self.start + .seconds(2))
        #expect(harness.nacks.isEmpty)
        #expect(harness.keyFrameRequests.isEmpty)
        #expect(harness.released.count == 2)
        #expect(harness.receiver.statistics.paddingOnlyPackets == 1)
    }
}
