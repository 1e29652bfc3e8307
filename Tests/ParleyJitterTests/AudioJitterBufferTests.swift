import ParleyJitter
import ParleyMedia
import ParleyPayload
import ParleyWire
import Testing

private let start = MonotonicInstant(nanoseconds: 1_000_000_000)

/// Decodes `packets` in order with a fresh decoder: what a perfect network would play.
private func decodedDirectly(_ packets: ArraySlice<[UInt8]>) throws -> [Int16] {
    let decoder = try OpusDecoder()
    return try packets.flatMap { try decoder.decode($0).samples }
}

/// Random loss of `rate`, seeded.
private func randomLoss(_ rate: Double, seed: UInt64) -> (Int) -> Duration? {
    var generator = SplitMix64(seed: seed)
    let lost = (0..<10_000).map { _ in Double(generator.next() >> 11) / Double(1 << 53) < rate }
    return { lost[$0] ? nil : .zero }
}

@Suite struct AudioJitterBufferTests {
    @Test(arguments: [20, 10])
    func cleanStreamPlaysEveryPacketUnchangedWithoutConcealment(pullMilliseconds: Int) throws {
        let packets = Array(SpeechPackets.withFEC.prefix(500))
        try #require(packets.count == 500)
        let run = try play(
            packets, network: deliveries(count: 500) { _ in .zero }, duration: .seconds(10),
            pullInterval: .milliseconds(pullMilliseconds))
        let played = run.samples
        let expected = try decodedDirectly(packets[...])
        // Playout starts once the first packet has waited the 20 ms floor: the first pull plays it.
        #expect(Array(played.prefix(expected.count - 960 * 3)) == Array(expected.prefix(expected.count - 960 * 3)))
        let afterOneSecond = run.playouts.dropFirst(1_000 / pullMilliseconds)
        #expect(afterOneSecond.allSatisfy { $0.operation == .normal })
        #expect(run.statistics.concealmentEvents == 0)
        #expect(run.statistics.concealedSamples == 0)
        #expect(run.statistics.packetsDiscarded == 0)
        #expect(run.statistics.totalSamplesReceived == run.playouts.count * 48 * pullMilliseconds)
        #expect(run.maximumTarget(from: 0) == .milliseconds(20))
        // W3C delay sums: every sample came from a packet; each waited 20 ms (the floor) from its
        // packet's arrival to its pull, plus its place in the packet when pulls are shorter.
        let statistics = run.statistics
        #expect(statistics.jitterBufferEmittedCount == statistics.totalSamplesReceived)
        let meanDelay = statistics.jitterBufferDelay / Double(statistics.jitterBufferEmittedCount)
        #expect(meanDelay >= 0.0199 && meanDelay <= 0.0201 + Double(20 - pullMilliseconds) / 2_000, "\(meanDelay) s")
        let meanTarget = statistics.jitterBufferTargetDelay / Double(statistics.jitterBufferEmittedCount)
        #expect(abs(meanTarget - 0.020) < 1e-9)
    }

    @Test func targetDelayStaysWithinBoundsUnderNormalJitter() throws {
        let packets = Array(SpeechPackets.withFEC.prefix(2_000))
        for (sigma, limit) in [(10, 60), (20, 120)] {
            let run = try play(
                packets, network: deliveries(count: 2_000, extra: normalJitter(sigma: .milliseconds(sigma), seed: 21)),
                duration: .seconds(40))
            let target = run.maximumTarget(from: 5)
            #expect(target <= .milliseconds(limit), "σ = \(sigma) ms: target \(target)")
            #expect(target >= .milliseconds(sigma * 2), "σ = \(sigma) ms: target \(target)")
            // The delay held follows the target, so few packets come too late.
            let late = Double(run.statistics.latePackets) / 2_000
            #expect(late < 0.05, "σ = \(sigma) ms: \(run.statistics.latePackets) late packets")
            let meanDelay = run.statistics.jitterBufferDelay / Double(run.statistics.jitterBufferEmittedCount)
            #expect(meanDelay < target.inSeconds + 0.02, "σ = \(sigma) ms: mean buffer delay \(meanDelay) s")
        }
    }

