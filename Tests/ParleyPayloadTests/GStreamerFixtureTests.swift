import ParleyMedia
import ParleyPayload
import ParleyRTP
import ParleyWire
import Testing

/// Packets recorded from GStreamer 1.22 (Fixtures/README.md, Fixtures/regenerate.sh).
@Suite struct GStreamerFixtureTests {
    /// The number of frames `regenerate.sh` has `vp8enc` encode.
    static let framesSent = 60

    @Test func rebuildsEveryFrameRtpvp8paySentAndLibvpxDecodesEachOne() throws {
        let packets = try fixtureRecords("vp8-rtp").map { try RTPPacket(parsing: $0) }
        let sentFrames = try fixtureRecords("vp8-frames")
        #expect(sentFrames.count == Self.framesSent)

        var assembler = VP8FrameAssembler()
        var frames: [VP8FrameAssembler.Frame] = []
        for packet in packets {
            if case .completed(let frame) = assembler.insert(packet) { frames.append(frame) }
        }
        #expect(frames.count == Self.framesSent)
        #expect(frames.map(\.data) == sentFrames)
        #expect(assembler.missingSequenceNumbers.isEmpty)
        #expect(assembler.statistics.completedFrames == Self.framesSent)
        #expect(assembler.statistics.malformedPackets + assembler.statistics.duplicatePackets == 0)

        let decoder = try VP8Decoder()
        for (index, frame) in frames.enumerated() {
            let picture = try decoder.decode(frame.data)
            #expect(picture.width == 320 && picture.height == 240, "frame \(index)")
        }
    }

    @Test func theRecordingWrapsSequenceNumberPictureIDAndTimestamp() throws {
        let packets = try fixtureRecords("vp8-rtp").map { try RTPPacket(parsing: $0) }
        var assembler = VP8FrameAssembler()
        let frames = packets.compactMap { packet -> VP8FrameAssembler.Frame? in
            if case .completed(let frame) = assembler.insert(packet) { return frame }
            return nil
        }
        let pictureIDs = frames.map { $0.descriptor.pictureID?.value ?? 0xFFFF }
        #expect(pictureIDs == (0..<Self.framesSent).map { UInt16((32_730 + $0) % 32_768) })
        #expect(packets.first?.header.sequenceNumber == SequenceNumber(65_400))
        #expect(packets.contains { $0.header.sequenceNumber == SequenceNumber(0) })
        #expect(frames.first!.timestamp.rawValue > frames.last!.timestamp.rawValue, "the timestamp wraps")
        // Frame order from timestamps agrees with the packets, across the wrap.
        #expect(zip(frames.dropFirst(), frames).allSatisfy { $0.timestamp.distance(from: $1.timestamp) > 0 })
    }

    @Test func rebuildsTheSameFramesFromShuffledAndDuplicatedPackets() throws {
        let packets = try fixtureRecords("vp8-rtp").map { try RTPPacket(parsing: $0) }
        let sentFrames = try fixtureRecords("vp8-frames")
        var generator = SplitMix64(seed: 2024)
        // Reorder within a sliding span of 20 packets and send a tenth of them twice, as a network might.
        var arrival: [RTPPacket] = []
        for chunk in stride(from: 0, to: packets.count, by: 20) {
            let slice = packets[chunk..<min(chunk + 20, packets.count)]
            arrival += (Array(slice) + slice.filter { _ in Int.random(in: 0..<10, using: &generator) == 0 })
                .shuffled(using: &generator)
        }
        var assembler = VP8FrameAssembler()
        var frames: [VP8FrameAssembler.Frame] = []
        for packet in arrival {
            if case .completed(let frame) = assembler.insert(packet) { frames.append(frame) }
        }
        frames.sort { $0.timestamp.distance(from: $1.timestamp) < 0 }
        #expect(frames.map(\.data) == sentFrames)
    }

