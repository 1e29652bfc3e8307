import Crypto
import ParleyCrypto
import ParleyWire
import Testing

/// swift-crypto also exports a `CryptoError`; this file means Parley's.
private typealias CryptoError = ParleyCrypto.CryptoError

@Suite struct PairwiseChannelRekeyTests {
    /// Noise Rekey() computed here with swift-crypto, independently of the channel.
    static func noiseRekey(_ key: [UInt8]) throws -> [UInt8] {
        let nonce = try AES.GCM.Nonce(data: [0, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8))
        let box = try AES.GCM.seal([UInt8](repeating: 0, count: 32), using: SymmetricKey(data: key), nonce: nonce, authenticating: [UInt8]())
        return Array(box.ciphertext.prefix(32))
    }

    @Test func bothSidesRekeyEveryEpochAcrossSeveralEpochs() throws {
        let pair = try ChannelPair(configuration: .init(datagramsPerEpoch: 4))
        let datagrams = pair.a.keepAliveDatagrams(20, from: .zero)
        #expect(pair.a.sendEpoch == 4 && pair.a.statistics.sendRekeys == 4)
        for datagram in datagrams { _ = try pair.b.receive(datagram: datagram, now: .zero) }
        #expect(pair.b.receiveEpoch == 4 && pair.b.statistics.receiveRekeys == 4)
        #expect(pair.b.statistics.keepAlivesReceived == 20)
    }

