import ParleyRTP
import ParleyWire
import Testing

/// Padding, two CSRCs, one-byte extensions (TWCC, abs-send-time, frame marking), payload.
let rtpWithEverything: [UInt8] = [
    0xB2, 0xE0, 0x12, 0x34,  // V=2 P=1 X=1 CC=2 | M=1 PT=96 | sequence number 0x1234
    0xDE, 0xAD, 0xBE, 0xEF,  // timestamp 0xDEADBEEF
    0x11, 0x22, 0x33, 0x44,  // SSRC 0x11223344
    0xAA, 0xBB, 0xCC, 0xDD,  // CSRC 1
    0x01, 0x02, 0x03, 0x04,  // CSRC 2
    0xBE, 0xDE, 0x00, 0x03,  // one-byte extensions (0xBEDE), 3 words follow
    0x11, 0x00, 0x2A, 0x22,  // id 1 L=1: TWCC 42 | id 2 L=2 …
    0x12, 0x34, 0x56, 0x30,  // … abs-send-time 0x123456 | id 3 L=0 …
    0xA0, 0x00, 0x00, 0x00,  // … frame marking S|I | 3 padding bytes
    0xCA, 0xFE, 0xBA, 0xBE,  // payload
    0x00, 0x00, 0x00, 0x04,  // RTP padding, 4 bytes including the count
]

/// Two-byte extensions: an empty element and one with id 20, neither fits the one-byte form.
let rtpWithTwoByteExtensions: [UInt8] = [
    0x90, 0x60, 0x00, 0x01,  // V=2 P=0 X=1 CC=0 | M=0 PT=96 | sequence number 1
    0x00, 0x00, 0x00, 0x02,  // timestamp 2
    0x00, 0x00, 0x00, 0x03,  // SSRC 3
    0x10, 0x00, 0x00, 0x02,  // two-byte extensions (0x100, appbits 0), 2 words follow
    0x14, 0x00, 0x05, 0x03,  // id 20 length 0 | id 5 length 3 …
    0x01, 0x02, 0x03, 0x00,  // … data 01 02 03 | 1 padding byte
    0xFF,  // payload
]

