import ParleyRTP
import ParleyWire
import Testing

/// Byte fixtures built by hand from the RFC layouts, one 32-bit word per row. Shared by the RTCP tests
/// and the property test's mutation corpus.
enum RTCPFixture {
    static let senderReport: [UInt8] = [
        0x81, 0xc8, 0x00, 0x0c,  // V=2 P=0 RC=1, PT=200 SR, length=12 (52 bytes)
        0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC 0x902F9E2E
        0xda, 0x8b, 0xd1, 0xfc,  // NTP timestamp, seconds 0xDA8BD1FC
        0xdd, 0xdd, 0xa0, 0x5a,  // NTP timestamp, fraction 0xDDDDA05A
        0xaa, 0xf4, 0xed, 0xd5,  // RTP timestamp 0xAAF4EDD5
        0x00, 0x00, 0x00, 0x01,  // sender's packet count 1
        0x00, 0x00, 0x00, 0x02,  // sender's octet count 2
        0xbc, 0x5e, 0x9a, 0x40,  // report block: SSRC 0xBC5E9A40
        0x00, 0x00, 0x00, 0x00,  //   fraction lost 0, cumulative lost 0
        0x00, 0x00, 0x46, 0xe1,  //   extended highest sequence 0x46E1 = 18145
        0x00, 0x00, 0x01, 0x11,  //   jitter 0x111 = 273
        0x09, 0xf3, 0x64, 0x32,  //   LSR 0x09F36432
        0x00, 0x02, 0x4a, 0x79,  //   DLSR 0x24A79 = 150137 / 65536 s ≈ 2.29 s
    ]

    static let receiverReport: [UInt8] = [
        0x81, 0xc9, 0x00, 0x07,  // V=2 P=0 RC=1, PT=201 RR, length=7 (32 bytes)
        0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC 0x902F9E2E
        0xbc, 0x5e, 0x9a, 0x40,  // report block: SSRC 0xBC5E9A40
        0x40, 0xff, 0xff, 0xfe,  //   fraction lost 0x40 = 64/256, cumulative lost 0xFFFFFE = −2
        0x00, 0x01, 0x00, 0x05,  //   extended highest sequence: 1 wrap, 5 → 65541
        0x00, 0x00, 0x00, 0x2a,  //   jitter 42
        0x12, 0x34, 0x56, 0x78,  //   LSR 0x12345678
        0x00, 0x01, 0x80, 0x00,  //   DLSR 0x18000 = 1.5 s
    ]

    static let sourceDescription: [UInt8] = [
        0x82, 0xca, 0x00, 0x06,  // V=2 P=0 SC=2, PT=202 SDES, length=6 (28 bytes)
        0x90, 0x2f, 0x9e, 0x2e,  // chunk 1: SSRC 0x902F9E2E
        0x01, 0x06, 0x70, 0x61,  //   CNAME, length 6, "pa"
        0x72, 0x6c, 0x65, 0x79,  //   "rley"
        0x06, 0x01, 0x78, 0x00,  //   TOOL, length 1, "x"; item type 0 ends the list on the word boundary
        0x11, 0x22, 0x33, 0x44,  // chunk 2: SSRC 0x11223344
        0x00, 0x00, 0x00, 0x00,  //   no items: end of list, padded to the word
    ]

    static let bye: [UInt8] = [
        0x82, 0xcb, 0x00, 0x04,  // V=2 P=0 SC=2, PT=203 BYE, length=4 (20 bytes)
        0x90, 0x2f, 0x9e, 0x2e,  // SSRC 0x902F9E2E
        0xbc, 0x5e, 0x9a, 0x40,  // SSRC 0xBC5E9A40
        0x05, 0x64, 0x6f, 0x6e,  // reason length 5, "don"
        0x65, 0x21, 0x00, 0x00,  // "e!", two zero bytes to the word boundary
    ]