    @Test func delayComesBackDownWithin30SecondsOfJitterStopping() throws {
        let packets = Array(SpeechPackets.withFEC.prefix(3_250))
        // σ = 20 ms for 30 s, then a clean path for 35 s.
        let run = try play(
            packets,
            network: deliveries(count: 3_250, extra: normalJitter(sigma: .milliseconds(20), seed: 23, active: 0..<1_500)),
            duration: .seconds(65))
        #expect(run.maximumTarget(from: 20, to: 30) >= .milliseconds(60))
        let targetBack = (run.targets.last { $0.time >= 30 && $0.target > .milliseconds(40) }?.time ?? 30) - 30
        let delayBack = (run.delays.last { $0.time >= 30 && $0.delay > .milliseconds(50) }?.time ?? 30) - 30
        #expect(targetBack <= 30, "target within 20 ms of the floor \(targetBack) s after jitter stopped")
        #expect(delayBack <= 30, "playout delay within 30 ms of the floor \(delayBack) s after jitter stopped")
        #expect(run.statistics.removedSamplesForAcceleration > 0)
        #expect(run.playouts.contains { $0.operation == .accelerate })
    }

    @Test func timeStretchedSamplesAreCountedExactly() throws {
        let packets = Array(SpeechPackets.withFEC.prefix(2_000))
        let run = try play(
            packets,
            network: deliveries(count: 2_000, extra: normalJitter(sigma: .milliseconds(20), seed: 29, active: 500..<1_000)),
            duration: .seconds(40))
        let statistics = run.statistics
        #expect(statistics.insertedSamplesForDeceleration > 0)
        #expect(statistics.removedSamplesForAcceleration > 0)
        // Every sample pulled is decoded, rebuilt or concealed audio, less what acceleration removed and
        // plus what deceleration inserted; what is left over is still waiting in the buffer.
        let produced = statistics.decodedPackets * 960 + statistics.redundancyRecoveredSamples
            + statistics.concealedSamples + statistics.insertedSamplesForDeceleration
            - statistics.removedSamplesForAcceleration
        let leftOver = produced - statistics.totalSamplesReceived
        #expect(leftOver >= 0 && leftOver < 2 * 960, "left over \(leftOver)")
        #expect(statistics.totalSamplesReceived == run.playouts.filter { $0.operation != .silence }.count * 960)
    }

    @Test func fiveInAHundredLostPacketsAreMostlyRebuiltFromFEC() throws {
        let loss = randomLoss(0.05, seed: 31)
        let withFEC = try play(
            Array(SpeechPackets.withFEC.prefix(1_000)), network: deliveries(count: 1_000, extra: loss),
            duration: .seconds(20))
        let withoutFEC = try play(
            Array(SpeechPackets.withoutFEC.prefix(1_000)), network: deliveries(count: 1_000, extra: loss),
            duration: .seconds(20))
        let total = Double(withFEC.statistics.totalSamplesReceived)
        let concealedWithFEC = Double(withFEC.statistics.concealedSamples) / total
        let concealedWithoutFEC = Double(withoutFEC.statistics.concealedSamples) / total
        // Opus codes LBRR for voiced frames only: losses in pauses (a third of this voice) are concealed.
        #expect(concealedWithFEC < 0.02, "concealed with FEC: \(concealedWithFEC)")
        #expect(concealedWithFEC < concealedWithoutFEC * 0.4, "with FEC \(concealedWithFEC), without \(concealedWithoutFEC)")
        #expect(concealedWithoutFEC > 0.03, "concealed without FEC: \(concealedWithoutFEC)")
        #expect(withFEC.statistics.redundancyRecoveredSamples > 25 * 960)
        #expect(withFEC.statistics.fecPacketsReceived > 600)
        #expect(withoutFEC.statistics.fecPacketsReceived == 0)
        #expect(withFEC.statistics.fecPacketsDiscarded < withFEC.statistics.fecPacketsReceived)
    }

