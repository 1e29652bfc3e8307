import ParleyNetworkEmulator
import ParleySession
import ParleyTestSupport
import ParleyWire
import Testing

/// Issue 5's two-peer calls: real Opus and VP8 on the synthetic camera and microphone, two real
/// sessions, the seeded emulator between them, 60 simulated seconds each. Every test prints its report
/// line (`[name] …`) so CI logs carry the figures.
@Suite struct TwoPeerCallTests {
    private func run(_ scenario: CallScenario) throws -> CallReport {
        let report = try CallSimulation(scenario).run()
        print(report.line)
        return report
    }

    /// An instant `seconds` after the simulated call starts.
    private func at(_ seconds: Int) -> MonotonicInstant { CallSimulation.start + .seconds(seconds) }

    @Test func cleanPathPlaysEverythingInOrderWithoutConcealmentOrFreezes() throws {
        let report = try run(CallScenario(name: "clean", symmetric: LinkParameters(delay: .milliseconds(20))))
        #expect(report.finalStates.a == .active && report.finalStates.b == .active)
        for media in [report.atA, report.atB] {
            #expect(media.videoFramesSent > 1_700)
            // Every frame sent was decoded, its stamp read back, in order, identical to the sender's own
            // reconstruction (so its PSNR is the sender's).
            #expect(media.videoFramesDecoded == media.videoFramesSent)
            #expect(media.stampsRead == media.videoFramesDecoded)
            #expect(media.stampsOutOfOrder == 0)
            #expect(media.reconstructionMismatches == 0)
            #expect(media.senderPSNR > 30)
            #expect(media.video?.video?.freezeCount == 0)
            #expect(media.concealmentEventsAfterFirstSecond == 0)
        }
    }

    @Test(arguments: [5, 6])
    func fivePercentLossIsRecoveredByNACKAndFEC(seed: UInt64) throws {
        let report = try run(CallScenario(
            name: "loss 5% delay 50ms seed \(seed)", symmetric: LinkParameters(delay: .milliseconds(50), randomLoss: 0.05),
            seed: seed))
        for media in [report.atA, report.atB] {
            #expect(media.videoPacketsLostOnPath > 50)
            #expect((media.recoveryRatio ?? 0) >= 0.99)
            #expect((media.video?.video?.freezeCount ?? .max) <= 1)
            #expect((media.concealedRatio ?? 1) <= 0.02)
            #expect(media.stampsOutOfOrder == 0 && media.reconstructionMismatches == 0)
        }
    }

    @Test(arguments: [(10, 60), (20, 120)])
    func jitterRaisesTheTargetWithinBoundsAndItDecaysAfterwards(sigma: Int, bound: Int) throws {
        // Jitter for the first 25 s, then a steady path: the target must come back near the floor.
        let jittery = LinkParameters(delay: .milliseconds(50), jitter: .normal(standardDeviation: .milliseconds(sigma)))
        let steady = LinkParameters(delay: .milliseconds(50))
        let report = try run(CallScenario(
            name: "jitter σ=\(sigma)ms", symmetric: jittery, schedule: [ScheduledChange(at: at(25), steady)],
            seed: UInt64(sigma)))
        for media in [report.atA, report.atB] {
            let during = media.audioDelays.filter { $0.at >= .seconds(3) && $0.at < .seconds(25) }.map(\.target)
            #expect(!during.isEmpty && during.max()! <= .milliseconds(bound))
            #expect(during.max()! > .milliseconds(20), "the target should have risen under jitter")
            // Within 30 s of the jitter stopping the target is back within 20 ms of the 20 ms floor.
            let after = media.audioDelays.filter { $0.at >= .seconds(55) }.map(\.target)
            #expect(!after.isEmpty && after.allSatisfy { $0 <= .milliseconds(40) })
            #expect(media.stampsOutOfOrder == 0)
        }
    }

    @Test func isolatedDelaySpikesAreLateLossesNotAReasonToWait() throws {
        let spiky = LinkParameters(
            delay: .milliseconds(30), delaySpikes: DelaySpikes(probability: 0.01, extraDelay: .milliseconds(150)))
        let report = try run(CallScenario(name: "1% spikes +150ms", symmetric: spiky, seed: 7))
        for media in [report.atA, report.atB] {
            #expect(media.maximumTargetDelay() <= .milliseconds(80))
            #expect((media.audio?.audio?.packetsDiscarded ?? 0) > 0, "late packets are discarded and counted")
        }
    }

    @Test func fiveSecondOutageRecoversWithAKeyFrameAndNoBacklog() throws {
        let path = LinkParameters(delay: .milliseconds(30))
        let report = try run(CallScenario(
            name: "outage 5s", symmetric: path,
            schedule: [ScheduledChange(at: at(20), .down), ScheduledChange(at: at(25), path)], seed: 9))
        #expect(report.finalStates.a == .active && report.finalStates.b == .active)
        #expect(report.largestBufferedAudio <= .seconds(2), "the audio buffer stays bounded")
        #expect(report.largestBufferedVideoFrames <= CallSessionConfiguration().videoReceiver.maximumFrames)
        for media in [report.atA, report.atB] {
            // Video resumes with a key frame within 1 s of the path coming back.
            let firstAfter = media.decodes.first { $0.at >= .seconds(25) }
            #expect(firstAfter?.isKeyFrame == true)
            #expect(firstAfter.map { $0.at < .seconds(26) } == true)
            // Audio resumes without the outage's delay: 2 s after, the buffer is near its target.
            let settled = media.audioDelays.filter { $0.at >= .seconds(27) && $0.at < .seconds(30) }
            #expect(!settled.isEmpty && settled.allSatisfy { $0.buffered <= $0.target + .milliseconds(60) })
            #expect((media.video?.video?.framesDecoded ?? 0) > 1_400)
        }
    }

    @Test func hostilePacketsAreDroppedAndCountedWithoutHarm() throws {
        let report = try run(CallScenario(
            name: "10% injected", symmetric: LinkParameters(delay: .milliseconds(20)), seed: 3, injectionRate: 0.1))
        let statistics = try #require(report.statisticsB)
        let injected = report.injected.forged + report.injected.replayed + report.injected.malformed
        #expect(injected > 500)
        // Each hostile datagram was dropped somewhere, and counted there.
        let srtpDrops = statistics.inbound.reduce(0) { $0 + $1.srtp.failures + $1.retransmissionSRTP.failures }
        let drops = srtpDrops + statistics.channel.authenticationFailures + statistics.channel.replays
            + statistics.channel.malformed + statistics.dropped.malformed + statistics.dropped.unknownSSRC
            + statistics.dropped.unexpectedType + statistics.dropped.handshakeResponsesRejected
            + statistics.channel.unknownEpochs + statistics.dropped.malformedRTCP + report.initiationsIgnoredAtB
        #expect(drops >= injected)
        // And the call did not notice.
        let media = report.atB
        #expect(media.videoFramesDecoded == media.videoFramesSent && media.stampsOutOfOrder == 0)
        #expect(media.video?.video?.freezeCount == 0)
        #expect(media.concealmentEventsAfterFirstSecond == 0)
    }
}
