import ParleyJitter
import ParleyWire
import Testing

/// Feeds a 20 ms stream into a `DelayManager`: packet `i` arrives at `i × 20 ms + 50 ms + extra(i)`.
/// Returns the target after each packet, with its arrival time in seconds.
private func estimate(
    packets: Int, configuration: DelayManager.Configuration = .init(), isFIFO: Bool = false,
    extra: (Int) -> Duration?
) throws -> (manager: DelayManager, targets: [(time: Double, target: Duration)]) {
    var manager = try DelayManager(configuration: configuration)
    var targets: [(Double, Duration)] = []
    for delivery in deliveries(count: packets, isFIFO: isFIFO, extra: extra) {
        manager.update(timestamp: Int64(delivery.index) * 960 + 1_000, arrival: delivery.arrival)
        targets.append(((delivery.arrival - MonotonicInstant(nanoseconds: 1_000_000_000)).inSeconds, manager.targetDelay))
    }
    return (manager, targets)
}

private func maximum(_ targets: [(time: Double, target: Duration)], in range: Range<Double>) -> Duration {
    targets.filter { range.contains($0.time) }.map(\.target).max() ?? .zero
}

@Suite struct AudioDelayManagerTests {
    @Test func steadyArrivalKeepsTheTargetAtTheFloor() throws {
        let (_, targets) = try estimate(packets: 500) { _ in .zero }
        #expect(targets.allSatisfy { $0.target == .milliseconds(20) })
    }

    @Test func targetCoversThe95thPercentileOfNormalJitter() throws {
        for (sigma, low, high) in [(10, 30, 60), (20, 60, 120)] {
            let jitter = normalJitter(sigma: .milliseconds(sigma), seed: 7)
            let run = try estimate(packets: 3_000, extra: jitter)
            let settled = maximum(run.targets, in: 20..<60)
            #expect(settled >= .milliseconds(low) && settled <= .milliseconds(high), "σ=\(sigma) ms: \(settled)")
            // The target really covers 95 %: count the packets whose relative delay it would have missed.
            var manager = try DelayManager()
            var missed = 0
            var counted = 0
            for delivery in deliveries(count: 3_000, extra: jitter) {
                let target = manager.targetDelay
                let relative = manager.update(timestamp: Int64(delivery.index) * 960, arrival: delivery.arrival)
                if delivery.index >= 1_000 {
                    counted += 1
                    if relative > target { missed += 1 }
                }
            }
            #expect(Double(missed) / Double(counted) < 0.08, "σ=\(sigma) ms: \(missed) of \(counted) beyond target")
        }
    }

    @Test func targetRisesWithinTwoSecondsOfJitterStarting() throws {
        // Clean for 10 s (500 packets), then σ = 20 ms.
        let run = try estimate(packets: 1_000, extra: normalJitter(sigma: .milliseconds(20), seed: 3, active: 500..<1_000))
        #expect(maximum(run.targets, in: 0..<10) == .milliseconds(20))
        let afterTwoSeconds = run.targets.first { $0.time >= 12.05 }?.target ?? .zero
        #expect(afterTwoSeconds >= .milliseconds(60), "target 2 s after jitter started: \(afterTwoSeconds)")
    }

    @Test func targetDecaysToTheFloorWithin30SecondsOfJitterStopping() throws {
        // σ = 20 ms for 30 s, then none for 40 s.
        let run = try estimate(packets: 3_500, extra: normalJitter(sigma: .milliseconds(20), seed: 5, active: 0..<1_500))
        #expect(maximum(run.targets, in: 25..<30) >= .milliseconds(70))
        let nearFloor = run.targets.last { $0.time >= 30 && $0.target > .milliseconds(40) }?.time ?? 30
        let atFloor = run.targets.last { $0.time >= 30 && $0.target > .milliseconds(20) }?.time ?? 30
        #expect(nearFloor - 30 <= 30, "within 20 ms of the floor \(nearFloor - 30) s after jitter stopped")
        #expect(atFloor - 30 <= 30, "at the floor \(atFloor - 30) s after jitter stopped")
    }

    @Test func isolatedDelaySpikesAreNotAReasonToRaiseTheTarget() throws {
        // 1 % of packets held 150 ms, on a FIFO path: the packets behind each are held too.
        var generator = SplitMix64(seed: 11)
        let spiked = Set((0..<3_000).filter { _ in generator.next() % 100 == 0 })
        let run = try estimate(packets: 3_000, isFIFO: true) { spiked.contains($0) ? .milliseconds(150) : .zero }
        #expect(spiked.count >= 20)
        #expect(maximum(run.targets, in: 0..<60) <= .milliseconds(80))
        #expect(run.manager.spikePackets >= spiked.count)
    }

    @Test func frequentSpikesAreJitterAndRaiseTheTarget() throws {
        // 20 % of packets delayed 100 ms is no outlier: the target must cover it.
        var generator = SplitMix64(seed: 13)
        let spiked = Set((0..<1_500).filter { _ in generator.next() % 5 == 0 })
        let run = try estimate(packets: 1_500) { spiked.contains($0) ? .milliseconds(100) : .zero }
        #expect(maximum(run.targets, in: 20..<30) >= .milliseconds(100))
    }

    @Test func referenceIsTheLeastDelayedPacketOfTheLastTwoSeconds() throws {
        // The path's delay steps up by 100 ms for good at 10 s: after 2 s that is the new reference.
        var manager = try DelayManager()
        var relativeDelays: [(time: Double, delay: Duration)] = []
        for delivery in deliveries(count: 1_000, extra: { $0 >= 500 ? .milliseconds(100) : .zero }) {
            let delay = manager.update(timestamp: Int64(delivery.index) * 960, arrival: delivery.arrival)
            relativeDelays.append(((delivery.arrival - MonotonicInstant(nanoseconds: 1_000_000_000)).inSeconds, delay))
        }
        #expect(relativeDelays.filter { $0.time > 10.2 && $0.time < 12 }.allSatisfy { $0.delay == .milliseconds(100) })
        #expect(relativeDelays.filter { $0.time > 12.2 }.allSatisfy { $0.delay == .zero })
    }

    @Test func sameArrivalsGiveTheSameTargets() throws {
        let jitter = normalJitter(sigma: .milliseconds(15), seed: 17)
        let first = try estimate(packets: 1_000, extra: jitter).targets.map(\.target)
        let second = try estimate(packets: 1_000, extra: jitter).targets.map(\.target)
        #expect(first == second)
    }

    @Test func outOfRangeSettingsAreRejected() {
        #expect(throws: JitterError.self) { try DelayManager(configuration: .init(percentile: 1.5)) }
        #expect(throws: JitterError.self) { try DelayManager(configuration: .init(forgettingFactor: 1)) }
        #expect(throws: JitterError.self) {
            try DelayManager(configuration: .init(minimumTargetDelay: .milliseconds(50), maximumTargetDelay: .milliseconds(20)))
        }
    }
}
