import Foundation
import ParleyCrypto
import ParleyWire
import Testing

/// A video announcement with recognisable keys: base key 00…1F, SRTP key 20…2F, salt 30…3B.
let announcementFixture: [UInt8] = [
    0x01, 0x02, 0x00, 0x04,  // version 1 | video | SFrame suite 4 (AES_128_GCM_SHA256_128)
    0xCA, 0xFE, 0xBA, 0xBE,  // SSRC
    0x00, 0x00, 0x00, 0x00,  // KID (high 32 bits)
    0x00, 0x00, 0x00, 0x07,  // KID (low 32 bits) = 7
    0x00, 0x07, 0x20, 0x10,  // SRTP profile 7 (AEAD_AES_128_GCM) | base key 32 B | SRTP key 16 B
    0x0C,  // SRTP salt 12 B
] + Array(0x00...0x1F) + Array(0x20...0x2F) + Array(0x30...0x3B)  // base key | SRTP key | SRTP salt

private let instant = MonotonicInstant(nanoseconds: 1_000_000_000)

@Suite struct SenderKeyAnnouncementTests {
    @Test func fixtureParsesAndSerializesToTheSameBytes() throws {
        let announcement = try SenderKeyAnnouncement(parsing: announcementFixture[...])
        #expect(announcement == SenderKeyAnnouncement(
            mediaKind: .video, ssrc: SSRC(0xCAFE_BABE), keyID: 7, sframeCipherSuite: 4, sframeBaseKey: Array(0x00...0x1F),
            srtpProtectionProfile: 7, srtpMasterKey: Array(0x20...0x2F), srtpMasterSalt: Array(0x30...0x3B)))
        #expect(announcement.serialize() == announcementFixture)
        #expect(announcement.serializedSize == announcementFixture.count)
    }

    @Test func theSpecificationShowsTheFixtureBytes() throws {
        let specification = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Protocols/peer/v1.md")
        let text = try String(contentsOf: specification, encoding: .utf8)
        let hex = announcementFixture.map { String(format: "%02x", $0) }.joined(separator: " ")
        #expect(text.contains(hex))
    }

    @Test func everyTruncationIsMalformed() {
        for length in 0..<announcementFixture.count {
            #expect(throws: CryptoError.self) { try SenderKeyAnnouncement(parsing: announcementFixture.prefix(length)) }
        }
    }

    @Test func trailingBytesUnknownVersionKindAndEmptyKeysAreRejected() {
        #expect(throws: CryptoError.malformed(.lengthMismatch(field: "sender key announcement", declared: 81, actual: 82))) {
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

    @Test func whatVersionOneDoesNotAllowIsRejected() {
        func rejected(_ change: (inout [UInt8]) -> Void) -> CryptoError? {
            var bytes = announcementFixture
            change(&bytes)
            do {
                _ = try SenderKeyAnnouncement(parsing: bytes[...])
                return nil
            } catch {
                return error
            }
        }
        #expect(rejected { $0[3] = 5 } == .malformed(.invalidValue(field: "SFrame cipher suite", reason: "version 1 uses suite 4, got 5")))
        #expect(rejected { $0[17] = 99 } == .malformed(.invalidValue(field: "SRTP protection profile", reason: "unsupported profile 99")))
        // Profile 1 (AES_CM_128_HMAC_SHA1_80) needs a 14-byte salt, not 12.
        #expect(rejected { $0[17] = 1 } == .malformed(.invalidValue(
            field: "SRTP key length", reason: "profile 1 needs a 16-byte key and 14-byte salt")))
        #expect(rejected { bytes in bytes[18] = 16; bytes.removeSubrange(21..<37) }
            == .malformed(.invalidValue(field: "base key length", reason: "must be 32, got 16")))
    }

    @Test func descriptionsNeverShowKeys() throws {
        let announcement = try SenderKeyAnnouncement(parsing: announcementFixture[...])
        let texts = ["\(announcement)", String(reflecting: announcement), "\(SessionMessage.senderKeyAnnouncement(announcementFixture))"]
        var dumped = ""
        dump(announcement, to: &dumped)
        for text in texts + [dumped] {
            #expect(!text.contains("31") && !text.contains("0x1f") && !text.contains("[0, 1, 2"), "\(text)")
            #expect(text.contains("redacted") || text.contains("keyID"))
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
        #expect(parsed > 50)
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

    @Test func undeliveredRotationCanBeAbandonedAndRetriedWithAFreshKey() throws {
        var schedule = try SenderKeySchedule(configuration: .init(rotationInterval: .seconds(60)))
        _ = try schedule.startStream(ssrc: SSRC(1), mediaKind: .audio, now: instant)
        let lost = try #require(try schedule.rotate(ssrc: SSRC(1)))
        #expect(schedule.pendingAnnouncement(of: SSRC(1)) == lost)
        #expect(schedule.streamsDueForRotation(now: instant + .seconds(600)).isEmpty)  // waiting for the ack
        schedule.abandonPending(ssrc: SSRC(1))
        #expect(schedule.streamsDueForRotation(now: instant + .seconds(600)) == [SSRC(1)])
        let retry = try #require(try schedule.rotate(ssrc: SSRC(1)))
        #expect(retry.keyID > lost.keyID && retry.sframeBaseKey != lost.sframeBaseKey)
        #expect(schedule.acknowledge(ssrc: SSRC(1), keyID: lost.keyID, now: instant) == nil)  // a late ack of the lost key
    }

    @Test func keyNearTheCounterThresholdIsDueForRotation() throws {
        var schedule = try SenderKeySchedule(configuration: .init(rotationCounterThreshold: 1_000))
        _ = try schedule.startStream(ssrc: SSRC(1), mediaKind: .audio, now: instant)
        #expect(schedule.streamsDueForRotation(now: instant, counters: [SSRC(1): 999]).isEmpty)
        #expect(schedule.streamsDueForRotation(now: instant, counters: [SSRC(1): 1_000]) == [SSRC(1)])
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

    @Test func keysPerStreamAreBoundedAndEvictedKIDsAreReported() throws {
        var ring = ReceiverKeyRing(gracePeriod: .seconds(3_600), maximumKeysPerStream: 3)
        var evicted: [UInt64] = []
        for kid in UInt64(1)...10 { evicted += try ring.install(announcement(kid: kid), now: instant) }
        #expect(evicted == Array(1...7))
        #expect((1...7).allSatisfy { ring.key(forKeyID: UInt64($0)) == nil })
        #expect((8...10).allSatisfy { ring.key(forKeyID: UInt64($0)) != nil })
        // A forgotten KID cannot come back.
        #expect(throws: CryptoError.rejected(reason: "KID 2 was already used and forgotten")) {
            try ring.install(announcement(kid: 2), now: instant)
        }
    }

    @Test func aKIDBelongsToOneStream() throws {
        var ring = ReceiverKeyRing()
        try ring.install(announcement(kid: 1, ssrc: 10), now: instant)
        #expect(throws: CryptoError.rejected(reason: "KID 1 already belongs to stream 0xA")) {
            try ring.install(announcement(kid: 1, ssrc: 20), now: instant)
        }
        try ring.install(announcement(kid: 2, ssrc: 20), now: instant)
        #expect(ring.key(forKeyID: 1, ssrc: SSRC(10)) != nil)
        #expect(ring.key(forKeyID: 1, ssrc: SSRC(20)) == nil)  // a frame moved to another stream finds no key
        #expect(ring.key(forKeyID: 2) == ring.key(forKeyID: 2, ssrc: SSRC(20)))
    }
}
