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
        var replayGuard = HandshakeReplayGuard(maximumClockSkew: .seconds(60), maximumFutureSkew: .seconds(60))
        #expect(throws: CryptoError.replayed(
            what: "handshake initiation older than the clock-skew window", counter: Self.at(39.999).rawValue)) {
            try replayGuard.admit(Self.at(39.999), from: Self.key(1), now: Self.now)
        }
        #expect(throws: CryptoError.self) { try replayGuard.admit(Self.at(160.001), from: Self.key(1), now: Self.now) }
        #expect(replayGuard.count == 0)
        try replayGuard.admit(Self.at(40), from: Self.key(1), now: Self.now)
        try replayGuard.admit(Self.at(160), from: Self.key(2), now: Self.now)
    }

    @Test func theWindowReachesFarLessIntoTheFutureThanIntoThePast() throws {
        var replayGuard = HandshakeReplayGuard()
        #expect(replayGuard.maximumClockSkew == .seconds(300))
        #expect(replayGuard.maximumFutureSkew == .seconds(30))
        #expect(throws: CryptoError.self) { try replayGuard.admit(Self.at(130.001), from: Self.key(1), now: Self.now) }
        #expect(replayGuard.count == 0)
        try replayGuard.admit(Self.at(130), from: Self.key(1), now: Self.now)
        try replayGuard.admit(Self.at(-200), from: Self.key(2), now: Self.now)
        // A smaller past window caps the default future window.
        #expect(HandshakeReplayGuard(maximumClockSkew: .seconds(10)).maximumFutureSkew == .seconds(10))
    }

    /// Throw-away identity keys, as a flooder makes them (distinct for distinct `n`).
    static func throwAwayKey(_ n: Int) -> IdentityPublicKey {
        var bytes = [UInt8](repeating: 0x5A, count: 32)
        // Bytes 1 and 2: X25519 clamping leaves them alone (it changes bytes 0 and 31).
        bytes[1] = UInt8(truncatingIfNeeded: n)
        bytes[2] = UInt8(truncatingIfNeeded: n >> 8)
        return try! IdentityKeyPair(privateKeyRawRepresentation: bytes).publicKey
    }

    @Test func aFloodOfThrowAwayKeysCannotLockOutProtectedCallersAndLocksOutOthersOnlyBriefly() throws {
        let contact = Self.key(1)  // protected: a known contact
        let stranger = Self.key(2)  // a real caller, not protected
        var replayGuard = HandshakeReplayGuard(protectedKeys: [contact])
        try replayGuard.admit(Self.at(99), from: contact, now: Self.now)
        try replayGuard.admit(Self.at(99), from: stranger, now: Self.now)

        // The flood: one more throw-away key than the record holds, all stamped at the window's edge.
        let edge = Self.at(100 + 30)
        for n in 0...HandshakeReplayGuard.defaultCapacity {
            try replayGuard.admit(edge, from: Self.throwAwayKey(n), now: Self.now)
        }
        #expect(replayGuard.greatestTimestamp(of: stranger) == nil)  // evicted
        #expect(replayGuard.floor == edge)  // at most now + 30 s, not now + 300 s
        #expect(replayGuard.greatestTimestamp(of: contact) == Self.at(99))  // not evicted
        #expect(replayGuard.count == HandshakeReplayGuard.defaultCapacity + 1)

        // Beyond +30 s is refused, so the flooder cannot lift the floor further.
        #expect(throws: CryptoError.self) { try replayGuard.admit(Self.at(130.001), from: Self.throwAwayKey(9999), now: Self.now) }

        // The protected contact still gets in at its own clock, and its replay is still refused.
        try replayGuard.admit(Self.at(100), from: contact, now: Self.now)
        #expect(throws: CryptoError.replayed(what: "handshake initiation", counter: Self.at(100).rawValue)) {
            try replayGuard.admit(Self.at(100), from: contact, now: Self.now)
        }
        #expect(throws: CryptoError.self) { try replayGuard.admit(Self.at(99), from: contact, now: Self.now) }

        // An unprotected caller (evicted or new) waits for the floor, i.e. at most 30 s past the flood.
        #expect(throws: CryptoError.replayed(
            what: "handshake initiation (at or below the replay floor)", counter: Self.at(100).rawValue)) {
            try replayGuard.admit(Self.at(100), from: stranger, now: Self.now)
        }
        #expect(throws: CryptoError.self) { try replayGuard.admit(Self.at(100), from: Self.key(3), now: Self.now) }
        let later = Self.at(131)
        try replayGuard.admit(later, from: Self.key(3), now: later)
        try replayGuard.admit(later, from: stranger, now: later)
        #expect(replayGuard.greatestTimestamp(of: contact) == Self.at(100))
    }

    @Test func protectingAKeyCarriesItsReplayBoundAcross() throws {
        var replayGuard = HandshakeReplayGuard(capacity: 2)
        try replayGuard.admit(Self.at(50), from: Self.key(1), now: Self.now)
        replayGuard.protect(Self.key(1))
        #expect(replayGuard.isProtected(Self.key(1)))
        #expect(replayGuard.protectedKeys == [Self.key(1)])
        #expect(replayGuard.greatestTimestamp(of: Self.key(1)) == Self.at(50))
        #expect(throws: CryptoError.self) { try replayGuard.admit(Self.at(50), from: Self.key(1), now: Self.now) }

        // A key evicted before it was protected stays bound by the floor it was evicted under.
        try replayGuard.admit(Self.at(60), from: Self.key(2), now: Self.now)
        try replayGuard.admit(Self.at(70), from: Self.key(3), now: Self.now)
        try replayGuard.admit(Self.at(80), from: Self.key(4), now: Self.now)  // evicts key 2: floor 60
        #expect(replayGuard.greatestTimestamp(of: Self.key(1)) == Self.at(50))  // the protected tier is not evicted
        replayGuard.protect(Self.key(2))
        #expect(replayGuard.greatestTimestamp(of: Self.key(2)) == nil)
        #expect(throws: CryptoError.self) { try replayGuard.admit(Self.at(60), from: Self.key(2), now: Self.now) }
        try replayGuard.admit(Self.at(60.5), from: Self.key(2), now: Self.now)
        // Later evictions no longer move a protected key's bound.
        try replayGuard.admit(Self.at(90), from: Self.key(5), now: Self.now)  // evicts key 3: floor 70
        try replayGuard.admit(Self.at(65), from: Self.key(1), now: Self.now)

        // Unprotecting puts the key back under the ordinary rules, keeping its bound.
        replayGuard.unprotect(Self.key(1))
        #expect(!replayGuard.isProtected(Self.key(1)))
        #expect(throws: CryptoError.self) { try replayGuard.admit(Self.at(65), from: Self.key(1), now: Self.now) }
        #expect(replayGuard.highWaterMark == Self.at(90))
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