    static let genericNACK: [UInt8] = [
        0x81, 0xcd, 0x00, 0x04,  // V=2 P=0 FMT=1, PT=205 RTPFB, length=4 (20 bytes)
        0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC 0x902F9E2E
        0x4b, 0xc4, 0xfc, 0xb4,  // media SSRC 0x4BC4FCB4
        0xff, 0xfe, 0x00, 0x05,  // PID 65534, BLP 0b101: 65534+1 = 65535 and 65534+3 = 1 (wrapped) lost too
        0x00, 0x64, 0x80, 0x00,  // PID 100, BLP bit 15: 100+16 = 116 lost too
    ]

    static let pictureLossIndication: [UInt8] = [
        0x81, 0xce, 0x00, 0x02,  // V=2 P=0 FMT=1, PT=206 PSFB, length=2 (12 bytes)
        0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC 0x902F9E2E
        0x4b, 0xc4, 0xfc, 0xb4,  // media SSRC 0x4BC4FCB4
    ]

    static let fullIntraRequest: [UInt8] = [
        0x84, 0xce, 0x00, 0x06,  // V=2 P=0 FMT=4, PT=206 PSFB, length=6 (28 bytes)
        0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC 0x902F9E2E
        0x00, 0x00, 0x00, 0x00,  // media SSRC: unused, 0
        0x4b, 0xc4, 0xfc, 0xb4,  // FCI 1: SSRC 0x4BC4FCB4
        0x07, 0x00, 0x00, 0x00,  //   seq nr 7, reserved
        0x12, 0x34, 0x56, 0x78,  // FCI 2: SSRC 0x12345678
        0xff, 0x00, 0x00, 0x00,  //   seq nr 255, reserved
    ]

    /// 37 statuses in all three chunk kinds, small, large and negative deltas, and P-bit padding.
    static let transportFeedback: [UInt8] = [
        0xaf, 0xcd, 0x00, 0x08,  // V=2 P=1 FMT=15, PT=205 RTPFB, length=8 (36 bytes)
        0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC 0x902F9E2E
        0x4b, 0xc4, 0xfc, 0xb4,  // media SSRC 0x4BC4FCB4
        0xff, 0xfe, 0x00, 0x25,  // base sequence 65534, packet status count 37
        0xff, 0xff, 0xfe, 0x2a,  // reference time 0xFFFFFE = −2 (× 64 ms), feedback packet count 42
        0xb4, 0x81, 0x00, 0x14,  // 1-bit vector 1,1,0,1,0,0,1,0,0,0,0,0,0,1 (T=1 S=0); run: T=0 S=0 (lost) × 20
        0xe4, 0x00, 0x00, 0xff,  // 2-bit vector 2,1,0 (T=1 S=1, rest 0); deltas 0, 255 ticks
        0x01, 0x02, 0x64, 0xff,  // deltas 1, 2, 100; large delta 0xFFFF = −1 (high byte…
        0xff, 0x0a, 0x00, 0x02,  // …low byte), delta 10; padding 0x00, padding count 2
    ]

    static let application: [UInt8] = [
        0x83, 0xcc, 0x00, 0x02,  // V=2 P=0 subtype=3, PT=204 APP, length=2 (12 bytes)
        0x90, 0x2f, 0x9e, 0x2e,  // SSRC 0x902F9E2E
        0x50, 0x52, 0x4c, 0x59,  // name "PRLY"
    ]

    static let all: [[UInt8]] = [
        senderReport, receiverReport, sourceDescription, bye, genericNACK, pictureLossIndication,
        fullIntraRequest, transportFeedback, application,
    ]
}

/// Checks a fixture: it parses to `expected` (alone and as a compound), serializes back byte for byte,
/// `serializedSize` agrees, and parse → serialize → parse is the identity.
func expectFixture<Packet: RTCPPacketBody>(
    _ bytes: [UInt8], parsesTo expected: Packet, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let parsed = try Packet(parsing: bytes)
    #expect(parsed == expected, sourceLocation: sourceLocation)
    #expect(expected.serialize() == bytes, sourceLocation: sourceLocation)
    #expect(expected.serializedSize == bytes.count, sourceLocation: sourceLocation)
    #expect(try Packet(parsing: parsed.serialize()) == parsed, sourceLocation: sourceLocation)
    let compound = try RTCPCompoundPacket(parsing: bytes)
    #expect(compound.packets.count == 1, sourceLocation: sourceLocation)
    #expect(compound.serialize() == bytes, sourceLocation: sourceLocation)
}