@Suite struct RTPPacketTests {
    @Test func packetWithEveryOptionalPartParses() throws {
        let packet = try RTPPacket(parsing: rtpWithEverything)
        let header = packet.header
        #expect(header.marker && header.payloadType == 96 && header.hasPadding)
        #expect(header.sequenceNumber == SequenceNumber(0x1234))
        #expect(header.timestamp == RTPTimestamp(0xDEAD_BEEF))
        #expect(header.ssrc == SSRC(0x1122_3344))
        #expect(header.csrcs == [SSRC(0xAABB_CCDD), SSRC(0x0102_0304)])
        #expect(header.extensions.form == .oneByte)
        #expect(header.extensions.elements.map(\.id) == [1, 2, 3])
        #expect(Array(packet.payload) == [0xCA, 0xFE, 0xBA, 0xBE])
        #expect(packet.paddingCount == 4)
        let registry = RTPExtensionRegistry.parleyDefault
        #expect(try registry.value(TransportWideSequenceNumber.self, in: header.extensions)?.sequenceNumber == SequenceNumber(42))
        #expect(try registry.value(AbsoluteSendTime.self, in: header.extensions)?.fixedPoint == 0x12_3456)
        #expect(try registry.value(FrameMarking.self, in: header.extensions)
            == FrameMarking(startOfFrame: true, endOfFrame: false, isIndependent: true))
    }

    @Test func fixturesSerializeToTheSameBytes() throws {
        for fixture in [rtpWithEverything, rtpWithTwoByteExtensions] {
            let packet = try RTPPacket(parsing: fixture)
            #expect(packet.serialize() == fixture)
            #expect(packet.serializedSize == fixture.count)
        }
    }

    @Test func twoByteExtensionsParse() throws {
        let packet = try RTPPacket(parsing: rtpWithTwoByteExtensions)
        #expect(packet.header.extensions.form == .twoByte(appBits: 0))
        #expect(packet.header.extensions.elements == [
            RTPHeaderExtensionElement(id: 20, data: []), RTPHeaderExtensionElement(id: 5, data: [1, 2, 3]),
        ])
        #expect(Array(packet.payload) == [0xFF])
    }

    @Test func buildingAPacketAndParsingItGivesItBack() throws {
        var extensions = RTPHeaderExtensions()
        let registry = RTPExtensionRegistry.parleyDefault
        registry.set(TransportWideSequenceNumber(SequenceNumber(65_535)), in: &extensions)
        registry.set(FrameMarking(startOfFrame: true, endOfFrame: true, isIndependent: false), in: &extensions)
        let header = RTPHeader(
            marker: true, payloadType: 111, sequenceNumber: SequenceNumber(7), timestamp: RTPTimestamp(960),
            ssrc: SSRC(0xCAFE), extensions: extensions)
        let packet = RTPPacket(header: header, payload: [1, 2, 3], paddingCount: 3)
        var parsed = try RTPPacket(parsing: packet.serialize())
        #expect(parsed.header.hasPadding)
        parsed.header.hasPadding = false
        #expect(parsed == packet)
    }

    @Test func oneByteFormTurnsIntoTwoByteWhenAnElementDoesNotFit() throws {
        var header = RTPHeader(payloadType: 96, sequenceNumber: SequenceNumber(1), timestamp: RTPTimestamp(1), ssrc: SSRC(1))
        header.extensions.set(id: 1, data: [UInt8](repeating: 9, count: 17)[...])
        let bytes = RTPPacket(header: header, payload: []).serialize()
        #expect(bytes[12] == 0x10 && bytes[13] == 0x00)  // profile 0x1000
        let parsed = try RTPPacket(parsing: bytes)
        #expect(parsed.header.extensions[1].map(Array.init) == [UInt8](repeating: 9, count: 17))
    }

    @Test func oneByteIdFifteenStopsParsingTheBlock() throws {
        var bytes = Array(rtpWithTwoByteExtensions.prefix(12))
        bytes[0] = 0x90
        bytes += [
            0xBE, 0xDE, 0x00, 0x02,  // one-byte extensions, 2 words
            0x10, 0x07, 0xF0, 0x21,  // id 1 L=0: 07 | id 15: stop | (ignored) id 2 …
            0x00, 0x00, 0x00, 0x00,  // (ignored)
        ]
        let packet = try RTPPacket(parsing: bytes)
        #expect(packet.header.extensions.elements == [RTPHeaderExtensionElement(id: 1, data: [7])])
    }

    @Test func oneByteIdZeroIsOnePaddingByteWhateverItsLength() throws {
        var bytes = Array(rtpWithTwoByteExtensions.prefix(12))
        bytes[0] = 0x90
        bytes += [
            0xBE, 0xDE, 0x00, 0x01,  // one-byte extensions, 1 word
            0x05, 0x10, 0x07, 0x00,  // id 0 (padding, L ignored) | id 1 L=0: 07 | padding
        ]
        let packet = try RTPPacket(parsing: bytes)
        #expect(packet.header.extensions.elements == [RTPHeaderExtensionElement(id: 1, data: [7])])
    }

    @Test func extensionWithAnotherProfileIsKeptOpaque() throws {
        var bytes = Array(rtpWithTwoByteExtensions.prefix(12))
        bytes[0] = 0x90
        bytes += [
            0xAB, 0xCD, 0x00, 0x01,  // profile 0xABCD (not RFC 8285), 1 word
            0x01, 0x02, 0x03, 0x04,  // opaque data
        ]
        let packet = try RTPPacket(parsing: bytes)
        #expect(packet.header.extensions.form == .generic(profile: 0xABCD))
        #expect(Array(packet.header.extensions.genericData) == [1, 2, 3, 4])
        #expect(packet.serialize() == bytes)
    }

    @Test func packetWithoutExtensionsOrPaddingHasTheMinimalForm() throws {
        let header = RTPHeader(payloadType: 0, sequenceNumber: SequenceNumber(0), timestamp: RTPTimestamp(0), ssrc: SSRC(0))
        let bytes = RTPPacket(header: header, payload: [0xAB]).serialize()
        #expect(bytes == [0x80, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xAB])
    }
}

