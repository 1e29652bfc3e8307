import ParleyPayload
import ParleyRTP
import ParleyWire
import Testing

/// The RTP packets of one frame, packetized by Parley at `mtu`.
private func framePackets(
    _ frame: [UInt8], mtu: Int, firstSequenceNumber: UInt16, timestamp: UInt32 = 90_000, pictureID: UInt16 = 0
) -> [RTPPacket] {
    var packetizer = VP8Packetizer(maximumPayloadSize: VP8PacketizerTests.budget(mtu: mtu), firstPictureID: pictureID)
    return videoHeader(sequenceNumber: firstSequenceNumber, timestamp: timestamp).packets(
        carrying: packetizer.packetize(frame))
}

/// Feeds `packets` in order; returns the frames completed.
private func insert(_ packets: [RTPPacket], into assembler: inout VP8FrameAssembler) -> [VP8FrameAssembler.Frame] {
    packets.compactMap {
        if case .completed(let frame) = assembler.insert($0) { return frame }
        return nil
    }
}

@Suite struct VP8FrameAssemblerTests {
    enum Arrival: String, CaseIterable, Sendable {
        case inOrder, reversed, shuffled, shuffledAgain, everyPacketTwiceShuffled
    }

    private static func arrange(_ packets: [RTPPacket], _ arrival: Arrival, seed: UInt64) -> [RTPPacket] {
        var generator = SplitMix64(seed: seed)
        switch arrival {
        case .inOrder: return packets
        case .reversed: return packets.reversed()
        case .shuffled: return packets.shuffled(using: &generator)
        case .shuffledAgain: return packets.shuffled(using: &generator).shuffled(using: &generator)
        case .everyPacketTwiceShuffled: return (packets + packets).shuffled(using: &generator)
        }
    }

    @Test(arguments: VP8PacketizerTests.cases)
    func rebuildsTheIdenticalFrameUnderEveryArrivalOrder(_ size: Int, _ mtu: Int) {
        let frame = patternFrame(size, seed: UInt8(truncatingIfNeeded: mtu))
        let packets = framePackets(frame, mtu: mtu, firstSequenceNumber: 65_000, pictureID: 77)
        for arrival in Arrival.allCases {
            var assembler = VP8FrameAssembler()
            let arrived = Self.arrange(packets, arrival, seed: UInt64(size * 10_000 + mtu))
            let frames = insert(arrived, into: &assembler)
            #expect(frames.count == 1, "\(arrival)")
            #expect(frames.first?.data == frame, "\(arrival)")
            #expect(frames.first?.timestamp == RTPTimestamp(90_000))
            #expect(frames.first?.packetCount == packets.count)
            #expect(frames.first?.firstSequenceNumber == SequenceNumber(65_000))
            #expect(frames.first?.descriptor.pictureID == .fifteenBit(77))
            #expect(assembler.missingSequenceNumbers.isEmpty)
            #expect(assembler.statistics.duplicatePackets == arrived.count - packets.count)
        }
    }

    static let dropCases: [(size: Int, mtu: Int, firstSequenceNumber: UInt16)] = [
        (5_000, 800, 100),
        (50_000, 500, 65_500),  // the sequence number wraps inside the frame
        (200_000, 1_400, 65_400),
        (123_457, 1_000, 0),
    ]

    @Test(arguments: dropCases)
    func reportsExactlyTheDroppedSequenceNumbersThenCompletesWhenTheyArrive(
        _ size: Int, _ mtu: Int, _ firstSequenceNumber: UInt16
    ) {
        let frame = patternFrame(size)
        let packets = framePackets(frame, mtu: mtu, firstSequenceNumber: firstSequenceNumber)
        var generator = SplitMix64(seed: UInt64(size))
        // Drop about one packet in eight, never the first or the last (nothing could tell those were sent).
        let dropped = Set((1..<packets.count - 1).filter { _ in Int.random(in: 0..<8, using: &generator) == 0 } + [1])
        var assembler = VP8FrameAssembler()
        let kept = packets.indices.filter { !dropped.contains($0) }.map { packets[$0] }
        #expect(insert(kept.shuffled(using: &generator), into: &assembler).isEmpty)
        let expected = dropped.sorted().map { packets[$0].header.sequenceNumber }
        #expect(assembler.missingSequenceNumbers == expected)

        let late = dropped.map { packets[$0] }.shuffled(using: &generator)
        let frames = insert(late, into: &assembler)
        #expect(frames.map(\.data) == [frame])
        #expect(assembler.missingSequenceNumbers.isEmpty)
    }

