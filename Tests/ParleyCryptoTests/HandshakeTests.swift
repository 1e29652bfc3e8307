@_spi(Testing) import ParleyCrypto
import ParleyWire
import Testing

/// Fixed identities so every run is the same.
enum HandshakeFixture {
    static func identity(_ byte: UInt8) -> IdentityKeyPair {
        try! IdentityKeyPair(privateKeyRawRepresentation: [UInt8](repeating: byte, count: 32))
    }

    static let alice = identity(0xA1)
    static let bob = identity(0xB0)
    static let carol = identity(0xC0)
    static let callID = CallID(bytes: (1...16).map { UInt8($0) })!
    /// 2025-01-01T00:00:00Z.
    static let noon = HandshakeTimestamp(nanosecondsSinceUnixEpoch: 1_735_689_600_000_000_000)

    static func at(_ seconds: Double) -> HandshakeTimestamp {
        HandshakeTimestamp(rawValue: UInt64(Int64(noon.rawValue) + Int64(seconds * 1e9)))
    }

    /// Alice calling Bob.
    static func aliceCallsBob(
        at time: HandshakeTimestamp = noon, index: UInt32 = 0xA11CE, offer: [UInt8] = Array("offer".utf8),
        ephemeral: NoiseKeyPair? = nil, responder: IdentityPublicKey = bob.publicKey
    ) throws -> HandshakeInitiator {
        try HandshakeInitiator(
            identity: alice, responder: responder, callID: callID, initiatorIndex: index, offer: offer,
            timestamp: time, ephemeral: ephemeral)
    }
}

@Suite struct HandshakeTests {
    typealias F = HandshakeFixture

    @Test func twoPeersCompleteTheHandshakeAndTheirKeysMatch() throws {
        let initiator = try F.aliceCallsBob()
        let responder = HandshakeResponder(identity: F.bob)
        let pending = try responder.receive(datagram: initiator.initiation[...], now: F.at(0.2))
        let (response, bobSide) = try pending.accept(answer: Array("answer".utf8), responderIndex: 0xB0B)
        let (answer, aliceSide) = try initiator.receive(datagram: response[...])

        #expect(answer == Array("answer".utf8))
        #expect(initiator.isComplete)
        #expect(aliceSide.keys.sendKey == bobSide.keys.receiveKey)
        #expect(aliceSide.keys.receiveKey == bobSide.keys.sendKey)
        #expect(aliceSide.keys.sendKey != aliceSide.keys.receiveKey)
        #expect(aliceSide.keys.handshakeHash == bobSide.keys.handshakeHash)
        #expect([aliceSide.keys.sendKey, aliceSide.keys.receiveKey, aliceSide.keys.handshakeHash].allSatisfy { $0.count == 32 })
        #expect(aliceSide.role == .initiator && bobSide.role == .responder)
        #expect(aliceSide.localIndex == 0xA11CE && aliceSide.remoteIndex == 0xB0B)
        #expect(bobSide.localIndex == 0xB0B && bobSide.remoteIndex == 0xA11CE)
        #expect(aliceSide.initiatorIndex == bobSide.initiatorIndex && aliceSide.responderIndex == bobSide.responderIndex)
        #expect(aliceSide.peerStaticKey == F.bob.publicKey && bobSide.peerStaticKey == F.alice.publicKey)
        #expect(aliceSide.callID == F.callID && bobSide.callID == F.callID)

        // The keys work as AES-256-GCM transport keys in both directions.
        var aliceSend = try NoiseCipherState(cipher: .aesGCM, key: aliceSide.keys.sendKey)
        var bobReceive = try NoiseCipherState(cipher: .aesGCM, key: bobSide.keys.receiveKey)
        #expect(try bobReceive.decrypt(try aliceSend.encrypt([1, 2, 3])[...]) == [1, 2, 3])
        // Keys never show in descriptions.
        #expect(!aliceSide.keys.description.contains(aliceSide.keys.sendKey.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()))
    }

