import Foundation
import ParleyCrypto
import ParleyRTP
import ParleySession
import ParleyWire
import Testing

@Suite struct NegotiationTests {
    @Test func matchingOfferIsAcceptedWithTheOfferersFirstChoice() throws {
        let answer = try CallParameters.answer(to: Fixtures.exampleOffer, with: Fixtures.exampleLocal)
        #expect(answer.role == .answer)
        #expect(answer.chosenSRTPProfile == 7)  // offer order [7, 1] wins over Bob's set
        #expect(answer.chosenSFrameCipherSuite == 4)
        #expect(answer.acceptedSSRCs == [SSRC(0xA1A1_0001), SSRC(0xA1A1_0002)])
        #expect(answer.streams == Fixtures.exampleLocal.streams)
        #expect(answer.headerExtensions == HeaderExtensionMapping.parleyDefault)
        #expect(answer.capabilities == [.chat])
        try Fixtures.exampleOffer.check(answer: answer)
    }

    @Test func secondProfileIsChosenWhenTheFirstIsUnsupported() throws {
        var local = Fixtures.exampleLocal
        local.srtpProfiles = [1]
        #expect(try CallParameters.answer(to: Fixtures.exampleOffer, with: local).chosenSRTPProfile == 1)
    }

    @Test func partialMatchAcceptsOnlySupportedCodecsAndExtensions() throws {
        var local = Fixtures.exampleLocal
        local.receiveCodecs = [.opus]
        local.headerExtensionURIs = [FrameMarking.uri]
        let answer = try CallParameters.answer(to: Fixtures.exampleOffer, with: local)
        #expect(answer.acceptedSSRCs == [SSRC(0xA1A1_0001)])
        #expect(answer.headerExtensions == [HeaderExtensionMapping(id: 3, uri: FrameMarking.uri)])
        try Fixtures.exampleOffer.check(answer: answer)
    }

    @Test func noCommonSRTPProfileDeclines() throws {
        var local = Fixtures.exampleLocal
        local.srtpProfiles = [2]
        #expect(try CallParameters.answer(to: Fixtures.exampleOffer, with: local) == .decline(.noCommonSRTPProfile))
    }

    @Test func noCommonSFrameSuiteDeclines() throws {
        var local = Fixtures.exampleLocal
        local.sframeCipherSuites = [5]
        #expect(try CallParameters.answer(to: Fixtures.exampleOffer, with: local) == .decline(.noCommonSFrameCipherSuite))
    }

    @Test func noStreamEitherWayDeclines() throws {
        var local = Fixtures.exampleLocal
        local.receiveCodecs = []
        local.streams = []
        #expect(try CallParameters.answer(to: Fixtures.exampleOffer, with: local) == .decline(.noCommonStreams))
    }

    @Test func receiveOnlyOfferIsAcceptedWhenTheAnswererSends() throws {
        let offer = try CallParameters.offer(streams: [])
        let answer = try CallParameters.answer(to: offer, with: Fixtures.exampleLocal)
        #expect(answer.acceptedSSRCs.isEmpty)
        #expect(answer.streams.count == 1)
    }

    @Test func ssrcClashBetweenSidesIsAnError() {
        var local = Fixtures.exampleLocal
        local.streams = [.opus(ssrc: SSRC(0xA1A1_0003))]  // the offer's RTX SSRC
        #expect(throws: WireError.invalidValue(field: "SSRC", reason: "0xA1A10003 is used by both sides")) {
            try CallParameters.answer(to: Fixtures.exampleOffer, with: local)
        }
    }

    @Test func answeringAnAnswerIsAnError() {
        #expect(throws: WireError.self) { try CallParameters.answer(to: Fixtures.answerValue, with: Fixtures.exampleLocal) }
    }

    @Test func offererRejectsAnswersThatDoNotMatch() throws {
        let offer = Fixtures.offerValue
        let good = Fixtures.answerValue
        func answer(srtp: UInt16 = 7, sframe: UInt16 = 4, accepted: [SSRC] = [SSRC(0x1122_3344)],
                    streams: [MediaStreamDescription] = Fixtures.answerValue.streams,
                    extensions: [HeaderExtensionMapping] = []) throws -> CallParameters {
            try .answer(chosenSRTPProfile: srtp, chosenSFrameCipherSuite: sframe, acceptedSSRCs: accepted,
                        streams: streams, headerExtensions: extensions)
        }
        try offer.check(answer: good)
        try offer.check(answer: .decline(.busy))
        #expect(throws: WireError.self) { try offer.check(answer: try answer(srtp: 2)) }
        #expect(throws: WireError.self) { try offer.check(answer: try answer(sframe: 1)) }
        #expect(throws: WireError.self) { try offer.check(answer: try answer(accepted: [SSRC(9)])) }
        #expect(throws: WireError.self) { try offer.check(answer: try answer(streams: [.opus(ssrc: SSRC(0x1122_3344))])) }
        #expect(throws: WireError.self) {
            try offer.check(answer: try answer(extensions: [HeaderExtensionMapping(id: 1, uri: FrameMarking.uri)]))
        }
    }

    @Test func anOfferTravelsThroughARealHandshakeAndTheAnswerComesBack() throws {
        let alice = IdentityKeyPair()
        let bob = IdentityKeyPair()
        let offer = Fixtures.exampleOffer
        let initiator = try HandshakeInitiator(
            identity: alice, responder: bob.publicKey, callID: CallID(bytes: Array(0..<16))!, initiatorIndex: 0x0101_0101,
            offer: offer.serialize(), timestamp: HandshakeTimestamp(nanosecondsSinceUnixEpoch: 1_735_689_600_000_000_000))
        let pending = try HandshakeResponder(identity: bob).receive(
            datagram: initiator.initiation[...], now: HandshakeTimestamp(nanosecondsSinceUnixEpoch: 1_735_689_601_000_000_000))
        let received = try CallParameters(parsing: pending.offer)
        #expect(received == offer)
        let answer = try CallParameters.answer(to: received, with: Fixtures.exampleLocal)
        let (response, _) = try pending.accept(answer: answer.serialize(), responderIndex: 0x0202_0202)
        let (answerBytes, handshake) = try initiator.receive(datagram: response[...])
        #expect(handshake.responderIndex == 0x0202_0202)
        let receivedAnswer = try CallParameters(parsing: answerBytes)
        #expect(receivedAnswer == answer)
        try offer.check(answer: receivedAnswer)
    }
}

