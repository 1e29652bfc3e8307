import ParleyMedia
import ParleyWire
import Testing

/// Encodes `frames` 20 ms frames of the synthetic microphone; returns the source signal and the packets.
private func encodeMicrophone(
    frames: Int, configuration: OpusEncoderConfiguration = .init()
) throws -> (source: [Int16], packets: [EncodedAudioFrame], lookahead: Int) {
    var microphone = try SyntheticMicrophone(channelCount: configuration.channelCount)
    let encoder = try OpusEncoder(configuration: configuration)
    var source: [Int16] = []
    var packets: [EncodedAudioFrame] = []
    for _ in 0..<frames {
        let frame = microphone.nextFrame(
            sampleCount: configuration.frameDuration.sampleCount, captureInstant: .zero)
        source += frame.samples
        packets.append(try encoder.encode(frame))
    }
    return (source, packets, encoder.lookahead)
}

@Suite struct OpusTests {
    @Test func roundTripKeepsTheSignal() throws {
        let (source, packets, lookahead) = try encodeMicrophone(frames: 150)
        let decoder = try OpusDecoder()
        let decoded = try packets.flatMap { try decoder.decode($0.payload).samples }
        #expect(decoded.count == source.count)
        // The decoder's output lags the input by the encoder's look-ahead; search around it.
        let (bestLag, best) = (lookahead - 48...lookahead + 48)
            .map { ($0, MediaQuality.correlation(decoded, reference: source, lag: $0) ?? 0) }
            .max { $0.1 < $1.1 }!
        #expect(best >= 0.9, "correlation \(best) at lag \(bestLag)")
        #expect(abs(bestLag - lookahead) <= 8, "best lag \(bestLag), look-ahead \(lookahead)")
    }

    @Test func highBitrateKeepsTheWaveformCloser() throws {
        // At 128 kbit/s Opus codes the waveform with CELT alone; what remains is mostly the phase of
        // its VOIP input high-pass filter.
        let (source, packets, lookahead) = try encodeMicrophone(
            frames: 100, configuration: .init(bitrate: 128_000, inbandFEC: false))
        let decoder = try OpusDecoder()
        let decoded = try packets.flatMap { try decoder.decode($0.payload).samples }
        let correlation = MediaQuality.correlation(decoded, reference: source, lag: lookahead) ?? 0
        #expect(correlation >= 0.95, "correlation \(correlation)")
    }

    @Test func stereoRoundTripKeepsBothChannels() throws {
        let configuration = OpusEncoderConfiguration(channelCount: 2, bitrate: 64_000)
        let (source, packets, lookahead) = try encodeMicrophone(frames: 100, configuration: configuration)
        let decoder = try OpusDecoder(channelCount: 2)
        let decoded = try packets.flatMap { try decoder.decode($0.payload).samples }
        for channel in 0..<2 {
            let left = stride(from: channel, to: source.count, by: 2).map { source[$0] }
            let right = stride(from: channel, to: decoded.count, by: 2).map { decoded[$0] }
            let correlation = MediaQuality.correlation(right, reference: left, lag: lookahead) ?? 0
            #expect(correlation >= 0.9, "channel \(channel): correlation \(correlation)")
        }
    }