    @Test func freshHandshakesBetweenTheSamePeersGetFreshKeys() throws {
        let responder = HandshakeResponder(identity: F.bob)
        var hashes: Set<[UInt8]> = []
        for second in 0..<3 {
            let initiator = try F.aliceCallsBob(at: F.at(Double(second)))
            let pending = try responder.receive(datagram: initiator.initiation[...], now: F.at(Double(second)))
            let (response, bobSide) = try pending.accept(answer: [], responderIndex: UInt32(second))
            let (_, aliceSide) = try initiator.receive(datagram: response[...])
            #expect(aliceSide.keys.sendKey == bobSide.keys.receiveKey)
            hashes.insert(aliceSide.keys.handshakeHash)
        }
        #expect(hashes.count == 3)
    }

    @Test func theResponderSeesTheCallerAndTheOfferBeforeAnsweringAndCanRefuse() throws {
        let initiator = try F.aliceCallsBob(offer: Array("codecs: opus vp8".utf8))
        let responder = HandshakeResponder(identity: F.bob)
        let pending = try responder.receive(datagram: initiator.initiation[...], now: F.noon)
        #expect(pending.initiatorStaticKey == F.alice.publicKey)
        #expect(pending.offer == Array("codecs: opus vp8".utf8))
        #expect(pending.callID == F.callID && pending.initiatorIndex == 0xA11CE && pending.timestamp == F.noon)
        #expect(!pending.isDecided)
        pending.reject()
        #expect(pending.isDecided)
        #expect(throws: CryptoError.invalidState(what: "pending handshake answer", reason: "already accepted or rejected")) {
            try pending.accept(answer: [], responderIndex: 1)
        }
    }

    @Test func aPendingAnswerIsAcceptedOnceAndAResponseCompletesOnce() throws {
        let initiator = try F.aliceCallsBob()
        let responder = HandshakeResponder(identity: F.bob)
        let pending = try responder.receive(datagram: initiator.initiation[...], now: F.noon)
        let (response, _) = try pending.accept(answer: [], responderIndex: 7)
        #expect(throws: CryptoError.invalidState(what: "pending handshake answer", reason: "already accepted or rejected")) {
            try pending.accept(answer: [], responderIndex: 8)
        }
        _ = try initiator.receive(datagram: response[...])
        #expect(throws: CryptoError.invalidState(what: "handshake initiator", reason: "already completed by a response")) {
            try initiator.receive(datagram: response[...])
        }
    }

    // MARK: - Tampering: every region of both datagrams, a specific error, no session.

    @Test func aTamperedInitiationFailsInEveryRegionAndRecordsNothing() throws {
        let initiator = try F.aliceCallsBob()
        let datagram = initiator.initiation
        let payloadEnd = datagram.count - 16
        let staticKeyFailure = CryptoError.authenticationFailed(what: "Noise static key")
        let payloadFailure = CryptoError.authenticationFailed(what: "Noise handshake payload")
        let regions: [(name: String, offset: Int, expected: CryptoError)] = [
            ("type", 0, .malformed(.invalidValue(field: "type", reason: "expected 0x04 (handshake initiation), got 132"))),
            ("reserved", 2, .malformed(.invalidValue(field: "reserved", reason: "must be zero"))),
            ("initiator index", 5, staticKeyFailure),
            ("call id", 20, staticKeyFailure),
            ("ephemeral key", 30, staticKeyFailure),
            ("encrypted static key", 60, staticKeyFailure),
            ("static key tag", 100, staticKeyFailure),
            ("encrypted timestamp", 106, payloadFailure),
            ("encrypted offer", payloadEnd - 1, payloadFailure),
            ("payload tag", datagram.count - 1, payloadFailure),
        ]
        let responder = HandshakeResponder(identity: F.bob)
        for region in regions {
            var tampered = datagram
            tampered[region.offset] ^= 0x80
            #expect(throws: region.expected, "flipping the \(region.name)") {
                try responder.receive(datagram: tampered[...], now: F.noon)
            }
        }
        #expect(responder.replayGuard.count == 0)
        // The genuine initiation still goes through afterwards.
        #expect(try responder.receive(datagram: datagram[...], now: F.noon).initiatorStaticKey == F.alice.publicKey)
    }

    @Test func aTamperedResponseFailsInEveryRegionAndTheGenuineOneStillCompletes() throws {
        let initiator = try F.aliceCallsBob()
        let responder = HandshakeResponder(identity: F.bob)
        let pending = try responder.receive(datagram: initiator.initiation[...], now: F.noon)
        let (response, _) = try pending.accept(answer: Array("an answer".utf8), responderIndex: 0xB0B)
        let payloadFailure = CryptoError.authenticationFailed(what: "Noise handshake payload")
        let regions: [(name: String, offset: Int, expected: CryptoError)] = [
            ("type", 0, .malformed(.invalidValue(field: "type", reason: "expected 0x05 (handshake response), got 133"))),
            ("reserved", 3, .malformed(.invalidValue(field: "reserved", reason: "must be zero"))),
            ("responder index", 6, .authenticationFailed(
                what: "handshake response header (responder index differs from its encrypted copy)")),
            ("initiator index", 11, .unknownKey(what: "handshake response for initiator index", keyID: 0xA11CE ^ 0x80)),
            ("ephemeral key", 20, payloadFailure),
            ("encrypted responder index", 45, payloadFailure),
            ("encrypted answer", response.count - 17, payloadFailure),
            ("payload tag", response.count - 1, payloadFailure),
        ]
        for region in regions {
            var tampered = response
            tampered[region.offset] ^= 0x80
            #expect(throws: region.expected, "flipping the \(region.name)") {
                try initiator.receive(datagram: tampered[...])
            }
            #expect(!initiator.isComplete)
        }
        let (answer, _) = try initiator.receive(datagram: response[...])
        #expect(answer == Array("an answer".utf8))
    }

    // MARK: - The wrong responder.

    @Test func anInitiationReachingAnotherResponderDoesNotAuthenticate() throws {
        let initiator = try F.aliceCallsBob()
        let carol = HandshakeResponder(identity: F.carol)
        #expect(throws: CryptoError.authenticationFailed(what: "Noise static key")) {
            try carol.receive(datagram: initiator.initiation[...], now: F.noon)
        }
        #expect(carol.replayGuard.count == 0)
    }

    @Test func aResponseFromAResponderOtherThanTheAddressedOneFails() throws {
        // Alice sends the same initiation (same ephemeral, index, call id and time) once to Bob and once
        // to Carol; only the responder key differs. Carol's genuine response must not complete the
        // handshake addressed to Bob.
        let ephemeral = NoiseKeyPair.generate()
        let toBob = try F.aliceCallsBob(ephemeral: ephemeral)
        let toCarol = try F.aliceCallsBob(ephemeral: ephemeral, responder: F.carol.publicKey)
        let carol = HandshakeResponder(identity: F.carol)
        let carolsPending = try carol.receive(datagram: toCarol.initiation[...], now: F.noon)
        let (carolsResponse, _) = try carolsPending.accept(answer: [], responderIndex: 0xCA201)
        #expect(throws: CryptoError.authenticationFailed(what: "Noise handshake payload")) {
            try toBob.receive(datagram: carolsResponse[...])
        }
        #expect(!toBob.isComplete)
        // Bob's own response still completes it.
        let bob = HandshakeResponder(identity: F.bob)
        let bobsPending = try bob.receive(datagram: toBob.initiation[...], now: F.noon)
        let (bobsResponse, _) = try bobsPending.accept(answer: [], responderIndex: 0xB0B)
        #expect(try toBob.receive(datagram: bobsResponse[...]).handshake.peerStaticKey == F.bob.publicKey)
    }

    // MARK: - Replay.

    @Test func aReplayedInitiationYieldsNoSecondSession() throws {
        let initiator = try F.aliceCallsBob()
        let responder = HandshakeResponder(identity: F.bob)
        let pending = try responder.receive(datagram: initiator.initiation[...], now: F.noon)
        _ = try pending.accept(answer: [], responderIndex: 1)
        #expect(throws: CryptoError.replayed(what: "handshake initiation", counter: F.noon.rawValue)) {
            try responder.receive(datagram: initiator.initiation[...], now: F.at(1))
        }
        // Also when the first was never answered.
        let second = try F.aliceCallsBob(at: F.at(5))
        _ = try responder.receive(datagram: second.initiation[...], now: F.at(5))
        #expect(throws: CryptoError.replayed(what: "handshake initiation", counter: F.at(5).rawValue)) {
            try responder.receive(datagram: second.initiation[...], now: F.at(6))
        }
    }

    @Test func aNewInitiationWithTheSameOrAnOlderTimestampIsReplayedAndANewerOneIsAccepted() throws {
        let responder = HandshakeResponder(identity: F.bob)
        _ = try responder.receive(datagram: try F.aliceCallsBob(at: F.at(10)).initiation[...], now: F.at(10))
        for (time, expected) in [(10.0, F.at(10)), (9.999, F.at(9.999)), (0.0, F.noon)] {
            // A fresh ephemeral key each time: not a byte-for-byte replay, but no newer.
            let initiation = try F.aliceCallsBob(at: F.at(time)).initiation
            #expect(throws: CryptoError.replayed(what: "handshake initiation", counter: expected.rawValue)) {
                try responder.receive(datagram: initiation[...], now: F.at(10))
            }
        }
        #expect(try responder.receive(datagram: try F.aliceCallsBob(at: F.at(10.001)).initiation[...], now: F.at(10)).offer == Array("offer".utf8))
        #expect(responder.replayGuard.greatestTimestamp(of: F.alice.publicKey) == F.at(10.001))
    }

    @Test func timestampsFarFromTheRespondersClockAreRefused() throws {
        let responder = HandshakeResponder(identity: F.bob)
        let early = try F.aliceCallsBob(at: F.at(-301))
        #expect(throws: CryptoError.replayed(what: "handshake initiation older than the clock-skew window", counter: F.at(-301).rawValue)) {
            try responder.receive(datagram: early.initiation[...], now: F.noon)
        }
        let late = try F.aliceCallsBob(at: F.at(301))
        #expect(throws: CryptoError.self) { try responder.receive(datagram: late.initiation[...], now: F.noon) }
        #expect(responder.replayGuard.count == 0)
        // The future limit is tighter than the past one (handshake.md §5): 31 s ahead is refused, 29 s is not.
        #expect(throws: CryptoError.self) {
            try responder.receive(datagram: try F.aliceCallsBob(at: F.at(31)).initiation[...], now: F.noon)
        }
        _ = try responder.receive(datagram: try F.aliceCallsBob(at: F.at(29)).initiation[...], now: F.noon)
    }

    @Test func initiatorsAreTrackedSeparately() throws {
        let responder = HandshakeResponder(identity: F.bob)
        _ = try responder.receive(datagram: try F.aliceCallsBob(at: F.at(10)).initiation[...], now: F.at(10))
        let carolCalls = try HandshakeInitiator(
            identity: F.carol, responder: F.bob.publicKey, callID: F.callID, initiatorIndex: 3, offer: [],
            timestamp: F.at(5))
        #expect(try responder.receive(datagram: carolCalls.initiation[...], now: F.at(10)).initiatorStaticKey == F.carol.publicKey)
    }

    // MARK: - Indices, sizes.

    @Test func aResponseForAnUnknownIndexIsRefused() throws {
        let initiator = try F.aliceCallsBob(index: 42)
        let responder = HandshakeResponder(identity: F.bob)
        let pending = try responder.receive(datagram: initiator.initiation[...], now: F.noon)
        let (response, _) = try pending.accept(answer: [], responderIndex: 9)
        var parsed = try HandshakeResponse(parsing: response)
        parsed.initiatorIndex = 43
        #expect(throws: CryptoError.unknownKey(what: "handshake response for initiator index", keyID: 43)) {
            try initiator.receive(parsed)
        }
        #expect(!initiator.isComplete)
    }

    @Test func truncatedAndOversizedDatagramsAreMalformed() throws {
        let responder = HandshakeResponder(identity: F.bob)
        let initiator = try F.aliceCallsBob(offer: [])
        let initiation = initiator.initiation
        #expect(initiation.count == 24 + HandshakeInitiation.minimumNoiseMessageSize)
        let cases: [([UInt8], WireError)] = [
            ([], .truncated(field: "type", needed: 1, available: 0)),
            ([0x04, 0, 0], .truncated(field: "reserved", needed: 3, available: 2)),
            (Array(initiation.prefix(7)), .truncated(field: "initiator index", needed: 4, available: 3)),
            (Array(initiation.prefix(23)), .truncated(field: "call id", needed: 16, available: 15)),
            (Array(initiation.dropLast()), .truncated(field: "Noise message 1", needed: 104, available: 103)),
            (initiation + [UInt8](repeating: 0, count: 65_535 - 104 + 1),
             .invalidValue(field: "Noise message 1", reason: "65536 bytes, at most 65535")),
        ]
        for (bytes, expected) in cases {
            #expect(throws: CryptoError.malformed(expected)) { try responder.receive(datagram: bytes[...], now: F.noon) }
        }
        let pending = try responder.receive(datagram: initiation[...], now: F.noon)
        let (response, _) = try pending.accept(answer: [], responderIndex: 5)
        #expect(response.count == 12 + HandshakeResponse.minimumNoiseMessageSize)
        let responseCases: [([UInt8], WireError)] = [
            ([0x05], .truncated(field: "reserved", needed: 3, available: 0)),
            (Array(response.prefix(11)), .truncated(field: "initiator index", needed: 4, available: 3)),
            (Array(response.dropLast()), .truncated(field: "Noise message 2", needed: 52, available: 51)),
            (response + [UInt8](repeating: 0, count: 65_535 - 52 + 1),
             .invalidValue(field: "Noise message 2", reason: "65536 bytes, at most 65535")),
        ]
        for (bytes, expected) in responseCases {
            #expect(throws: CryptoError.malformed(expected)) { try initiator.receive(datagram: bytes[...]) }
        }
        #expect(throws: CryptoError.malformed(.invalidValue(field: "type", reason: "expected 0x05 (handshake response), got 4"))) {
            try initiator.receive(datagram: initiation[...])
        }
        #expect(try initiator.receive(datagram: response[...]).answer == [])
    }

    @Test func theLargestOfferAndAnswerFitAndOneByteMoreIsRefused() throws {
        let largestOffer = [UInt8](repeating: 0x6F, count: HandshakeInitiation.maximumOfferSize)
        let initiator = try F.aliceCallsBob(offer: largestOffer)
        #expect(initiator.initiation.count == 24 + 65_535)
        #expect(throws: CryptoError.malformed(.invalidValue(field: "offer", reason: "65432 bytes, at most 65431"))) {
            try F.aliceCallsBob(offer: largestOffer + [0])
        }
        let responder = HandshakeResponder(identity: F.bob)
        let pending = try responder.receive(datagram: initiator.initiation[...], now: F.noon)
        #expect(pending.offer == largestOffer)
        #expect(throws: CryptoError.malformed(.invalidValue(field: "answer", reason: "65484 bytes, at most 65483"))) {
            try pending.accept(answer: [UInt8](repeating: 0, count: HandshakeResponse.maximumAnswerSize + 1), responderIndex: 1)
        }
        let largestAnswer = [UInt8](repeating: 0x61, count: HandshakeResponse.maximumAnswerSize)
        let (response, _) = try pending.accept(answer: largestAnswer, responderIndex: 1)
        #expect(response.count == 12 + 65_535)
        #expect(try initiator.receive(datagram: response[...]).answer == largestAnswer)
    }

    // MARK: - Wire types.

    @Test func datagramHeadersParseAndSerializeByteForByte() throws {
        let noise = [UInt8](repeating: 0xEE, count: 104)
        let initiationBytes: [UInt8] = [
            0x04, 0x00, 0x00, 0x00,  // type 0x04, reserved
            0xDE, 0xAD, 0xBE, 0xEF,  // initiator index
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // call id
            0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10,
        ] + noise
        let initiation = try HandshakeInitiation(parsing: initiationBytes)
        #expect(initiation.initiatorIndex == 0xDEAD_BEEF)
        #expect(initiation.callID == F.callID)
        #expect(Array(initiation.noiseMessage) == noise)
        #expect(initiation.serialize() == initiationBytes && initiation.serializedSize == initiationBytes.count)
        #expect(initiation.prologue == Array("parley/1".utf8) + initiationBytes.prefix(24))

        let responseBytes: [UInt8] = [
            0x05, 0x00, 0x00, 0x00,  // type 0x05, reserved
            0x00, 0x00, 0x0B, 0x0B,  // responder index
            0xDE, 0xAD, 0xBE, 0xEF,  // initiator index
        ] + noise.prefix(52)
        let response = try HandshakeResponse(parsing: responseBytes)
        #expect(response.responderIndex == 0xB0B && response.initiatorIndex == 0xDEAD_BEEF)
        #expect(response.serialize() == responseBytes && response.serializedSize == responseBytes.count)
    }

    @Test func callIDsAndTimestampsHaveTheirFixedForms() {
        #expect(CallID(bytes: [UInt8](repeating: 0, count: 15)) == nil)
        #expect(CallID(bytes: [UInt8](repeating: 0, count: 17)) == nil)
        var generator = SplitMix64(seed: 1)
        #expect(CallID.random(using: &generator).bytes.count == 16)
        #expect(CallID.random() != CallID.random())
        #expect(F.callID.description == "0102030405060708090a0b0c0d0e0f10")
        #expect(F.noon.description == "1735689600.000000000")
        #expect(HandshakeTimestamp(rawValue: 1_000_000_007).description == "1.000000007")
    }
}