@Suite struct RTCPCompoundPacketTests {
    @Test func senderReportWithSourceDescriptionParsesAsOneCompound() throws {
        let bytes = RTCPFixture.senderReport + RTCPFixture.sourceDescription
        let compound = try RTCPCompoundPacket(parsing: bytes)
        #expect(compound.packets.map(\.header.packetType) == [200, 202])
        #expect(!compound.isReducedSize)
        #expect(compound.serialize() == bytes)
        #expect(compound.serializedSize == 80)
        #expect(try RTCPCompoundPacket(parsing: compound.serialize()) == compound)
    }

    @Test func everyFixtureParsesInOneCompound() throws {
        let bytes = RTCPFixture.all.flatMap { $0 }
        let compound = try RTCPCompoundPacket(parsing: bytes)
        #expect(compound.packets.count == RTCPFixture.all.count)
        #expect(compound.serialize() == bytes)
    }

    @Test func reducedSizeCompoundIsAccepted() throws {
        let compound = try RTCPCompoundPacket(parsing: RTCPFixture.pictureLossIndication + RTCPFixture.genericNACK)
        #expect(compound.isReducedSize)
        guard case .pictureLossIndication = compound.packets.first, case .genericNACK = compound.packets.last else {
            Issue.record("expected PLI then NACK, got \(compound.packets)")
            return
        }
    }

    @Test func applicationPacketIsKeptOpaque() throws {
        let expected = RTCPUnknownPacket(
            header: RTCPHeader(count: 3, packetType: 204), content: [0x90, 0x2f, 0x9e, 0x2e, 0x50, 0x52, 0x4c, 0x59])
        try expectFixture(RTCPFixture.application, parsesTo: expected)
        try expectFixture(RTCPFixture.application, parsesTo: RTCPPacket.unknown(expected))
    }

    @Test func unhandledFeedbackFormatIsKeptOpaque() throws {
        let remb: [UInt8] = [
            0x8f, 0xce, 0x00, 0x03,  // V=2 P=0 FMT=15 (application layer), PT=206 PSFB, length=3
            0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC
            0x00, 0x00, 0x00, 0x00,  // media SSRC 0
            0x52, 0x45, 0x4d, 0x42,  // "REMB"
        ]
        let packet = try RTCPPacket(parsing: remb)
        #expect(packet == .unknown(RTCPUnknownPacket(header: RTCPHeader(count: 15, packetType: 206), content: remb[4...])))
        #expect(packet.serialize() == remb)
    }

    @Test func paddingIsRemovedAndNotWrittenBackWhenTheContentIsWholeWords() throws {
        let padded: [UInt8] = [
            0xa0, 0xc9, 0x00, 0x02,  // V=2 P=1 RC=0, PT=201 RR, length=2 (12 bytes)
            0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC
            0x00, 0x00, 0x00, 0x04,  // 4 bytes of padding, the last one the count
        ]
        let report = try RTCPReceiverReport(parsing: padded)
        #expect(report == RTCPReceiverReport(ssrc: SSRC(0x902f_9e2e)))
        #expect(report.serialize() == [0x80, 0xc9, 0x00, 0x01, 0x90, 0x2f, 0x9e, 0x2e])
    }

    @Test func paddingOnAPacketBeforeTheLastIsAccepted() throws {
        let paddedPLI: [UInt8] = [
            0xa1, 0xce, 0x00, 0x03,  // V=2 P=1 FMT=1, PT=206 PSFB, length=3 (16 bytes)
            0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC
            0x4b, 0xc4, 0xfc, 0xb4,  // media SSRC
            0x00, 0x00, 0x00, 0x04,  // padding, count 4
        ]
        let compound = try RTCPCompoundPacket(parsing: paddedPLI + RTCPFixture.genericNACK)
        #expect(compound.serialize() == RTCPFixture.pictureLossIndication + RTCPFixture.genericNACK)
    }

