import ParleyCrypto
import ParleyWire
import Testing

/// An announcement with short, recognisable keys.
let announcementFixture: [UInt8] = [
    0x01, 0x02, 0x00, 0x04,  // version 1 | video | SFrame suite 4 (AES_128_GCM_SHA256_128)
    0xCA, 0xFE, 0xBA, 0xBE,  // SSRC
    0x00, 0x00, 0x00, 0x00,  // KID (high 32 bits)
    0x00, 0x00, 0x00, 0x07,  // KID (low 32 bits) = 7
    0x00, 0x07, 0x02, 0x03,  // SRTP profile 7 (AEAD_AES_128_GCM) | base key 2 B | SRTP key 3 B
    0x01, 0xB0, 0xB1, 0xC0,  // SRTP salt 1 B | base key B0 B1 | SRTP key C0 …
    0xC1, 0xC2, 0xD0,  // … C1 C2 | SRTP salt D0
]

private let instant = MonotonicInstant(nanoseconds: 1_000_000_000)

@Suite struct SenderKeyAnnouncementTests {
    @Test func fixtureParsesAndSerializesToTheSameBytes() throws {
        let announcement = try SenderKeyAnnouncement(parsing: announcementFixture[...])
        #expect(announcement == SenderKeyAnnouncement(
            mediaKind: .video, ssrc: SSRC(0xCAFE_BABE), keyID: 7, sframeCipherSuite: 4, sframeBaseKey: [0xB0, 0xB1],
            srtpProtectionProfile: 7, srtpMasterKey: [0xC0, 0xC1, 0xC2], srtpMasterSalt: [0xD0]))
        #expect(announcement.serialize() == announcementFixture)
        #expect(announcement.serializedSize == announcementFixture.count)
    }

    @Test func everyTruncationIsMalformed() {
        for length in 0..<announcementFixture.count {
            #expect(throws: CryptoError.self) { try SenderKeyAnnouncement(parsing: announcementFixture.prefix(length)) }
        }
    }

    @Test func trailingBytesUnknownVersionKindAndEmptyKeysAreRejected() {
        #expect(throws: CryptoError.malformed(.lengthMismatch(field: "sender key announcement", declared: 27, actual: 28))) {
            try SenderKeyAnnouncement(parsing: (announcementFixture + [0])[...])
        }
        var bytes = announcementFixture
        bytes[0] = 2
        #expect(throws: CryptoError.malformed(.invalidValue(field: "announcement version", reason: "must be 1, got 2"))) {
            try SenderKeyAnnouncement(parsing: bytes[...])
        }
        bytes = announcementFixture
        bytes[1] = 9
        #expect(throws: CryptoError.malformed(.invalidValue(field: "media kind", reason: "unknown kind 9"))) {
            try SenderKeyAnnouncement(parsing: bytes[...])
        }
        bytes = announcementFixture
        bytes[18] = 0
        #expect(throws: CryptoError.malformed(.invalidValue(field: "base key length", reason: "must not be 0"))) {
            try SenderKeyAnnouncement(parsing: bytes[...])
        }
    }

    @Test func randomAndMutatedInputNeverTraps() {
        var random = SplitMix64(seed: 0xA11)
        var parsed = 0
        for round in 0..<10_000 {
            var bytes = round % 2 == 0 ? announcementFixture : (0..<Int(random.next() % 40)).map { _ in UInt8.random(in: 0...255, using: &random) }
            if !bytes.isEmpty { bytes[Int(random.next() % UInt64(bytes.count))] ^= UInt8.random(in: 1...255, using: &random) }
            if let announcement = try? SenderKeyAnnouncement(parsing: bytes[...]) {
                parsed += 1
                #expect(announcement.serialize() == bytes)
            }
        }
        #expect(parsed > 100)
    }
}

@Suite struct SenderKeyScheduleTests {
    @Test func newStreamGetsFreshKeysOfTheConfiguredSizes() throws {
        var schedule = try SenderKeySchedule()
        let audio = try schedule.startStream(ssrc: SSRC(1), mediaKind: .audio, now: instant)
        let video = try schedule.startStream(ssrc: SSRC(2), mediaKind: .video, now: instant)
        #expect(audio.sframeBaseKey.count == 32 && audio.srtpMasterKey.count == 16 && audio.srtpMasterSalt.count == 12)
        #expect(audio.keyID != video.keyID)
        #expect(audio.sframeBaseKey != video.sframeBaseKey && audio.srtpMasterKey != video.srtpMasterKey)
        #expect(throws: CryptoError.self) { try schedule.startStream(ssrc: SSRC(1), mediaKind: .audio, now: instant) }
    }

