import Foundation
import ParleyRTP
import ParleySession
import ParleyWire
import Testing

/// Shared fixtures: byte tables commented per row, and the worked example of offer-answer.md §6.
enum Fixtures {
    static let offer: [UInt8] = [
        0x01, 0x01, 0x00, 0x2C,  // offer, version 1, fields length 44
        0x01, 0x00, 0x0C,  // field 0x01 media stream, 12 bytes
        0x01, 0x01, 0x6F, 0x02,  // audio, opus, payload type 111, 2 channels
        0x11, 0x22, 0x33, 0x44,  // SSRC 0x11223344
        0x00, 0x00, 0xBB, 0x80,  // clock rate 48000
        0x03, 0x00, 0x04,  // field 0x03 SRTP profiles, 4 bytes
        0x00, 0x07, 0x00, 0x01,  // AEAD_AES_128_GCM, AES_CM_128_HMAC_SHA1_80
        0x04, 0x00, 0x02,  // field 0x04 SFrame cipher suites, 2 bytes
        0x00, 0x04,  // AES_128_GCM_SHA256_128
        0x05, 0x00, 0x07,  // field 0x05 candidate, 7 bytes
        0x04, 0x13, 0x8C,  // IPv4, port 5004
        0xC0, 0x00, 0x02, 0x01,  // 192.0.2.1
        0x06, 0x00, 0x04,  // field 0x06 capabilities, 4 bytes
        0x00, 0x00, 0x00, 0x01,  // chat
    ]

    static let offerValue = try! CallParameters.offer(
        streams: [.opus(ssrc: SSRC(0x1122_3344))], headerExtensions: [], srtpProfiles: [7, 1], sframeCipherSuites: [4],
        candidates: [TransportCandidate(address: .v4(0xC000_0201), port: 5004)], capabilities: [.chat])

    static let answer: [UInt8] = [
        0x02, 0x01, 0x00, 0x25,  // answer, version 1, fields length 37
        0x01, 0x00, 0x11,  // field 0x01 media stream, 17 bytes
        0x02, 0x02, 0x60, 0x00,  // video, vp8, payload type 96, 0 channels
        0x55, 0x66, 0x77, 0x88,  // SSRC 0x55667788
        0x00, 0x01, 0x5F, 0x90,  // clock rate 90000
        0x55, 0x66, 0x77, 0x89,  // RTX SSRC 0x55667789
        0x61,  // RTX payload type 97
        0x07, 0x00, 0x02, 0x00, 0x07,  // field 0x07 chosen SRTP profile: AEAD_AES_128_GCM
        0x08, 0x00, 0x02, 0x00, 0x04,  // field 0x08 chosen SFrame suite: AES_128_GCM_SHA256_128
        0x09, 0x00, 0x04,  // field 0x09 accepted SSRCs, 4 bytes
        0x11, 0x22, 0x33, 0x44,  // 0x11223344
    ]

    static let answerValue = try! CallParameters.answer(
        chosenSRTPProfile: 7, chosenSFrameCipherSuite: 4, acceptedSSRCs: [SSRC(0x1122_3344)],
        streams: [.vp8(ssrc: SSRC(0x5566_7788), retransmission: RetransmissionStream(ssrc: SSRC(0x5566_7789), payloadType: 97))],
        headerExtensions: [])

    static let decline: [UInt8] = [
        0x02, 0x01, 0x00, 0x04,  // answer, version 1, fields length 4
        0x0A, 0x00, 0x01, 0x01,  // field 0x0A decline reason, 1 byte: no common SRTP profile
    ]

    /// The worked example of offer-answer.md §6: Alice offers audio and video with RTX from two addresses.
    static let exampleOffer = try! CallParameters.offer(
        streams: [
            .opus(ssrc: SSRC(0xA1A1_0001)),
            .vp8(ssrc: SSRC(0xA1A1_0002), retransmission: RetransmissionStream(ssrc: SSRC(0xA1A1_0003), payloadType: 97)),
        ],
        candidates: [
            TransportCandidate(address: .v4(0xC000_0201), port: 51_820),
            TransportCandidate(address: .v6(high: 0x2001_0DB8_0000_0000, low: 0x0000_0000_0000_0001), port: 51_820),
        ],
        capabilities: [.chat])

    /// Bob sends audio only, receives both, and understands every offered extension.
    static let exampleLocal = LocalCallCapabilities(
        srtpProfiles: [1, 7], sframeCipherSuites: [4], streams: [.opus(ssrc: SSRC(0xB0B0_0001))],
        candidates: [TransportCandidate(address: .v4(0xC633_6407), port: 5004)], capabilities: [.chat, .fileTransfer])

    /// Hex as the specification prints it: 16 bytes a row, lower case, separated by spaces.
    static func hexRows(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: bytes.count, by: 16).map { start in
            bytes[start..<min(start + 16, bytes.count)].map { String(format: "%02x", $0) }.joined(separator: " ")
        }.joined(separator: "\n")
    }
}

