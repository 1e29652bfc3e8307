import ParleyRTP
import ParleyWire
import Testing

@Suite struct RTCPFeedbackTests {
    static let nack = RTCPGenericNACK(senderSSRC: SSRC(0x902f_9e2e), mediaSSRC: SSRC(0x4bc4_fcb4), entries: [
        .init(packetID: SequenceNumber(65534), lostBitmask: 0b101),
        .init(packetID: SequenceNumber(100), lostBitmask: 0x8000),
    ])

    @Test func genericNACKFixture() throws {
        try expectFixture(RTCPFixture.genericNACK, parsesTo: Self.nack)
        try expectFixture(RTCPFixture.genericNACK, parsesTo: RTCPPacket.genericNACK(Self.nack))
    }

    @Test func genericNACKExpandsToItsLostSequenceNumbers() {
        #expect(Self.nack.lostSequenceNumbers.map(\.rawValue) == [65534, 65535, 1, 100, 116])
    }

    @Test func genericNACKCompressesLostSequenceNumbersAcrossTheWrap() {
        let lost = [65534, 65535, 1, 1, 100, 116].map { SequenceNumber(UInt16($0)) }
        let nack = RTCPGenericNACK(senderSSRC: SSRC(0x902f_9e2e), mediaSSRC: SSRC(0x4bc4_fcb4), lostSequenceNumbers: lost)
        #expect(nack == Self.nack)
        #expect(nack.serialize() == RTCPFixture.genericNACK)
    }

    @Test func genericNACKStartsANewEntryBeyond16OrBehind() {
        let lost = [10, 27, 28, 5].map { SequenceNumber(UInt16($0)) }
        let nack = RTCPGenericNACK(senderSSRC: SSRC(1), mediaSSRC: SSRC(2), lostSequenceNumbers: lost)
        #expect(nack.entries == [
            .init(packetID: SequenceNumber(10)),  // 27 is 17 after 10: too far for the bitmask
            .init(packetID: SequenceNumber(27), lostBitmask: 0b1),
            .init(packetID: SequenceNumber(5)),  // behind the current entry
        ])
        #expect(nack.lostSequenceNumbers == lost)
    }

    @Test func genericNACKWithHalfAnEntryIsRejected() {
        let bytes: [UInt8] = [
            0xa1, 0xcd, 0x00, 0x03,  // V=2 P=1 FMT=1, PT=205 RTPFB, length=3 (16 bytes)
            0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC
            0x4b, 0xc4, 0xfc, 0xb4,  // media SSRC
            0x00, 0x64, 0x00, 0x02,  // PID 100, then 2 bytes of padding where its BLP should be
        ]
        #expect(throws: WireError.truncated(field: "NACK BLP", needed: 2, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func genericNACKWithoutMediaSSRCIsRejected() {
        let bytes: [UInt8] = [0x81, 0xcd, 0x00, 0x01, 0x90, 0x2f, 0x9e, 0x2e]  // length 1: sender SSRC only
        #expect(throws: WireError.truncated(field: "feedback media SSRC", needed: 4, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func pictureLossIndicationFixture() throws {
        let expected = RTCPPictureLossIndication(senderSSRC: SSRC(0x902f_9e2e), mediaSSRC: SSRC(0x4bc4_fcb4))
        try expectFixture(RTCPFixture.pictureLossIndication, parsesTo: expected)
        try expectFixture(RTCPFixture.pictureLossIndication, parsesTo: RTCPPacket.pictureLossIndication(expected))
    }

    @Test func pictureLossIndicationWithFeedbackControlInformationIsRejected() {
        var bytes = RTCPFixture.pictureLossIndication + [0, 0, 0, 0]
        bytes[3] = 3  // length 3: a word after the SSRCs
        #expect(throws: WireError.lengthMismatch(field: "PLI length", declared: 12, actual: 8)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func pictureLossIndicationWithoutSSRCsIsRejected() {
        #expect(throws: WireError.truncated(field: "feedback sender SSRC", needed: 4, available: 0)) {
            try RTCPCompoundPacket(parsing: [0x81, 0xce, 0x00, 0x00])
        }
    }

    @Test func fullIntraRequestFixture() throws {
        let expected = RTCPFullIntraRequest(senderSSRC: SSRC(0x902f_9e2e), entries: [
            .init(ssrc: SSRC(0x4bc4_fcb4), sequenceNumber: 7),
            .init(ssrc: SSRC(0x1234_5678), sequenceNumber: 255),
        ])
        try expectFixture(RTCPFixture.fullIntraRequest, parsesTo: expected)
        try expectFixture(RTCPFixture.fullIntraRequest, parsesTo: RTCPPacket.fullIntraRequest(expected))
    }

    @Test func fullIntraRequestReservedBitsAreIgnored() throws {
        var bytes = RTCPFixture.fullIntraRequest
        bytes[17] = 0xff  // reserved bits of entry 1
        let request = try RTCPFullIntraRequest(parsing: bytes)
        #expect(request.entries.map(\.sequenceNumber) == [7, 255])
        #expect(request.serialize() == RTCPFixture.fullIntraRequest)
    }

    @Test func fullIntraRequestWithHalfAnEntryIsRejected() {
        var bytes = Array(RTCPFixture.fullIntraRequest.prefix(16))
        bytes[3] = 3  // length 3: an entry's SSRC without its sequence number
        #expect(throws: WireError.truncated(field: "FIR sequence number", needed: 1, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }
}