    @Test func rotationAnnouncesFirstAndSwitchesOnlyWhenAcknowledged() throws {
        var schedule = try SenderKeySchedule(configuration: .init(rotationInterval: .seconds(60)))
        let first = try schedule.startStream(ssrc: SSRC(1), mediaKind: .audio, now: instant)
        #expect(schedule.nextDeadline == instant + .seconds(60))
        #expect(schedule.streamsDueForRotation(now: instant + .seconds(59)).isEmpty)
        #expect(schedule.streamsDueForRotation(now: instant + .seconds(60)) == [SSRC(1)])
        let next = try #require(try schedule.rotate(ssrc: SSRC(1)))
        #expect(next.keyID > first.keyID && next.sframeBaseKey != first.sframeBaseKey)
        #expect(next.srtpMasterKey == first.srtpMasterKey)  // SRTP keys last the stream
        #expect(try schedule.rotate(ssrc: SSRC(1)) == nil)  // one rotation at a time
        #expect(schedule.streams[SSRC(1)]?.active == first)  // still the old key until acknowledged
        #expect(schedule.acknowledge(ssrc: SSRC(1), keyID: first.keyID, now: instant) == nil)
        #expect(schedule.acknowledge(ssrc: SSRC(1), keyID: next.keyID, now: instant + .seconds(61)) == next)
        #expect(schedule.streams[SSRC(1)]?.active == next)
        #expect(schedule.nextDeadline == instant + .seconds(121))
    }

    @Test func keyIDsAreNeverReusedAcrossStreamsAndRotations() throws {
        var schedule = try SenderKeySchedule()
        var seen: Set<UInt64> = []
        for stream in UInt32(1)...5 {
            seen.insert(try schedule.startStream(ssrc: SSRC(stream), mediaKind: .audio, now: instant).keyID)
        }
        for _ in 0..<20 {
            for stream in UInt32(1)...5 {
                let next = try #require(try schedule.rotate(ssrc: SSRC(stream)))
                #expect(seen.insert(next.keyID).inserted)
                _ = schedule.acknowledge(ssrc: SSRC(stream), keyID: next.keyID, now: instant)
            }
        }
        #expect(seen.count == 105)
    }

    @Test func unsupportedSRTPProfileIsRefused() {
        #expect(throws: CryptoError.invalidKey(what: "SRTP protection profile", reason: "unsupported profile 99")) {
            try SenderKeySchedule(configuration: .init(srtpProtectionProfile: 99))
        }
    }
}

@Suite struct ReceiverKeyRingTests {
    private func announcement(kid: UInt64, ssrc: UInt32 = 1, srtpKey: [UInt8] = [1, 2, 3]) -> SenderKeyAnnouncement {
        SenderKeyAnnouncement(
            mediaKind: .audio, ssrc: SSRC(ssrc), keyID: kid, sframeCipherSuite: 4, sframeBaseKey: [UInt8](repeating: UInt8(kid), count: 32),
            srtpProtectionProfile: 7, srtpMasterKey: srtpKey, srtpMasterSalt: [4])
    }

    @Test func replacedKeyStaysUsableForTheGracePeriodThenExpires() throws {
        var ring = ReceiverKeyRing(gracePeriod: .seconds(5))
        try ring.install(announcement(kid: 1), now: instant)
        try ring.install(announcement(kid: 2), now: instant + .seconds(10))
        #expect(ring.key(forKeyID: 1) != nil && ring.key(forKeyID: 2) != nil)
        #expect(ring.nextDeadline == instant + .seconds(15))
        #expect(ring.expire(now: instant + .seconds(14)).isEmpty)
        #expect(ring.expire(now: instant + .seconds(15)) == [1])
        #expect(ring.key(forKeyID: 1) == nil)
        #expect(ring.currentKey(of: SSRC(1))?.keyID == 2)
    }

    @Test func retransmittedAnnouncementChangesNothingButAConflictingOneIsRejected() throws {
        var ring = ReceiverKeyRing()
        try ring.install(announcement(kid: 3), now: instant)
        try ring.install(announcement(kid: 3), now: instant + .seconds(1))
        #expect(ring.nextDeadline == nil)
        var conflicting = announcement(kid: 3)
        conflicting.sframeBaseKey = [UInt8](repeating: 9, count: 32)
        #expect(throws: CryptoError.self) { try ring.install(conflicting, now: instant) }
    }

    @Test func olderKIDsAndChangedSRTPKeysAreRejected() throws {
        var ring = ReceiverKeyRing()
        try ring.install(announcement(kid: 5), now: instant)
        #expect(throws: CryptoError.rejected(reason: "KID 4 is older than 5")) { try ring.install(announcement(kid: 4), now: instant) }
        #expect(throws: CryptoError.self) { try ring.install(announcement(kid: 6, srtpKey: [9]), now: instant) }
    }

    @Test func keysPerStreamAreBounded() throws {
        var ring = ReceiverKeyRing(gracePeriod: .seconds(3_600), maximumKeysPerStream: 3)
        for kid in UInt64(1)...10 { try ring.install(announcement(kid: kid), now: instant) }
        #expect((1...7).allSatisfy { ring.key(forKeyID: UInt64($0)) == nil })
        #expect((8...10).allSatisfy { ring.key(forKeyID: UInt64($0)) != nil })
    }
}
