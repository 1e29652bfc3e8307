import ParleyMedia
import ParleyPayload
import ParleyWire
import Testing

/// `frames` packets of the synthetic voice encoded by libopus with `configuration`.
private func encodedVoice(frames: Int, _ configuration: OpusEncoderConfiguration) throws -> [[UInt8]] {
    var microphone = try SyntheticMicrophone(channelCount: configuration.channelCount)
    let encoder = try OpusEncoder(configuration: configuration)
    return try (0..<frames).map { _ in
        try encoder.encode(
            microphone.nextFrame(sampleCount: configuration.frameDuration.sampleCount, captureInstant: .zero)
        ).payload
    }
}

private func share(_ packets: [[UInt8]], _ predicate: ([UInt8]) -> Bool) -> Double {
    Double(packets.filter(predicate).count) / Double(packets.count)
}

@Suite struct OpusRedundancyTests {
    @Test(arguments: [
        OpusEncoderConfiguration(bitrate: 48_000),  // hybrid
        OpusEncoderConfiguration(bitrate: 20_000),  // SILK only (wideband)
        OpusEncoderConfiguration(channelCount: 2, bitrate: 48_000),  // stereo: mid and side flags
        OpusEncoderConfiguration(frameDuration: .milliseconds60, bitrate: 32_000),  // hybrid: code 3, three frames
        OpusEncoderConfiguration(frameDuration: .milliseconds60, bitrate: 20_000),  // SILK: three SILK frames
    ])
    func voicedPacketsEncodedWithFECCarryLBRRAndOthersDoNot(configuration: OpusEncoderConfiguration) throws {
        var withFEC = configuration
        withFEC.inbandFEC = true
        var withoutFEC = configuration
        withoutFEC.inbandFEC = false
        let protected = try encodedVoice(frames: 150, withFEC)
        let unprotected = try encodedVoice(frames: 150, withoutFEC)
        #expect(share(protected) { OpusTOC($0[0]).mode != .celt } > 0.9, "\(Set(protected.map { OpusTOC($0[0]).configuration }))")
        let protectedShare = share(protected) { OpusRedundancy.containsRedundancy($0) }
        #expect(protectedShare > 0.4, "\(protectedShare) of packets carry LBRR")
        #expect(share(unprotected) { OpusRedundancy.containsRedundancy($0) } == 0)
    }

    @Test func agreesWithLibopusFECDecoding() throws {
        // Where the packet carries LBRR, libopus's FEC decoding rebuilds audio that differs from its
        // concealment; where it carries none, libopus conceals (the same samples, bar mode switches).
        let packets = try encodedVoice(frames: 200, .init(inbandFEC: true))
        var flaggedButConcealed = 0
        var unflaggedButRebuilt = 0
        for index in 2..<packets.count {
            let rebuilding = try OpusDecoder()
            let concealing = try OpusDecoder()
            for packet in packets[..<(index - 1)] {
                _ = try rebuilding.decode(packet)
                _ = try concealing.decode(packet)
            }
            let rebuilt = try rebuilding.recoverLoss(usingFECFrom: packets[index], sampleCount: 960).samples
            let concealed = try concealing.concealLoss(sampleCount: 960).samples
            let flagged = OpusRedundancy.containsRedundancy(packets[index])
            if flagged, rebuilt == concealed { flaggedButConcealed += 1 }
            if !flagged, rebuilt != concealed { unflaggedButRebuilt += 1 }
        }
        #expect(flaggedButConcealed == 0)
        #expect(unflaggedButRebuilt <= 4, "\(unflaggedButRebuilt) of 198")
    }

    @Test func celtOnlyPacketsHaveNoLBRR() throws {
        // At 128 kbit/s without FEC libopus codes this voice with CELT alone.
        let packets = try encodedVoice(frames: 100, .init(bitrate: 128_000, inbandFEC: false))
        let celt = packets.filter { OpusTOC($0[0]).mode == .celt }
        #expect(celt.count > 50)
        #expect(!celt.contains { OpusRedundancy.containsRedundancy($0) })
        // The same bytes as a packet with LBRR, but under a CELT configuration: no SILK layer to read.
        let protected = try encodedVoice(frames: 50, .init(inbandFEC: true))
        let flagged = try #require(protected.dropFirst(5).first { OpusRedundancy.containsRedundancy($0) })
        for configuration in [16, 19, 31] as [UInt8] {
            #expect(!OpusRedundancy.containsRedundancy([configuration << 3 | flagged[0] & 0x07] + flagged.dropFirst()))
        }
    }

    @Test func theFirstFrameIsFoundInEveryFramingCode() throws {
        let packets = try encodedVoice(frames: 50, .init(inbandFEC: true))
        let flagged = try #require(packets.dropFirst(5).first { OpusRedundancy.containsRedundancy($0) })
        let plain = try #require(packets.first { !OpusRedundancy.containsRedundancy($0) && $0.count > 2 })
        func frame(_ packet: [UInt8]) -> [UInt8] { Array(packet.dropFirst()) }
        let toc = flagged[0] & 0xFC
        // Code 1: two frames of equal size (the same frame twice).
        #expect(OpusRedundancy.containsRedundancy([toc | 1] + frame(flagged) + frame(flagged)))
        // Code 2: the first frame's length, then two frames.
        let length = frame(flagged).count
        let lengthBytes: [UInt8] = length < 252 ? [UInt8(length)] : [UInt8(252 + (length - 252) % 4), UInt8((length - 252) / 4)]
        #expect(OpusRedundancy.containsRedundancy([toc | 2] + lengthBytes + frame(flagged) + frame(plain)))
        let plainLength = frame(plain).count
        let plainLengthBytes: [UInt8] =
            plainLength < 252 ? [UInt8(plainLength)] : [UInt8(252 + (plainLength - 252) % 4), UInt8((plainLength - 252) / 4)]
        #expect(!OpusRedundancy.containsRedundancy([toc | 2] + plainLengthBytes + frame(plain) + frame(flagged)))
        // Code 3, constant size, one frame; then variable size with 3 bytes of padding.
        #expect(OpusRedundancy.containsRedundancy([toc | 3, 0x01] + frame(flagged)))
        #expect(OpusRedundancy.containsRedundancy([toc | 3, 0xC1, 3] + frame(flagged) + [0, 0, 0]))
        // A DTX frame (TOC only) carries nothing.
        #expect(!OpusRedundancy.containsRedundancy([toc]))
    }

    @Test func malformedPacketsAreAnsweredWithoutTrapping() throws {
        let packets = try encodedVoice(frames: 50, .init(inbandFEC: true))
        var generator = SplitMix64(seed: 99)
        #expect(!OpusRedundancy.containsRedundancy([]))
        #expect(!OpusRedundancy.containsRedundancy([0x0B]))  // code 3 without its count byte
        #expect(!OpusRedundancy.containsRedundancy([0x0B, 0x00]))  // code 3 with zero frames
        #expect(!OpusRedundancy.containsRedundancy([0x0A, 0xFF]))  // code 2 with a truncated length
        #expect(!OpusRedundancy.containsRedundancy([0x09, 0x01, 0x02, 0x03]))  // code 1 with an odd size
        #expect(!OpusRedundancy.containsRedundancy([0x0B, 0x41, 0xFF]))  // padding runs off the end
        for _ in 0..<5_000 {
            let packet = generator.mutated(packets[Int(generator.next() % 50)], changes: 1...4)
            _ = OpusRedundancy.containsRedundancy(packet)
            _ = OpusRedundancy.containsRedundancy(packet.dropFirst(Int(generator.next() % 3)))
        }
    }
}