    @Test func parleysPacketizerCarriesGStreamersFramesToLibvpx() throws {
        let sentFrames = try fixtureRecords("vp8-frames")
        var packetizer = VP8Packetizer(maximumPayloadSize: 1_136)
        var assembler = VP8FrameAssembler()
        let decoder = try VP8Decoder()
        var sequenceNumber = SequenceNumber(65_530)
        var decoded = 0
        for (index, frame) in sentFrames.enumerated() {
            let header = videoHeader(sequenceNumber: sequenceNumber.rawValue, timestamp: UInt32(index * 3_000))
            let packets = header.packets(carrying: packetizer.packetize(frame))
            sequenceNumber = sequenceNumber.advanced(by: packets.count)
            for packet in packets.reversed() {
                if case .completed(let rebuilt) = assembler.insert(try RTPPacket(parsing: packet.serialize())) {
                    #expect(rebuilt.data == frame)
                    _ = try decoder.decode(rebuilt.data)
                    decoded += 1
                }
            }
        }
        #expect(decoded == Self.framesSent)
    }

    @Test func everyOpusPacketRtpopuspaySentDecodesWithLibopus() throws {
        let packets = try fixtureRecords("opus-rtp").map { try RTPPacket(parsing: $0) }
        #expect(packets.count == 101)  // 100 buffers of 20 ms, plus the encoder's lookahead
        let decoder = try OpusDecoder(channelCount: 1)
        for packet in packets {
            #expect(packet.header.payloadType == 111)
            let payload = try OpusRTPPayload(parsing: packet.payload)
            #expect(payload.sampleCount == 960)
            let audio = try decoder.decode(Array(payload.packet))
            #expect(audio.sampleCount == payload.sampleCount)
        }
        // From the second packet on (the first starts before the encoder's lookahead), each timestamp is
        // the previous one plus the previous packet's samples.
        for (packet, previous) in zip(packets.dropFirst(2), packets.dropFirst()) {
            let samples = try OpusRTPPayload(parsing: previous.payload).sampleCount
            #expect(packet.header.timestamp.distance(from: previous.header.timestamp) == Int64(samples))
        }
        #expect(packets.last!.header.timestamp.rawValue < 100_000, "the timestamp wraps")
    }

    @Test func everyRTCPCompoundRtpbinSentParsesAndRoundTrips() throws {
        var kinds: Set<String> = []
        var compounds = 0
        for name in ["rtcp-rtpbin", "rtcp-rtpbin-twcc"] {
            for record in try fixtureRecords(name) {
                let compound = try RTCPCompoundPacket(parsing: record)
                compounds += 1
                #expect(try RTCPCompoundPacket(parsing: compound.serialize()) == compound)
                for packet in compound.packets {
                    switch packet {
                    case .senderReport: kinds.insert("SR")
                    case .receiverReport(let report): kinds.insert(report.reportBlocks.isEmpty ? "RR" : "RR+blocks")
                    case .sourceDescription(let sdes): kinds.insert(sdes.chunks.allSatisfy { $0.cname != nil } ? "SDES" : "SDES?")
                    case .bye: kinds.insert("BYE")
                    case .genericNACK(let nack): kinds.insert(nack.lostSequenceNumbers.isEmpty ? "NACK?" : "NACK")
                    case .pictureLossIndication: kinds.insert("PLI")
                    case .fullIntraRequest: kinds.insert("FIR")
                    case .transportFeedback(let feedback): kinds.insert(feedback.packetStatuses.isEmpty ? "TWCC?" : "TWCC")
                    case .unknown: kinds.insert("unknown")
                    }
                }
            }
        }
        #expect(compounds > 100)
        // What two real rtpbins with 3 % loss sent: SRs, RRs with report blocks, CNAMEs, NACKs, PLIs,
        // TWCC feedback and a BYE.
        #expect(kinds.isSuperset(of: ["SR", "RR+blocks", "SDES", "NACK", "PLI", "TWCC", "BYE"]), "\(kinds)")
        #expect(!kinds.contains("SDES?") && !kinds.contains("NACK?") && !kinds.contains("TWCC?"))
    }
}
