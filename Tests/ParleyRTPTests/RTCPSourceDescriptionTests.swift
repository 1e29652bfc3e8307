import ParleyRTP
import ParleyWire
import Testing

@Suite struct RTCPSourceDescriptionTests {
    @Test func sourceDescriptionFixture() throws {
        let expected = RTCPSourceDescription(chunks: [
            .init(source: SSRC(0x902f_9e2e), items: [.cname("parley"), .other(type: 6, value: [0x78])]),
            .init(source: SSRC(0x1122_3344), items: []),
        ])
        try expectFixture(RTCPFixture.sourceDescription, parsesTo: expected)
        try expectFixture(RTCPFixture.sourceDescription, parsesTo: RTCPPacket.sourceDescription(expected))
        #expect(expected.chunks.map(\.cname) == ["parley", nil])
    }

    @Test func itemsFillingAWordGetAFullWordOfZeros() throws {
        let bytes: [UInt8] = [
            0x81, 0xca, 0x00, 0x03,  // V=2 P=0 SC=1, PT=202 SDES, length=3 (16 bytes)
            0x00, 0x00, 0x00, 0x07,  // SSRC 7
            0x01, 0x02, 0xc3, 0xa9,  // CNAME, length 2, "é" (UTF-8 C3 A9)
            0x00, 0x00, 0x00, 0x00,  // end of items and padding
        ]
        try expectFixture(bytes, parsesTo: RTCPSourceDescription(chunks: [.init(source: SSRC(7), items: [.cname("é")])]))
    }

    @Test func sourceDescriptionItemRunningPastItsPacketIsRejected() {
        var bytes = RTCPFixture.sourceDescription
        bytes[9] = 0x20  // CNAME length 32; 18 bytes remain
        #expect(throws: WireError.truncated(field: "SDES item value", needed: 32, available: 18)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func sourceDescriptionChunkWithoutEndOfItemsIsRejected() {
        let bytes: [UInt8] = [
            0x81, 0xca, 0x00, 0x02,  // V=2 P=0 SC=1, PT=202 SDES, length=2 (12 bytes)
            0x00, 0x00, 0x00, 0x07,  // SSRC 7
            0x01, 0x02, 0x61, 0x62,  // CNAME "ab", then the packet ends without a zero byte
        ]
        #expect(throws: WireError.truncated(field: "SDES item type", needed: 1, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func sourceDescriptionCNAMEThatIsNotUTF8IsRejected() {
        var bytes = RTCPFixture.sourceDescription
        bytes[10] = 0xff  // "p" → 0xFF, never valid UTF-8
        #expect(throws: WireError.invalidValue(field: "SDES CNAME", reason: "not UTF-8")) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func sourceDescriptionChunkPaddingThatIsNotZeroIsRejected() {
        var bytes = RTCPFixture.sourceDescription
        bytes[27] = 0x01  // last padding byte of chunk 2
        #expect(throws: WireError.invalidValue(field: "SDES chunk padding", reason: "must be zero bytes")) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func sourceDescriptionWithBytesAfterItsChunksIsRejected() {
        var bytes = RTCPFixture.sourceDescription
        bytes[0] = 0x81  // SC=1, but a second chunk follows
        #expect(throws: WireError.lengthMismatch(field: "SDES source count", declared: 24, actual: 16)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func sourceDescriptionWithMoreChunksThanBytesIsRejected() {
        var bytes = RTCPFixture.sourceDescription
        bytes[0] = 0x83  // SC=3, two chunks present
        #expect(throws: WireError.truncated(field: "SDES chunk SSRC", needed: 4, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }
}

@Suite struct RTCPByeTests {
    @Test func byeFixture() throws {
        let expected = RTCPBye(sources: [SSRC(0x902f_9e2e), SSRC(0xbc5e_9a40)], reason: "done!")
        try expectFixture(RTCPFixture.bye, parsesTo: expected)
        try expectFixture(RTCPFixture.bye, parsesTo: RTCPPacket.bye(expected))
    }

    @Test func byeWithoutReason() throws {
        let bytes: [UInt8] = [
            0x81, 0xcb, 0x00, 0x01,  // V=2 P=0 SC=1, PT=203 BYE, length=1 (8 bytes)
            0x90, 0x2f, 0x9e, 0x2e,  // SSRC 0x902F9E2E
        ]
        try expectFixture(bytes, parsesTo: RTCPBye(sources: [SSRC(0x902f_9e2e)]))
    }

    @Test func byeWithEmptyReasonKeepsIt() throws {
        let bytes: [UInt8] = [
            0x80, 0xcb, 0x00, 0x01,  // V=2 P=0 SC=0, PT=203 BYE, length=1 (8 bytes)
            0x00, 0x00, 0x00, 0x00,  // reason length 0, three zero bytes of padding
        ]
        try expectFixture(bytes, parsesTo: RTCPBye(sources: [], reason: ""))
    }

    @Test func byeReasonLongerThanItsPacketIsRejected() {
        var bytes = RTCPFixture.bye
        bytes[12] = 9  // reason length 9; 7 bytes remain
        #expect(throws: WireError.truncated(field: "BYE reason", needed: 9, available: 7)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func byeWithBytesAfterItsReasonIsRejected() {
        var bytes = RTCPFixture.bye
        bytes[12] = 3  // reason "don", then "e!" where only zero padding may be
        #expect(throws: WireError.lengthMismatch(field: "BYE reason padding", declared: 16, actual: 12)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func byeWithMoreSourcesThanBytesIsRejected() {
        var bytes = Array(RTCPFixture.bye.prefix(8))
        bytes[3] = 1  // length 1 word: one SSRC, while SC says 2
        #expect(throws: WireError.truncated(field: "BYE SSRC", needed: 4, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func byeReasonThatIsNotUTF8IsRejected() {
        var bytes = RTCPFixture.bye
        bytes[13] = 0xc3  // "d" → a lead byte followed by "o", not a continuation byte
        #expect(throws: WireError.invalidValue(field: "BYE reason", reason: "not UTF-8")) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }
}