/// The field a parse failed on, or nil if it parsed.
func failingField(_ bytes: [UInt8]) -> String? {
    do {
        _ = try CallParameters(parsing: bytes)
        return nil
    } catch {
        switch error {
        case .truncated(let field, _, _), .invalidValue(let field, _), .lengthMismatch(let field, _, _): return field
        }
    }
}

/// The field a construction failed on, or nil if it succeeded.
func failingField(_ make: () throws(WireError) -> CallParameters) -> String? {
    do {
        _ = try make()
        return nil
    } catch {
        switch error {
        case .truncated(let field, _, _), .invalidValue(let field, _), .lengthMismatch(let field, _, _): return field
        }
    }
}

@Suite struct CallParametersFixtureTests {
    @Test func offerParsesFieldByField() throws {
        let offer = try CallParameters(parsing: Fixtures.offer)
        #expect(offer == Fixtures.offerValue)
        #expect(offer.role == .offer)
        #expect(offer.streams == [.opus(ssrc: SSRC(0x1122_3344))])
        #expect(offer.srtpProfiles == [7, 1])
        #expect(offer.sframeCipherSuites == [4])
        #expect(offer.candidates.map(\.description) == ["192.0.2.1:5004"])
        #expect(offer.capabilities == [.chat])
        #expect(offer.serialize() == Fixtures.offer)
        #expect(offer.serializedSize == Fixtures.offer.count)
    }

    @Test func answerParsesFieldByField() throws {
        let answer = try CallParameters(parsing: Fixtures.answer)
        #expect(answer == Fixtures.answerValue)
        #expect(answer.sendingSSRCs == [SSRC(0x5566_7788), SSRC(0x5566_7789)])
        #expect(answer.serialize() == Fixtures.answer)
        #expect(answer.serializedSize == Fixtures.answer.count)
        try Fixtures.offerValue.check(answer: answer)
    }

    @Test func declineParses() throws {
        let decline = try CallParameters(parsing: Fixtures.decline)
        #expect(decline == .decline(.noCommonSRTPProfile))
        #expect(decline.isDeclined)
        #expect(decline.serialize() == Fixtures.decline)
    }

    @Test func roundTripsKeepEveryField() throws {
        for value in [Fixtures.offerValue, Fixtures.answerValue, Fixtures.exampleOffer, .decline(.busy), .decline(DeclineReason(rawValue: 200))] {
            #expect(try CallParameters(parsing: value.serialize()) == value)
            #expect(value.serialize().count == value.serializedSize)
        }
        let registry = Fixtures.exampleOffer.extensionRegistry
        #expect(registry == RTPExtensionRegistry.parleyDefault)
    }

    @Test func everyTruncationFails() {
        for length in 0..<Fixtures.offer.count {
            #expect(failingField(Array(Fixtures.offer.prefix(length))) != nil, "length \(length)")
        }
    }

    @Test func limitsFitTheHandshake() {
        #expect(CallParameters.maximumSize <= HandshakeLimits.maximumOfferSize)
        #expect(CallParameters.maximumSize <= HandshakeLimits.maximumAnswerSize)
    }
}

@Suite struct CallParametersForwardCompatibilityTests {
    @Test func unknownOptionalFieldIsSkipped() throws {
        var bytes = Fixtures.offer
        bytes += [0x7F, 0x00, 0x03, 0xAA, 0xBB, 0xCC]  // field 0x7F (unknown, optional), 3 bytes
        bytes[3] += 6
        #expect(try CallParameters(parsing: bytes) == Fixtures.offerValue)
    }

    @Test func emptyUnknownOptionalFieldFirstIsSkipped() throws {
        var bytes = Array(Fixtures.offer.prefix(4)) + [0x20, 0x00, 0x00] + Fixtures.offer.dropFirst(4)
        bytes[3] += 3
        #expect(try CallParameters(parsing: bytes) == Fixtures.offerValue)
    }

    @Test func unknownCodecParsesAndIsNotAccepted() throws {
        let future = MediaStreamDescription(
            kind: .audio, codec: CodecID(rawValue: 9), payloadType: 100, ssrc: SSRC(7), clockRate: 16_000, channels: 1)
        let offer = try CallParameters.offer(streams: [future])
        #expect(try CallParameters(parsing: offer.serialize()) == offer)
        let answer = try CallParameters.answer(to: offer, with: LocalCallCapabilities(streams: []))
        #expect(answer.declineReason == .noCommonStreams)
    }

    @Test func reservedCapabilityBitsAreKeptButNotNegotiated() throws {
        let offer = try CallParameters.offer(streams: [.opus(ssrc: SSRC(1))], capabilities: CallCapabilities(rawValue: 0x8000_0003))
        #expect(try CallParameters(parsing: offer.serialize()).capabilities.rawValue == 0x8000_0003)
        let local = LocalCallCapabilities(streams: [], capabilities: CallCapabilities(rawValue: 0xFFFF_FFFF))
        #expect(try CallParameters.answer(to: offer, with: local).capabilities == [.chat, .fileTransfer])
    }
}