    @Test func reportsTheLostFirstPacketOfAFrameAfterACompleteOne() {
        let first = framePackets(patternFrame(2_000), mtu: 500, firstSequenceNumber: 65_530, timestamp: 0)
        let second = framePackets(patternFrame(2_000), mtu: 500, firstSequenceNumber: 65_535, timestamp: 3_000)
        let third = framePackets(patternFrame(2_000), mtu: 500, firstSequenceNumber: 4, timestamp: 6_000)
        #expect(first.count == 5 && second.count == 5 && third.count == 5)
        var assembler = VP8FrameAssembler()
        let frames = insert(first + second.dropFirst() + third.prefix(2) + third.suffix(2), into: &assembler)
        #expect(frames.map(\.timestamp) == [RTPTimestamp(0)])
        // Seq 65535 starts the second frame; seq 6 is the middle of the third.
        #expect(assembler.missingSequenceNumbers == [SequenceNumber(65_535), SequenceNumber(6)])
    }

    @Test func aLostFirstPacketOfTheStreamCannotBeReportedAndItsFrameNeverCompletes() {
        let packets = framePackets(patternFrame(2_000), mtu: 500, firstSequenceNumber: 10)
        var assembler = VP8FrameAssembler()
        #expect(insert(Array(packets.dropFirst()), into: &assembler).isEmpty)
        #expect(assembler.missingSequenceNumbers.isEmpty)
    }

    @Test func framesCompleteAsSoonAsCompleteEvenBeforeAnEarlierFrame() {
        let first = framePackets(patternFrame(1_000, seed: 1), mtu: 500, firstSequenceNumber: 0, timestamp: 0)
        let second = framePackets(patternFrame(1_000, seed: 2), mtu: 500, firstSequenceNumber: 3, timestamp: 3_000)
        var assembler = VP8FrameAssembler()
        #expect(insert([first[0], first[2]] + second, into: &assembler).map(\.timestamp) == [RTPTimestamp(3_000)])
        #expect(assembler.missingSequenceNumbers == [SequenceNumber(1)])
        #expect(insert([first[1]], into: &assembler).map(\.data) == [patternFrame(1_000, seed: 1)])
    }

    @Test func packetsOfInterleavedFramesAssembleIntoEachFrame() {
        var generator = SplitMix64(seed: 42)
        var packets: [RTPPacket] = []
        var frames: [[UInt8]] = []
        var sequenceNumber: UInt16 = 65_000
        for index in 0..<20 {
            let frame = patternFrame(Int.random(in: 1...6_000, using: &generator), seed: UInt8(index))
            frames.append(frame)
            let framePackets = framePackets(
                frame, mtu: 600, firstSequenceNumber: sequenceNumber, timestamp: UInt32(index * 3_000))
            sequenceNumber &+= UInt16(framePackets.count)
            packets += framePackets
        }
        var assembler = VP8FrameAssembler()
        let rebuilt = insert(packets.shuffled(using: &generator), into: &assembler)
        #expect(rebuilt.count == 20)
        #expect(rebuilt.sorted { $0.timestamp.rawValue < $1.timestamp.rawValue }.map(\.data) == frames)
    }

    @Test func aRunWithoutAStartPacketNeverCompletes() {
        var packets = framePackets(patternFrame(1_500), mtu: 500, firstSequenceNumber: 0)
        // The first packet's payload says it continues a partition (S = 0): no frame start in the run.
        var payload = try! VP8RTPPayload(parsing: packets[0].payload)
        payload.descriptor.isStartOfPartition = false
        packets[0].payload = payload.serialize()[...]
        var assembler = VP8FrameAssembler()
        #expect(insert(packets, into: &assembler).isEmpty)
    }

