import Crypto
import ParleyCrypto
import ParleyWire
import Testing

/// swift-crypto also exports a `CryptoError`; this file means Parley's.
private typealias CryptoError = ParleyCrypto.CryptoError

/// Two ends of one pairwise channel, as a handshake would leave them: A is the initiator (it sends with
/// the first Split() key), B the responder.
struct ChannelPair {
    static let indexA: UInt32 = 0x1122_3344
    static let indexB: UInt32 = 0x5566_7788
    /// A → B key (Split()'s first key), 00 01 … 1f.
    static let keyAB = (0..<32).map { UInt8($0) }
    /// B → A key (Split()'s second key), 20 21 … 3f.
    static let keyBA = (32..<64).map { UInt8($0) }

    let a: PairwiseChannel
    let b: PairwiseChannel

    init(configuration: PairwiseChannel.Configuration = .init()) throws {
        a = try PairwiseChannel(
            localIndex: Self.indexA, remoteIndex: Self.indexB, sendKey: Self.keyAB, receiveKey: Self.keyBA,
            configuration: configuration)
        b = try PairwiseChannel(
            localIndex: Self.indexB, remoteIndex: Self.indexA, sendKey: Self.keyBA, receiveKey: Self.keyAB,
            configuration: configuration)
    }
}

extension PairwiseChannel {
    /// Drains the outputs as the sans-IO contract asks: datagrams, events, then the deadline.
    func drain() -> (datagrams: [[UInt8]], events: [PairwiseChannelEvent], deadline: MonotonicInstant?) {
        var datagrams: [[UInt8]] = []
        var events: [PairwiseChannelEvent] = []
        while true {
            switch pollOutput() {
            case .transmit(let datagram): datagrams.append(datagram)
            case .event(let event): events.append(event)
            case .wait(let deadline): return (datagrams, events, deadline)
            }
        }
    }

    /// `count` keep-alive datagrams, one per keep-alive interval from `start`: an easy source of
    /// consecutive counters.
    func keepAliveDatagrams(_ count: Int, from start: MonotonicInstant) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var now = start
        handleTimeout(now: now)  // the keep-alive interval counts from the first input
        result += drain().datagrams
        for _ in 0..<count {
            now = now + configuration.keepAliveInterval
            handleTimeout(now: now)
            result += drain().datagrams
        }
        return result
    }
}