    @Test func aSingleLostPacketIsRebuiltFromTheNextPacketsFEC() throws {
        // A voiced packet whose successor carries LBRR.
        let victim = try #require((100..<199).first { OpusRedundancy.containsRedundancy(SpeechPackets.withFEC[$0 + 1]) })
        let lost: (Int) -> Duration? = { $0 == victim ? nil : .zero }
        let withFEC = try play(
            Array(SpeechPackets.withFEC.prefix(200)), network: deliveries(count: 200, extra: lost), duration: .seconds(4))
        #expect(withFEC.playouts.filter { $0.operation == .redundancy }.count == 1)
        #expect(!withFEC.playouts.contains { $0.operation == .concealment })
        #expect(withFEC.statistics.redundancyRecoveredSamples == 960)
        #expect(withFEC.statistics.concealedSamples == 0)
        let withoutFEC = try play(
            Array(SpeechPackets.withoutFEC.prefix(200)), network: deliveries(count: 200, extra: lost),
            duration: .seconds(4))
        #expect(withoutFEC.playouts.filter { $0.operation == .concealment }.count == 1)
        #expect(withoutFEC.statistics.concealedSamples == 960)
        #expect(withoutFEC.statistics.concealmentEvents == 1)
    }

    /// The sender stops sending in silence (DTX): after packet 99 it sends a DTX frame (a TOC byte and
    /// no audio), then nothing for `gap` packets' time; the next packet has the next sequence number but
    /// a later timestamp. With a 20 ms floor the DTX frame says what follows; with a 200 ms floor the
    /// next packet is already held when the gap is reached, and its sequence number says it.
    @Test(arguments: [(20, 20), (200, 4)])
    func aTimestampJumpWithContiguousSequenceNumbersIsComfortNoiseNotLoss(floorMilliseconds: Int, gap: Int) throws {
        let packets = Array(SpeechPackets.withFEC.prefix(300))
        let buffer = try AudioJitterBuffer(
            configuration: .init(minimumTargetDelay: .milliseconds(floorMilliseconds)), decoder: try OpusDecoder())
        let dtxFrame: [UInt8] = [packets[99][0] & 0xFC]
        var operations: [AudioPlayoutOperation] = []
        for tick in 0..<(200 + gap) {
            let now = start + .milliseconds(20 * tick)
            let sequence: Int? = tick <= 100 ? tick : (tick > 100 + gap ? tick - gap : nil)
            if let sequence {
                buffer.insert(
                    payload: sequence == 100 ? dtxFrame : packets[sequence], sequenceNumber: SequenceNumber(UInt16(sequence)),
                    timestamp: RTPTimestamp(UInt32(960 * tick)), arrival: now)
            }
            operations.append(buffer.pull(sampleCount: 960, now: now + .milliseconds(10)).operation)
        }
        let comfortNoise = operations.filter { $0 == .comfortNoise }.count
        #expect(comfortNoise >= gap, "\(comfortNoise) pulls of comfort noise")
        #expect(operations.filter { $0 == .concealment }.count == 0)
        // W3C: comfort noise is concealed, silent audio; one run of it is one concealment event.
        #expect(buffer.statistics.concealedSamples >= gap * 960)
        #expect(buffer.statistics.silentConcealedSamples == buffer.statistics.concealedSamples)
        #expect(buffer.statistics.concealmentEvents == 1)
        #expect(buffer.statistics.packetsDiscarded == 0)
    }

    @Test func lateDuplicateAndMalformedPacketsAreDroppedAndCounted() throws {
        let packets = Array(SpeechPackets.withFEC.prefix(500))
        // Packet 200 is held 300 ms: by then its audio has been played.
        var injected = 0
        let run = try play(
            packets, network: deliveries(count: 500) { $0 == 200 ? .milliseconds(300) : .zero },
            duration: .milliseconds(10_500)
        ) { buffer, now in
            injected += 1
            guard injected % 50 == 0 else { return }
            // A copy of a packet already held or played, garbage, and an empty payload.
            let index = injected / 2
            buffer.insert(
                payload: packets[index], sequenceNumber: SequenceNumber(65_500).advanced(by: index),
                timestamp: RTPTimestamp(0xFFFF_0000).advanced(by: Int64(960 * index)), arrival: now)
            buffer.insert(
                payload: [0xFF, 0xFF], sequenceNumber: SequenceNumber(7), timestamp: RTPTimestamp(7), arrival: now)
            buffer.insert(payload: [], sequenceNumber: SequenceNumber(8), timestamp: RTPTimestamp(8), arrival: now)
        }
        let injections = injected / 50
        #expect(run.statistics.duplicatePackets == injections)
        #expect(run.statistics.malformedPackets == 2 * injections)
        #expect(run.statistics.latePackets == 1)
        #expect(run.statistics.packetsDiscarded == 1)
        #expect(run.statistics.packetsReceived == 500 + 3 * injections)
        // The late packet's audio was rebuilt from the next packet's FEC or concealed: one pull.
        // (The stream ends at 10 s: later pulls are concealment.)
        let beforeTheEnd = run.playouts.prefix(490)
        #expect(beforeTheEnd.filter { [.concealment, .redundancy].contains($0.operation) }.count == 1)
        #expect(run.maximumTarget(from: 0) == .milliseconds(20))
    }

