import ParleyCrypto
import ParleyPayload
import ParleyRTP
import ParleySRTP
import ParleyWire
import Testing

/// One end of a call as the session will hold it: identity, channel, its sender keys, the peer's keys,
/// and the SFrame and SRTP contexts built from them.
private struct Peer {
    let identity: IdentityKeyPair
    var channel: PairwiseChannel!
    var handshake: CompletedHandshake!
    var schedule = try! SenderKeySchedule()
    var ring = ReceiverKeyRing()
    var sframeSenders: [SSRC: SFrameContext.Sender] = [:]
    var srtpOutbound: [SSRC: SRTPContext] = [:]
    let sframeReceiver = SFrameContext.Receiver()
    var srtpInbound: [SSRC: SRTPContext] = [:]
    var delivered: [SessionMessage] = []

    init() {
        identity = IdentityKeyPair()
    }

    /// Starts an outgoing stream: keys, contexts, and the announcement queued on the channel.
    mutating func startStream(ssrc: SSRC, kind: MediaKind, now: MonotonicInstant) throws {
        let announcement = try schedule.startStream(ssrc: ssrc, mediaKind: kind, now: now)
        try useForSending(announcement)
        _ = try channel.send(.senderKeyAnnouncement(announcement.serialize()), now: now)
    }

    mutating func useForSending(_ announcement: SenderKeyAnnouncement) throws {
        let suite = try #require(SFrameCipherSuite(rawValue: announcement.sframeCipherSuite))
        if let sender = sframeSenders[announcement.ssrc] {
            try sender.rotate(toKeyID: announcement.keyID, baseKey: announcement.sframeBaseKey)
        } else {
            sframeSenders[announcement.ssrc] = try SFrameContext.Sender(
                suite: suite, keyID: announcement.keyID, baseKey: announcement.sframeBaseKey)
            srtpOutbound[announcement.ssrc] = try SRTPContext(
                direction: .outbound, suite: try #require(SRTPSuite(protectionProfile: announcement.srtpProtectionProfile)),
                masterKey: announcement.srtpMasterKey, masterSalt: announcement.srtpMasterSalt,
                streams: .only([announcement.ssrc]))
        }
    }

    /// Feeds one datagram from the peer to the channel and acts on what it delivers.
    mutating func receiveChannel(_ datagram: [UInt8], now: MonotonicInstant) throws {
        for message in try channel.receive(datagram: datagram, now: now) {
            delivered.append(message)
            switch message {
            case .senderKeyAnnouncement(let body):
                let announcement = try SenderKeyAnnouncement(parsing: body[...])
                try ring.install(announcement, now: now)
                try sframeReceiver.addKey(keyID: announcement.keyID, baseKey: announcement.sframeBaseKey)
                if srtpInbound[announcement.ssrc] == nil {
                    srtpInbound[announcement.ssrc] = try SRTPContext(
                        direction: .inbound,
                        suite: try #require(SRTPSuite(protectionProfile: announcement.srtpProtectionProfile)),
                        masterKey: announcement.srtpMasterKey, masterSalt: announcement.srtpMasterSalt,
                        streams: .only([announcement.ssrc]))
                }
                _ = try channel.send(.senderKeyAcknowledgement(ssrc: announcement.ssrc, keyID: announcement.keyID), now: now)
            case .senderKeyAcknowledgement(let ssrc, let keyID):
                if let activated = schedule.acknowledge(ssrc: ssrc, keyID: keyID, now: now) {
                    try useForSending(activated)
                }
            default:
                break
            }
        }
    }

    /// Protects one encoded frame end to end and hop by hop: SFrame, then an RTP packet, then SRTP.
    mutating func send(frame: [UInt8], ssrc: SSRC, sequenceNumber: UInt16) throws -> [UInt8] {
        let protectedFrame = try #require(sframeSenders[ssrc]).protect(frame)
        let header = RTPHeader(
            marker: true, payloadType: 111, sequenceNumber: SequenceNumber(sequenceNumber),
            timestamp: RTPTimestamp(UInt32(sequenceNumber) * 960), ssrc: ssrc)
        return try #require(srtpOutbound[ssrc]).protect(RTPPacket(header: header, payload: protectedFrame))
    }

