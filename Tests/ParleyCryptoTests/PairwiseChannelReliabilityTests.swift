import ParleyCrypto
import ParleyWire
import Testing

@Suite struct PairwiseChannelReliabilityTests {
    @Test func aLostMessageIsRetransmittedWithDoublingTimeoutsCappedAt2Seconds() throws {
        let pair = try ChannelPair()
        try pair.a.send(.hangUp(.normal), now: .zero)
        var (lost, _, deadline) = pair.a.drain()
        #expect(lost.count == 1)
        var transmissionTimes: [Int64] = [0]
        while let due = deadline, pair.a.unacknowledgedMessageIDs.count == 1 {
            pair.a.handleTimeout(now: due)
            let output = pair.a.drain()
            if !output.datagrams.isEmpty { transmissionTimes.append(due.nanoseconds / 1_000_000) }
            lost += output.datagrams
            deadline = output.deadline
        }
        // 100 ms, doubling to 2 s; ten transmissions in all.
        #expect(transmissionTimes == [0, 100, 300, 700, 1_500, 3_100, 5_100, 7_100, 9_100, 11_100])
        #expect(pair.a.statistics.retransmissions == 9)
        // Every copy carries the same message under a new counter.
        #expect(lost.map(channelCounter(of:)) == Array(0..<10))
        var delivered: [SessionMessage] = []
        for datagram in lost { delivered += try pair.b.receive(datagram: datagram, now: instant(milliseconds: 12_000)) }
        #expect(delivered == [.hangUp(.normal)], "delivered once")
        #expect(pair.b.statistics.duplicateMessages == 9)
    }

    @Test func theChannelGivesUpAfterTheLastTransmissionTimesOut() throws {
        let pair = try ChannelPair(configuration: .init(maximumTransmissions: 3))
        let id = try pair.a.send(.mediaState(.init(audioMuted: true, videoEnabled: true)), now: .zero)
        _ = pair.a.drain()
        pair.a.handleTimeout(now: instant(milliseconds: 100))
        #expect(pair.a.drain().datagrams.count == 1)
        pair.a.handleTimeout(now: instant(milliseconds: 299))
        #expect(pair.a.drain().datagrams.isEmpty, "not due yet")
        pair.a.handleTimeout(now: instant(milliseconds: 300))
        let third = pair.a.drain()
        #expect(third.datagrams.count == 1 && third.events.isEmpty)
        #expect(third.deadline == instant(milliseconds: 700))
        pair.a.handleTimeout(now: instant(milliseconds: 700))
        let failed = pair.a.drain()
        #expect(failed.datagrams.isEmpty)
        #expect(failed.events == [.deliveryFailed(id, .mediaState(.init(audioMuted: true, videoEnabled: true)))])
        #expect(pair.a.unacknowledgedMessageIDs.isEmpty)
        #expect(pair.a.statistics.deliveryFailures == 1 && pair.a.statistics.retransmissions == 2)
        #expect(failed.deadline == instant(milliseconds: 10_300), "only the keep-alive is left")
    }

    @Test func aLostAcknowledgementBringsARetransmissionThatIsAcknowledgedButNotDeliveredAgain() throws {
        let pair = try ChannelPair()
        let message = SessionMessage.senderKeyAnnouncement([1, 2, 3])
        let id = try pair.a.send(message, now: .zero)
        #expect(try pair.b.receive(datagram: pair.a.drain().datagrams[0], now: instant(milliseconds: 20)) == [message])
        _ = pair.b.drain()  // the acknowledgement is lost
        pair.a.handleTimeout(now: instant(milliseconds: 100))
        let retransmission = pair.a.drain().datagrams
        #expect(retransmission.count == 1)
        #expect(try pair.b.receive(datagram: retransmission[0], now: instant(milliseconds: 120)) == [])
        let acknowledgement = pair.b.drain().datagrams
        #expect(acknowledgement.count == 1, "a duplicate is acknowledged again")
        _ = try pair.a.receive(datagram: acknowledgement[0], now: instant(milliseconds: 140))
        #expect(pair.a.drain().events == [.acknowledged(id, message)])
        #expect(pair.b.statistics.messagesDelivered == 1 && pair.b.statistics.duplicateMessages == 1)
        // A late duplicate acknowledgement changes nothing.
        pair.a.handleTimeout(now: instant(milliseconds: 300))
        #expect(pair.a.drain().datagrams.isEmpty)
    }