/// Responders, pending answers and initiators are classes (one owner, never copied): a decision or a
/// replay record taken through one reference holds through every other.
extension HandshakeTests {
    @Test func aResponderAdmitsAnInitiationOnceEvenThroughAnotherReference() throws {
        let initiator = try F.aliceCallsBob()
        let responder = HandshakeResponder(identity: F.bob)
        let alias = responder
        _ = try responder.receive(datagram: initiator.initiation[...], now: F.noon)
        #expect(throws: CryptoError.replayed(what: "handshake initiation", counter: F.noon.rawValue)) {
            try alias.receive(datagram: initiator.initiation[...], now: F.noon)
        }
        #expect(alias.replayGuard.count == 1)
    }

    @Test func aPendingAnswerAcceptedOnceRefusesASecondAcceptThroughAnotherReference() throws {
        let initiator = try F.aliceCallsBob()
        let responder = HandshakeResponder(identity: F.bob)
        let pending = try responder.receive(datagram: initiator.initiation[...], now: F.noon)
        let alias = pending
        _ = try pending.accept(answer: [], responderIndex: 7)
        #expect(alias.isDecided)
        #expect(throws: CryptoError.invalidState(what: "pending handshake answer", reason: "already accepted or rejected")) {
            try alias.accept(answer: [], responderIndex: 8)
        }
    }

    @Test func anInitiatorCompletesOnceEvenThroughAnotherReference() throws {
        let initiator = try F.aliceCallsBob()
        let alias = initiator
        let responder = HandshakeResponder(identity: F.bob)
        let (response, _) = try responder.receive(datagram: initiator.initiation[...], now: F.noon)
            .accept(answer: [], responderIndex: 7)
        _ = try initiator.receive(datagram: response[...])
        #expect(alias.isComplete)
        #expect(throws: CryptoError.invalidState(what: "handshake initiator", reason: "already completed by a response")) {
            try alias.receive(datagram: response[...])
        }
    }
}