    @Test func theNextEpochKeyIsNoiseRekeyOfThePreviousOne() throws {
        // A datagram sealed by hand at counter 9 (epoch 2 with 4 per epoch) under Rekey(Rekey(k)).
        let pair = try ChannelPair(configuration: .init(datagramsPerEpoch: 4))
        let key2 = try Self.noiseRekey(Self.noiseRekey(ChannelPair.keyAB))
        let header: [UInt8] = [0x06, 0, 0, 0, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 9]
        let box = try AES.GCM.seal(
            [0x01, 0x00, 0x00], using: SymmetricKey(data: key2),
            nonce: AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 11) + [9]), authenticating: header)
        _ = try pair.b.receive(datagram: header + Array(box.ciphertext) + Array(box.tag), now: .zero)
        #expect(pair.b.receiveEpoch == 2 && pair.b.statistics.keepAlivesReceived == 1)
        // And the channel's own datagram at counter 9 is the same bytes.
        let own = pair.a.keepAliveDatagrams(10, from: .zero)[9]
        #expect(channelCounter(of: own) == 9)
        let ownBox = try AES.GCM.SealedBox(
            nonce: AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 11) + [9]), ciphertext: own[16..<(own.count - 16)],
            tag: own.suffix(16))
        let opened = try AES.GCM.open(ownBox, using: SymmetricKey(data: key2), authenticating: own.prefix(16))
        #expect(try SessionMessageRecord.parsePlaintext(Array(opened)) == [.keepAlive])
    }

    @Test func reorderingAcrossAnEpochBoundaryIsAccepted() throws {
        let pair = try ChannelPair(configuration: .init(datagramsPerEpoch: 4))
        let datagrams = pair.a.keepAliveDatagrams(12, from: .zero)
        // Epochs: 0–3 → 0, 4–7 → 1, 8–11 → 2. Deliver 0, 1, 2, 4, 5, then 3 (previous epoch), 6, 8, 7, 9, 11, 10.
        for index in [0, 1, 2, 4, 5, 3, 6, 8, 7, 9, 11, 10] {
            _ = try pair.b.receive(datagram: datagrams[index], now: .zero)
        }
        #expect(pair.b.receiveEpoch == 2)
        #expect(pair.b.statistics.datagramsReceived == 12 && pair.b.statistics.receiveRekeys == 2)
    }

    @Test func aDatagramTwoEpochsOldHasNoKeyLeft() throws {
        let pair = try ChannelPair(configuration: .init(datagramsPerEpoch: 4))
        let datagrams = pair.a.keepAliveDatagrams(10, from: .zero)
        _ = try pair.b.receive(datagram: datagrams[0], now: .zero)
        _ = try pair.b.receive(datagram: datagrams[8], now: .zero)  // epoch 2; B keeps epochs 1 and 2
        #expect(throws: CryptoError.unknownKey(what: "channel epoch", keyID: 0)) {
            try pair.b.receive(datagram: datagrams[1], now: .zero)
        }
        _ = try pair.b.receive(datagram: datagrams[5], now: .zero)  // epoch 1, derived on the way to 2
        _ = try pair.b.receive(datagram: datagrams[9], now: .zero)
        #expect(pair.b.statistics.unknownEpochs == 1 && pair.b.statistics.datagramsReceived == 4)
    }

    @Test func aReceiverDerivesUpToTheMaximumSkipAndNoFurther() throws {
        let pair = try ChannelPair(configuration: .init(datagramsPerEpoch: 4, maximumEpochSkip: 2))
        let datagrams = pair.a.keepAliveDatagrams(16, from: .zero)
        // From epoch 0, epoch 3 (counter 12) is three ahead: refused, and nothing changes.
        #expect(throws: CryptoError.unknownKey(what: "channel epoch", keyID: 3)) {
            try pair.b.receive(datagram: datagrams[12], now: .zero)
        }
        #expect(pair.b.receiveEpoch == 0)
        _ = try pair.b.receive(datagram: datagrams[8], now: .zero)  // epoch 2: two ahead, derived
        _ = try pair.b.receive(datagram: datagrams[12], now: .zero)  // now one ahead
        _ = try pair.b.receive(datagram: datagrams[9], now: .zero)  // the previous epoch
        #expect(pair.b.receiveEpoch == 3 && pair.b.statistics.receiveRekeys == 3)
    }

    @Test func aForgedDatagramOfTheNextEpochAdvancesNoKey() throws {
        let pair = try ChannelPair(configuration: .init(datagramsPerEpoch: 4))
        let datagrams = pair.a.keepAliveDatagrams(6, from: .zero)
        var forged = datagrams[4]
        forged[forged.count - 1] ^= 0x01
        #expect(throws: CryptoError.authenticationFailed(what: "channel datagram")) {
            try pair.b.receive(datagram: forged, now: .zero)
        }
        #expect(pair.b.receiveEpoch == 0)
        _ = try pair.b.receive(datagram: datagrams[3], now: .zero)
        _ = try pair.b.receive(datagram: datagrams[4], now: .zero)
        #expect(pair.b.receiveEpoch == 1)
    }

    @Test func theCounterNeverWrapsAndItsEndIsReported() throws {
        let start = UInt64.max - 3
        let pair = try ChannelPair(configuration: .init(initialCounter: start))
        var datagrams: [[UInt8]] = []
        for index in 0..<3 {
            try pair.a.send(.senderKeyAnnouncement([UInt8(index)]), now: .zero)
            let output = pair.a.drain()
            datagrams += output.datagrams
            #expect(output.events == (index == 2 ? [.sendCounterExhausted] : []))
        }
        #expect(datagrams.map(channelCounter(of:)) == [UInt64.max - 3, UInt64.max - 2, UInt64.max - 1])
        #expect(pair.a.isSendExhausted)
        #expect(throws: CryptoError.keyExhausted(what: "pairwise channel send counter")) {
            try pair.a.send(.hangUp(.normal), now: .zero)
        }
        // The receiver (starting in the same epoch) accepts all three.
        var delivered: [SessionMessage] = []
        for datagram in datagrams { delivered += try pair.b.receive(datagram: datagram, now: .zero) }
        #expect(delivered.count == 3)
        // A retransmits nothing and sends no keep-alive any more; unacknowledged messages end as failures.
        var now = MonotonicInstant.zero
        var events: [PairwiseChannelEvent] = []
        while let deadline = pair.a.nextDeadline {
            now = deadline
            pair.a.handleTimeout(now: now)
            let output = pair.a.drain()
            #expect(output.datagrams.isEmpty)
            events += output.events
        }
        #expect(events.count == 3 && events.allSatisfy { if case .deliveryFailed = $0 { true } else { false } })
    }
}