    @Test func heldAudioNeverExceedsTheCap() throws {
        let packets = Array(SpeechPackets.withFEC.prefix(1_000))
        let buffer = try AudioJitterBuffer(decoder: try OpusDecoder())
        // 20 s of packets arrive at once, before any pull, then again after playout started.
        for index in 0..<500 {
            buffer.insert(
                payload: packets[index], sequenceNumber: SequenceNumber(UInt16(index)),
                timestamp: RTPTimestamp(UInt32(960 * index)), arrival: start)
            #expect(buffer.bufferedDuration <= .seconds(2))
        }
        _ = buffer.pull(sampleCount: 960, now: start + .milliseconds(20))
        for index in 500..<1_000 {
            buffer.insert(
                payload: packets[index], sequenceNumber: SequenceNumber(UInt16(index)),
                timestamp: RTPTimestamp(UInt32(960 * index)), arrival: start + .milliseconds(20))
            #expect(buffer.bufferedDuration <= .seconds(2))
        }
        #expect(buffer.statistics.overflowDrops >= 850)
        #expect(buffer.statistics.packetsDiscarded == buffer.statistics.overflowDrops)
    }

    @Test(arguments: [false, true])
    func audioResumesWithoutAccumulatedDelayAfterALongOutage(heldBack: Bool) throws {
        let packets = Array(SpeechPackets.withFEC.prefix(1_000))
        // From 5 s to 10 s the path is down: packets are lost, or (heldBack) queued and delivered at once.
        let network = deliveries(count: 1_000, isFIFO: true) { index in
            guard (250..<500).contains(index) else { return .zero }
            return heldBack ? .milliseconds(20 * (500 - index)) : nil
        }
        let run = try play(packets, network: network, duration: .seconds(20))
        let before = run.delays.filter { $0.time > 3 && $0.time < 5 }.map(\.delay).max() ?? .zero
        let after = run.delays.filter { $0.time > 11 }.map(\.delay).max() ?? .zero
        #expect(after <= before + .milliseconds(10), "delay before \(before), after \(after)")
        #expect(run.maximumTarget(from: 12) <= .milliseconds(40))
        #expect(run.bufferedMaximum <= .milliseconds(200))
        #expect(run.statistics.concealedSamples >= 240_000 - 960 * 3)
        #expect(run.playouts.suffix(400).allSatisfy { $0.operation == .normal })
    }

    @Test func playoutJumpsForwardWhenFarAboveTarget() throws {
        // The path gets 400 ms faster at 10 s: 400 ms of audio piles up at once. Playout skips it
        // rather than taking seconds to accelerate through it.
        let packets = Array(SpeechPackets.withFEC.prefix(1_000))
        let run = try play(
            packets, network: deliveries(count: 1_000) { $0 < 500 ? .milliseconds(400) : .zero },
            duration: .seconds(20))
        let settled = run.delays.filter { $0.time > 11 }.map(\.delay).max() ?? .zero
        #expect(settled <= .milliseconds(40), "playout delay after the change: \(settled)")
        // Skipped: the packets held, and the slow path's stragglers, which then come too late.
        #expect(run.statistics.overflowDrops >= 1)
        #expect(run.statistics.packetsDiscarded >= 10)
        #expect(run.bufferedMaximum <= .milliseconds(500))
    }

    @Test func isolatedDelaySpikesArePlayedAsLateLoss() throws {
        let packets = Array(SpeechPackets.withFEC.prefix(3_000))
        var generator = SplitMix64(seed: 37)
        let spiked = Set((0..<3_000).filter { _ in generator.next() % 100 == 0 })
        let run = try play(
            packets, network: deliveries(count: 3_000, isFIFO: true) { spiked.contains($0) ? .milliseconds(150) : .zero },
            duration: .seconds(60))
        #expect(run.maximumTarget(from: 0) <= .milliseconds(80))
        #expect(run.statistics.latePackets >= spiked.count)
    }

