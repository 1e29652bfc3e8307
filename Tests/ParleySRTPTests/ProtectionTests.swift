import ParleyRTP
import CSRTP
import ParleySRTP
import ParleyWire
import Testing

@Suite struct ProtectionTests {
    @Test(arguments: SRTPSuite.allCases)
    func rtpAndRTCPRoundTripAndGrowByTheSuitesTrailer(suite: SRTPSuite) throws {
        let (sender, receiver) = try contextPair(suite)
        for (sequence, size) in [(100, 0), (101, 1), (102, 160), (103, 1200)] as [(UInt16, Int)] {
            let plain = rtpPacket(sequence: sequence, size: size)
            let protected = try sender.protect(rtp: plain)
            #expect(protected.count == plain.count + suite.rtpOverhead)
            #expect(protected.prefix(12) == plain.prefix(12), "the RTP header stays in the clear")
            if size >= 16 {
                #expect(protected[12..<28] != plain[12..<28], "the payload is encrypted")
            }
            #expect(try receiver.unprotect(srtp: protected) == plain)
        }
        let rtcp = rtcpPacket()
        let srtcp = try sender.protectRTCP(rtcp)
        #expect(srtcp.count == rtcp.count + suite.rtcpOverhead)
        #expect(srtcp.prefix(8) == rtcp.prefix(8))
        #expect(try receiver.unprotectRTCP(srtcp) == rtcp)
        #expect(sender.statistics == stats(protected: 5))
        #expect(receiver.statistics == stats(unprotected: 5))
    }

