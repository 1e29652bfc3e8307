import ParleyCrypto
import ParleyJitter
import ParleyMedia
import ParleyRTP
import ParleySession
import ParleyWire
import Testing

/// Two sessions wired back to back in virtual time: every datagram arrives `delay` after it was sent,
/// unless `dropToA` / `dropToB` says otherwise. B plays the engine's part for incoming calls.
private final class Pair {
    let identityA = IdentityKeyPair()
    let identityB = IdentityKeyPair()
    let responder: HandshakeResponder
    var a: CallSession!
    var b: CallSession?
    var now = MonotonicInstant(nanoseconds: 5_000_000_000)
    let delay: Duration = .milliseconds(10)
    var inFlight: [(at: MonotonicInstant, toA: Bool, datagram: [UInt8])] = []
    var eventsA: [CallEvent] = []
    var eventsB: [CallEvent] = []
    var dropToA: ([UInt8]) -> Bool = { _ in false }
    var dropToB: ([UInt8]) -> Bool = { _ in false }
    var decline: DeclineReason?
    var configuration: CallSessionConfiguration
    var deadlineA: MonotonicInstant?
    var deadlineB: MonotonicInstant?
    var answersMade = 0

    static let wallClock: UInt64 = 1_795_000_000_000_000_000

    init(configuration: CallSessionConfiguration = .init()) throws {
        self.configuration = configuration
        responder = HandshakeResponder(identity: identityB)
        let offer = try CallParameters.offer(streams: [
            .opus(ssrc: SSRC(0xA1)),
            .vp8(ssrc: SSRC(0xA2), retransmission: RetransmissionStream(ssrc: SSRC(0xA3), payloadType: 97)),
        ])
        a = try CallSession(
            dialing: identityB.publicKey, identity: identityA, offer: offer, localIndex: 0xAAAA, wallClock: wall(now),
            now: now, configuration: configuration, audioDecoderFactory: { try OpusDecoder(channelCount: $0) })
        drain()
    }

    func wall(_ instant: MonotonicInstant) -> HandshakeTimestamp {
        HandshakeTimestamp(nanosecondsSinceUnixEpoch: Self.wallClock + UInt64(instant.nanoseconds))
    }

    /// Drains both sessions' outputs into flight and their events into the logs.
    func drain() {
        for isA in [true, false] {
            guard let session = isA ? a : b else { continue }
            drainLoop: while true {
                switch session.pollOutput() {
                case .transmit(let datagram):
                    inFlight.append((now + delay, !isA, datagram))
                case .event(let event):
                    if isA { eventsA.append(event) } else { eventsB.append(event) }
                case .wait(let until):
                    if isA { deadlineA = until } else { deadlineB = until }
                    break drainLoop
                }
            }
        }
    }

    /// Runs virtual time forward to `end`, delivering datagrams and firing timers.
    func run(until end: MonotonicInstant, every tick: Duration = .milliseconds(5), each: (Pair) -> Void = { _ in }) {
        while now < end {
            now = now + tick
            let due = inFlight.filter { $0.at <= now }
            inFlight.removeAll { $0.at <= now }
            for item in due {
                if item.toA {
                    if !dropToA(item.datagram) { a.handle(datagram: item.datagram, now: now) }
                } else if !dropToB(item.datagram) {
                    deliverToB(item.datagram)
                }
                drain()
            }
            if let deadline = deadlineA, deadline <= now { a.handleTimeout(now: now) }
            if let deadline = deadlineB, deadline <= now { b?.handleTimeout(now: now) }
            each(self)
            drain()
        }
    }

    func deliverToB(_ datagram: [UInt8]) {
        guard datagram.first == 0x04 else {
            b?.handle(datagram: datagram, now: now)
            return
        }
        guard b == nil || b?.state == .answering,
            let pending = try? responder.receive(datagram: datagram[...], now: wall(now)),
            let offer = try? CallParameters(parsing: pending.offer)
        else { return }
        answersMade += 1
        if let decline {
            if let (response, _) = try? pending.accept(answer: CallParameters.decline(decline).serialize(), responderIndex: 0xBBBB) {
                inFlight.append((now + delay, true, response))
            }
            return
        }
        let capabilities = LocalCallCapabilities(streams: [
            .opus(ssrc: SSRC(0xB1)),
            .vp8(ssrc: SSRC(0xB2), retransmission: RetransmissionStream(ssrc: SSRC(0xB3), payloadType: 97)),
        ])
        b = try? CallSession(
            answering: pending, identity: identityB,
            answer: try! CallParameters.answer(to: offer, with: capabilities), localIndex: 0xBBBB, now: now,
            configuration: configuration, audioDecoderFactory: { try OpusDecoder(channelCount: $0) })
    }

