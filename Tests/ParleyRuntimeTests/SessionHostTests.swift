import ParleyCrypto
import ParleyMedia
import ParleyRuntime
import ParleySession
import ParleyWire
import Synchronization
import Testing

/// Two `SessionHost`s in one process, on real loopback sockets with the real clock.
@Suite("SessionHost")
struct SessionHostTests {
    @Test("A dialled call becomes active on both hosts with the same SAS and ends with remote_hangup at the callee",
        arguments: [IPAddress.loopbackV4, .loopbackV6])
    func dialledCallBecomesActiveAndHangUpReachesThePeer(ip: IPAddress) async throws {
        let a = try HostUnderTest(ip, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(ip, ssrcs: HostUnderTest.ssrcsB)
        let calls = try #require(try await connect(a, b))

        let sasA = try #require(a.log.all.shortAuthenticationString(of: calls.caller))
        let sasB = try #require(b.log.all.shortAuthenticationString(of: calls.callee))
        #expect(sasA == sasB)
        // (A slow answer makes A retry; each retry is announced again under the same handle.)
        let answers = b.log.all.compactMap { event -> (CallHandle, IdentityPublicKey)? in
            if case .callAnswered(let call, let incoming) = event { (call, incoming.peer) } else { nil }
        }
        #expect(Set(answers.map(\.0)) == [calls.callee])
        #expect(Set(answers.map(\.1)) == [a.identity.publicKey])

        a.host.hangUp(calls.caller)
        #expect(await b.log.waitUntil { $0.closeReason(of: calls.callee) != nil })
        #expect(b.log.all.closeReason(of: calls.callee) == .remoteHangUp(.normal))
        #expect(await a.log.waitUntil { $0.closeReason(of: calls.caller) != nil })
        #expect(a.log.all.closeReason(of: calls.caller) == .hangUp)
        #expect(await b.host.statistics().liveCalls == 0)
        await a.stop()
        await b.stop()
    }

    @Test("Opus audio and video frames flow both ways for two seconds of real time")
    func audioAndVideoFlowBothWays() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB)
        let calls = try #require(try await connect(a, b))

