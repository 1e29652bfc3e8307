import ParleyPayload
import ParleyRTP
import ParleyWire
import Testing

@Suite struct RTXTests {
    static let originalBytes: [UInt8] = [
        0x90, 0xE0, 0x12, 0x34,  // V=2 P=0 X=1 CC=0 | M=1 PT=96 | sequence number 0x1234
        0x00, 0x01, 0x5F, 0x90,  // timestamp 90000
        0x11, 0x22, 0x33, 0x44,  // SSRC 0x11223344
        0xBE, 0xDE, 0x00, 0x01,  // one-byte extensions, 1 word
        0x10, 0xAB, 0x00, 0x00,  // id 1, 1 byte: 0xAB; padding
        0x90, 0x80, 0x81, 0x23,  // VP8 payload: descriptor with 15-bit PictureID 0x123 …
        0xDE, 0xAD, 0xBE, 0xEF,  // … and VP8 bytes
    ]

    static let retransmissionBytes: [UInt8] = [
        0x90, 0xE1, 0x00, 0x07,  // V=2 X=1 | M=1 PT=97 (RTX) | RTX sequence number 7
        0x00, 0x01, 0x5F, 0x90,  // timestamp 90000 (kept)
        0x55, 0x66, 0x77, 0x88,  // RTX SSRC 0x55667788
        0xBE, 0xDE, 0x00, 0x01,  // extensions kept
        0x10, 0xAB, 0x00, 0x00,
        0x12, 0x34, 0x90, 0x80,  // OSN 0x1234 | original payload …
        0x81, 0x23, 0xDE, 0xAD,
        0xBE, 0xEF,
    ]

    static let mapping = RTXMapping(originalPayloadTypes: [97: 96], originalSSRCs: [SSRC(0x5566_7788): SSRC(0x1122_3344)])

    @Test func wrapsAPacketForRetransmission() throws {
        let original = try RTPPacket(parsing: Self.originalBytes)
        let retransmission = RTXMapping.wrap(original, ssrc: SSRC(0x5566_7788), payloadType: 97, sequenceNumber: SequenceNumber(7))
        #expect(retransmission.serialize() == Self.retransmissionBytes)
    }

    @Test func unwrapsARetransmissionToTheOriginalPacket() throws {
        let retransmission = try RTPPacket(parsing: Self.retransmissionBytes)
        let original = try Self.mapping.unwrap(retransmission)
        #expect(original.serialize() == Self.originalBytes)
        #expect(original == (try RTPPacket(parsing: Self.originalBytes)))
    }

    @Test func wrapDropsTheOriginalsPadding() throws {
        var original = try RTPPacket(parsing: Self.originalBytes)
        original.paddingCount = 4
        let retransmission = RTXMapping.wrap(original, ssrc: SSRC(0x5566_7788), payloadType: 97, sequenceNumber: SequenceNumber(7))
        #expect(retransmission.serialize() == Self.retransmissionBytes)
    }

    @Test func rtxPayloadParseSerializeParseIsIdentity() throws {
        let payload = try RTXPayload(parsing: [0xFF, 0xFE, 1, 2, 3][...])
        #expect(payload.originalSequenceNumber == SequenceNumber(0xFFFE))
        #expect(payload.originalPayload == [1, 2, 3])
        #expect(payload.serializedSize == 5)
        #expect(try RTXPayload(parsing: payload.serialize()[...]) == payload)
    }

    @Test func anUnknownPayloadTypeIsNotUnwrapped() throws {
        var retransmission = try RTPPacket(parsing: Self.retransmissionBytes)
        retransmission.header.payloadType = 98
        #expect(throws: WireError.invalidValue(field: "RTX payload type", reason: "98 is not an RTX payload type")) {
            try Self.mapping.unwrap(retransmission)
        }
    }

    @Test func anUnknownSSRCIsNotUnwrapped() throws {
        var retransmission = try RTPPacket(parsing: Self.retransmissionBytes)
        retransmission.header.ssrc = SSRC(1)
        #expect(throws: WireError.invalidValue(field: "RTX SSRC", reason: "0x1 is not an RTX stream")) {
            try Self.mapping.unwrap(retransmission)
        }
    }

    @Test func aPayloadShorterThanTheOriginalSequenceNumberIsTruncated() throws {
        var retransmission = try RTPPacket(parsing: Self.retransmissionBytes)
        retransmission.payload = [0x12]
        #expect(throws: WireError.truncated(field: "RTX original sequence number", needed: 2, available: 1)) {
            try Self.mapping.unwrap(retransmission)
        }
    }

    @Test func aRetransmittedVP8PacketCompletesItsFrame() throws {
        var packetizer = VP8Packetizer(maximumPayloadSize: 400)
        let packets = videoHeader(sequenceNumber: 65_535).packets(carrying: packetizer.packetize(patternFrame(1_000)))
        var assembler = VP8FrameAssembler()
        _ = assembler.insert(packets[0])
        _ = assembler.insert(packets[2])
        #expect(assembler.missingSequenceNumbers == [SequenceNumber(0)])
        let retransmission = RTXMapping.wrap(packets[1], ssrc: SSRC(0x5566_7788), payloadType: 97, sequenceNumber: SequenceNumber(1))
        let mapping = RTXMapping(originalPayloadTypes: [97: 96], originalSSRCs: [SSRC(0x5566_7788): SSRC(0x1234)])
        let recovered = try mapping.unwrap(RTPPacket(parsing: retransmission.serialize()))
        guard case .completed(let frame) = assembler.insert(recovered) else {
            Issue.record("the retransmitted packet should complete the frame")
            return
        }
        #expect(frame.data == patternFrame(1_000))
    }
}