    func states(_ events: [CallEvent]) -> [CallState] {
        events.compactMap { if case .stateChanged(let state) = $0 { state } else { nil } }
    }
}

@Suite struct CallSessionTests {
    @Test func dialAndAnswerReachActiveWithTheSameVerificationStrings() throws {
        let pair = try Pair()
        pair.run(until: pair.now + .milliseconds(200))
        #expect(pair.a.state == .active && pair.b?.state == .active)
        #expect(pair.states(pair.eventsA) == [.dialing, .active])
        #expect(pair.states(pair.eventsB) == [.answering, .active])
        let sasA = try #require(pair.a.shortAuthenticationString)
        #expect(sasA == pair.b?.shortAuthenticationString)
        #expect(pair.a.safetyNumber == pair.b?.safetyNumber)
        #expect(pair.eventsB.contains(.verificationAvailable(
            sas: sasA, safetyNumber: pair.a.safetyNumber, peer: pair.identityA.publicKey)))
        // Both ends hold the other's keys: no unacknowledged announcement is left.
        #expect(pair.a.statistics.channel.messagesDelivered >= 3)
        #expect(pair.b!.statistics.channel.messagesDelivered >= 3)
    }

    @Test func mediaFlowsBothWaysOnlyOnceActive() throws {
        let pair = try Pair()
        let encoder = try OpusEncoder()
        var microphone = try SyntheticMicrophone()
        // Before the answer, nothing is sent and the frame is counted.
        let early = try encoder.encode(microphone.nextFrame(sampleCount: 960, captureInstant: pair.now))
        #expect(!pair.a.sendAudio(early.payload, sampleCount: 960, now: pair.now))
        #expect(pair.a.statistics.framesDroppedBeforeActive == 1)
        pair.run(until: pair.now + .milliseconds(100))
        var sent = 0
        pair.run(until: pair.now + .seconds(2), every: .milliseconds(20)) { pair in
            let packet = try! encoder.encode(microphone.nextFrame(sampleCount: 960, captureInstant: pair.now))
            if pair.a.sendAudio(packet.payload, sampleCount: 960, now: pair.now) { sent += 1 }
            pair.b?.sendVideoFrame(Array(repeating: 7, count: 3_000), isKeyFrame: true, captureInstant: pair.now, now: pair.now)
            _ = pair.b?.pullAudio(sampleCount: 960, now: pair.now)
        }
        pair.run(until: pair.now + .milliseconds(50))  // what is still in flight
        let atB = try #require(pair.b?.statistics.inbound.first { $0.kind == .audio })
        #expect(sent > 90 && atB.packetsReceived == sent)
        #expect(atB.audio?.jitterBufferEmittedCount ?? 0 > 0)
        // B's video frames reach A as decrypted frames (the bytes B sent).
        let frames = pair.eventsA.compactMap { if case .videoFrame(let frame) = $0 { frame } else { nil } }
        #expect(frames.count > 90 && frames.allSatisfy { $0.payload == Array(repeating: 7, count: 3_000) })
        // What crossed the wire never contained the plaintext frame.
        #expect(pair.a.statistics.inbound.first { $0.kind == .video }?.sframeAuthenticationFailures == 0)
    }

    @Test func hangUpEndsBothEndsWithTheirReasons() throws {
        let pair = try Pair()
        pair.run(until: pair.now + .milliseconds(100))
        pair.a.hangUp(now: pair.now)
        pair.drain()
        #expect(pair.a.state == .ending)
        pair.run(until: pair.now + .milliseconds(100))
        #expect(pair.a.state == .ended(.hangUp))
        #expect(pair.b?.state == .ended(.remoteHangUp(.normal)))
        #expect(pair.a.nextDeadline == nil)
    }

    @Test func silentPeerIsReportedThenTimesOut() throws {
        var configuration = CallSessionConfiguration()
        configuration.peerTimeout = .seconds(6)
        let pair = try Pair(configuration: configuration)
        pair.run(until: pair.now + .milliseconds(100))
        pair.dropToA = { _ in true }
        pair.run(until: pair.now + .seconds(3), every: .milliseconds(50))
        #expect(pair.eventsA.contains(.peerSilent))
        #expect(pair.a.state == .active)
        pair.run(until: pair.now + .seconds(4), every: .milliseconds(50))
        #expect(pair.a.state == .ended(.peerTimeout))
    }

    @Test func declinedOfferEndsTheCallWithTheReason() throws {
        let pair = try Pair()
        pair.decline = .busy
        pair.run(until: pair.now + .milliseconds(100))
        #expect(pair.a.state == .ended(.declined(.busy)))
        #expect(pair.b == nil)
    }

    @Test func lostResponseIsRetriedWithAFreshInitiation() throws {
        let pair = try Pair()
        var dropped = 0
        pair.dropToA = { datagram in
            guard datagram.first == 0x05, dropped == 0 else { return false }
            dropped += 1
            return true
        }
        pair.run(until: pair.now + .seconds(2))
        #expect(pair.a.state == .active && pair.b?.state == .active)
        #expect(pair.a.statistics.handshakeAttempts == 2 && pair.answersMade == 2)
    }

    @Test func unansweredCallEndsWithHandshakeTimeout() throws {
        var configuration = CallSessionConfiguration()
        configuration.handshakeTimeout = .seconds(5)
        let pair = try Pair(configuration: configuration)
        pair.dropToB = { _ in true }
        pair.run(until: pair.now + .seconds(6), every: .milliseconds(50))
        #expect(pair.a.state == .ended(.handshakeTimeout))
        // 1 s, then 2 s, then 4 s apart: attempts at 0, 1, 3 s.
        #expect(pair.a.statistics.handshakeAttempts == 3)
    }

    @Test func keyFrameRequestsAreHonouredAtMostOncePer300Milliseconds() throws {
        let pair = try Pair()
        pair.run(until: pair.now + .milliseconds(100))
        // Becoming active asked B's encoder for a key frame once (the first frame the peer sees).
        #expect(pair.eventsB.filter { $0 == .keyFrameRequested }.count == 1)
        pair.eventsB.removeAll()
        // A asks B for key frames every 50 ms for one second.
        pair.run(until: pair.now + .seconds(1), every: .milliseconds(50)) { pair in
            pair.a.requestKeyFrame(now: pair.now)
        }
        pair.run(until: pair.now + .milliseconds(50))  // the last request is still in flight
        let honoured = pair.eventsB.filter { $0 == .keyFrameRequested }.count
        let video = try #require(pair.b?.statistics.outbound.first { $0.kind == .video })
        #expect(video.pliCount == 20)
        #expect(honoured == video.keyFrameRequestsHonoured && (3...4).contains(honoured))
        #expect(video.keyFrameRequestsIgnored == 20 - honoured)
    }

    @Test func rotatedKeysKeepMediaFlowing() throws {
        var configuration = CallSessionConfiguration()
        configuration.keySchedule.rotationInterval = .seconds(1)
        let pair = try Pair(configuration: configuration)
        pair.run(until: pair.now + .milliseconds(100))
        var sent = 0
        pair.run(until: pair.now + .seconds(5), every: .milliseconds(20)) { pair in
            if pair.a.sendVideoFrame([1, 2, 3, UInt8(truncatingIfNeeded: sent)], isKeyFrame: true, captureInstant: pair.now, now: pair.now) {
                sent += 1
            }
        }
        pair.run(until: pair.now + .milliseconds(500))  // the last frames are still in flight or due for render
        #expect(pair.a.statistics.keyRotations >= 4)
        let received = pair.eventsB.filter { if case .videoFrame = $0 { true } else { false } }.count
        let inbound = try #require(pair.b?.statistics.inbound.first { $0.kind == .video })
        #expect(inbound.sframeUnknownKey == 0 && inbound.sframeAuthenticationFailures == 0)
        #expect(received == sent)
    }

    @Test func garbageIsDroppedAndCountedByReason() throws {
        let pair = try Pair()
        pair.run(until: pair.now + .milliseconds(100))
        let b = try #require(pair.b)
        b.handle(datagram: [], now: pair.now)  // empty
        b.handle(datagram: [0x0A, 1, 2, 3], now: pair.now)  // reserved type
        b.handle(datagram: [0x80, 0x60, 0, 1], now: pair.now)  // RTP too short
        b.handle(datagram: [0x80, 0x60, 0, 1, 0, 0, 0, 1, 0xDE, 0xAD, 0xBE, 0xEF] + Array(repeating: 0, count: 40), now: pair.now)
        b.handle(datagram: [0x05] + Array(repeating: 0, count: 60), now: pair.now)  // response to a responder
        b.handle(datagram: [0x06] + Array(repeating: 0, count: 60), now: pair.now)  // channel garbage
        let dropped = b.statistics.dropped
        #expect(dropped.malformed == 2)
        #expect(dropped.unexpectedType == 1)
        #expect(dropped.unknownSSRC == 1)
        #expect(dropped.handshakeResponsesRejected == 1)
        let channel = b.statistics.channel
        #expect(channel.malformed + channel.authenticationFailures + channel.unknownEpochs >= 1)
        #expect(b.state == .active)
    }
}
