import ParleyJitter
import ParleyRTP
import ParleyWire
import Testing

@Suite struct KeyFrameTests {
    static let start = MonotonicInstant(nanoseconds: 3_000_000_000)

    @Test func keyFrameIsReRequestedAfter200MillisecondsAndNotBefore() {
        var sender = SyntheticVideoSender()
        let delta = sender.send(size: 1_000, isKeyFrame: false)
        let key = sender.send(size: 3_000, isKeyFrame: true)
        var harness = VideoReceiverHarness(start: Self.start)
        harness.deliver(delta[0], at: Self.start)
        #expect(harness.keyFrameRequests == [Self.start])
        #expect(harness.deadline == Self.start + .milliseconds(200))
        harness.advance(to: Self.start + .milliseconds(200) - .nanoseconds(1))
        #expect(harness.keyFrameRequests == [Self.start])
        harness.advance(to: Self.start + .milliseconds(450))
        #expect(harness.keyFrameRequests == [Self.start, Self.start + .milliseconds(200), Self.start + .milliseconds(400)])
        // The first packet of a key frame stops the requests; the frame is released when complete.
        for (offset, packet) in key.enumerated() {
            harness.deliver(packet, at: Self.start + .milliseconds(500 + offset))
        }
        harness.advance(to: Self.start + .seconds(2))
        #expect(harness.keyFrameRequests.count == 3)
        #expect(harness.receiver.statistics.pliCount == 3)
        #expect(harness.released.map(\.isKeyFrame) == [true])
    }

    @Test func unrecoverableKeyFramePacketLeadsToANewRequest() {
        var sender = SyntheticVideoSender()
        let key = sender.send(size: 3_000, isKeyFrame: true)
        let delta = sender.send(size: 500, isKeyFrame: false)
        var configuration = VideoReceiver.Configuration()
        configuration.nack.maximumRetries = 1
        var harness = VideoReceiverHarness(configuration: configuration, start: Self.start)
        harness.receiver.setRoundTripTime(.milliseconds(100))
        for (index, packet) in key.enumerated() where index != 1 { harness.deliver(packet, at: Self.start) }
        harness.deliver(delta[0], at: Self.start + .milliseconds(33))
        harness.advance(to: Self.start + .seconds(1))
        // NACK at 10 ms, given up 120 ms later: the key frame and the frame after it can never be decoded.
        #expect(harness.nacks.map(\.time) == [Self.start + .milliseconds(10)])
        #expect(harness.keyFrameRequests.first == Self.start + .milliseconds(130))
        #expect(harness.released.isEmpty)
        #expect(harness.receiver.statistics.framesDropped == 1)
    }

    @Test func undecodableFrameReportedByTheOwnerDropsTheChainUntilAKeyFrame() {
        var sender = SyntheticVideoSender()
        let frames = (0..<8).map { sender.send(size: 1_500, isKeyFrame: $0 == 0 || $0 == 6) }
        var harness = VideoReceiverHarness(start: Self.start)
        harness.undecodable = [frames[2][0].packet.header.sequenceNumber]
        for (index, packets) in frames.enumerated() {
            for packet in packets {
                harness.deliver(packet, at: SyntheticVideoSender.captureTime(ofFrame: index, start: Self.start))
            }
        }
        harness.advance(to: Self.start + .seconds(2))
        #expect(harness.released.frameIndices(firstTimestamp: sender.firstTimestamp) == [0, 1, 2, 6, 7])
        #expect(harness.keyFrameRequests.count == 1)
        let statistics = harness.receiver.statistics
        #expect(statistics.framesUndecodable == 1)
        #expect(statistics.framesDropped == 4)  // frame 2 (undecodable) and frames 3–5
        #expect(statistics.framesDecoded == 4)
    }

    @Test func limiterHonoursTheFirstRequestAndAtMostOnePer300Milliseconds() {
        var limiter = KeyFrameRequestLimiter()
        let start = MonotonicInstant(nanoseconds: 1_000)
        let regular = (0..<60).map { start + .milliseconds(50 * $0) }  // 3 s of requests every 50 ms
        let honoured = regular.filter { limiter.shouldHonour(requestAt: $0) }
        #expect(honoured == (0..<10).map { start + .milliseconds(300 * $0) })
        #expect(limiter.honoured == 10)
        #expect(limiter.ignored == 50)
    }

    @Test func limiterNeverHonoursTwoWithin300MillisecondsAndIgnoresOnlyThose() {
        var generator = SplitMix64(seed: 9)
        var limiter = KeyFrameRequestLimiter()
        var time = MonotonicInstant.zero
        var lastHonoured: MonotonicInstant?
        for _ in 0..<2_000 {
            time = time + .milliseconds(Int.random(in: 0...400, using: &generator))
            let honour = limiter.shouldHonour(requestAt: time)
            let allowed = lastHonoured.map { time - $0 >= .milliseconds(300) } ?? true
            #expect(honour == allowed)
            if honour { lastHonoured = time }
        }
        #expect(limiter.honoured + limiter.ignored == 2_000)
        #expect(limiter.honoured > 0 && limiter.ignored > 0)
    }
}