    @Test func theSuitesSizesAreThoseOfRFC3711AndRFC7714() {
        #expect(SRTPSuite.default == .aeadAES128GCM)
        let sizes = SRTPSuite.allCases.map { [$0.masterKeyLength, $0.masterSaltLength, $0.rtpOverhead, $0.rtcpOverhead] }
        #expect(sizes == [[16, 12, 16, 20], [32, 12, 16, 20], [16, 14, 10, 14], [16, 14, 4, 14]])
        #expect(SRTPSuite.allCases.map(\.rawValue)
            == ["AEAD_AES_128_GCM", "AEAD_AES_256_GCM", "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"])
    }

    @Test(arguments: SRTPSuite.allCases)
    func wrongKeyAndSaltLengthsAreRefused(suite: SRTPSuite) {
        let (key, salt) = keyMaterial(suite)
        for badKey in [Array(key.dropLast()), key + [0], []] {
            expectError(.invalidConfiguration(
                field: "masterKey", reason: "\(suite) needs \(suite.masterKeyLength) bytes, got \(badKey.count)")
            ) { () throws(SRTPError) in
                try SRTPContext(direction: .outbound, suite: suite, masterKey: badKey, masterSalt: salt)
            }
        }
        for badSalt in [Array(salt.dropLast()), salt + [0, 0]] {
            expectError(.invalidConfiguration(
                field: "masterSalt", reason: "\(suite) needs \(suite.masterSaltLength) bytes, got \(badSalt.count)")
            ) { () throws(SRTPError) in
                try SRTPContext(direction: .inbound, suite: suite, masterKey: key, masterSalt: badSalt)
            }
        }
    }

    @Test func anEmptySSRCListAndAReplayWindowOutOfRangeAreRefused() {
        let (key, salt) = keyMaterial(.aeadAES128GCM)
        expectError(.invalidConfiguration(field: "streams", reason: "the SSRC list is empty")) { () throws(SRTPError) in
            try SRTPContext(direction: .inbound, masterKey: key, masterSalt: salt, streams: .only([]))
        }
        for window in [0, 63, 32_768] {
            expectError(.invalidConfiguration(field: "replayWindow", reason: "must be in 64...32767, got \(window)")) {
                () throws(SRTPError) in
                try SRTPContext(direction: .inbound, masterKey: key, masterSalt: salt, replayWindow: window)
            }
        }
    }

    /// The sentence: a flipped bit, a replayed packet and a packet from a wrong key are each
    /// rejected and counted. A flipped bit and a wrong key both fail authentication (no receiver can tell
    /// them apart: the tag does not verify under its key); a replay is its own error and its own count.
    @Test(arguments: [SRTPSuite.aeadAES128GCM, .aesCM128HMACSHA1_80])
    func aFlippedBitAReplayAndAWrongKeyAreRejectedAndCounted(suite: SRTPSuite) throws {
        let (sender, receiver) = try contextPair(suite)
        let (stranger, _) = try contextPair(suite, seed: 99)

        let first = try sender.protect(rtp: rtpPacket(sequence: 1))
        #expect(try receiver.unprotect(srtp: first) == rtpPacket(sequence: 1))

        var flipped = try sender.protect(rtp: rtpPacket(sequence: 2))
        flipped[20] ^= 0x04
        expectError(.authenticationFailed) { () throws(SRTPError) in try receiver.unprotect(srtp: flipped) }
        #expect(receiver.statistics == stats(unprotected: 1, authenticationFailures: 1))

        expectError(.replayed) { () throws(SRTPError) in try receiver.unprotect(srtp: first) }
        #expect(receiver.statistics == stats(unprotected: 1, authenticationFailures: 1, replays: 1))

        let foreign = try stranger.protect(rtp: rtpPacket(sequence: 3))
        expectError(.authenticationFailed) { () throws(SRTPError) in try receiver.unprotect(srtp: foreign) }
        #expect(receiver.statistics == stats(unprotected: 1, authenticationFailures: 2, replays: 1))

        // A rejected packet leaves no trace: the undamaged packet 2 and packet 3 still arrive.
        #expect(try receiver.unprotect(srtp: sender.protect(rtp: rtpPacket(sequence: 3))) == rtpPacket(sequence: 3))
        flipped[20] ^= 0x04
        #expect(try receiver.unprotect(srtp: flipped) == rtpPacket(sequence: 2))
        #expect(receiver.statistics == stats(unprotected: 3, authenticationFailures: 2, replays: 1))
    }

    @Test(arguments: [SRTPSuite.aeadAES128GCM, .aesCM128HMACSHA1_80])
    func srtcpRoundTripsAndRejectsAFlippedBitAReplayAndAWrongKey(suite: SRTPSuite) throws {
        let (sender, receiver) = try contextPair(suite)
        let (stranger, _) = try contextPair(suite, seed: 99)

        let first = try sender.protectRTCP(rtcpPacket(lost: 1))
        #expect(try receiver.unprotectRTCP(first) == rtcpPacket(lost: 1))

        var flipped = try sender.protectRTCP(rtcpPacket(lost: 2))
        flipped[12] ^= 0x80
        expectError(.authenticationFailed) { () throws(SRTPError) in try receiver.unprotectRTCP(flipped) }
        expectError(.replayed) { () throws(SRTPError) in try receiver.unprotectRTCP(first) }
        // libsrtp checks the index against the replay window before the tag, so the stranger's packet
        // must carry an index the receiver has not seen to reach the tag check.
        var foreign = try stranger.protectRTCP(rtcpPacket(lost: 3))
        for _ in 0..<4 { foreign = try stranger.protectRTCP(rtcpPacket(lost: 3)) }
        expectError(.authenticationFailed) { () throws(SRTPError) in try receiver.unprotectRTCP(foreign) }
        #expect(receiver.statistics == stats(unprotected: 1, authenticationFailures: 2, replays: 1))

        // The SRTCP index is the sender's count of packets: 1, 2, 3… with the E bit set.
        let third = try sender.protectRTCP(rtcpPacket(lost: 4))
        // GCM puts the word last (RFC 7714 §9.1); AES-CM puts it before the tag (RFC 3711 §3.4).
        let wordStart = suite.isAEAD ? third.count - 4 : third.count - 4 - suite.rtcpTagLength
        #expect(Array(third[wordStart..<wordStart + 4]) == [0x80, 0x00, 0x00, 0x03])
        #expect(try receiver.unprotectRTCP(third) == rtcpPacket(lost: 4))
    }

    @Test func aStreamOutsideTheContextsSSRCListIsRefusedAndCounted() throws {
        let other = SSRC(0x0102_0304)
        let (sender, receiver) = try contextPair(.aeadAES128GCM, streams: .only([testSSRC]))
        expectError(.unknownSSRC(other)) { () throws(SRTPError) in try sender.protect(rtp: rtpPacket(sequence: 1, ssrc: other)) }
        expectError(.unknownSSRC(other)) { () throws(SRTPError) in try sender.protectRTCP(rtcpPacket(ssrc: other)) }

        let (anySender, _) = try contextPair(.aeadAES128GCM)
        let foreign = try anySender.protect(rtp: rtpPacket(sequence: 1, ssrc: other))
        expectError(.unknownSSRC(other)) { () throws(SRTPError) in try receiver.unprotect(srtp: foreign) }
        #expect(receiver.statistics == stats(unknownSSRC: 1))
        #expect(sender.statistics == stats(unknownSSRC: 2))
        #expect(try receiver.unprotect(srtp: sender.protect(rtp: rtpPacket(sequence: 1))) == rtpPacket(sequence: 1))
    }

    @Test func aContextServingAnySSRCKeepsEachStreamApart() throws {
        let (sender, receiver) = try contextPair(.aeadAES128GCM)
        let streams = [SSRC(1), SSRC(2), SSRC(0xFFFF_FFFF)]
        for sequence in UInt16(10)..<UInt16(20) {
            for ssrc in streams {
                let plain = rtpPacket(sequence: sequence, ssrc: ssrc)
                #expect(try receiver.unprotect(srtp: sender.protect(rtp: plain)) == plain)
            }
        }
        // Each stream has its own replay window and ROC; an SSRC never seen has no state.
        let replay = try sender.protect(rtp: rtpPacket(sequence: 20, ssrc: streams[1]))
        #expect(try receiver.unprotect(srtp: replay) == rtpPacket(sequence: 20, ssrc: streams[1]))
        expectError(.replayed) { () throws(SRTPError) in try receiver.unprotect(srtp: replay) }
        #expect(receiver.rolloverCounter(for: SSRC(3)) == nil)
        #expect(receiver.rolloverCounter(for: streams[2]) == 0)
    }

    /// Protecting the same index twice would reuse a keystream (with GCM, a nonce): libsrtp refuses it.
    @Test func protectRefusesToProtectTheSameIndexTwice() throws {
        let (sender, _) = try contextPair(.aeadAES128GCM)
        _ = try sender.protect(rtp: rtpPacket(sequence: 500))
        expectError(.alreadyProtected) { () throws(SRTPError) in try sender.protect(rtp: rtpPacket(sequence: 500, size: 3)) }
        #expect(sender.statistics == stats(protected: 1, otherFailures: 1))
        _ = try sender.protect(rtp: rtpPacket(sequence: 499))
    }

    @Test func packetsTooShortForTheirHeaderOrTagAreMalformedNotForged() throws {
        let (sender, receiver) = try contextPair(.aeadAES128GCM)
        let srtp = try sender.protect(rtp: rtpPacket(sequence: 1, size: 0))
        expectError(.malformed(.truncated(field: "SRTP authentication tag", needed: 28, available: 27))) {
            () throws(SRTPError) in try receiver.unprotect(srtp: Array(srtp.dropLast()))
        }
        expectError(.malformed(.truncated(field: "RTP header", needed: 12, available: 11))) {
            () throws(SRTPError) in try receiver.unprotect(srtp: Array(srtp.prefix(11)))
        }
        expectError(.malformed(.truncated(field: "RTP header", needed: 12, available: 0))) {
            () throws(SRTPError) in try receiver.unprotect(srtp: [])
        }
        var version1 = srtp
        version1[0] = 0x40
        expectError(.malformed(.invalidValue(field: "version", reason: "must be 2, got 1"))) {
            () throws(SRTPError) in try receiver.unprotect(srtp: version1)
        }
        // Fifteen CSRCs declared, none present.
        var csrcs = srtp
        csrcs[0] = 0x8F
        expectError(.malformed(.truncated(field: "CSRC", needed: 72, available: 28))) {
            () throws(SRTPError) in try receiver.unprotect(srtp: csrcs)
        }
        // An extension header declaring 0xFFFF words.
        let extended = [0x90, 0x60, 0, 1] + [UInt8](repeating: 0, count: 4) + bytes(testSSRC.rawValue) + [0xBE, 0xDE, 0xFF, 0xFF]
            + [UInt8](repeating: 0, count: 16)
        expectError(.malformed(.lengthMismatch(field: "header extension length", declared: 262_156, actual: 32))) {
            () throws(SRTPError) in try receiver.unprotect(srtp: extended)
        }
        let srtcp = try sender.protectRTCP(rtcpPacket())
        expectError(.malformed(.truncated(field: "SRTCP index and authentication tag", needed: 28, available: 27))) {
            () throws(SRTPError) in try receiver.unprotectRTCP(Array(srtcp.prefix(27)))
        }
        expectError(.malformed(.invalidValue(field: "RTCP packet type", reason: "must be in 192…223, got 111"))) {
            () throws(SRTPError) in try receiver.unprotectRTCP(srtp + srtp)
        }
        let huge = rtpPacket(sequence: 2, size: SRTPContext.maximumPacketSize)
        expectError(.malformed(.lengthMismatch(field: "packet length", declared: 65_535, actual: huge.count))) {
            () throws(SRTPError) in try sender.protect(rtp: huge)
        }
        #expect(receiver.statistics == stats(malformed: 8))
        #expect(sender.statistics == stats(protected: 2, malformed: 1))
    }

    @Test(arguments: [SRTPSuite.aeadAES128GCM, .aesCM128HMACSHA1_32])
    func inPlaceCallsGiveTheSameBytesAsCopyingOnes(suite: SRTPSuite) throws {
        let (sender, receiver) = try contextPair(suite)
        let (twin, twinReceiver) = try contextPair(suite)
        for sequence in UInt16(1)...UInt16(5) {
            var packet = rtpPacket(sequence: sequence, size: Int(sequence) * 100)
            let copied = try twin.protect(rtp: packet)
            try sender.protect(rtpInPlace: &packet)
            #expect(packet == copied)
            try receiver.unprotect(srtpInPlace: &packet)
            #expect(packet == rtpPacket(sequence: sequence, size: Int(sequence) * 100))

            var rtcp = rtcpPacket(lost: UInt8(sequence))
            let copiedRTCP = try twin.protectRTCP(rtcp)
            try sender.protectRTCP(inPlace: &rtcp)
            #expect(rtcp == copiedRTCP)
            try receiver.unprotectRTCP(inPlace: &rtcp)
            #expect(rtcp == rtcpPacket(lost: UInt8(sequence)))
        }
        // A failure leaves the buffer's length as it was.
        var forged = try twin.protect(rtp: rtpPacket(sequence: 9))
        forged[forged.count - 1] ^= 1
        let length = forged.count
        expectError(.authenticationFailed) { () throws(SRTPError) in try twinReceiver.unprotect(srtpInPlace: &forged) }
        #expect(forged.count == length)
    }

    @Test func protectingParsedPacketsEqualsProtectingTheirBytes() throws {
        let (sender, receiver) = try contextPair(.aeadAES128GCM)
        let (twin, _) = try contextPair(.aeadAES128GCM)
        let extensions = RTPHeaderExtensions(elements: [RTPHeaderExtensionElement(id: 3, data: [1, 2, 3])])
        let packet = RTPPacket(
            header: RTPHeader(
                marker: true, payloadType: 96, sequenceNumber: SequenceNumber(7), timestamp: RTPTimestamp(90_000),
                ssrc: testSSRC, csrcs: [SSRC(9)], extensions: extensions),
            payload: [UInt8](repeating: 0x5A, count: 300), paddingCount: 3)
        let protected = try sender.protect(packet)
        #expect(protected == (try twin.protect(rtp: packet.serialize())))
        #expect(try receiver.unprotect(srtp: protected) == packet.serialize())

        let compound = try RTCPCompoundPacket(parsing: rtcpPacket())
        let srtcp = try sender.protectRTCP(compound)
        #expect(srtcp == (try twin.protectRTCP(compound.serialize())))
        #expect(try RTCPCompoundPacket(parsing: receiver.unprotectRTCP(srtcp)) == compound)
    }
}

@Suite struct LibsrtpInitialisationTests {
    @Test func contextsWorkWhenOtherCodeInitialisedLibsrtpFirst() throws {
        // Another library in the process may call srtp_init() before Parley does (or again after).
        _ = srtp_init()
        let key = [UInt8](repeating: 1, count: 16)
        let salt = [UInt8](repeating: 2, count: 12)
        let sender = try SRTPContext(direction: .outbound, masterKey: key, masterSalt: salt)
        let receiver = try SRTPContext(direction: .inbound, masterKey: key, masterSalt: salt)
        let packet: [UInt8] = [0x80, 0x60, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 9, 0xAB]
        #expect(try receiver.unprotect(srtp: sender.protect(rtp: packet)) == packet)
    }
}
