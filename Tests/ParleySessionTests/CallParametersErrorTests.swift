import ParleyRTP
import ParleySession
import ParleyWire
import Testing

/// One test per error: each names the field at fault.
@Suite struct CallParametersErrorTests {
    /// The offer fixture with bytes `range` replaced by `bytes`, fields length fixed up.
    func offer(replacing range: Range<Int>, with bytes: [UInt8]) -> [UInt8] {
        var result = Fixtures.offer
        result.replaceSubrange(range, with: bytes)
        let length = result.count - 4
        result[2] = UInt8(length >> 8)
        result[3] = UInt8(length & 0xFF)
        return result
    }

    /// The offer fixture with `field` appended, fields length fixed up.
    func offer(appending field: [UInt8]) -> [UInt8] {
        offer(replacing: Fixtures.offer.count..<Fixtures.offer.count, with: field)
    }

    @Test func truncatedHeader() { #expect(failingField([0x01, 0x01, 0x00]) == "fields length") }
    @Test func unknownRole() { #expect(failingField([0x03, 0x01, 0x00, 0x00]) == "role") }
    @Test func unknownVersion() { #expect(failingField([0x01, 0x02, 0x00, 0x00]) == "version") }
    @Test func fieldsLengthDisagrees() { #expect(failingField(Fixtures.offer + [0]) == "fields length") }
    @Test func fieldValueTruncated() {
        #expect(failingField(offer(appending: [0x30, 0x00, 0x05, 0x00])) == "field value")
    }
    @Test func fieldHeaderTruncated() { #expect(failingField(offer(appending: [0x30, 0x00])) == "field length") }
    @Test func unknownRequiredField() {
        #expect(failingField(offer(appending: [0x80, 0x00, 0x00])) == "field 0x80")
        #expect(failingField(offer(appending: [0xC5, 0x00, 0x01, 0x00])) == "field 0xc5")
    }
    @Test func singletonFieldTwice() {
        #expect(failingField(offer(appending: [0x04, 0x00, 0x02, 0x00, 0x01])) == "SFrame cipher suites")
    }
    @Test func oddLengthSuiteList() {
        #expect(failingField(offer(replacing: 26..<31, with: [0x04, 0x00, 0x01, 0x04])) == "SFrame cipher suites")
    }
    @Test func mediaStreamWrongLength() {
        #expect(failingField(offer(replacing: 4..<19, with: [0x01, 0x00, 0x0D] + Fixtures.offer[7..<19] + [0])) == "media stream")
    }
    @Test func unknownMediaKind() { #expect(failingField(offer(replacing: 7..<8, with: [0x03])) == "media kind") }
    @Test func opusAsVideo() { #expect(failingField(offer(replacing: 7..<8, with: [0x02])) == "media kind") }
    @Test func staticPayloadType() { #expect(failingField(offer(replacing: 9..<10, with: [0])) == "payload type") }
    @Test func payloadTypeAbove127() { #expect(failingField(offer(replacing: 9..<10, with: [128])) == "payload type") }
    @Test func opusWithThreeChannels() { #expect(failingField(offer(replacing: 10..<11, with: [3])) == "channels") }
    @Test func opusAtWrongClockRate() {
        #expect(failingField(offer(replacing: 15..<19, with: [0, 0, 0x3E, 0x80])) == "clock rate")
    }
    @Test func reservedCodecZero() { #expect(failingField(offer(replacing: 8..<9, with: [0])) == "codec") }
    @Test func duplicateSSRC() {
        #expect(failingField(offer(appending: Array(Fixtures.offer[4..<19]))) == "SSRC")
    }
    @Test func rtxOnAudio() {
        #expect(failingField { () throws(WireError) in
            try .offer(streams: [MediaStreamDescription(
                kind: .audio, codec: .opus, payloadType: 111, ssrc: SSRC(1), clockRate: 48_000, channels: 2,
                retransmission: RetransmissionStream(ssrc: SSRC(2), payloadType: 112))])
        } == "RTX")
    }
    @Test func rtxPayloadTypeSameAsMedia() {
        #expect(failingField { () throws(WireError) in
            try .offer(streams: [.vp8(ssrc: SSRC(1), retransmission: RetransmissionStream(ssrc: SSRC(2), payloadType: 96))])
        } == "RTX payload type")
    }
    @Test func rtxSSRCSameAsMedia() {
        #expect(failingField { () throws(WireError) in
            try .offer(streams: [.vp8(ssrc: SSRC(1), retransmission: RetransmissionStream(ssrc: SSRC(1), payloadType: 97))])
        } == "SSRC")
    }
    @Test func onePayloadTypeForTwoCodecs() {
        #expect(failingField { () throws(WireError) in
            try .offer(streams: [.opus(ssrc: SSRC(1), payloadType: 100), .vp8(ssrc: SSRC(2), payloadType: 100)])
        } == "payload type")
    }
    @Test func headerExtensionIDOutOfRange() {
        #expect(failingField(offer(appending: [0x02, 0x00, 0x02, 15, 0x61])) == "header extension id")
        #expect(failingField(offer(appending: [0x02, 0x00, 0x02, 0, 0x61])) == "header extension id")
    }
    @Test func headerExtensionEmptyURI() {
        #expect(failingField(offer(appending: [0x02, 0x00, 0x01, 1])) == "header extension URI")
    }
    @Test func headerExtensionURINotUTF8() {
        #expect(failingField(offer(appending: [0x02, 0x00, 0x02, 1, 0xFF])) == "header extension URI")
    }
    @Test func headerExtensionIDTwice() {
        #expect(failingField(offer(appending: [0x02, 0x00, 0x02, 1, 0x61, 0x02, 0x00, 0x02, 1, 0x62])) == "header extension id")
    }
    @Test func headerExtensionURITwice() {
        #expect(failingField(offer(appending: [0x02, 0x00, 0x02, 1, 0x61, 0x02, 0x00, 0x02, 2, 0x61])) == "header extension URI")
    }
    @Test func candidateUnknownFamily() { #expect(failingField(offer(replacing: 34..<35, with: [5])) == "address family") }
    @Test func candidateIPv6WithFourBytes() {
        #expect(failingField(offer(replacing: 34..<35, with: [6])) == "candidate address")
    }
    @Test func candidatePortZero() { #expect(failingField(offer(replacing: 35..<37, with: [0, 0])) == "port") }
    @Test func capabilitiesWrongLength() {
        #expect(failingField(offer(replacing: 41..<48, with: [0x06, 0x00, 0x02, 0x00, 0x01])) == "capabilities")
    }
    @Test func offerWithoutSRTPProfiles() {
        #expect(failingField(offer(replacing: 19..<26, with: [])) == "SRTP profiles")
    }
    @Test func offerWithoutSFrameSuites() {
        #expect(failingField(offer(replacing: 26..<31, with: [])) == "SFrame cipher suites")
    }
    @Test func answerOnlyFieldInOffer() {
        #expect(failingField(offer(appending: [0x07, 0x00, 0x02, 0x00, 0x07])) == "chosen SRTP profile")
        #expect(failingField(offer(appending: [0x0A, 0x00, 0x01, 0x01])) == "decline reason")
    }
    @Test func answerWithoutChosenProfile() {
        var bytes = Fixtures.answer
        bytes.removeSubrange(24..<29)
        bytes[3] -= 5
        #expect(failingField(bytes) == "chosen SRTP profile")
    }
    @Test func answerWithoutChosenSuite() {
        var bytes = Fixtures.answer
        bytes.removeSubrange(29..<34)
        bytes[3] -= 5
        #expect(failingField(bytes) == "chosen SFrame cipher suite")
    }
    @Test func offerOnlyFieldInAnswer() {
        var bytes = Fixtures.answer + [0x03, 0x00, 0x02, 0x00, 0x07]
        bytes[3] += 5
        #expect(failingField(bytes) == "SRTP profiles")
    }
    @Test func declineWithOtherFields() {
        var bytes = Fixtures.decline + [0x09, 0x00, 0x04, 0, 0, 0, 1]
        bytes[3] += 7
        #expect(failingField(bytes) == "decline reason")
    }
    @Test func acceptedSSRCsNotMultipleOfFour() {
        var bytes = Fixtures.answer
        bytes.replaceSubrange(34..<41, with: [0x09, 0x00, 0x03, 0x11, 0x22, 0x33])
        bytes[3] -= 1
        #expect(failingField(bytes) == "accepted SSRCs")
        bytes.replaceSubrange(34..<40, with: [0x09, 0x00, 0x00])  // an empty list
        bytes[3] -= 3
        #expect(failingField(bytes) == "accepted SSRCs")
    }
    @Test func tooManyStreams() {
        let streams = (0..<17).map { MediaStreamDescription.opus(ssrc: SSRC(UInt32($0) + 1)) }
        #expect(failingField { () throws(WireError) in try .offer(streams: streams, headerExtensions: []) } == "media stream")
        var writer = ByteWriter()
        for stream in streams {
            writer.writeBytes([0x01, 0x00, 0x0C, 0x01, 0x01, 0x6F, 0x02])  // media stream: audio, opus, PT 111, 2 channels
            writer.writeUInt32(stream.ssrc.rawValue)
            writer.writeUInt32(48_000)
        }
        #expect(failingField(offer(replacing: 4..<19, with: writer.bytes)) == "media stream")
    }
    @Test func tooManyCandidates() {
        let candidates = (1...9).map { TransportCandidate(address: .v4(0x0A00_0000 + UInt32($0)), port: 1) }
        #expect(failingField { () throws(WireError) in try .offer(streams: [], candidates: candidates) } == "candidate")
    }
    @Test func tooLarge() {
        let mappings = (1...5).map { HeaderExtensionMapping(id: UInt8($0), uri: String(repeating: "u", count: 250) + String($0)) }
        #expect(failingField { () throws(WireError) in try .offer(streams: [], headerExtensions: mappings) }
            == "call parameters")
        #expect(failingField([UInt8](repeating: 0, count: CallParameters.maximumSize + 1)) == "call parameters")
    }
}

