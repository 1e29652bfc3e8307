import ParleyPayload
import ParleyWire
import Testing

@Suite struct OpusPayloadTests {
    /// TOC bytes (config << 3 | s << 2 | c) and what they mean.
    static let tocs: [(byte: UInt8, mode: OpusTOC.Mode, samplesPerFrame: Int, stereo: Bool)] = [
        (0 << 3 | 0b000, .silk, 480, false),  // SILK NB 10 ms
        (3 << 3 | 0b100, .silk, 2_880, true),  // SILK NB 60 ms, stereo
        (9 << 3 | 0b000, .silk, 960, false),  // SILK WB 20 ms
        (11 << 3 | 0b000, .silk, 2_880, false),  // SILK WB 60 ms
        (12 << 3 | 0b000, .hybrid, 480, false),  // Hybrid SWB 10 ms
        (15 << 3 | 0b000, .hybrid, 960, false),  // Hybrid FB 20 ms (what opusenc sent in the fixture)
        (16 << 3 | 0b000, .celt, 120, false),  // CELT NB 2.5 ms
        (31 << 3 | 0b100, .celt, 960, true),  // CELT FB 20 ms, stereo
    ]

    @Test(arguments: tocs)
    func tocGivesModeFrameDurationAndChannels(_ byte: UInt8, _ mode: OpusTOC.Mode, _ samplesPerFrame: Int, _ stereo: Bool) {
        let toc = OpusTOC(byte)
        #expect(toc.mode == mode)
        #expect(toc.samplesPerFrame == samplesPerFrame)
        #expect(toc.isStereo == stereo)
    }

    /// Packets (TOC, then frame bytes) and the samples they last.
    static let packets: [(bytes: [UInt8], frames: Int, samples: Int)] = [
        ([0x78], 1, 960),  // code 0, no data: a DTX packet of 20 ms
        ([0x78, 1, 2, 3], 1, 960),  // code 0: one 20 ms frame
        ([0x79, 1, 2, 3, 4], 2, 1_920),  // code 1: two equal 20 ms frames
        ([0x7A, 1, 9, 9], 2, 1_920),  // code 2: first frame 1 byte, then the second
        ([0x7B, 0x03, 1, 2, 3], 3, 2_880),  // code 3: M=3 frames of 20 ms, CBR
        ([0x1B, 0x02, 1, 2], 2, 5_760),  // SILK 60 ms, code 3, M=2: exactly 120 ms
    ]

    @Test(arguments: packets)
    func payloadCountsFramesAndSamples(_ bytes: [UInt8], _ frames: Int, _ samples: Int) throws {
        let payload = try OpusRTPPayload(parsing: bytes)
        #expect(payload.frameCount == frames)
        #expect(payload.sampleCount == samples)
        #expect(payload.serialize() == bytes)
        #expect(try OpusRTPPayload(parsing: payload.serialize()) == payload)
    }

    @Test func timestampsAdvanceByEachPacketsSamplesAt48kHzAcrossTheWrap() throws {
        var packetizer = OpusPacketizer(firstTimestamp: RTPTimestamp(UInt32.max - 1_000))
        let first = try packetizer.packetize([0x78, 1, 2])  // 20 ms
        let second = try packetizer.packetize([0x7B, 0x03, 1])  // 60 ms
        let third = try packetizer.packetize([0x78])
        #expect(first.payload == [0x78, 1, 2])
        #expect(first.timestamp == RTPTimestamp(UInt32.max - 1_000))
        #expect(second.timestamp == RTPTimestamp(UInt32.max - 40))
        #expect(third.timestamp == RTPTimestamp(2_839))
    }

    @Test func aMalformedPacketDoesNotAdvanceTheTimestamp() {
        var packetizer = OpusPacketizer(firstTimestamp: RTPTimestamp(5))
        #expect(throws: WireError.self) { try packetizer.packetize([]) }
        #expect(packetizer.nextTimestamp == RTPTimestamp(5))
    }

    private func parseError(_ bytes: [UInt8]) -> WireError? {
        do {
            _ = try OpusRTPPayload(parsing: bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func emptyPayloadIsTruncatedAtTheTOC() {
        #expect(parseError([]) == .truncated(field: "Opus TOC", needed: 1, available: 0))
    }

    @Test func codeOneWithFramesOfUnequalSizeIsInvalid() {
        #expect(
            parseError([0x79, 1, 2, 3]) == .invalidValue(field: "Opus frames", reason: "code 1 needs two frames of equal size"))
    }

    @Test func codeTwoWithoutAFrameLengthIsTruncated() {
        #expect(parseError([0x7A]) == .truncated(field: "Opus frame length", needed: 1, available: 0))
    }

    @Test func codeThreeWithoutAFrameCountIsTruncated() {
        #expect(parseError([0x7B]) == .truncated(field: "Opus frame count", needed: 1, available: 0))
    }

    @Test func codeThreeWithZeroFramesIsInvalid() {
        #expect(parseError([0x7B, 0xC0]) == .invalidValue(field: "Opus frame count", reason: "must be at least 1"))
    }

    @Test func moreThan120MillisecondsIsInvalid() {
        #expect(
            parseError([0x7B, 0x07, 1])
                == .invalidValue(field: "Opus frame count", reason: "7 frames of 960 samples exceed 120 ms"))
    }
}
