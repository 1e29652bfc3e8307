import ParleyJitter
import ParleyPayload
import ParleyRTP
import ParleyWire
import Testing

@Suite struct VideoReceiverTests {
    static let start = MonotonicInstant(nanoseconds: 5_000_000_000)

    /// `count` frames: a key frame first and every `keyFrameEvery`, sizes of 1–5 packets (seeded).
    static func stream(
        count: Int, keyFrameEvery: Int = 100, seed: UInt64, sender: inout SyntheticVideoSender
    ) -> [[SentVideoPacket]] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { index in
            sender.send(size: Int.random(in: 200...4_800, using: &generator), isKeyFrame: index % keyFrameEvery == 0)
        }
    }

    @Test func cleanStreamIsReleasedInOrderAtItsRenderTimesWithoutFreezes() {
        var sender = SyntheticVideoSender()
        let frames = Self.stream(count: 300, seed: 1, sender: &sender)
        var deliveries: [VideoDelivery] = []
        for (index, packets) in frames.enumerated() {
            let sent = SyntheticVideoSender.captureTime(ofFrame: index, start: Self.start)
            for (offset, packet) in packets.enumerated() {
                deliveries.append(VideoDelivery(time: sent + .milliseconds(20) + .microseconds(300 * offset), packet: packet))
            }
        }
        var harness = VideoReceiverHarness(start: Self.start)
        harness.run(deliveries, until: Self.start + .seconds(12))

        #expect(harness.released.frameIndices(firstTimestamp: sender.firstTimestamp) == Array(0..<300))
        for (index, frame) in harness.released.enumerated() {
            #expect(frame.data == SyntheticVideoSender.frameBytes(index: index, size: frame.data.count))
            #expect(frame.packetCount == frames[index].count)
            #expect(frame.firstSequenceNumber == frames[index][0].packet.header.sequenceNumber)
            #expect(frame.isKeyFrame == (index % 100 == 0))
            #expect(frame.pictureID == UInt16((32_700 + index) % 32_768))
        }
        #expect(harness.releaseTimes == harness.released.map(\.renderTime))
        let statistics = harness.receiver.statistics
        #expect(statistics.framesReceived == 300)
        #expect(statistics.framesDecoded == 300)
        #expect(statistics.keyFramesDecoded == 3)
        #expect(statistics.jitterBufferEmittedCount == 300)
        #expect(statistics.freezeCount == 0)
        #expect(statistics.framesDropped == 0)
        #expect(statistics.framesReleasedLate == 0)
        #expect(statistics.nackCount == 0)
        #expect(statistics.pliCount == 0)
        #expect(harness.receiver.renderDelay == .milliseconds(10))
        // Smooth: every interval between renders is one frame (33.3 ms), give or take the 1.2 ms by which
        // the least-delayed frame (the baseline) moves while the first frames arrive.
        let intervals = zip(harness.releaseTimes.dropFirst(), harness.releaseTimes).map { ($0 - $1).inMilliseconds }
        #expect(intervals.allSatisfy { abs($0 - 100.0 / 3) <= 1.2 })
        #expect(abs(statistics.totalInterFrameDelay - 299.0 / 30) <= 0.0012)
        // Each frame waited from its first packet to its render time: 10 ms plus the spread of its packets.
        #expect(statistics.jitterBufferDelay > 300 * 0.010)
        #expect(statistics.jitterBufferDelay < 300 * 0.012)
        #expect(abs(statistics.jitterBufferTargetDelay - 300 * 0.010) < 1e-9)
    }

    @Test func renderDelayGrowsToAbsorbJitter() {
        var sender = SyntheticVideoSender()
        let frames = Self.stream(count: 600, seed: 2, sender: &sender)
        var generator = SplitMix64(seed: 22)
        var deliveries: [VideoDelivery] = []
        for (index, packets) in frames.enumerated() {
            // Each frame is delayed by 20–100 ms, so frames overtake each other too.
            let arrival = SyntheticVideoSender.captureTime(ofFrame: index, start: Self.start)
                + .milliseconds(Int.random(in: 20...100, using: &generator))
            for (offset, packet) in packets.enumerated() {
                deliveries.append(VideoDelivery(time: arrival + .microseconds(300 * offset), packet: packet))
            }
        }
        var harness = VideoReceiverHarness(start: Self.start)
        harness.run(deliveries, until: Self.start + .seconds(22))

        #expect(harness.released.frameIndices(firstTimestamp: sender.firstTimestamp) == Array(0..<600))
        let statistics = harness.receiver.statistics
        #expect(harness.receiver.renderDelay >= .milliseconds(70))
        #expect(harness.receiver.renderDelay <= .milliseconds(85))
        #expect(statistics.freezeCount == 0)
        #expect(statistics.framesDropped == 0)
        // Only while the estimate was learning (and for the rare outliers) may a frame come late.
        #expect(statistics.framesReleasedLate < 30)
        #expect(statistics.jitterBufferTargetDelay / Double(statistics.jitterBufferEmittedCount) > 0.060)
    }

    @Test(arguments: [-20, 20])
    func senderClockJumpDoesNotLeaveTheRenderDelayAtItsMaximum(_ jumpSeconds: Int) {
        var sender = SyntheticVideoSender()
        let frames = Self.stream(count: 200, keyFrameEvery: 100, seed: 4, sender: &sender)
        var deliveries: [VideoDelivery] = []
        for (index, packets) in frames.enumerated() {
            let arrival = SyntheticVideoSender.captureTime(ofFrame: index, start: Self.start) + .milliseconds(20)
            for var packet in packets {
                if index >= 100 {  // the sender's clock jumps at the key frame 100
                    packet.packet.header.timestamp = packet.packet.header.timestamp.advanced(by: Int64(jumpSeconds) * 90_000)
                }
                deliveries.append(VideoDelivery(time: arrival, packet: packet))
            }
        }
        var harness = VideoReceiverHarness(start: Self.start)
        harness.run(deliveries, until: Self.start + .seconds(10))
        #expect(harness.released.count == 200)
        #expect(harness.receiver.renderDelay == .milliseconds(10))
        #expect(harness.receiver.statistics.freezeCount == 0)
        let intervals = zip(harness.releaseTimes.dropFirst(100), harness.releaseTimes.dropFirst(99)).map { $0 - $1 }
        #expect(intervals.allSatisfy { $0 < .milliseconds(40) })
    }

    @Test func deltaFramesBeforeTheFirstKeyFrameAreDroppedAndAKeyFrameIsRequested() {
        var sender = SyntheticVideoSender()
        let deltas = (0..<3).map { _ in sender.send(size: 1_500, isKeyFrame: false) }
        let key = sender.send(size: 3_000, isKeyFrame: true)
        let after = sender.send(size: 1_500, isKeyFrame: false)
        var harness = VideoReceiverHarness(start: Self.start)
        var time = Self.start
        for packet in deltas.joined() {
            harness.deliver(packet, at: time)
        }
        #expect(harness.keyFrameRequests == [Self.start])
        #expect(harness.receiver.statistics.framesDropped == 3)
        time = time + .milliseconds(100)
        for packet in key + after {
            harness.deliver(packet, at: time)
        }
        harness.advance(to: time + .seconds(1))
        #expect(harness.released.frameIndices(firstTimestamp: sender.firstTimestamp) == [3, 4])
        #expect(harness.keyFrameRequests == [Self.start])
        #expect(harness.receiver.statistics.pliCount == 1)
        #expect(harness.receiver.statistics.framesReceived == 5)
    }

    @Test func overflowKeepsTheBufferAtItsCapAndRequestsAKeyFrame() {
        var sender = SyntheticVideoSender()
        let frames = (0..<40).map { sender.send(size: 2_500, isKeyFrame: $0 == 0 || $0 == 30) }
        var configuration = VideoReceiver.Configuration(maximumFrames: 8)
        configuration.nack.maximumAge = .seconds(30)  // nothing gives up: only the cap limits the buffer
        configuration.nack.maximumRetries = 1_000
        var harness = VideoReceiverHarness(configuration: configuration, start: Self.start)
        var maximumHeld = 0
        for (index, packets) in frames.enumerated() {
            for packet in packets where !(index == 1 && packet.marking.startOfFrame) {  // frame 1 never completes
                harness.deliver(packet, at: SyntheticVideoSender.captureTime(ofFrame: index, start: Self.start))
                maximumHeld = max(maximumHeld, harness.receiver.bufferedFrameCount)
            }
        }
        harness.advance(to: Self.start + .seconds(3))
        let statistics = harness.receiver.statistics
        #expect(maximumHeld == 8)
        #expect(statistics.overflowDrops > 0)
        #expect(statistics.pliCount >= 1)
        #expect(harness.keyFrameRequests.first.map { $0 < SyntheticVideoSender.captureTime(ofFrame: 30, start: Self.start) } == true)
        // Frame 0 decoded; then nothing until the key frame 30, from which everything flows again.
        #expect(harness.released.frameIndices(firstTimestamp: sender.firstTimestamp) == [0] + Array(30..<40))
        // Every frame is accounted for: 39 complete frames received (frame 1 never is); 11 released, the
        // rest dropped.
        #expect(statistics.framesReceived == 39)
        #expect(statistics.framesDropped + statistics.jitterBufferEmittedCount + harness.receiver.completeFrameCount == 39)
        #expect(statistics.overflowDrops <= statistics.framesDropped + statistics.incompleteFramesDiscarded)
    }

    @Test func lostDiscardableFrameIsSkippedWithoutBreakingTheChain() {
        var sender = SyntheticVideoSender()
        let frames = [
            sender.send(size: 3_000, isKeyFrame: true),
            sender.send(size: 2_500, isKeyFrame: false, isDiscardable: true),
            sender.send(size: 1_500, isKeyFrame: false),
        ]
        var harness = VideoReceiverHarness(start: Self.start)
        for (index, packets) in frames.enumerated() {
            for packet in packets where !(index == 1 && packet.marking.endOfFrame) {
                harness.deliver(packet, at: SyntheticVideoSender.captureTime(ofFrame: index, start: Self.start))
            }
        }
        harness.advance(to: Self.start + .seconds(3))
        #expect(harness.released.frameIndices(firstTimestamp: sender.firstTimestamp) == [0, 2])
        #expect(harness.receiver.statistics.pliCount == 0)
        #expect(harness.receiver.statistics.incompleteFramesDiscarded == 1)
        #expect(harness.receiver.statistics.unrecoverablePackets == 0)
    }

    @Test func givenUpPacketInsideADiscardableFrameNeedsNoKeyFrame() {
        var sender = SyntheticVideoSender()
        let frames = [
            sender.send(size: 3_000, isKeyFrame: true),
            sender.send(size: 3_000, isKeyFrame: false, isDiscardable: true),
            sender.send(size: 1_500, isKeyFrame: false),
        ]
        var harness = VideoReceiverHarness(start: Self.start)
        for packet in frames[0] { harness.deliver(packet, at: Self.start) }
        for (offset, packet) in frames[1].enumerated() where offset != 1 {
            harness.deliver(packet, at: Self.start + .milliseconds(33))
        }
        harness.advance(to: Self.start + .seconds(2))  // the lost packet is given up meanwhile
        #expect(harness.receiver.statistics.unrecoverablePackets == 1)
        for packet in frames[2] { harness.deliver(packet, at: Self.start + .seconds(2)) }
        harness.advance(to: Self.start + .seconds(3))
        #expect(harness.released.frameIndices(firstTimestamp: sender.firstTimestamp) == [0, 2])
        #expect(harness.keyFrameRequests.isEmpty)
        #expect(harness.receiver.statistics.framesDropped == 0)
    }

    @Test func lostReferenceFrameWithoutPictureIDsWaitsForTheKeyFrame() {
        var sender = SyntheticVideoSender(pictureIDs: false)
        let frames = (0..<6).map { sender.send(size: 2_500, isKeyFrame: $0 == 0 || $0 == 4) }
        var configuration = VideoReceiver.Configuration()
        configuration.nack.maximumRetries = 2
        var harness = VideoReceiverHarness(configuration: configuration, start: Self.start)
        for (index, packets) in frames.enumerated() {
            for packet in packets where !(index == 1 && packet.marking.endOfFrame) {
                harness.deliver(packet, at: SyntheticVideoSender.captureTime(ofFrame: index, start: Self.start))
            }
        }
        harness.advance(to: Self.start + .seconds(3))
        // Frames 2 and 3 need frame 1, which never completes; the key frame 4 starts a new chain.
        #expect(harness.released.frameIndices(firstTimestamp: sender.firstTimestamp) == [0, 4, 5])
        #expect(harness.receiver.statistics.framesDropped == 2)
        #expect(harness.released.allSatisfy { $0.pictureID == nil })
    }

    @Test func everyDropPathIsCounted() {
        var sender = SyntheticVideoSender()
        let frames = Self.stream(count: 200, keyFrameEvery: 50, seed: 3, sender: &sender)
        var generator = SplitMix64(seed: 33)
        var configuration = VideoReceiver.Configuration()
        configuration.nack.maximumRetries = 3
        var harness = VideoReceiverHarness(configuration: configuration, start: Self.start)
        var injected = (duplicates: 0, foreign: 0, malformed: 0, late: 0, lost: 0, delivered: 0)
        var undecodableFrame: SequenceNumber?
        for (index, packets) in frames.enumerated() {
            let time = SyntheticVideoSender.captureTime(ofFrame: index, start: Self.start) + .milliseconds(30)
            if index == 120 {
                undecodableFrame = packets[0].packet.header.sequenceNumber
                harness.undecodable = [packets[0].packet.header.sequenceNumber]
            }
            for (offset, packet) in packets.enumerated() {
                if index > 0, index < 199, Double.random(in: 0..<1, using: &generator) < 0.03 {
                    injected.lost += 1
                    continue
                }
                var packet = packet
                if index == 60 && offset == 0 {
                    packet.packet.payload = [0x80]  // X = 1 with no extension byte: the real packet arrives damaged
                    injected.malformed += 1
                }
                harness.deliver(packet, at: time)
                injected.delivered += 1
                if Double.random(in: 0..<1, using: &generator) < 0.03 {
                    harness.deliver(packet, at: time)
                    injected.duplicates += 1
                }
            }
            if index % 40 == 7 {
                var foreign = packets[0]
                foreign.packet.header.ssrc = SSRC(0xBAD)
                harness.deliver(foreign, at: time)
                injected.foreign += 1
            }
            if index % 50 == 9 {
                var late = packets[0]  // a sequence number far behind the assembler's window
                late.packet.header.sequenceNumber = late.packet.header.sequenceNumber.advanced(by: -2_000)
                harness.deliver(late, at: time)
                injected.late += 1
            }
        }
        harness.advance(to: Self.start + .seconds(12))
        let statistics = harness.receiver.statistics
        #expect(statistics.packetsReceived == injected.delivered + injected.duplicates + injected.late)
        // A duplicate of the damaged packet is damaged too.
        #expect(statistics.duplicates + statistics.malformedPackets == injected.duplicates + injected.malformed)
        #expect(statistics.foreignPackets == injected.foreign)
        #expect(statistics.latePackets == injected.late)
        #expect(statistics.malformedPackets >= injected.malformed)
        // Without retransmissions every lost packet is given up, or made unnecessary by a later key frame.
        #expect(statistics.unrecoverablePackets + statistics.packetsNoLongerNeeded >= injected.lost)
        #expect(statistics.recoveredByRetransmission == 0)
        // Every complete frame was released, dropped, or is still held.
        #expect(
            statistics.framesReceived
                == statistics.jitterBufferEmittedCount + statistics.framesDropped - statistics.framesUndecodable
                + harness.receiver.completeFrameCount)
        let undecodableReleased = harness.released.contains { $0.firstSequenceNumber == undecodableFrame }
        #expect(statistics.framesUndecodable == (undecodableReleased ? 1 : 0))
        #expect(statistics.framesDecoded + statistics.framesUndecodable == statistics.jitterBufferEmittedCount)
        #expect(statistics.framesDropped > 0)
        #expect(statistics.pliCount > 0)
        #expect(statistics.pliCount == harness.keyFrameRequests.count)
        #expect(statistics.nackCount == harness.nacks.count)
        // Released frames are in decode order, and a delta frame only ever follows its reference.
        let indices = harness.released.frameIndices(firstTimestamp: sender.firstTimestamp)
        #expect(indices == indices.sorted())
        for (previous, frame) in zip(harness.released, harness.released.dropFirst()) where !frame.isKeyFrame {
            #expect(frame.firstSequenceNumber == previous.firstSequenceNumber.advanced(by: previous.packetCount))
        }
    }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func arbitraryPacketsNeverTrapAndNeverExceedTheBounds(_ seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        var sender = SyntheticVideoSender()
        let genuine = Self.stream(count: 100, keyFrameEvery: 10, seed: seed, sender: &sender).joined()
        var configuration = VideoReceiver.Configuration(maximumFrames: 12)
        configuration.nack.maximumListSize = 40
        var harness = VideoReceiverHarness(configuration: configuration, start: Self.start)
        var time = Self.start
        for (index, original) in genuine.enumerated() {
            var packet = original
            switch Int.random(in: 0..<6, using: &generator) {
            case 0: packet.packet.payload = ArraySlice(generator.mutated(Array(packet.packet.payload)))
            case 1: packet.packet.header.sequenceNumber = SequenceNumber(UInt16.random(in: 0...UInt16.max, using: &generator))
            case 2: packet.packet.header.timestamp = RTPTimestamp(UInt32.random(in: 0...UInt32.max, using: &generator))
            case 3:
                packet.marking = FrameMarking(
                    startOfFrame: Bool.random(using: &generator), endOfFrame: Bool.random(using: &generator),
                    isIndependent: Bool.random(using: &generator), isDiscardable: Bool.random(using: &generator))
            default: break
            }
            time = time + .microseconds(Int.random(in: 0...20_000, using: &generator))
            harness.deliver(packet, at: time, isRetransmission: index % 7 == 0)
            #expect(harness.receiver.bufferedFrameCount <= 12)
            #expect(harness.receiver.missingSequenceNumbers.count <= 40)
        }
        harness.advance(to: time + .seconds(5))
        let statistics = harness.receiver.statistics
        #expect(statistics.packetsReceived == genuine.count)
        #expect(
            statistics.framesReceived
                == statistics.jitterBufferEmittedCount + statistics.framesDropped + harness.receiver.completeFrameCount)
    }
}