    @Test func lostFrameIsConcealedWithAudioOfTheRightLength() throws {
        let (source, packets, lookahead) = try encodeMicrophone(frames: 50)
        let decoder = try OpusDecoder()
        var decoded: [Int16] = []
        for (index, packet) in packets.enumerated() {
            if index == 30 {  // a voiced frame, away from the markers at frames 12.5 and 37.5
                let concealed = try decoder.concealLoss(sampleCount: 960)
                #expect(concealed.sampleCount == 960)
                decoded += concealed.samples
            } else {
                decoded += try decoder.decode(packet.payload).samples
            }
        }
        // Concealment continues the voice: much closer to what was lost than silence would be…
        let lostRange = (30 * 960)..<(31 * 960)
        let reference = [Int16](repeating: 0, count: lookahead) + source
        let concealmentError = MediaQuality.errorEnergy(decoded, reference: reference, range: lostRange)
        let silenceError = MediaQuality.errorEnergy(
            [Int16](repeating: 0, count: decoded.count), reference: reference, range: lostRange)
        #expect(concealmentError < silenceError * 0.7, "PLC \(concealmentError), silence \(silenceError)")
        // …and within a few frames the decoder is back in step with one that lost nothing.
        let clean = try OpusDecoder()
        let cleanDecode = try packets.flatMap { try clean.decode($0.payload).samples }
        let after = Array(decoded[(36 * 960)...])
        let referenceAfter = Array(cleanDecode[(36 * 960)...])
        #expect((MediaQuality.correlation(after, reference: referenceAfter, lag: 0) ?? 0) > 0.99)
        #expect(decoded.count == source.count)
    }

    @Test func forwardErrorCorrectionRecoversCloserThanConcealment() throws {
        let configuration = OpusEncoderConfiguration(inbandFEC: true, expectedPacketLossPercent: 10)
        let (source, packets, lookahead) = try encodeMicrophone(frames: 80, configuration: configuration)
        var concealmentError = 0.0
        var recoveryError = 0.0
        // Lose one frame at a time (not one holding a marker), and compare both repairs with the source.
        for lost in stride(from: 20, to: 78, by: 3) where lost % 25 != 12 && lost % 25 != 13 {
            let concealing = try OpusDecoder()
            let recovering = try OpusDecoder()
            var concealed: [Int16] = []
            var recovered: [Int16] = []
            for index in 0...lost {
                if index == lost {
                    concealed += try concealing.concealLoss(sampleCount: 960).samples
                    recovered += try recovering.recoverLoss(
                        usingFECFrom: packets[index + 1].payload, sampleCount: 960
                    ).samples
                } else {
                    concealed += try concealing.decode(packets[index].payload).samples
                    recovered += try recovering.decode(packets[index].payload).samples
                }
            }
            let lostRange = (lost * 960)..<((lost + 1) * 960)
            let reference = [Int16](repeating: 0, count: lookahead) + source
            concealmentError += MediaQuality.errorEnergy(concealed, reference: reference, range: lostRange)
            recoveryError += MediaQuality.errorEnergy(recovered, reference: reference, range: lostRange)
        }
        #expect(recoveryError < concealmentError * 0.5, "FEC \(recoveryError) vs PLC \(concealmentError)")
    }

    @Test func everyFrameDurationEncodesAndDecodesToItsLength() throws {
        for duration in OpusFrameDuration.allCases {
            let configuration = OpusEncoderConfiguration(frameDuration: duration)
            let (_, packets, _) = try encodeMicrophone(frames: 5, configuration: configuration)
            let decoder = try OpusDecoder()
            for packet in packets {
                #expect(try decoder.decode(packet.payload).sampleCount == duration.sampleCount)
            }
        }
    }

    @Test func settingsChangeWhileEncoding() throws {
        var microphone = try SyntheticMicrophone()
        let encoder = try OpusEncoder(configuration: .init(bitrate: 64_000))
        func averageSize(frames: Int) throws -> Double {
            var total = 0
            for _ in 0..<frames {
                total += try encoder.encode(microphone.nextFrame(sampleCount: 960, captureInstant: .zero)).payload.count
            }
            return Double(total) / Double(frames)
        }
        let high = try averageSize(frames: 100)
        var lower = encoder.configuration
        lower.bitrate = 12_000
        lower.complexity = 3
        lower.inbandFEC = false
        try encoder.apply(lower)
        let low = try averageSize(frames: 100)
        #expect(low < high * 0.5, "64 kbit/s: \(high) B/frame, 12 kbit/s: \(low) B/frame")
        var stereo = lower
        stereo.channelCount = 2
        try encoder.apply(stereo)
        #expect(throws: MediaError.self) { try averageSize(frames: 1) }  // mono frames now refused
    }