    @Test func aStartPacketOfAnotherPartitionDoesNotStartAFrame() {
        var packets = framePackets(patternFrame(1_500), mtu: 500, firstSequenceNumber: 0)
        var payload = try! VP8RTPPayload(parsing: packets[0].payload)
        payload.descriptor.partitionIndex = 1  // S = 1, PID = 1: a later partition's start
        packets[0].payload = payload.serialize()[...]
        var assembler = VP8FrameAssembler()
        #expect(insert(packets, into: &assembler).isEmpty)
    }

    @Test func aPacketWithAnotherTimestampBreaksTheRun() {
        var packets = framePackets(patternFrame(1_500), mtu: 500, firstSequenceNumber: 0)
        packets[1].header.timestamp = RTPTimestamp(1)
        var assembler = VP8FrameAssembler()
        #expect(insert(packets, into: &assembler).isEmpty)
    }

    @Test func aDuplicateOfADeliveredPacketIsDroppedAsADuplicate() {
        let packets = framePackets(patternFrame(1_500), mtu: 500, firstSequenceNumber: 0)
        var assembler = VP8FrameAssembler()
        #expect(insert(packets, into: &assembler).count == 1)
        #expect(assembler.insert(packets[1]) == .duplicate)
        #expect(assembler.statistics.duplicatePackets == 1)
    }

    @Test func malformedPacketsAreCountedAndDropped() {
        var assembler = VP8FrameAssembler()
        let empty = RTPPacket(header: videoHeader(sequenceNumber: 1), payload: [])
        let descriptorOnly = RTPPacket(header: videoHeader(sequenceNumber: 2), payload: [0x90, 0x80, 0x01])
        #expect(assembler.insert(empty) == .malformed(.truncated(field: "VP8 descriptor X/N/S/PID", needed: 1, available: 0)))
        #expect(assembler.insert(descriptorOnly) == .malformed(.truncated(field: "VP8 payload", needed: 1, available: 0)))
        #expect(assembler.statistics.malformedPackets == 2)
        #expect(assembler.missingSequenceNumbers.isEmpty)
    }

    @Test func packetsOlderThanTheWindowAreLateAndPendingOnesFallingOutAreEvicted() {
        var assembler = VP8FrameAssembler(window: 16)
        let old = framePackets(patternFrame(1_500), mtu: 500, firstSequenceNumber: 100)
        let new = framePackets(patternFrame(100), mtu: 500, firstSequenceNumber: 140)
        #expect(insert(Array(old.prefix(3)), into: &assembler).isEmpty)  // the old frame is incomplete
        #expect(insert(new, into: &assembler).count == 1)
        #expect(assembler.statistics.evictedPackets == 3)
        #expect(assembler.insert(old[3]) == .late)
        #expect(assembler.statistics.latePackets == 1)
        #expect(assembler.missingSequenceNumbers.isEmpty, "a jump beyond the window starts afresh")
    }

    @Test func missingSequenceNumbersStayWithinTheWindow() {
        var assembler = VP8FrameAssembler(window: 16)
        let packets = framePackets(patternFrame(20_000), mtu: 500, firstSequenceNumber: 0)  // 47 packets
        _ = insert(packets.enumerated().filter { $0.offset % 2 == 0 }.map(\.element), into: &assembler)
        let missing = assembler.missingSequenceNumbers
        #expect(missing.count <= 16)
        #expect(missing == stride(from: 31, through: 45, by: 2).map { SequenceNumber(UInt16($0)) })
    }

    @Test func aFrameLongerThanTheWindowNeverCompletes() {
        var assembler = VP8FrameAssembler(window: 16)
        let packets = framePackets(patternFrame(10_000), mtu: 500, firstSequenceNumber: 0)  // 24 packets
        #expect(insert(packets, into: &assembler).isEmpty)
        #expect(assembler.statistics.evictedPackets == packets.count - 16)
    }
}