/// Reads the counter of a channel datagram (bytes 8–15).
func channelCounter(of datagram: [UInt8]) -> UInt64 {
    datagram[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
}

func instant(milliseconds: Int64) -> MonotonicInstant {
    MonotonicInstant(nanoseconds: milliseconds * 1_000_000)
}

@Suite struct PairwiseChannelTests {
    static let announcementBody: [UInt8] = [0x01, 0x02, 0x00, 0x04, 0xCA, 0xFE, 0xBA, 0xBE]
    static let everyMessage: [SessionMessage] = [
        .senderKeyAnnouncement(announcementBody),
        .senderKeyAcknowledgement(ssrc: SSRC(0xCAFE_BABE), keyID: 7),
        .mediaState(.init(audioMuted: true, videoEnabled: false)),
        .hangUp(.normal),
    ]

    @Test func everyMessageTypeCrossesBothWaysAndIsAcknowledged() throws {
        let pair = try ChannelPair()
        let now = MonotonicInstant.zero
        for message in Self.everyMessage {
            // A → B.
            let idA = try pair.a.send(message, now: now)
            let toB = pair.a.drain().datagrams
            #expect(toB.count == 1)
            #expect(try pair.b.receive(datagram: toB[0], now: now) == [message])
            let acknowledgementToA = pair.b.drain().datagrams
            #expect(acknowledgementToA.count == 1)
            #expect(try pair.a.receive(datagram: acknowledgementToA[0], now: now) == [])
            #expect(pair.a.drain().events == [.acknowledged(idA, message)])
            // B → A.
            let idB = try pair.b.send(message, now: now)
            let toA = pair.b.drain().datagrams
            #expect(try pair.a.receive(datagram: toA[0], now: now) == [message])
            #expect(try pair.b.receive(datagram: pair.a.drain().datagrams[0], now: now) == [])
            #expect(pair.b.drain().events == [.acknowledged(idB, message)])
        }
        #expect(pair.a.unacknowledgedMessageIDs.isEmpty && pair.b.unacknowledgedMessageIDs.isEmpty)
        #expect(pair.a.statistics.messagesDelivered == 4 && pair.b.statistics.messagesDelivered == 4)
        #expect(pair.a.statistics.datagramsSent == 8 && pair.a.statistics.datagramsReceived == 8)
    }

    @Test func severalMessagesShareOneDatagramAndOneAcknowledgement() throws {
        let pair = try ChannelPair()
        let ids = try pair.a.send(Self.everyMessage, now: .zero)
        #expect(ids == (0..<4).map { SessionMessageID(UInt32($0)) })
        let datagrams = pair.a.drain().datagrams
        #expect(datagrams.count == 1)
        #expect(try pair.b.receive(datagram: datagrams[0], now: .zero) == Self.everyMessage)
        let acknowledgements = pair.b.drain().datagrams
        #expect(acknowledgements.count == 1)
        _ = try pair.a.receive(datagram: acknowledgements[0], now: .zero)
        #expect(pair.a.drain().events == zip(ids, Self.everyMessage).map { .acknowledged($0, $1) })
    }

    @Test func messagesTooLargeForOneDatagramSplitAcrossSeveral() throws {
        let pair = try ChannelPair()
        // Each record is 3 + 4 + 500 bytes; two do not fit a 1200-byte datagram's 1168-byte plaintext.
        let big = (0..<3).map { SessionMessage.senderKeyAnnouncement([UInt8](repeating: UInt8($0), count: 500)) }
        try pair.a.send(big, now: .zero)
        let datagrams = pair.a.drain().datagrams
        #expect(datagrams.count == 2)
        #expect(datagrams.allSatisfy { $0.count <= 1200 })
        var delivered: [SessionMessage] = []
        for datagram in datagrams { delivered += try pair.b.receive(datagram: datagram, now: .zero) }
        #expect(delivered == big)
    }

    @Test func aMessageThatCannotFitOneDatagramIsRefused() throws {
        let pair = try ChannelPair()
        let tooBig = SessionMessage.senderKeyAnnouncement([UInt8](repeating: 0, count: 1200 - 32 - 7 + 1))
        #expect(throws: CryptoError.invalidState(what: "pairwise channel", reason:
            "a 1169-byte record exceeds the 1168-byte plaintext of a datagram")) {
            try pair.a.send(tooBig, now: .zero)
        }
        #expect(pair.a.drain().datagrams.isEmpty && pair.a.unacknowledgedMessageIDs.isEmpty)
        // The largest that fits is accepted.
        try pair.a.send(.senderKeyAnnouncement([UInt8](repeating: 0, count: 1200 - 32 - 7)), now: .zero)
        #expect(pair.a.drain().datagrams.map(\.count) == [1200])
    }

    @Test func aFlippedBitAnywhereIsRejectedAndChangesNothing() throws {
        let pair = try ChannelPair()
        try pair.a.send(.hangUp(.busy), now: .zero)
        let datagram = pair.a.drain().datagrams[0]
        #expect(datagram.count == 48)
        for bit in 0..<(datagram.count * 8) {
            var forged = datagram
            forged[bit / 8] ^= 1 << UInt8(bit % 8)
            do {
                _ = try pair.b.receive(datagram: forged, now: .zero)
                Issue.record("bit \(bit) flipped was accepted")
            } catch {
                switch bit / 8 {
                case 0..<8:  // type, reserved, receiver index: refused before decryption
                    guard case .malformed = error else { Issue.record("bit \(bit): \(error)"); continue }
                case 8..<16 where channelCounter(of: forged) >> 24 > 4:  // an epoch too far ahead to derive a key for
                    #expect(error == .unknownKey(what: "channel epoch", keyID: channelCounter(of: forged) >> 24), "bit \(bit)")
                default:  // the rest of the counter (epochs 0…4), the ciphertext and the tag
                    #expect(error == .authenticationFailed(what: "channel datagram"), "bit \(bit)")
                }
            }
        }
        #expect(pair.b.statistics.datagramsReceived == 0)
        #expect(pair.b.statistics.malformed + pair.b.statistics.unknownEpochs + pair.b.statistics.authenticationFailures == 384)
        #expect(pair.b.receiveEpoch == 0, "a forged datagram of a later epoch advanced no key")
        // Nothing changed: the genuine datagram is still accepted, and its message delivered.
        #expect(try pair.b.receive(datagram: datagram, now: .zero) == [.hangUp(.busy)])
        #expect(pair.b.drain().datagrams.count == 1, "one acknowledgement")
    }

    @Test func aDatagramUnderAnotherKeyFailsAuthentication() throws {
        let pair = try ChannelPair()
        let stranger = try PairwiseChannel(
            localIndex: ChannelPair.indexA, remoteIndex: ChannelPair.indexB, sendKey: [UInt8](repeating: 9, count: 32),
            receiveKey: ChannelPair.keyBA)
        try stranger.send(.hangUp(.normal), now: .zero)
        #expect(throws: CryptoError.authenticationFailed(what: "channel datagram")) {
            try pair.b.receive(datagram: stranger.drain().datagrams[0], now: .zero)
        }
        // B's own datagrams come back to B under the wrong direction's key.
        try pair.b.send(.hangUp(.normal), now: .zero)
        var reflected = pair.b.drain().datagrams[0]
        reflected.replaceSubrange(4..<8, with: [0x55, 0x66, 0x77, 0x88])
        #expect(throws: CryptoError.authenticationFailed(what: "channel datagram")) {
            try pair.b.receive(datagram: reflected, now: .zero)
        }
        #expect(pair.b.statistics.authenticationFailures == 2)
    }

    @Test func aReplayedDatagramIsRejected() throws {
        let pair = try ChannelPair()
        try pair.a.send(.mediaState(.init(audioMuted: false, videoEnabled: true)), now: .zero)
        let datagram = pair.a.drain().datagrams[0]
        #expect(try pair.b.receive(datagram: datagram, now: .zero).count == 1)
        _ = pair.b.drain()
        #expect(throws: CryptoError.replayed(what: "channel datagram", counter: 0)) {
            try pair.b.receive(datagram: datagram, now: .zero)
        }
        #expect(pair.b.drain().datagrams.isEmpty, "a replay is not acknowledged again")
        #expect(pair.b.statistics.replays == 1 && pair.b.statistics.messagesDelivered == 1)
    }

    @Test func reorderingInsideTheWindowIsAcceptedAndBeyondItRejected() throws {
        let pair = try ChannelPair()
        let datagrams = pair.a.keepAliveDatagrams(2_100, from: .zero)
        #expect(datagrams.map(channelCounter(of:)) == Array(0..<2_100))
        let now = MonotonicInstant.zero
        _ = try pair.b.receive(datagram: datagrams[2_099], now: now)
        // 2099 − 2047 = 52 is the oldest counter inside the window; 51 is beyond it.
        _ = try pair.b.receive(datagram: datagrams[52], now: now)
        _ = try pair.b.receive(datagram: datagrams[1_000], now: now)
        _ = try pair.b.receive(datagram: datagrams[2_098], now: now)
        #expect(throws: CryptoError.replayed(what: "channel datagram", counter: 51)) {
            try pair.b.receive(datagram: datagrams[51], now: now)
        }
        #expect(throws: CryptoError.replayed(what: "channel datagram", counter: 0)) {
            try pair.b.receive(datagram: datagrams[0], now: now)
        }
        #expect(pair.b.statistics.datagramsReceived == 4 && pair.b.statistics.replays == 2)
        #expect(pair.b.statistics.keepAlivesReceived == 4)
    }

    @Test func shuffledDatagramsInsideTheWindowAreEachAcceptedOnce() throws {
        let pair = try ChannelPair()
        var random = SplitMix64(seed: 42)
        let datagrams = pair.a.keepAliveDatagrams(500, from: .zero).shuffled(using: &random)
        for datagram in datagrams {
            _ = try pair.b.receive(datagram: datagram, now: .zero)
        }
        for datagram in datagrams.prefix(20) {
            #expect(throws: CryptoError.replayed(what: "channel datagram", counter: channelCounter(of: datagram))) {
                try pair.b.receive(datagram: datagram, now: .zero)
            }
        }
        #expect(pair.b.statistics.datagramsReceived == 500)
    }

    @Test func malformedDatagramsAreRejectedByField() throws {
        let pair = try ChannelPair()
        try pair.a.send(.hangUp(.normal), now: .zero)
        let datagram = pair.a.drain().datagrams[0]
        let cases: [([UInt8], WireError)] = [
            ([], .truncated(field: "datagram type", needed: 1, available: 0)),
            (Array(datagram.prefix(12)), .truncated(field: "counter", needed: 8, available: 4)),
            (Array(datagram.prefix(31)), .truncated(field: "tag", needed: 16, available: 15)),
            ([0x04] + datagram.dropFirst(), .invalidValue(field: "datagram type", reason: "a channel datagram starts with 0x06, got 4")),
            ([0x06, 0x00, 0x01] + datagram.dropFirst(3), .invalidValue(field: "reserved", reason: "must be zero")),
            (Array(datagram.prefix(4)) + [0, 0, 0, 1] + datagram.dropFirst(8),
             .invalidValue(field: "receiver index", reason: "not this channel's index")),
            (Array(datagram.prefix(8)) + [UInt8](repeating: 0xFF, count: 8) + datagram.dropFirst(16),
             .invalidValue(field: "counter", reason: "2^64 - 1 is reserved")),
        ]
        for (bytes, error) in cases {
            #expect(throws: CryptoError.malformed(error)) { try pair.b.receive(datagram: bytes, now: .zero) }
        }
        #expect(pair.b.statistics.malformed == cases.count)
        #expect(try pair.b.receive(datagram: datagram, now: .zero) == [.hangUp(.normal)])
    }

    @Test func aDatagramSealedIndependentlyIsAcceptedAndItsUnknownRecordsSkipped() throws {
        // Seal by hand with swift-crypto, following channel.md alone: nonce = 0x00000000 ‖ counter,
        // AAD = the 16-byte header, output ciphertext ‖ tag.
        let pair = try ChannelPair()
        let counter: UInt64 = 5
        let header: [UInt8] = [0x06, 0, 0, 0] + [0x55, 0x66, 0x77, 0x88] + [0, 0, 0, 0, 0, 0, 0, 5]
        let plaintext: [UInt8] = [
            0x7F, 0x00, 0x01, 0x99,  // unknown, unreliable: skipped
            0xC1, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03,  // unknown, reliable, id 3: skipped and acknowledged
            0x84, 0x00, 0x05, 0x00, 0x00, 0x00, 0x04, 0x03,  // media state, id 4: muted, video on
            0x00, 0x00,  // padding
        ]
        let nonce = try AES.GCM.Nonce(data: [0, 0, 0, 0] + (0..<8).map { UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64($0))) })
        let box = try AES.GCM.seal(plaintext, using: SymmetricKey(data: ChannelPair.keyAB), nonce: nonce, authenticating: header)
        let datagram = header + Array(box.ciphertext) + Array(box.tag)
        #expect(try pair.b.receive(datagram: datagram, now: .zero) == [.mediaState(.init(audioMuted: true, videoEnabled: true))])
        #expect(pair.b.statistics.unknownRecords == 2)
        let acknowledgement = pair.b.drain().datagrams
        #expect(acknowledgement.count == 1)
        // Open B's acknowledgement by hand too.
        let ackNonce = try AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12))
        let sealed = acknowledgement[0].dropFirst(16)
        let ackBox = try AES.GCM.SealedBox(nonce: ackNonce, ciphertext: sealed.dropLast(16), tag: sealed.suffix(16))
        let opened = try AES.GCM.open(ackBox, using: SymmetricKey(data: ChannelPair.keyBA), authenticating: acknowledgement[0].prefix(16))
        #expect(try SessionMessageRecord.parsePlaintext(Array(opened)) == [.acknowledgement([SessionMessageID(3), SessionMessageID(4)])])
    }

    @Test func anAuthenticatedButMalformedPlaintextDeliversNothingAndIsConsumed() throws {
        let pair = try ChannelPair()
        let header: [UInt8] = [0x06, 0, 0, 0, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 0]
        let plaintext: [UInt8] = [0x84, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x01, 0x83, 0x00]  // a good record, then a cut one
        let box = try AES.GCM.seal(plaintext, using: SymmetricKey(data: ChannelPair.keyAB),
                                   nonce: AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12)), authenticating: header)
        let datagram = header + Array(box.ciphertext) + Array(box.tag)
        #expect(throws: CryptoError.malformed(.truncated(field: "record length", needed: 2, available: 1))) {
            try pair.b.receive(datagram: datagram, now: .zero)
        }
        #expect(pair.b.statistics.malformed == 1 && pair.b.statistics.datagramsReceived == 1)
        #expect(pair.b.drain().datagrams.isEmpty)
        #expect(throws: CryptoError.replayed(what: "channel datagram", counter: 0)) {
            try pair.b.receive(datagram: datagram, now: .zero)
        }
    }

    @Test func keysMustBe32Bytes() {
        #expect(throws: CryptoError.invalidKey(what: "channel send key", reason: "must be 32 bytes, got 16")) {
            try PairwiseChannel(localIndex: 1, remoteIndex: 2, sendKey: [UInt8](repeating: 0, count: 16), receiveKey: ChannelPair.keyAB)
        }
        #expect(throws: CryptoError.invalidKey(what: "channel receive key", reason: "must be 32 bytes, got 33")) {
            try PairwiseChannel(localIndex: 1, remoteIndex: 2, sendKey: ChannelPair.keyAB, receiveKey: [UInt8](repeating: 0, count: 33))
        }
    }

    @Test func pollOutputGivesDatagramsThenEventsThenTheDeadline() throws {
        let pair = try ChannelPair()
        #expect(pair.a.pollOutput() == .wait(until: nil), "no input yet: nothing scheduled")
        try pair.a.send(.hangUp(.normal), now: instant(milliseconds: 1_000))
        guard case .transmit(let datagram) = pair.a.pollOutput() else {
            Issue.record("expected a datagram")
            return
        }
        #expect(pair.a.pollOutput() == .wait(until: instant(milliseconds: 1_100)))
        _ = try pair.b.receive(datagram: datagram, now: instant(milliseconds: 1_020))
        _ = try pair.a.receive(datagram: pair.b.drain().datagrams[0], now: instant(milliseconds: 1_040))
        #expect(pair.a.pollOutput() == .event(.acknowledged(SessionMessageID(0), .hangUp(.normal))))
        #expect(pair.a.pollOutput() == .wait(until: instant(milliseconds: 11_000)), "next: a keep-alive 10 s after the last send")
        #expect(pair.a.pollDatagram() == nil && pair.a.pollEvent() == nil)
    }
}