        var microphones = (a: try SyntheticMicrophone(), b: try SyntheticMicrophone())
        let encoders = (a: try OpusEncoder(), b: try OpusEncoder())
        var framesSent: (aToB: [[UInt8]], bToA: [[UInt8]]) = ([], [])
        var audioSent = 0
        var decodedReported = (a: 0, b: 0)
        let clock = ContinuousClock()
        let start = clock.now
        for tick in 0..<100 {
            try await Task.sleep(until: start + .milliseconds(20 * tick), clock: clock)
            let now = HostClock.now()
            let packetA = try encoders.a.encode(microphones.a.nextFrame(sampleCount: 960, captureInstant: now))
            let packetB = try encoders.b.encode(microphones.b.nextFrame(sampleCount: 960, captureInstant: now))
            a.host.sendAudio(packetA.payload, sampleCount: 960, call: calls.caller)
            b.host.sendAudio(packetB.payload, sampleCount: 960, call: calls.callee)
            audioSent += 1
            if tick % 5 == 0 {
                let frame = (0..<(200 + tick)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ tick) }
                a.host.sendVideoFrame(frame, isKeyFrame: tick == 0, captureInstant: now, call: calls.caller)
                b.host.sendVideoFrame(frame.reversed(), isKeyFrame: tick == 0, captureInstant: now, call: calls.callee)
                framesSent.aToB.append(frame)
                framesSent.bToA.append(frame.reversed())
            }
            _ = await b.host.pullAudio(sampleCount: 960, call: calls.callee)
            _ = await a.host.pullAudio(sampleCount: 960, call: calls.caller)
            let atB = b.log.all.videoFrames(of: calls.callee)
            for frame in atB[decodedReported.b...] { b.host.videoFrameDecoded(frame, call: calls.callee) }
            decodedReported.b = atB.count
            let atA = a.log.all.videoFrames(of: calls.caller)
            for frame in atA[decodedReported.a...] { a.host.videoFrameDecoded(frame, call: calls.caller) }
            decodedReported.a = atA.count
        }

        #expect(await b.log.waitUntil { $0.videoFrames(of: calls.callee).count >= framesSent.aToB.count })
        #expect(b.log.all.videoFrames(of: calls.callee).map(\.payload) == framesSent.aToB)
        #expect(await a.log.waitUntil { $0.videoFrames(of: calls.caller).count >= framesSent.bToA.count })
        #expect(a.log.all.videoFrames(of: calls.caller).map(\.payload) == framesSent.bToA)

        for (host, call) in [(b.host, calls.callee), (a.host, calls.caller)] {
            let statistics = try #require(await host.callStatistics(call))
            let audio = try #require(statistics.inbound.first { $0.kind == .audio })
            #expect(audio.packetsReceived >= audioSent * 9 / 10, "received \(audio.packetsReceived) of \(audioSent)")
            let buffer = try #require(audio.audio)
            // Decoded audio came out of the jitter buffer. (How much was concealed depends on how this
            // test's pulls, paced by a shared task pool, line up with arrivals: not asserted here; the
            // virtual-time session tests measure concealment.)
            #expect(buffer.jitterBufferEmittedCount > 0 && buffer.decodedPackets > 0)
        }
        await a.stop()
        await b.stop()
    }

    @Test("Video frames go to the call's frame handler once it is set, in order, and no longer to the events")
    func videoFramesGoToTheHandlerInsteadOfTheEvents() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB)
        let calls = try #require(try await connect(a, b))
        let handled = Mutex<[[UInt8]]>([])
        b.host.deliverVideoFrames(of: calls.callee) { frame in handled.withLock { $0.append(frame.payload) } }
        let eventsBefore = b.log.all.videoFrames(of: calls.callee).count

        var sent: [[UInt8]] = []
        for index in 0..<5 {
            let frame = (0..<(300 + index)).map { UInt8(truncatingIfNeeded: $0 &* 3 &+ index) }
            a.host.sendVideoFrame(frame, isKeyFrame: index == 0, captureInstant: HostClock.now(), call: calls.caller)
            sent.append(frame)
            try await Task.sleep(for: .milliseconds(33))
        }
        let clock = ContinuousClock()
        let giveUp = clock.now + .seconds(10)  // a loaded machine's bound, not a timing check
        while handled.withLock({ $0.count }) < sent.count, clock.now < giveUp { try await Task.sleep(for: .milliseconds(10)) }
        #expect(handled.withLock { $0 } == sent)
        #expect(b.log.all.videoFrames(of: calls.callee).count == eventsBefore)
        await a.stop()
        await b.stop()
    }

    @Test("A retried initiation replaces the answering session, and the call completes with the retry's keys")
    func retriedInitiationReplacesTheAnsweringSession() async throws {
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB)
        let socket = try UDPSocket(binding: .loopbackV4(port: 0))
        let identityA = IdentityKeyPair()
        let caller = try CallSession(
            dialing: b.identity.publicKey, identity: identityA,
            offer: CallParameters.offer(streams: [.opus(ssrc: HostUnderTest.ssrcsA.audio)]), localIndex: 0x0A11_CE00,
            wallClock: HostClock.wallClock(), now: HostClock.now(),
            configuration: CallSessionConfiguration(handshakeRetryInterval: .milliseconds(200)),
            audioDecoderFactory: { channels in try OpusDecoder(channelCount: channels) })

        // Plays the caller by hand, losing B's first response so that the caller retries.
        var deadline: MonotonicInstant?
        var responsesLost = 0
        func drain() throws {
            while true {
                switch caller.pollOutput() {
                case .transmit(let datagram): try socket.send(datagram, to: b.host.localAddress)
                case .event: continue
                case .wait(let until):
                    deadline = until
                    return
                }
            }
        }
        try drain()
        var buffer = [UInt8](repeating: 0, count: 2_048)
        // Generous: on a loaded machine a response can take longer than the 200 ms retry interval.
        let end = HostClock.now() + .seconds(10)
        while caller.state != .active, HostClock.now() < end {
            let wait = min(deadline.map { $0 - HostClock.now() } ?? .milliseconds(10), .milliseconds(10))
            if try socket.waitForReadable(timeout: wait) {
                while let reception = try buffer.withUnsafeMutableBytes({ try socket.receive(into: $0) }) {
                    let datagram = Array(buffer[0..<reception.byteCount])
                    if datagram.first == 0x05, responsesLost == 0 {
                        responsesLost += 1
                        continue
                    }
                    caller.handle(datagram: datagram, now: HostClock.now())
                    try drain()
                }
            }
            if let due = deadline, due <= HostClock.now() {
                caller.handleTimeout(now: HostClock.now())
                try drain()
            }
        }

        #expect(responsesLost == 1)
        #expect(caller.state == .active)
        // Under load the caller may retry once more before a response arrives: every retry replaces.
        #expect(await b.log.waitUntil { $0.answered.count >= 2 && $0.isActive($0.answered[0]) })
        let answered = b.log.all.answered
        #expect(answered.count >= 2 && Set(answered).count == 1)
        let call = try #require(answered.first)
        #expect(b.log.all.shortAuthenticationString(of: call) == caller.shortAuthenticationString)
        let statistics = await b.host.statistics()
        #expect(statistics.answeringSessionsReplaced == answered.count - 1)
        #expect(statistics.callsAnswered == 1)
        #expect(b.log.all.closeReason(of: call) == nil)
        await b.stop()
    }

    @Test("A flood of garbage datagrams is dropped and counted while the call goes on")
    func garbageFloodIsDroppedAndCounted() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB)
        let calls = try #require(try await connect(a, b))
        let before = await b.host.statistics()

        let attacker = try UDPSocket(binding: .loopbackV4(port: 0))
        var random = SplitMix64(seed: 6)
        func bytes(_ count: Int, first: UInt8, zeroReserved: Bool = false) -> [UInt8] {
            var datagram = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if count > 0 { datagram[0] = first }
            if zeroReserved { for index in 1..<4 { datagram[index] = 0 } }
            return datagram
        }
        var flood: [[UInt8]] = []
        for index in 0..<50 {
            flood.append(bytes(index % 40, first: [0x00, 0x07, 0x42, 0xC5, 0xFF][index % 5]))  // unknown, reserved, short
            flood.append(bytes(128 + index, first: 0x04, zeroReserved: true))  // forged initiations
            flood.append(bytes(64, first: 0x05, zeroReserved: true))  // responses to no session
            flood.append(bytes(48, first: 0x06, zeroReserved: true))  // channel data for no session
            flood.append(bytes(100, first: 0x90))  // SRTP from an unbound address
            flood.append(bytes(20, first: 0x06))  // channel data too short
        }
        // Paced in bursts of 20, so the kernel's receive buffer (not the host) never has to drop any.
        for (index, datagram) in flood.enumerated() {
            try attacker.send(datagram, to: b.host.localAddress)
            if index % 20 == 19 { try await Task.sleep(for: .milliseconds(2)) }
        }
        let floodSize = flood.count
        var after = await b.host.statistics()
        let clock = ContinuousClock()
        let end = clock.now + .seconds(3)
        while after.totalDropped - before.totalDropped < floodSize, clock.now < end {
            try await Task.sleep(for: .milliseconds(10))
            after = await b.host.statistics()
        }
        #expect(after.totalDropped - before.totalDropped == floodSize)
        #expect(
            after.initiationsRejected + after.initiationsRateLimited - before.initiationsRejected
                - before.initiationsRateLimited == 50)
        #expect(after.initiationsRateLimited > 0)
        #expect(after.routeDrops[.unknownAddress, default: 0] - before.routeDrops[.unknownAddress, default: 0] == 50)
        #expect(after.routeDrops[.unknownIndex, default: 0] - before.routeDrops[.unknownIndex, default: 0] == 100)

        // The call is unharmed: audio sent after the flood still arrives.
        let received = { () async throws -> Int in
            let statistics = try #require(await b.host.callStatistics(calls.callee))
            return statistics.inbound.first { $0.kind == .audio }?.packetsReceived ?? 0
        }
        let receivedBefore = try await received()
        let encoder = try OpusEncoder()
        var microphone = try SyntheticMicrophone()
        for _ in 0..<10 {
            let packet = try encoder.encode(microphone.nextFrame(sampleCount: 960, captureInstant: HostClock.now()))
            a.host.sendAudio(packet.payload, sampleCount: 960, call: calls.caller)
            try await Task.sleep(for: .milliseconds(20))
        }
        var receivedAfter = try await received()
        let deadline = clock.now + .seconds(2)
        while receivedAfter < receivedBefore + 10, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
            receivedAfter = try await received()
        }
        #expect(receivedAfter == receivedBefore + 10)
        #expect(b.log.all.closeReason(of: calls.callee) == nil)
        #expect(a.log.all.closeReason(of: calls.caller) == nil)
        await a.stop()
        await b.stop()
    }

    @Test("A call the policy declines ends at the caller with declined and its reason")
    func declinedCallEndsWithTheReason() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB, policy: { _ in .decline(.busy) })
        let call = try await a.host.dial(peer: b.identity.publicKey, at: b.host.localAddress, offer: a.offer())

        #expect(await a.log.waitUntil { $0.closeReason(of: call) != nil })
        #expect(a.log.all.closeReason(of: call) == .declined(.busy))
        let refusals = b.log.all.compactMap { event -> (IdentityPublicKey, IncomingCallDecision)? in
            if case .callRefused(let incoming, let decision) = event { (incoming.peer, decision) } else { nil }
        }
        #expect(refusals.map(\.0) == [a.identity.publicKey])
        #expect(refusals.map(\.1) == [.decline(.busy)])
        #expect(b.log.all.answered.isEmpty)
        #expect(await b.host.statistics().liveCalls == 0)
        await a.stop()
        await b.stop()
    }

    @Test("Stopping a host hangs up its active call: the peer ends with remote_hangup")
    func stoppingHangsUpActiveCalls() async throws {
        let a = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsA)
        let b = try HostUnderTest(.loopbackV4, ssrcs: HostUnderTest.ssrcsB)
        let calls = try #require(try await connect(a, b))

        await b.stop()
        #expect(b.log.all.closeReason(of: calls.callee) == .hangUp)
        #expect(await a.log.waitUntil { $0.closeReason(of: calls.caller) != nil })
        #expect(a.log.all.closeReason(of: calls.caller) == .remoteHangUp(.normal))
        await #expect(throws: SessionHostError.stopped) {
            try await b.host.dial(peer: a.identity.publicKey, at: a.host.localAddress, offer: b.offer())
        }
        await a.stop()
    }
}