    @Test func anAcknowledgementArrivingAfterGivingUpIsIgnored() throws {
        let pair = try ChannelPair(configuration: .init(maximumTransmissions: 1))
        try pair.a.send(.hangUp(.failure), now: .zero)
        let datagram = pair.a.drain().datagrams[0]
        pair.a.handleTimeout(now: instant(milliseconds: 100))
        #expect(pair.a.drain().events.count == 1)
        _ = try pair.b.receive(datagram: datagram, now: instant(milliseconds: 150))
        _ = try pair.a.receive(datagram: pair.b.drain().datagrams[0], now: instant(milliseconds: 200))
        #expect(pair.a.drain().events.isEmpty)
    }

    @Test func aKeepAliveIsSentOnlyAfterAnIdleInterval() throws {
        let pair = try ChannelPair(configuration: .init(keepAliveInterval: .seconds(5)))
        try pair.a.send(.mediaState(.init(audioMuted: false, videoEnabled: true)), now: .zero)
        _ = try pair.b.receive(datagram: pair.a.drain().datagrams[0], now: .zero)
        _ = try pair.a.receive(datagram: pair.b.drain().datagrams[0], now: .zero)
        #expect(pair.a.drain().deadline == instant(milliseconds: 5_000))
        pair.a.handleTimeout(now: instant(milliseconds: 4_999))
        #expect(pair.a.drain().datagrams.isEmpty)
        pair.a.handleTimeout(now: instant(milliseconds: 5_000))
        let (keepAlive, _, deadline) = pair.a.drain()
        #expect(keepAlive.count == 1 && keepAlive[0].count == 48)
        #expect(deadline == instant(milliseconds: 10_000))
        #expect(try pair.b.receive(datagram: keepAlive[0], now: instant(milliseconds: 5_000)) == [])
        #expect(pair.b.drain().datagrams.isEmpty, "keep-alives are not acknowledged")
        #expect(pair.b.statistics.keepAlivesReceived == 1 && pair.a.statistics.keepAlivesSent == 1)
        #expect(pair.b.lastAuthenticatedReceive == instant(milliseconds: 5_000))
        // B sent its acknowledgement at 0: its own keep-alive is due at 5 s too.
        #expect(pair.b.drain().deadline == instant(milliseconds: 5_000))
    }

    @Test func anOlderMediaStateNeverOverridesANewerOne() throws {
        let pair = try ChannelPair()
        try pair.a.send(.mediaState(.init(audioMuted: true, videoEnabled: true)), now: .zero)
        let older = pair.a.drain().datagrams[0]
        try pair.a.send(.mediaState(.init(audioMuted: false, videoEnabled: true)), now: instant(milliseconds: 10))
        let newer = pair.a.drain().datagrams[0]
        // A stopped retransmitting the older state: the newer one replaces it.
        #expect(pair.a.unacknowledgedMessageIDs == [SessionMessageID(1)])
        #expect(try pair.b.receive(datagram: newer, now: instant(milliseconds: 30)) == [.mediaState(.init(audioMuted: false, videoEnabled: true))])
        #expect(try pair.b.receive(datagram: older, now: instant(milliseconds: 40)) == [], "reordered: stale, not delivered")
        #expect(pair.b.statistics.staleMediaStates == 1)
        #expect(pair.b.drain().datagrams.count == 2, "both are acknowledged")
    }