    @Test func damagedAndRandomInputNeverTrapsAndPullsStayExact() throws {
        let packets = Array(SpeechPackets.withFEC.prefix(500))
        let buffer = try AudioJitterBuffer(decoder: try OpusDecoder())
        var generator = SplitMix64(seed: 47)
        for tick in 0..<3_000 {
            let now = start + .milliseconds(10 * tick)
            let index = tick / 2 % 500
            var payload = packets[index]
            if generator.next() % 4 == 0 { payload = generator.mutated(payload, changes: 1...4) }
            // Mostly in order, sometimes wild sequence numbers and timestamps.
            let wild = generator.next() % 10 == 0
            let sequence = wild ? SequenceNumber(UInt16.random(in: 0...UInt16.max, using: &generator)) : SequenceNumber(UInt16(tick / 2))
            let timestamp = wild ? RTPTimestamp(UInt32.random(in: 0...UInt32.max, using: &generator)) : RTPTimestamp(UInt32(960 * (tick / 2)))
            buffer.insert(payload: payload, sequenceNumber: sequence, timestamp: timestamp, arrival: now)
            let count = [480, 960][Int(generator.next() % 2)]
            #expect(buffer.pull(sampleCount: count, now: now).samples.count == count)
            #expect(buffer.bufferedDuration <= .seconds(2))
        }
        #expect(buffer.statistics.packetsReceived == 3_000)
        #expect(buffer.statistics.duplicatePackets > 0)
    }

    @Test func sameInputsGiveTheSameOutput() throws {
        let packets = Array(SpeechPackets.withFEC.prefix(1_000))
        var generator = SplitMix64(seed: 41)
        let jitter = normalJitter(sigma: .milliseconds(15), seed: 43)
        let lost = Set((0..<1_000).filter { _ in generator.next() % 20 == 0 })
        let network = deliveries(count: 1_000) { lost.contains($0) ? nil : jitter($0) }
        let first = try play(packets, network: network, duration: .seconds(20))
        let second = try play(packets, network: network, duration: .seconds(20))
        #expect(first.playouts == second.playouts)
        #expect(first.statistics == second.statistics)
    }

    @Test func mismatchedSettingsAreRejected() throws {
        #expect(throws: JitterError.self) {
            try AudioJitterBuffer(configuration: .init(channelCount: 2), decoder: try OpusDecoder(channelCount: 1))
        }
        #expect(throws: JitterError.self) {
            try AudioJitterBuffer(configuration: .init(maximumBufferedDuration: .milliseconds(500)), decoder: try OpusDecoder())
        }
        #expect(throws: JitterError.self) {
            try AudioJitterBuffer(configuration: .init(accelerationSpeed: 0.9), decoder: try OpusDecoder())
        }
    }
}

@Suite struct AudioJitterBufferStereoTests {
    @Test func stereoStreamPlaysBothChannelsInterleaved() throws {
        var microphone = try SyntheticMicrophone(channelCount: 2)
        let encoder = try OpusEncoder(configuration: .init(channelCount: 2, bitrate: 64_000))
        let packets = try (0..<150).map { _ in
            try encoder.encode(microphone.nextFrame(sampleCount: 960, captureInstant: .zero)).payload
        }
        let buffer = try AudioJitterBuffer(
            configuration: .init(channelCount: 2), decoder: try OpusDecoder(channelCount: 2))
        var played: [Int16] = []
        for (index, packet) in packets.enumerated() {
            let now = start + .milliseconds(20 * index)
            buffer.insert(
                payload: packet, sequenceNumber: SequenceNumber(UInt16(index)),
                timestamp: RTPTimestamp(UInt32(960 * index)), arrival: now)
            let playout = buffer.pull(sampleCount: 480, now: now + .milliseconds(20))
            #expect(playout.samples.count == 960)
            played += playout.samples
            played += buffer.pull(sampleCount: 480, now: now + .milliseconds(30)).samples
        }
        let decoder = try OpusDecoder(channelCount: 2)
        let expected = try packets.flatMap { try decoder.decode($0).samples }
        #expect(played == expected)
        #expect(buffer.statistics.totalSamplesReceived == 150 * 960)
        #expect(buffer.statistics.concealedSamples == 0)
    }
}