@Suite struct RTPPacketErrorTests {
    @Test func emptyBufferIsTruncatedAtTheFirstByte() {
        #expect(throws: WireError.truncated(field: "version/P/X/CC", needed: 1, available: 0)) {
            try RTPPacket(parsing: [])
        }
    }

    @Test func headerShorterThanTwelveBytesIsTruncatedAtTheSSRC() {
        #expect(throws: WireError.truncated(field: "SSRC", needed: 4, available: 3)) {
            try RTPPacket(parsing: Array(rtpWithEverything.prefix(11)))
        }
    }

    @Test func missingCSRCIsTruncated() {
        #expect(throws: WireError.truncated(field: "CSRC", needed: 4, available: 2)) {
            try RTPPacket(parsing: Array(rtpWithEverything.prefix(18)))
        }
    }

    @Test func versionOtherThanTwoIsRejected() {
        var bytes = rtpWithEverything
        bytes[0] = 0x72  // V=1
        #expect(throws: WireError.invalidValue(field: "version", reason: "must be 2, got 1")) {
            try RTPPacket(parsing: bytes)
        }
    }

    @Test func extensionLongerThanThePacketIsTruncated() {
        var bytes = rtpWithEverything
        bytes[23] = 0x20  // 32 words declared
        #expect(throws: WireError.truncated(field: "header extension", needed: 128, available: 20)) {
            try RTPPacket(parsing: bytes)
        }
    }

    @Test func oneByteElementRunningPastTheBlockIsTruncated() {
        var bytes = rtpWithEverything
        bytes[31] = 0x3F  // id 3 now claims 16 bytes with 4 left in the block
        #expect(throws: WireError.truncated(field: "one-byte extension data", needed: 16, available: 4)) {
            try RTPPacket(parsing: bytes)
        }
    }

    @Test func twoByteElementRunningPastTheBlockIsTruncated() {
        var bytes = rtpWithTwoByteExtensions
        bytes[19] = 0x09  // id 5 now claims 9 bytes
        #expect(throws: WireError.truncated(field: "two-byte extension data", needed: 9, available: 4)) {
            try RTPPacket(parsing: bytes)
        }
    }

    @Test func paddingCountOfZeroIsRejected() {
        var bytes = rtpWithEverything
        bytes[bytes.count - 1] = 0
        #expect(throws: WireError.lengthMismatch(field: "padding count", declared: 0, actual: 8)) {
            try RTPPacket(parsing: bytes)
        }
    }

    @Test func paddingLongerThanThePayloadIsRejected() {
        var bytes = rtpWithEverything
        bytes[bytes.count - 1] = 9
        #expect(throws: WireError.lengthMismatch(field: "padding count", declared: 9, actual: 8)) {
            try RTPPacket(parsing: bytes)
        }
    }

    @Test func paddingBitWithNothingAfterTheHeaderIsTruncated() {
        let bytes: [UInt8] = [
            0xA0, 0x60, 0x00, 0x01,  // V=2 P=1 X=0 CC=0 | PT=96 | seq 1
            0x00, 0x00, 0x00, 0x02,  // timestamp
            0x00, 0x00, 0x00, 0x03,  // SSRC, and no payload or padding count
        ]
        #expect(throws: WireError.truncated(field: "padding count", needed: 1, available: 0)) {
            try RTPPacket(parsing: bytes)
        }
    }
}

@Suite struct RTPHeaderExtensionValueTests {
    @Test func absoluteSendTimeIsSixPointEighteenSecondsModulo64() {
        #expect(AbsoluteSendTime(MonotonicInstant(nanoseconds: 1_500_000_000)).fixedPoint == 0x06_0000)
        #expect(AbsoluteSendTime(MonotonicInstant(nanoseconds: 65_500_000_000)).fixedPoint == 0x06_0000)
        #expect(AbsoluteSendTime(fixedPoint: 0x06_0000).timeWithinCycle == .milliseconds(1_500))
        #expect(AbsoluteSendTime(fixedPoint: 0x12_3456).extensionData == [0x12, 0x34, 0x56])
    }

    @Test func frameMarkingLongFormCarriesLayers() throws {
        let data: [UInt8] = [
            0b0110_1010,  // S=0 E=1 I=1 D=0 B=1 TID=2
            0x05,  // LID 5
            0x7F,  // TL0PICIDX 127
        ]
        let marking = try FrameMarking(extensionData: data[...])
        #expect(marking.endOfFrame && marking.isIndependent && !marking.startOfFrame)
        #expect(marking.layers == FrameMarking.Layers(baseLayerSync: true, temporalID: 2, layerID: 5, tl0PictureIndex: 127))
        #expect(marking.extensionData == data)
        let withoutTL0 = try FrameMarking(extensionData: data.prefix(2))
        #expect(withoutTL0.layers?.tl0PictureIndex == nil)
        #expect(withoutTL0.extensionData == Array(data.prefix(2)))
    }

    @Test func malformedTypedExtensionsAreRejected() {
        #expect(throws: WireError.invalidValue(field: "frame marking", reason: "short form must have its low 4 bits zero")) {
            try FrameMarking(extensionData: [0x81][...])
        }
        #expect(throws: WireError.lengthMismatch(field: "frame marking", declared: 3, actual: 4)) {
            try FrameMarking(extensionData: [0, 0, 0, 0][...])
        }
        #expect(throws: WireError.truncated(field: "transport-wide sequence number", needed: 2, available: 1)) {
            try TransportWideSequenceNumber(extensionData: [0][...])
        }
        #expect(throws: WireError.lengthMismatch(field: "absolute send time", declared: 3, actual: 4)) {
            try AbsoluteSendTime(extensionData: [0, 0, 0, 0][...])
        }
    }

    @Test func registryRefusesIdZeroAndDuplicateURIs() {
        #expect(throws: WireError.invalidValue(field: "extension id", reason: "0 is reserved for padding")) {
            try RTPExtensionRegistry([0: FrameMarking.uri])
        }
        #expect(throws: WireError.self) {
            try RTPExtensionRegistry([1: FrameMarking.uri, 2: FrameMarking.uri])
        }
    }

    @Test func unregisteredExtensionReadsAsAbsentAndIsNotWritten() throws {
        let registry = try RTPExtensionRegistry([4: TransportWideSequenceNumber.uri])
        var extensions = RTPHeaderExtensions()
        registry.set(AbsoluteSendTime(fixedPoint: 1), in: &extensions)
        #expect(extensions.elements.isEmpty)
        #expect(try registry.value(FrameMarking.self, in: extensions) == nil)
    }
}