    @Test func theNumberOfUnacknowledgedMessagesIsBounded() throws {
        let pair = try ChannelPair(configuration: .init(maximumUnacknowledged: 2))
        try pair.a.send([.hangUp(.normal), .senderKeyAnnouncement([1])], now: .zero)
        #expect(throws: CryptoError.invalidState(what: "pairwise channel", reason: "2 messages are unacknowledged; the limit is 2")) {
            try pair.a.send(.senderKeyAnnouncement([2]), now: .zero)
        }
        // A media state may still replace an unacknowledged one at the limit.
        let full = try ChannelPair(configuration: .init(maximumUnacknowledged: 2))
        try full.a.send([.hangUp(.normal), .mediaState(.init(audioMuted: true, videoEnabled: false))], now: .zero)
        try full.a.send(.mediaState(.init(audioMuted: false, videoEnabled: false)), now: .zero)
        #expect(full.a.unacknowledgedMessageIDs == [SessionMessageID(0), SessionMessageID(2)])
        // Acknowledged messages free their place.
        let datagram = pair.a.drain().datagrams[0]
        _ = try pair.b.receive(datagram: datagram, now: .zero)
        _ = try pair.a.receive(datagram: pair.b.drain().datagrams[0], now: .zero)
        #expect(try pair.a.send(.senderKeyAnnouncement([2]), now: .zero) == SessionMessageID(2))
    }

    @Test func underSeededLossEveryMessageIsDeliveredOnceOrReportedFailed() throws {
        let pair = try ChannelPair()
        var random = SplitMix64(seed: 0x105E)
        var deliveredToB: [SessionMessage] = []
        var deliveredToA: [SessionMessage] = []
        var outcomesA: [PairwiseChannelEvent] = []
        var outcomesB: [PairwiseChannelEvent] = []
        var now = MonotonicInstant.zero
        let count = 60
        var sent = 0
        // Each step: maybe send, then exchange everything with 30 % loss each way, then jump to the next deadline.
        while sent < count || !pair.a.unacknowledgedMessageIDs.isEmpty || !pair.b.unacknowledgedMessageIDs.isEmpty {
            if sent < count {
                try pair.a.send(.senderKeyAnnouncement([0xA, UInt8(sent)]), now: now)
                try pair.b.send(.senderKeyAnnouncement([0xB, UInt8(sent)]), now: now)
                sent += 1
            }
            pair.a.handleTimeout(now: now)
            pair.b.handleTimeout(now: now)
            var moving = true
            while moving {
                let fromA = pair.a.drain()
                let fromB = pair.b.drain()
                outcomesA += fromA.events
                outcomesB += fromB.events
                moving = !fromA.datagrams.isEmpty || !fromB.datagrams.isEmpty
                for datagram in fromA.datagrams where Double.random(in: 0..<1, using: &random) >= 0.3 {
                    deliveredToB += try pair.b.receive(datagram: datagram, now: now)
                }
                for datagram in fromB.datagrams where Double.random(in: 0..<1, using: &random) >= 0.3 {
                    deliveredToA += try pair.a.receive(datagram: datagram, now: now)
                }
            }
            let next = [pair.a.nextDeadline, pair.b.nextDeadline].compactMap { $0 }.min() ?? now
            now = sent < count ? min(now + .milliseconds(50), next) : next
        }
        for (delivered, outcomes, tag) in [(deliveredToB, outcomesA, UInt8(0xA)), (deliveredToA, outcomesB, UInt8(0xB))] {
            let expected = (0..<count).map { SessionMessage.senderKeyAnnouncement([tag, UInt8($0)]) }
            // Descriptions redact announcement bodies, so compare the bodies themselves.
            let bodies = delivered.map { message -> [UInt8] in
                guard case .senderKeyAnnouncement(let body) = message else { return [] }
                return body
            }
            #expect(Set(bodies).count == delivered.count, "no message delivered twice")
            #expect(delivered.allSatisfy(expected.contains))
            var acknowledged: [SessionMessage] = []
            var failed = 0
            for outcome in outcomes {
                switch outcome {
                case .acknowledged(_, let message): acknowledged.append(message)
                case .deliveryFailed: failed += 1
                case .sendCounterExhausted: Issue.record("unexpected exhaustion")
                }
            }
            #expect(acknowledged.count + failed == count, "each message ends acknowledged or failed")
            #expect(acknowledged.allSatisfy(delivered.contains), "acknowledged means delivered")
        }
        #expect(pair.a.statistics.retransmissions > 0 && pair.b.statistics.duplicateMessages > 0)
    }
}
