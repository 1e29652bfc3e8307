import ParleyCrypto
import ParleyRuntime
import ParleySession
import ParleyWire
import Testing

/// Ringing calls the owner answers or declines, out-of-band offers and answers, and the commands a
/// front-end sends into a live call — two hosts on real loopback sockets with the real clock.
@Suite("SessionHost signalling")
struct SessionHostSignallingTests {
    @Test("A ringing call waits for the owner; answering it makes both ends active under the ringing handle")
    func ringingCallIsAnsweredByTheOwner() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB, policy: { _ in .ring })
        let outgoing = try await a.host.dial(peer: b.identity.publicKey, at: b.host.localAddress, offer: a.offer())
        #expect(await b.log.waitUntil { $0.ringing.count == 1 })
        let ringing = try #require(b.log.all.ringing.first)
        #expect(ringing.incoming.peer == a.identity.publicKey)
        // Nothing is answered while it rings: the caller is still dialing.
        #expect(!a.log.all.isActive(outgoing))

        try await b.host.answer(ringing.call)
        #expect(await a.log.waitUntil { $0.isActive(outgoing) })
        #expect(await b.log.waitUntil { $0.isActive(ringing.call) })
        // A retry crossing the answer replaces the answering session: announced again, same handle.
        #expect(Set(b.log.all.answered) == [ringing.call])
        #expect(a.log.all.shortAuthenticationString(of: outgoing) == b.log.all.shortAuthenticationString(of: ringing.call))
        // A second answer finds nothing ringing.
        await #expect(throws: SessionHostError.unknownCall(ringing.call)) { try await b.host.answer(ringing.call) }
        await a.stop()
        await b.stop()
    }

    @Test("Declining a ringing call ends the caller with declined(busy) and closes the handle at the callee")
    func decliningARingingCallEndsTheCaller() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB, policy: { _ in .ring })
        let outgoing = try await a.host.dial(peer: b.identity.publicKey, at: b.host.localAddress, offer: a.offer())
        #expect(await b.log.waitUntil { $0.ringing.count == 1 })
        let ringing = try #require(b.log.all.ringing.first)
        try await b.host.decline(ringing.call, reason: .busy)
        #expect(await a.log.waitUntil { $0.closeReason(of: outgoing) != nil })
        #expect(a.log.all.closeReason(of: outgoing) == .declined(.busy))
        #expect(b.log.all.closeReason(of: ringing.call) == .declined(.busy))
        #expect(await b.host.statistics().ringingCalls == 0)
        await a.stop()
        await b.stop()
    }

    @Test("A ringing call whose caller hung up stops ringing on its own with handshake_timeout")
    func ringingCallExpiresWhenTheCallerGivesUp() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB, policy: { _ in .ring })
        let outgoing = try await a.host.dial(peer: b.identity.publicKey, at: b.host.localAddress, offer: a.offer())
        #expect(await b.log.waitUntil { $0.ringing.count == 1 })
        let ringing = try #require(b.log.all.ringing.first)
        a.host.hangUp(outgoing)
        let expiry = SessionHost.ringingExpiry + .seconds(3)
        #expect(await b.log.waitUntil(timeout: expiry) { $0.closeReason(of: ringing.call) != nil })
        #expect(b.log.all.closeReason(of: ringing.call) == .handshakeTimeout)
        await a.stop()
        await b.stop()
    }

    @Test("An out-of-band offer and answer make a call active; the offer names the offerer's address")
    func outOfBandOfferAndAnswerMakeACall() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB, policy: { _ in .ignore })
        let offer = try CallParameters.offer(streams: a.streams, candidates: a.host.candidates.map(\.transportCandidate))
        let made = try await a.host.createOffer(to: b.identity.publicKey, offer: offer, lifetime: .seconds(30))
        #expect(made.initiation.first == HandshakeInitiation.type)

        let accepted = try await b.host.acceptOffer(made.initiation)
        #expect(accepted.incoming.peer == a.identity.publicKey)
        #expect(accepted.incoming.source == a.host.localAddress)
        #expect(accepted.response.first == HandshakeResponse.type)
        try await a.host.applyAnswer(accepted.response, call: made.call)
        #expect(await a.log.waitUntil { $0.isActive(made.call) })
        #expect(await b.log.waitUntil { $0.isActive(accepted.call) })
        let info = try #require(await a.host.callInfo(made.call))
        #expect(info.peerAddress == b.host.localAddress)
        #expect(info.shortAuthenticationString == b.log.all.shortAuthenticationString(of: accepted.call))
        // The same offer again is a replay: refused.
        await #expect(throws: SessionHostError.self) { try await b.host.acceptOffer(made.initiation) }
        await a.stop()
        await b.stop()
    }

    @Test("An offer for another engine, or bytes that are no initiation, are refused with a reason")
    func offersNotForThisEngineAreRefused() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB)
        let c = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB)
        let offer = try CallParameters.offer(streams: a.streams, candidates: a.host.candidates.map(\.transportCandidate))
        let made = try await a.host.createOffer(to: b.identity.publicKey, offer: offer, lifetime: .seconds(30))
        await #expect {
            try await c.host.acceptOffer(made.initiation)
        } throws: { error in
            guard case SessionHostError.offerRejected = error else { return false }
            return true
        }
        await #expect(throws: SessionHostError.offerRejected("not a handshake initiation (type byte 5)")) {
            try await b.host.acceptOffer([0x05, 0, 0, 0])
        }
        await #expect(throws: SessionHostError.answerRejected("the response does not complete this call's handshake")) {
            try await a.host.applyAnswer([HandshakeResponse.type] + [UInt8](repeating: 0, count: 60), call: made.call)
        }
        await a.stop()
        await b.stop()
        await c.stop()
    }

    @Test("Mute state and verification pass through to the peer and the session")
    func mediaStateAndVerificationPassThrough() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB)
        let calls = try #require(try await connect(a, b))
        let muted = SessionMessage.MediaState(audioMuted: true, videoEnabled: false)
        try await a.host.setMediaState(muted, call: calls.caller)
        #expect(await b.log.waitUntil { $0.contains(.call(calls.callee, .peerMediaStateChanged(muted))) })
        #expect(await b.host.callInfo(calls.callee)?.peerMediaState == muted)

        a.host.markVerified(true, call: calls.caller)
        #expect(await a.log.waitUntil { $0.contains(.call(calls.caller, .verifiedChanged(true))) })
        #expect(await a.host.callInfo(calls.caller)?.isVerified == true)
        await #expect(throws: SessionHostError.unknownCall(CallHandle(rawValue: 999))) {
            try await a.host.setMediaState(muted, call: CallHandle(rawValue: 999))
        }
        await a.stop()
        await b.stop()
    }
}

extension [HostEvent] {
    /// The calls that rang, in order.
    var ringing: [(call: CallHandle, incoming: IncomingCall)] {
        compactMap { if case .callRinging(let call, let incoming) = $0 { (call, incoming) } else { nil } }
    }
}
