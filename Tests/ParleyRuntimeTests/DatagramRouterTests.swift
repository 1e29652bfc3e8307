import ParleyRuntime
import ParleyWire
import Testing

/// A datagram of `count` bytes: `head`, then zeros.
private func datagram(_ head: [UInt8], count: Int) -> [UInt8] {
    head + [UInt8](repeating: 0, count: max(0, count - head.count))
}

private let alice = SocketAddress.loopbackV4(port: 4000)
private let bob = SocketAddress.loopbackV6(port: 5000)

/// A router with call "A" under index 0x0A0A_0A0A bound to `alice`, and call "B" under 0x0B0B_0B0B.
private func makeRouter() -> DatagramRouter<String> {
    var router = DatagramRouter<String>()
    _ = router.register(index: 0x0A0A_0A0A, session: "A")
    _ = router.register(index: 0x0B0B_0B0B, session: "B")
    router.bindAddress(alice, to: "A")
    return router
}

@Suite struct DatagramRouterTests {
    typealias Route = DatagramRouter<String>.Route

    /// One datagram per row: its first bytes, its length, its source and where it must go.
    static let table: [(head: [UInt8], count: Int, source: SocketAddress, route: Route)] = [
        // Initiation: type 0x04, reserved 0 | initiator index | call id …: always a new call.
        ([0x04, 0x00, 0x00, 0x00, 0xDE, 0xAD, 0xBE, 0xEF], 128, bob, .newCall),
        // Initiation one byte short of 24-byte header + 104-byte Noise message.
        ([0x04, 0x00, 0x00, 0x00, 0xDE, 0xAD, 0xBE, 0xEF], 127, bob, .drop(.tooShort)),
        // Initiation with a reserved bit set in byte 3.
        ([0x04, 0x00, 0x00, 0x01, 0xDE, 0xAD, 0xBE, 0xEF], 200, bob, .drop(.nonzeroReservedBytes)),
        // Response: type 0x05, reserved 0 | responder index (not ours) | initiator index = A's.
        ([0x05, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x0A, 0x0A, 0x0A, 0x0A], 64, bob, .session("A")),
        // Response whose responder index (bytes 4–7) is B's but whose echoed index names nobody.
        ([0x05, 0x00, 0x00, 0x00, 0x0B, 0x0B, 0x0B, 0x0B, 0x0C, 0x0C, 0x0C, 0x0C], 64, bob, .drop(.unknownIndex)),
        // Response one byte short of 12-byte header + 52-byte Noise message.
        ([0x05, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x0A, 0x0A, 0x0A, 0x0A], 63, bob, .drop(.tooShort)),
        // Response with a reserved byte set (byte 1).
        ([0x05, 0x80, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x0A, 0x0A, 0x0A, 0x0A], 64, bob, .drop(.nonzeroReservedBytes)),
        // Channel: type 0x06, reserved 0 | receiver index = B's | counter …, from any address.
        ([0x06, 0x00, 0x00, 0x00, 0x0B, 0x0B, 0x0B, 0x0B], 32, bob, .session("B")),
        // Channel to A's index arriving from a new address (roaming is the session's to judge).
        ([0x06, 0x00, 0x00, 0x00, 0x0A, 0x0A, 0x0A, 0x0A], 1200, bob, .session("A")),
        // Channel whose receiver index names nobody.
        ([0x06, 0x00, 0x00, 0x00, 0x0A, 0x0A, 0x0A, 0x0B], 32, bob, .drop(.unknownIndex)),
        // Channel one byte short of 16-byte header + 16-byte tag.
        ([0x06, 0x00, 0x00, 0x00, 0x0B, 0x0B, 0x0B, 0x0B], 31, bob, .drop(.tooShort)),
        // Channel with a reserved byte set (byte 2).
        ([0x06, 0x00, 0x01, 0x00, 0x0B, 0x0B, 0x0B, 0x0B], 32, bob, .drop(.nonzeroReservedBytes)),
        // SRTP: V=2 (0x80), PT 111 | sequence | timestamp | SSRC, from A's authenticated address.
        ([0x80, 0x6F, 0x00, 0x01], 12, alice, .session("A")),
        // SRTCP: V=2, RC=0 (0x80), PT 200 (SR), from A's address; first byte 191 is the top of the range.
        ([0xBF, 0xC8, 0x00, 0x06], 40, alice, .session("A")),
        // SRTP from an address no session has authenticated.
        ([0x80, 0x6F, 0x00, 0x01], 100, bob, .drop(.unknownAddress)),
        // SRTP shorter than an RTP header.
        ([0x80, 0x6F, 0x00, 0x01], 11, alice, .drop(.tooShort)),
        // Reserved types 0x07 and 0x0F, even long and from a bound address.
        ([0x07, 0x00, 0x00, 0x00, 0x0A, 0x0A, 0x0A, 0x0A], 64, alice, .drop(.reservedType)),
        ([0x0F], 1, alice, .drop(.reservedType)),
        // STUN (0x00, 0x01), DTLS (0x16), QUIC/TURN (0x40), just past SRTP (0xC0), 0xFF: not ours.
        ([0x00, 0x01, 0x00, 0x00], 20, alice, .drop(.unknownType)),
        ([0x16, 0xFE, 0xFD], 13, alice, .drop(.unknownType)),
        ([0x40], 30, alice, .drop(.unknownType)),
        ([0x7F], 30, alice, .drop(.unknownType)),
        ([0xC0], 30, alice, .drop(.unknownType)),
        ([0xFF], 1, alice, .drop(.unknownType)),
        // Empty datagram.
        ([], 0, alice, .drop(.tooShort)),
        // Lone type bytes: far too short for their kinds.
        ([0x04], 1, bob, .drop(.tooShort)),
        ([0x05], 1, bob, .drop(.tooShort)),
        ([0x06], 1, bob, .drop(.tooShort)),
        ([0x80], 1, alice, .drop(.tooShort)),
    ]

