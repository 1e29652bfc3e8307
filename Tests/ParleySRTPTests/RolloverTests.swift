import ParleySRTP
import ParleyWire
import Testing

/// The rollover counter (ROC, RFC 3711 §3.3.1) extends the 16-bit sequence number; libsrtp keeps it per
/// stream on both sides, and it enters every IV and (AES-CM) tag, so a ROC out of step breaks authentication.
@Suite struct RolloverTests {
    /// `packet` with its sequence number set to `sequence`, in place.
    static func setSequence(_ sequence: UInt16, in packet: inout [UInt8]) {
        packet[2] = UInt8(sequence >> 8)
        packet[3] = UInt8(truncatingIfNeeded: sequence)
    }

    /// 70 000 packets from sequence number 65 000: the numbers wrap twice (ROC 0 → 1 → 2) and every packet
    /// unprotects to what was sent.
    @Test(arguments: [SRTPSuite.aeadAES128GCM, .aesCM128HMACSHA1_80])
    func seventyThousandPacketsThroughTwoSequenceWrapsAllUnprotect(suite: SRTPSuite) throws {
        let (sender, receiver) = try contextPair(suite)
        var packet = rtpPacket(sequence: 0, size: 20)
        var sequence: UInt16 = 65_000
        for count in 0..<70_000 {
            Self.setSequence(sequence, in: &packet)
            let recovered = try receiver.unprotect(srtp: sender.protect(rtp: packet))
            guard recovered == packet else {
                Issue.record("packet \(count) (sequence number \(sequence)) came back different")
                return
            }
            sequence &+= 1
        }
        #expect(sender.rolloverCounter(for: testSSRC) == 2)
        #expect(receiver.rolloverCounter(for: testSSRC) == 2)
        #expect(receiver.statistics == stats(unprotected: 70_000))
    }

    /// Packet 65535 (ROC 0) arriving after packet 0 (ROC 1) is placed before the wrap, not after it; a
    /// replay of it is refused; a packet far older than the window is refused too.
    @Test(arguments: [SRTPSuite.aeadAES128GCM, .aesCM128HMACSHA1_80])
    func aPacketDelayedAcrossTheWrapStillUnprotectsOnce(suite: SRTPSuite) throws {
        let (sender, receiver) = try contextPair(suite)
        let sequences: [UInt16] = [64_000, 65_534, 65_535, 0, 1]
        let protected = try sequences.map { (sequence) throws(SRTPError) in try sender.protect(rtp: rtpPacket(sequence: sequence)) }
        for index in [0, 1, 3, 2, 4] {
            #expect(try receiver.unprotect(srtp: protected[index]) == rtpPacket(sequence: sequences[index]))
        }
        #expect(receiver.rolloverCounter(for: testSSRC) == 1)
        expectError(.replayed) { () throws(SRTPError) in try receiver.unprotect(srtp: protected[2]) }
        expectError(.replayed) { () throws(SRTPError) in try receiver.unprotect(srtp: protected[3]) }
        expectError(.replayed) { () throws(SRTPError) in try receiver.unprotect(srtp: protected[0]) }  // 1537 behind: too old
        #expect(receiver.statistics == stats(unprotected: 5, replays: 3))
    }

    /// Jumps of up to half the sequence space (here 30 000, as after long loss) keep both ends' ROC in step.
    @Test func bothEndsFollowTheROCThroughLongJumps() throws {
        let (sender, receiver) = try contextPair(.aeadAES128GCM)
        var sequence: UInt16 = 0
        for _ in 0..<50 {
            let plain = rtpPacket(sequence: sequence)
            #expect(try receiver.unprotect(srtp: sender.protect(rtp: plain)) == plain)
            sequence &+= 30_000
        }
        let expected = UInt32(49 * 30_000 / 65_536)
        #expect(sender.rolloverCounter(for: testSSRC) == expected)
        #expect(receiver.rolloverCounter(for: testSSRC) == expected)
    }

    /// The same sequence number before and after a wrap is a different packet index: different bytes,
    /// and a receiver past the wrap cannot be fooled into accepting the pre-wrap packet.
    @Test(arguments: [SRTPSuite.aeadAES128GCM, .aesCM128HMACSHA1_80])
    func theROCEntersTheCiphertextAndTheTag(suite: SRTPSuite) throws {
        let (wrapped, wrappedReceiver) = try contextPair(suite)
        let (fresh, freshReceiver) = try contextPair(suite)
        let last = try wrapped.protect(rtp: rtpPacket(sequence: 65_535))
        let afterWrap = try wrapped.protect(rtp: rtpPacket(sequence: 5))
        let beforeWrap = try fresh.protect(rtp: rtpPacket(sequence: 5))
        #expect(afterWrap.prefix(12) == beforeWrap.prefix(12))
        #expect(afterWrap.dropFirst(12) != beforeWrap.dropFirst(12))

        #expect(try wrappedReceiver.unprotect(srtp: last) == rtpPacket(sequence: 65_535))
        expectError(.authenticationFailed) { () throws(SRTPError) in try wrappedReceiver.unprotect(srtp: beforeWrap) }
        #expect(try wrappedReceiver.unprotect(srtp: afterWrap) == rtpPacket(sequence: 5))
        #expect(try freshReceiver.unprotect(srtp: beforeWrap) == rtpPacket(sequence: 5))
    }
}