    /// Unprotects one SRTP packet from the peer back to the encoded frame.
    mutating func receive(srtp datagram: [UInt8]) throws -> [UInt8] {
        let ssrc = SSRC(UInt32(datagram[8]) << 24 | UInt32(datagram[9]) << 16 | UInt32(datagram[10]) << 8 | UInt32(datagram[11]))
        let rtp = try RTPPacket(parsing: try #require(srtpInbound[ssrc]).unprotect(srtp: datagram))
        // The frame's KID must belong to the packet's stream (v1.md §2 rule 1).
        var reader = ByteReader(rtp.payload)
        let header = try SFrameHeader(reading: &reader)
        guard ring.key(forKeyID: header.keyID, ssrc: rtp.header.ssrc) != nil else {
            throw CryptoError.rejected(reason: "KID \(header.keyID) does not belong to \(rtp.header.ssrc)")
        }
        return try sframeReceiver.unprotect(Array(rtp.payload))
    }
}

/// Delivers every datagram each side's channel wants to send to the other, until both are quiet.
private func exchange(_ a: inout Peer, _ b: inout Peer, now: MonotonicInstant) throws {
    var moved = true
    while moved {
        moved = false
        while let datagram = a.channel.pollDatagram() {
            try b.receiveChannel(datagram, now: now)
            moved = true
        }
        while let datagram = b.channel.pollDatagram() {
            try a.receiveChannel(datagram, now: now)
            moved = true
        }
    }
}

private let start = MonotonicInstant(nanoseconds: 5_000_000_000)
private let wallClock = HandshakeTimestamp(nanosecondsSinceUnixEpoch: 1_795_000_000_000_000_000)

/// Alice calls Bob: handshake, channels, and both sides' sender keys announced and acknowledged.
private func connectedPeers() throws -> (alice: Peer, bob: Peer) {
    var alice = Peer()
    var bob = Peer()
    let initiator = try HandshakeInitiator(
        identity: alice.identity, responder: bob.identity.publicKey, callID: CallID.random(), initiatorIndex: 0x1111_1111,
        offer: Array("offer: opus, vp8".utf8), timestamp: wallClock)
    let responder = HandshakeResponder(identity: bob.identity)
    let pending = try responder.receive(datagram: initiator.initiation[...], now: wallClock)
    // Bob sees who calls and what they offer before he answers.
    #expect(pending.initiatorStaticKey == alice.identity.publicKey)
    #expect(pending.offer == Array("offer: opus, vp8".utf8))
    let (response, bobHandshake) = try pending.accept(answer: Array("answer: opus".utf8), responderIndex: 0x2222_2222)
    let (answer, aliceHandshake) = try initiator.receive(datagram: response[...])
    #expect(answer == Array("answer: opus".utf8))
    alice.handshake = aliceHandshake
    bob.handshake = bobHandshake
    alice.channel = try PairwiseChannel(
        localIndex: aliceHandshake.localIndex, remoteIndex: aliceHandshake.remoteIndex,
        sendKey: aliceHandshake.keys.sendKey, receiveKey: aliceHandshake.keys.receiveKey)
    bob.channel = try PairwiseChannel(
        localIndex: bobHandshake.localIndex, remoteIndex: bobHandshake.remoteIndex,
        sendKey: bobHandshake.keys.sendKey, receiveKey: bobHandshake.keys.receiveKey)
    try alice.startStream(ssrc: SSRC(0xA0D1_0000), kind: .audio, now: start)
    try alice.startStream(ssrc: SSRC(0xA71D_E000), kind: .video, now: start)
    try bob.startStream(ssrc: SSRC(0xB0B0_0000), kind: .audio, now: start)
    try exchange(&alice, &bob, now: start)
    return (alice, bob)
}

@Suite struct TwoPeersTests {
    @Test func handshakeGivesBothSidesTheSameHashAndMatchingKeys() throws {
        let (alice, bob) = try connectedPeers()
        #expect(alice.handshake.keys.handshakeHash == bob.handshake.keys.handshakeHash)
        #expect(alice.handshake.keys.sendKey == bob.handshake.keys.receiveKey)
        #expect(alice.handshake.peerStaticKey == bob.identity.publicKey)
        #expect(bob.handshake.peerStaticKey == alice.identity.publicKey)
        // Both people read the same verification strings.
        let aliceSAS = try ShortAuthenticationString(handshakeHash: alice.handshake.keys.handshakeHash)
        let bobSAS = try ShortAuthenticationString(handshakeHash: bob.handshake.keys.handshakeHash)
        #expect(aliceSAS.words == bobSAS.words && aliceSAS.emoji == bobSAS.emoji)
        // Each side computes the safety number from its own key and the key the handshake proved.
        #expect(SafetyNumber(alice.identity.publicKey, alice.handshake.peerStaticKey)
            == SafetyNumber(bob.identity.publicKey, bob.handshake.peerStaticKey))
    }

    @Test func senderKeysAreAnnouncedAndAcknowledgedBothWays() throws {
        let (alice, bob) = try connectedPeers()
        #expect(bob.ring.currentKey(of: SSRC(0xA0D1_0000))?.mediaKind == .audio)
        #expect(bob.ring.currentKey(of: SSRC(0xA71D_E000))?.mediaKind == .video)
        #expect(alice.ring.currentKey(of: SSRC(0xB0B0_0000)) != nil)
        #expect(alice.channel.unacknowledgedMessageIDs.isEmpty && bob.channel.unacknowledgedMessageIDs.isEmpty)
    }