    @Test func paddingCountLargerThanThePacketIsRejected() {
        let bytes: [UInt8] = [
            0xa0, 0xc9, 0x00, 0x01,  // V=2 P=1 RC=0, PT=201 RR, length=1 (8 bytes)
            0x90, 0x2f, 0x9e, 0x09,  // last byte, the padding count, says 9 of the 4 content bytes
        ]
        #expect(throws: WireError.lengthMismatch(field: "RTCP padding count", declared: 9, actual: 4)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func paddingCountOfZeroIsRejected() {
        let bytes: [UInt8] = [0xa0, 0xc9, 0x00, 0x01, 0x90, 0x2f, 0x9e, 0x00]  // P=1, count byte 0
        #expect(throws: WireError.lengthMismatch(field: "RTCP padding count", declared: 0, actual: 4)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func paddingBitOnAnEmptyPacketIsRejected() {
        #expect(throws: WireError.truncated(field: "RTCP padding count", needed: 1, available: 0)) {
            try RTCPCompoundPacket(parsing: [0xa0, 0xc9, 0x00, 0x00])  // P=1, length 0: no count byte
        }
    }

    @Test func emptyDatagramIsRejected() {
        #expect(throws: WireError.truncated(field: "RTCP version/P/count", needed: 1, available: 0)) {
            try RTCPCompoundPacket(parsing: [UInt8]())
        }
    }

    @Test func headerCutShortIsRejected() {
        #expect(throws: WireError.truncated(field: "RTCP length", needed: 2, available: 1)) {
            try RTCPCompoundPacket(parsing: [0x81, 0xc9, 0x00])
        }
    }

    @Test func versionOtherThanTwoIsRejected() {
        var bytes = RTCPFixture.receiverReport
        bytes[0] = 0x41  // V=1
        #expect(throws: WireError.invalidValue(field: "RTCP version", reason: "must be 2, got 1")) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func rtpPacketIsNotTakenForRTCP() {
        let rtp: [UInt8] = [0x80, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]  // V=2, PT=96
        #expect(throws: WireError.invalidValue(field: "RTCP packet type", reason: "must be in 192…223, got 96")) {
            try RTCPCompoundPacket(parsing: rtp)
        }
    }

    @Test func laterPacketWithBadVersionRejectsTheCompound() {
        var second = RTCPFixture.pictureLossIndication
        second[0] = 0xc1  // V=3
        #expect(throws: WireError.invalidValue(field: "RTCP version", reason: "must be 2, got 3")) {
            try RTCPCompoundPacket(parsing: RTCPFixture.receiverReport + second)
        }
    }

    @Test func bytesAfterTheLastPacketAreRejected() {
        #expect(throws: WireError.truncated(field: "RTCP length", needed: 2, available: 0)) {
            try RTCPCompoundPacket(parsing: RTCPFixture.receiverReport + [0x80, 0xc9])
        }
    }

    @Test func lengthFieldPastTheDatagramIsRejected() {
        var bytes = RTCPFixture.receiverReport + RTCPFixture.pictureLossIndication
        bytes[35] = 0x03  // PLI claims 16 bytes, 12 are present
        #expect(throws: WireError.lengthMismatch(field: "RTCP length", declared: 16, actual: 12)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func singlePacketParserRejectsBytesAfterThePacket() {
        #expect(throws: WireError.lengthMismatch(field: "RTCP length", declared: 12, actual: 24)) {
            try RTCPPictureLossIndication(parsing: RTCPFixture.pictureLossIndication + RTCPFixture.pictureLossIndication)
        }
    }

    @Test func typedParserRejectsAnotherPacketType() {
        #expect(throws: WireError.invalidValue(field: "RTCP packet type", reason: "expected 200, got 201")) {
            try RTCPSenderReport(parsing: RTCPFixture.receiverReport)
        }
    }

    @Test func typedParserRejectsAnotherFeedbackFormat() {
        #expect(throws: WireError.invalidValue(field: "RTCP feedback message type", reason: "expected 4, got 1")) {
            try RTCPFullIntraRequest(parsing: RTCPFixture.pictureLossIndication)
        }
    }
}
