import ParleyCrypto
import ParleyWire
import Testing

/// The worked example of Protocols/peer/channel.md §8: the implementation must still produce exactly
/// these bytes. (They were also checked with Python's `cryptography` AESGCM, independently of Parley.)
@Suite struct PairwiseChannelWorkedExampleTests {
    static func bytes(_ hex: String) -> [UInt8] {
        [UInt8](hexString: hex)!
    }

    static let mediaStateDatagram = bytes("""
        06000000 55667788 00000000 00000000
        8abcb0de b52c83be 08a8a935 182c9199
        c8d715ea 8769168e 84fbb676 1f3b8df2
        """)
    static let acknowledgementDatagram = bytes("""
        06000000 11223344 00000000 00000000
        e12ee559 945f6459 c859e442 66bf0f60
        33fdca17 77161f19 821a24c7 3ea6bf9e
        """)
    static let keepAliveDatagram = bytes("""
        06000000 55667788 00000000 00000001
        14d6bffc 44f4301e 0e2e5139 eca63af7
        71fef506 819c8862 ac608145 7acf3efd
        """)
    static let rekeyedKeyAB = bytes("""
        0201675c 87335949 b909793d a5bb4d92 fcf6d44b 92a6e079 2b6ae48b 1881259d
        """)
    static let epochOneKeepAliveDatagram = bytes("""
        06000000 55667788 00000000 01000000
        0491054d 9e1dbc95 0a17d0bc 720ab5b8
        2741e122 0368974e dbe59ca6 6575ffcc
        """)

    @Test func theImplementationProducesTheSpecificationsBytes() throws {
        let pair = try ChannelPair()
        // 1. At 0 s, A tells B its microphone is muted and its camera on.
        try pair.a.send(.mediaState(.init(audioMuted: true, videoEnabled: true)), now: .zero)
        let mediaState = pair.a.drain().datagrams
        // 2. B delivers it and acknowledges message 0.
        #expect(try pair.b.receive(datagram: mediaState[0], now: instant(milliseconds: 30))
            == [.mediaState(.init(audioMuted: true, videoEnabled: true))])
        let acknowledgement = pair.b.drain().datagrams
        _ = try pair.a.receive(datagram: acknowledgement[0], now: instant(milliseconds: 60))
        #expect(pair.a.drain().events == [.acknowledged(SessionMessageID(0), .mediaState(.init(audioMuted: true, videoEnabled: true)))])
        // 3. At 10 s, having sent nothing since, A sends a keep-alive.
        pair.a.handleTimeout(now: instant(milliseconds: 10_000))
        let keepAlive = pair.a.drain().datagrams
        #expect(mediaState == [Self.mediaStateDatagram])
        #expect(acknowledgement == [Self.acknowledgementDatagram])
        #expect(keepAlive == [Self.keepAliveDatagram])
        // 4. The A → B key of epoch 1 (counters 2^24 … 2^25 − 1).
        #expect(try PairwiseChannelRekeyTests.noiseRekey(ChannelPair.keyAB) == Self.rekeyedKeyAB)
    }

    @Test func theFirstDatagramOfEpochOneIsSealedWithTheRekeyedKey() throws {
        // A channel whose A → B counter is at 2^24 − 1 (the last of epoch 0) sends two keep-alives; the
        // second, at counter 2^24, is the first of epoch 1.
        let pair = try ChannelPair(configuration: .init(initialCounter: (1 << 24) - 1))
        let datagrams = pair.a.keepAliveDatagrams(2, from: .zero)
        #expect(datagrams.map(channelCounter(of:)) == [(1 << 24) - 1, 1 << 24])
        #expect(datagrams[1] == Self.epochOneKeepAliveDatagram)
        #expect(pair.a.sendEpoch == 1)
        for datagram in datagrams.reversed() { _ = try pair.b.receive(datagram: datagram, now: .zero) }
        #expect(pair.b.receiveEpoch == 1 && pair.b.statistics.keepAlivesReceived == 2)
    }
}