    @Test func mediaFramesCrossBothWaysThroughSFrameAndSRTP() throws {
        var (alice, bob) = try connectedPeers()
        for number in UInt16(0)..<50 {
            let audio = (0..<80).map { UInt8(truncatingIfNeeded: Int($0) &* 7 &+ Int(number)) }
            let video = (0..<5_000).map { UInt8(truncatingIfNeeded: Int($0) &* 13 &+ Int(number)) }
            #expect(try bob.receive(srtp: alice.send(frame: audio, ssrc: SSRC(0xA0D1_0000), sequenceNumber: number)) == audio)
            #expect(try bob.receive(srtp: alice.send(frame: video, ssrc: SSRC(0xA71D_E000), sequenceNumber: number)) == video)
            #expect(try alice.receive(srtp: bob.send(frame: audio, ssrc: SSRC(0xB0B0_0000), sequenceNumber: number)) == audio)
        }
        // Nothing on the wire shows the frame: the SRTP payload is an SFrame ciphertext, not the bytes sent.
        let frame = [UInt8](repeating: 0x55, count: 200)
        let packet = try alice.send(frame: frame, ssrc: SSRC(0xA0D1_0000), sequenceNumber: 60)
        let longestRun = packet.reduce(into: (current: 0, longest: 0)) { run, byte in
            run.current = byte == 0x55 ? run.current + 1 : 0
            run.longest = max(run.longest, run.current)
        }.longest
        #expect(longestRun < 8)
    }

    @Test func rotatedKeyIsUsedOnlyAfterThePeerAcknowledgedIt() throws {
        var (alice, bob) = try connectedPeers()
        let audio = SSRC(0xA0D1_0000)
        let old = try #require(alice.schedule.streams[audio]?.active.keyID)
        let next = try #require(try alice.schedule.rotate(ssrc: audio))
        _ = try alice.channel.send(.senderKeyAnnouncement(next.serialize()), now: start + .seconds(1))
        // Before the acknowledgement arrives Alice still protects with the old KID, which Bob knows.
        #expect(try bob.receive(srtp: alice.send(frame: [1, 2, 3], ssrc: audio, sequenceNumber: 100)) == [1, 2, 3])
        try exchange(&alice, &bob, now: start + .seconds(1))
        #expect(alice.sframeSenders[audio]?.keyID == next.keyID && next.keyID != old)
        #expect(try bob.receive(srtp: alice.send(frame: [4, 5, 6], ssrc: audio, sequenceNumber: 101)) == [4, 5, 6])
    }

    @Test func tamperedReplayedOrMisaddressedTrafficIsRefusedWithoutASession() throws {
        let alice = IdentityKeyPair()
        let bob = IdentityKeyPair()
        let mallory = IdentityKeyPair()
        let initiator = try HandshakeInitiator(
            identity: alice, responder: bob.publicKey, callID: CallID.random(), initiatorIndex: 7, offer: [1],
            timestamp: wallClock)
        let responder = HandshakeResponder(identity: bob)
        var tampered = initiator.initiation
        tampered[tampered.count - 1] ^= 0x01
        #expect(throws: CryptoError.self) { try responder.receive(datagram: tampered[...], now: wallClock) }
        // Addressed to Bob's key, read by Mallory: it does not decrypt.
        let wrongResponder = HandshakeResponder(identity: mallory)
        #expect(throws: CryptoError.self) { try wrongResponder.receive(datagram: initiator.initiation[...], now: wallClock) }
        // The genuine initiation is accepted once; replayed, it is refused.
        _ = try responder.receive(datagram: initiator.initiation[...], now: wallClock)
        do {
            _ = try responder.receive(datagram: initiator.initiation[...], now: wallClock)
            Issue.record("a replayed initiation was accepted")
        } catch {
            guard case .replayed = error else {
                Issue.record("expected .replayed, got \(error)")
                return
            }
        }
    }

    @Test func aFrameMovedToAnotherStreamIsRefused() throws {
        var (alice, bob) = try connectedPeers()
        // Alice's audio frame, re-packetized by someone holding the hop-by-hop keys as her video stream.
        let audioPacket = try alice.send(frame: [7, 7, 7], ssrc: SSRC(0xA0D1_0000), sequenceNumber: 1)
        let audio = try RTPPacket(parsing: try #require(bob.srtpInbound[SSRC(0xA0D1_0000)]).unprotect(srtp: audioPacket))
        let moved = RTPPacket(
            header: RTPHeader(payloadType: 96, sequenceNumber: SequenceNumber(1), timestamp: RTPTimestamp(0), ssrc: SSRC(0xA71D_E000)),
            payload: audio.payload)
        let videoSender = try #require(alice.srtpOutbound[SSRC(0xA71D_E000)])
        #expect(throws: CryptoError.self) { try bob.receive(srtp: videoSender.protect(moved)) }
    }

    @Test func forgedMediaIsDroppedAndCountedWhileTheCallGoesOn() throws {
        var (alice, bob) = try connectedPeers()
        let audio = SSRC(0xA0D1_0000)
        var packet = try alice.send(frame: [9, 9, 9], ssrc: audio, sequenceNumber: 1)
        packet[packet.count - 3] ^= 0x80
        #expect(throws: SRTPError.authenticationFailed) { try bob.receive(srtp: packet) }
        #expect(bob.srtpInbound[audio]?.statistics.authenticationFailures == 1)
        #expect(try bob.receive(srtp: alice.send(frame: [1], ssrc: audio, sequenceNumber: 2)) == [1])
    }
}