/// A channel is a class (one owner, never copied): every reference shares one send counter and one
/// replay window, so no (key, counter) pair is sealed twice and no datagram is taken twice.
extension PairwiseChannelTests {
    @Test func twoReferencesToOneChannelNeverSealUnderTheSameCounter() throws {
        let pair = try ChannelPair()
        let alias = pair.a
        var counters: [UInt64] = []
        for index in 0..<10 {
            try (index % 2 == 0 ? pair.a : alias).send(.hangUp(.busy), now: .zero)
            counters += alias.drain().datagrams.map(channelCounter(of:))
        }
        #expect(counters == Array(0..<10))
        #expect(pair.a.nextSendCounter == 10 && alias.nextSendCounter == 10)
    }

    @Test func aDatagramTakenThroughOneReferenceIsAReplayThroughAnother() throws {
        let pair = try ChannelPair()
        let alias = pair.b
        try pair.a.send(.hangUp(.busy), now: .zero)
        let datagram = pair.a.drain().datagrams[0]
        #expect(try pair.b.receive(datagram: datagram, now: .zero) == [.hangUp(.busy)])
        #expect(throws: CryptoError.replayed(what: "channel datagram", counter: 0)) {
            try alias.receive(datagram: datagram, now: .zero)
        }
        #expect(pair.b.statistics.replays == 1)
    }
}
