import ParleyCrypto
import Testing

@Suite struct HandshakeReplayGuardTests {
    static func key(_ byte: UInt8) -> IdentityPublicKey { HandshakeFixture.identity(byte).publicKey }
    static func at(_ seconds: Double) -> HandshakeTimestamp { HandshakeFixture.at(seconds) }
    static let now = HandshakeFixture.at(100)

    @Test func eachKeyNeedsAStrictlyGreaterTimestamp() throws {
        var replayGuard = HandshakeReplayGuard()
        try replayGuard.admit(Self.at(50), from: Self.key(1), now: Self.now)
        #expect(throws: CryptoError.replayed(what: "handshake initiation", counter: Self.at(50).rawValue)) {
            try replayGuard.admit(Self.at(50), from: Self.key(1), now: Self.now)
        }
        try replayGuard.admit(Self.at(50), from: Self.key(2), now: Self.now)
        try replayGuard.admit(Self.at(51), from: Self.key(1), now: Self.now)
        #expect(replayGuard.count == 2)
        #expect(replayGuard.highWaterMark == Self.at(51))
    }

    @Test func evictionRaisesTheFloorSoAnEvictedKeysOldInitiationStaysRefused() throws {
        var replayGuard = HandshakeReplayGuard(capacity: 2)
        try replayGuard.admit(Self.at(10), from: Self.key(1), now: Self.now)
        try replayGuard.admit(Self.at(20), from: Self.key(2), now: Self.now)
        try replayGuard.admit(Self.at(30), from: Self.key(3), now: Self.now)  // evicts key 1, the oldest
        #expect(replayGuard.count == 2)
        #expect(replayGuard.greatestTimestamp(of: Self.key(1)) == nil)
        #expect(replayGuard.floor == Self.at(10))
        // Key 1's old initiation is still refused, by the floor.
        #expect(throws: CryptoError.replayed(
            what: "handshake initiation (at or below the replay floor)", counter: Self.at(10).rawValue)) {
            try replayGuard.admit(Self.at(10), from: Self.key(1), now: Self.now)
        }
        // A newer one from key 1 is fine; so is any key's timestamp above the floor.
        try replayGuard.admit(Self.at(10.5), from: Self.key(1), now: Self.now)
        // The price: an unknown key whose clock is behind the floor waits until it passes it.
        #expect(throws: CryptoError.self) { try replayGuard.admit(Self.at(15), from: Self.key(9), now: Self.now) }
    }

    @Test func theWindowAroundTheRespondersClockBoundsBothWays() throws {
        var replayGuard = HandshakeReplayGuard(maximumClockSkew: .seconds(60))
        #expect(throws: CryptoError.replayed(
            what: "handshake initiation older than the clock-skew window", counter: Self.at(39.999).rawValue)) {
            try replayGuard.admit(Self.at(39.999), from: Self.key(1), now: Self.now)
        }
        #expect(throws: CryptoError.self) { try replayGuard.admit(Self.at(160.001), from: Self.key(1), now: Self.now) }
        #expect(replayGuard.count == 0)
        try replayGuard.admit(Self.at(40), from: Self.key(1), now: Self.now)
        try replayGuard.admit(Self.at(160), from: Self.key(2), now: Self.now)
    }

    @Test func aFloorSavedBeforeARestartKeepsOldInitiationsOut() throws {
        var before = HandshakeReplayGuard()
        try before.admit(Self.at(90), from: Self.key(1), now: Self.now)
        try before.admit(Self.at(95), from: Self.key(2), now: Self.now)
        var after = HandshakeReplayGuard(floor: before.highWaterMark)
        #expect(throws: CryptoError.self) { try after.admit(Self.at(90), from: Self.key(1), now: Self.now) }
        // Without the saved floor, the window alone is the bound: a replay within it would pass once.
        var forgetful = HandshakeReplayGuard()
        try forgetful.admit(Self.at(90), from: Self.key(1), now: Self.now)
    }

    @Test func checkDoesNotRecord() throws {
        let replayGuard = HandshakeReplayGuard()
        try replayGuard.check(Self.at(50), from: Self.key(1), now: Self.now)
        try replayGuard.check(Self.at(50), from: Self.key(1), now: Self.now)
        #expect(replayGuard.count == 0)
    }

    @Test func extremeClocksDoNotOverflow() throws {
        var replayGuard = HandshakeReplayGuard()
        try replayGuard.admit(HandshakeTimestamp(rawValue: .max), from: Self.key(1), now: HandshakeTimestamp(rawValue: .max))
        try replayGuard.admit(HandshakeTimestamp(rawValue: 1), from: Self.key(2), now: HandshakeTimestamp(rawValue: 0))
        #expect(throws: CryptoError.self) {
            try replayGuard.admit(HandshakeTimestamp(rawValue: .max), from: Self.key(3), now: HandshakeTimestamp(rawValue: 0))
        }
    }
}