    @Test func forwardErrorCorrectionAndDTXSwitchOnWhileEncoding() throws {
        var microphone = try SyntheticMicrophone()
        let encoder = try OpusEncoder(configuration: .init(inbandFEC: false, expectedPacketLossPercent: 0))
        func recoveredEqualsConcealed() throws -> Bool {
            let packets = try (0..<12).map { _ in try encoder.encode(microphone.nextFrame(sampleCount: 960, captureInstant: .zero)) }
            let a = try OpusDecoder()
            let b = try OpusDecoder()
            for packet in packets.prefix(10) {
                _ = try a.decode(packet.payload)
                _ = try b.decode(packet.payload)
            }
            // Lose packet 10: without FEC data in packet 11, "recovery" is plain concealment.
            return try a.concealLoss(sampleCount: 960) == b.recoverLoss(usingFECFrom: packets[11].payload, sampleCount: 960)
        }
        #expect(try recoveredEqualsConcealed())
        var withFEC = encoder.configuration
        withFEC.inbandFEC = true
        withFEC.expectedPacketLossPercent = 10
        try encoder.apply(withFEC)
        #expect(try !recoveredEqualsConcealed())

        let silence = AudioFrame(channelCount: 1, samples: [Int16](repeating: 0, count: 960))
        #expect(try (0..<30).map { _ in try encoder.encode(silence) }.allSatisfy { !$0.isDiscontinuous })
        var withDTX = encoder.configuration
        withDTX.discontinuousTransmission = true
        try encoder.apply(withDTX)
        #expect(try (0..<30).map { _ in try encoder.encode(silence) }.suffix(10).contains { $0.isDiscontinuous })
    }

    @Test func discontinuousTransmissionSendsTinyPacketsInSilence() throws {
        let encoder = try OpusEncoder(configuration: .init(discontinuousTransmission: true))
        let silence = AudioFrame(channelCount: 1, samples: [Int16](repeating: 0, count: 960))
        let packets = try (0..<100).map { _ in try encoder.encode(silence) }
        // After ~200 ms of silence the encoder sends 1-byte frames, with a comfort-noise update every 400 ms.
        let discontinuous = packets.suffix(80).filter(\.isDiscontinuous)
        #expect(discontinuous.count >= 70, "\(discontinuous.count) of 80 frames discontinuous")
        // The comfort-noise updates between them are real packets.
        #expect(packets.suffix(80).contains { !$0.isDiscontinuous && $0.payload.count > 2 })
        let noDTX = try OpusEncoder(configuration: .init(discontinuousTransmission: false))
        #expect(try (0..<30).map { _ in try noDTX.encode(silence) }.allSatisfy { !$0.isDiscontinuous })
    }

    @Test func invalidSettingsAreRefusedNamingTheField() {
        #expect(throws: MediaError.invalidArgument(field: "bitrate", reason: "must be 6000…510000 bit/s, got 1")) {
            try OpusEncoder(configuration: .init(bitrate: 1))
        }
        #expect(throws: MediaError.invalidArgument(field: "channelCount", reason: "must be 1 or 2, got 3")) {
            try OpusDecoder(channelCount: 3)
        }
    }

    @Test func malformedPacketsGiveErrorsNotCrashes() throws {
        let decoder = try OpusDecoder()
        #expect(throws: MediaError.self) { try decoder.decode([]) }
        // A code-3 packet (TOC 0x03) announcing 63 frames with no bytes for them is invalid.
        #expect(throws: MediaError.self) { try decoder.decode([0x03, 0x3F]) }
        var random = SystemRandomNumberGenerator()
        var failures = 0
        for _ in 0..<2_000 {
            let packet = (0..<Int.random(in: 1...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            do { _ = try decoder.decode(packet) } catch { failures += 1 }
        }
        // Many random byte strings are valid Opus packets; the point is that none traps, and some fail.
        #expect(failures > 0)
        let (_, packets, _) = try encodeMicrophone(frames: 3)
        #expect(try decoder.decode(packets[2].payload).sampleCount == 960)  // still decodes good input
    }
}