    @Test func eachDatagramKindGoesWhereTheTableSays() {
        var router = makeRouter()
        var expectedDrops: [RouteDropReason: Int] = [:]
        for (row, entry) in Self.table.enumerated() {
            let bytes = datagram(entry.head, count: entry.count)
            #expect(router.route(bytes, from: entry.source) == entry.route, "row \(row): \(entry.head)")
            if case .drop(let reason) = entry.route { expectedDrops[reason, default: 0] += 1 }
        }
        #expect(router.drops == expectedDrops)
        for reason in RouteDropReason.allCases {
            #expect(router.dropCount(reason) == expectedDrops[reason, default: 0], "\(reason)")
        }
    }

    @Test func routingReadsASliceInPlace() {
        var router = makeRouter()
        let buffer = [0xEE, 0xEE] + datagram([0x06, 0, 0, 0, 0x0B, 0x0B, 0x0B, 0x0B], count: 32) + [0xEE]
        #expect(router.route(buffer[2..<34], from: bob) == .session("B"))
        #expect(router.route(buffer[2..<33], from: bob) == .drop(.tooShort))
    }

    @Test func registeringATakenIndexForAnotherSessionIsRefused() {
        var router = makeRouter()
        #expect(router.register(index: 0x0A0A_0A0A, session: "B") == false)
        #expect(router.session(forIndex: 0x0A0A_0A0A) == "A")
        let sameAgain = router.register(index: 0x0A0A_0A0A, session: "A")
        #expect(sameAgain)  // the same pair again is fine
        let secondIndex = router.register(index: 0x0C0C_0C0C, session: "A")
        #expect(secondIndex)  // a session may hold several indices
        #expect(router.session(forIndex: 0x0C0C_0C0C) == "A")
    }

    @Test func unregisteringASessionStopsItsIndicesAndItsAddress() {
        var router = makeRouter()
        _ = router.register(index: 0x0C0C_0C0C, session: "A")
        router.unregister(session: "A")
        let channelToA = datagram([0x06, 0, 0, 0, 0x0A, 0x0A, 0x0A, 0x0A], count: 32)
        let channelToA2 = datagram([0x06, 0, 0, 0, 0x0C, 0x0C, 0x0C, 0x0C], count: 32)
        #expect(router.route(channelToA, from: alice) == .drop(.unknownIndex))
        #expect(router.route(channelToA2, from: alice) == .drop(.unknownIndex))
        #expect(router.route(datagram([0x80], count: 12), from: alice) == .drop(.unknownAddress))
        // B is untouched.
        #expect(router.route(datagram([0x06, 0, 0, 0, 0x0B, 0x0B, 0x0B, 0x0B], count: 32), from: bob) == .session("B"))
        router.unregister(index: 0x0B0B_0B0B)
        #expect(router.session(forIndex: 0x0B0B_0B0B) == nil)
    }

    @Test func rebindingMovesMediaToTheLatestAuthenticatedAddress() {
        var router = makeRouter()
        let srtp = datagram([0x80, 0x60], count: 100)
        router.bindAddress(bob, to: "A")  // A's peer roamed from alice to bob
        #expect(router.route(srtp, from: bob) == .session("A"))
        #expect(router.route(srtp, from: alice) == .drop(.unknownAddress))
        router.bindAddress(bob, to: "B")  // B's channel now authenticates bob: A loses it
        #expect(router.route(srtp, from: bob) == .session("B"))
        #expect(router.session(forAddress: bob) == "B")
        router.bindAddress(alice, to: "A")
        #expect(router.route(srtp, from: alice) == .session("A"))
        #expect(router.route(srtp, from: bob) == .session("B"))
    }

    @Test func randomAndMutatedDatagramsNeverTrapAndAreAllAccountedFor() {
        var router = makeRouter()
        var generator = SplitMix64(seed: 0x5EED_0006)
        let seeds = Self.table.map { datagram($0.head, count: $0.count) }
        var routed = 0
        let total = 20_000
        for round in 0..<total {
            let bytes: [UInt8]
            if round % 2 == 0 {
                bytes = generator.mutated(seeds[Int.random(in: 0..<seeds.count, using: &generator)], changes: 1...4)
            } else {
                bytes = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            let source = Bool.random(using: &generator) ? alice : bob
            switch router.route(bytes, from: source) {
            case .newCall:
                #expect(bytes.first == 0x04 && bytes.count >= 128)
                routed += 1
            case .session(let session):
                #expect(session == "A" || session == "B")
                routed += 1
            case .drop:
                break
            }
        }
        #expect(routed + router.drops.values.reduce(0, +) == total)
        #expect(router.dropCount(.unknownType) > 0 && router.dropCount(.tooShort) > 0)
    }
}