@Suite struct OfferAnswerSpecificationTests {
    static let specification = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocols/peer/offer-answer.md")

    static let exampleOfferHex = """
        01 01 01 0c 01 00 0c 01 01 6f 02 a1 a1 00 01 00
        00 bb 80 01 00 11 02 02 60 00 a1 a1 00 02 00 01
        5f 90 a1 a1 00 03 61 02 00 4a 01 68 74 74 70 3a
        2f 2f 77 77 77 2e 69 65 74 66 2e 6f 72 67 2f 69
        64 2f 64 72 61 66 74 2d 68 6f 6c 6d 65 72 2d 72
        6d 63 61 74 2d 74 72 61 6e 73 70 6f 72 74 2d 77
        69 64 65 2d 63 63 2d 65 78 74 65 6e 73 69 6f 6e
        73 2d 30 31 02 00 3b 02 68 74 74 70 3a 2f 2f 77
        77 77 2e 77 65 62 72 74 63 2e 6f 72 67 2f 65 78
        70 65 72 69 6d 65 6e 74 73 2f 72 74 70 2d 68 64
        72 65 78 74 2f 61 62 73 2d 73 65 6e 64 2d 74 69
        6d 65 02 00 28 03 75 72 6e 3a 69 65 74 66 3a 70
        61 72 61 6d 73 3a 72 74 70 2d 68 64 72 65 78 74
        3a 66 72 61 6d 65 6d 61 72 6b 69 6e 67 03 00 04
        00 07 00 01 04 00 02 00 04 05 00 07 04 ca 6c c0
        00 02 01 05 00 13 06 ca 6c 20 01 0d b8 00 00 00
        00 00 00 00 00 00 00 00 01 06 00 04 00 00 00 01
        """
    static let exampleAnswerHex = """
        02 01 00 eb 01 00 0c 01 01 6f 02 b0 b0 00 01 00
        00 bb 80 02 00 4a 01 68 74 74 70 3a 2f 2f 77 77
        77 2e 69 65 74 66 2e 6f 72 67 2f 69 64 2f 64 72
        61 66 74 2d 68 6f 6c 6d 65 72 2d 72 6d 63 61 74
        2d 74 72 61 6e 73 70 6f 72 74 2d 77 69 64 65 2d
        63 63 2d 65 78 74 65 6e 73 69 6f 6e 73 2d 30 31
        02 00 3b 02 68 74 74 70 3a 2f 2f 77 77 77 2e 77
        65 62 72 74 63 2e 6f 72 67 2f 65 78 70 65 72 69
        6d 65 6e 74 73 2f 72 74 70 2d 68 64 72 65 78 74
        2f 61 62 73 2d 73 65 6e 64 2d 74 69 6d 65 02 00
        28 03 75 72 6e 3a 69 65 74 66 3a 70 61 72 61 6d
        73 3a 72 74 70 2d 68 64 72 65 78 74 3a 66 72 61
        6d 65 6d 61 72 6b 69 6e 67 05 00 07 04 13 8c c6
        33 64 07 06 00 04 00 00 00 01 07 00 02 00 07 08
        00 02 00 04 09 00 08 a1 a1 00 01 a1 a1 00 02
        """

    @Test func workedExampleBytesAreStillProduced() throws {
        let offer = Fixtures.exampleOffer.serialize()
        let answer = try CallParameters.answer(to: Fixtures.exampleOffer, with: Fixtures.exampleLocal).serialize()
        #expect(Fixtures.hexRows(offer) == Self.exampleOfferHex)
        #expect(Fixtures.hexRows(answer) == Self.exampleAnswerHex)
    }

    @Test func specificationShowsTheWorkedExampleAndTheFixtures() throws {
        let text = try String(contentsOf: Self.specification, encoding: .utf8)
        #expect(text.contains(Self.exampleOfferHex))
        #expect(text.contains(Self.exampleAnswerHex))
        #expect(text.contains(Fixtures.hexRows(Fixtures.offer)))
        #expect(text.contains(Fixtures.hexRows(Fixtures.answer)))
    }
}
