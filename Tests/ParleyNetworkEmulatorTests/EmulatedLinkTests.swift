import ParleyNetworkEmulator
import ParleyWire
import Testing

/// Every impairment at once, for the determinism tests.
private let everything = LinkParameters(
    delay: .milliseconds(30), jitter: .normal(standardDeviation: .milliseconds(15)), allowsReordering: true,
    randomLoss: 0.03, burstLoss: GilbertElliott(goodToBad: 0.01, badToGood: 0.3), duplication: 0.05,
    bandwidth: BandwidthCap(bitsPerSecond: 2_000_000, queueLimit: .bytes(20_000)), corruption: 0.02)

@Suite("Determinism")
struct DeterminismTests {
    @Test func sameSeedGivesTheSameTrace() {
        var first = EmulatedLink(everything, seed: 42)
        var second = EmulatedLink(everything, seed: 42)
        let trace = drive(&first, count: 3_000, every: .milliseconds(2), size: 600)
        #expect(trace == drive(&second, count: 3_000, every: .milliseconds(2), size: 600))
        #expect(first.counters == second.counters)
        #expect(first.counters.lost > 0 && first.counters.duplicated > 0 && first.counters.reordered > 0)
    }

    @Test func differentSeedsGiveDifferentTraces() {
        var first = EmulatedLink(everything, seed: 1)
        var second = EmulatedLink(everything, seed: 2)
        #expect(
            drive(&first, count: 3_000, every: .milliseconds(2), size: 600)
                != drive(&second, count: 3_000, every: .milliseconds(2), size: 600))
    }
}

@Suite("Delay and jitter")
struct DelayAndJitterTests {
    @Test func cleanLinkDeliversEverythingInOrderAfterExactlyTheDelay() {
        var link = EmulatedLink(LinkParameters(delay: .milliseconds(40)), seed: 7)
        let deliveries = drive(&link, count: 1_000, every: .milliseconds(10))
        #expect(deliveries.map(\.sequenceNumber) == Array(0..<1_000))
        #expect(deliveries.allSatisfy { $0.deliveredAt - $0.sentAt == .milliseconds(40) })
        #expect(deliveries.allSatisfy { !$0.isDuplicate && $0.datagram.count == 100 })
        #expect(link.counters == { var c = LinkCounters(); c.sent = 1_000; c.delivered = 1_000; return c }())
    }

    @Test func nothingIsDeliveredBeforeItsTime() {
        var link = EmulatedLink(LinkParameters(delay: .milliseconds(40)), seed: 7)
        link.send([1, 2, 3], at: .zero)
        #expect(link.nextDeliveryTime == .zero + .milliseconds(40))
        #expect(link.poll(now: .zero + .milliseconds(39)) == nil)
        #expect(link.poll(now: .zero + .milliseconds(40))?.datagram == [1, 2, 3])
        #expect(link.nextDeliveryTime == nil)
    }

    @Test(arguments: [Jitter.uniform(maximum: .milliseconds(30)), .normal(standardDeviation: .milliseconds(20))])
    func jitterWithoutReorderingNeverReorders(jitter: Jitter) {
        var link = EmulatedLink(LinkParameters(delay: .milliseconds(50), jitter: jitter), seed: 3)
        let deliveries = drive(&link, count: 5_000, every: .milliseconds(5))
        #expect(deliveries.map(\.sequenceNumber) == Array(0..<5_000))
        #expect(link.counters.reordered == 0)
        let transits = Set(deliveries.map { $0.deliveredAt - $0.sentAt })
        #expect(transits.count > 1_000, "the delay varies")
    }

    @Test(arguments: [Jitter.uniform(maximum: .milliseconds(30)), .normal(standardDeviation: .milliseconds(20))])
    func jitterWithReorderingReordersSome(jitter: Jitter) {
        var link = EmulatedLink(
            LinkParameters(delay: .milliseconds(50), jitter: jitter, allowsReordering: true), seed: 3)
        let deliveries = drive(&link, count: 5_000, every: .milliseconds(5))
        #expect(deliveries.count == 5_000)
        #expect(Set(deliveries.map(\.sequenceNumber)) == Set(0..<5_000))
        #expect(link.counters.reordered > 100)
        #expect(deliveries.map(\.sequenceNumber) != Array(0..<5_000))
    }

    @Test func normalJitterHasTheRequestedMeanAndStandardDeviation() {
        var link = EmulatedLink(
            LinkParameters(
                delay: .milliseconds(100), jitter: .normal(standardDeviation: .milliseconds(10)),
                allowsReordering: true),
            seed: 11)
        let transits = drive(&link, count: 20_000, every: .milliseconds(1)).map { ($0.deliveredAt - $0.sentAt).inMilliseconds }
        let mean = transits.reduce(0, +) / Double(transits.count)
        let deviation = (transits.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(transits.count)).squareRoot()
        #expect(abs(mean - 100) < 0.5)
        #expect(abs(deviation - 10) < 0.5)
        #expect(transits.allSatisfy { (60...140).contains($0) }, "cut at ±4σ")
    }
}

@Suite("Loss")
struct LossTests {
    @Test func bernoulliLossRateIsWithinAStatisticalBound() {
        var link = EmulatedLink(LinkParameters(randomLoss: 0.05), seed: 5)
        let deliveries = drive(&link, count: 100_000, every: .milliseconds(1))
        #expect(isNear(link.counters.lostRandomly.fraction(of: 100_000), 0.05, trials: 100_000))
        #expect(deliveries.count + link.counters.lost == 100_000)
        #expect(link.counters.lostInBursts == 0 && link.counters.lostToQueueOverflow == 0)
    }

    @Test func gilbertElliottLosesInBurstsOfMeanLengthOneOverBadToGood() {
        let channel = GilbertElliott(goodToBad: 0.01, badToGood: 0.25)
        var link = EmulatedLink(LinkParameters(burstLoss: channel), seed: 9)
        let count = 200_000
        let delivered = drive(&link, count: count, every: .milliseconds(1)).map(\.sequenceNumber)
        var bursts: [UInt64] = []
        var previous: UInt64? = nil
        for sequenceNumber in delivered + [UInt64(count)] {
            let gap = sequenceNumber - (previous.map { $0 + 1 } ?? 0)
            if gap > 0 { bursts.append(gap) }
            previous = sequenceNumber
        }
        let meanBurst = Double(bursts.reduce(0, +)) / Double(bursts.count)
        #expect(abs(meanBurst - 4) < 0.4, "mean burst \(meanBurst)")
        #expect(link.counters.lostInBursts == Int(bursts.reduce(0, +)))
        let lossRate = link.counters.lostInBursts.fraction(of: count)
        #expect(abs(lossRate - channel.stationaryLossRate) < 0.12 * channel.stationaryLossRate, "loss \(lossRate)")
    }

    @Test func gilbertElliottLongRunLossMatchesTheStationaryFormula() {
        let channel = GilbertElliott(goodToBad: 0.02, badToGood: 0.1, lossInGood: 0.01, lossInBad: 0.6)
        #expect(abs(channel.stationaryLossRate - (5.0 / 6 * 0.01 + 1.0 / 6 * 0.6)) < 1e-12)
        var link = EmulatedLink(LinkParameters(burstLoss: channel), seed: 13)
        _ = drive(&link, count: 200_000, every: .milliseconds(1))
        let lossRate = link.counters.lostInBursts.fraction(of: 200_000)
        #expect(abs(lossRate - channel.stationaryLossRate) < 0.1 * channel.stationaryLossRate, "loss \(lossRate)")
    }

    @Test func downLinkLosesEverything() {
        var link = EmulatedLink(.down, seed: 1)
        #expect(drive(&link, count: 100, every: .milliseconds(1)).isEmpty)
        #expect(link.counters.lostRandomly == 100)
    }
}

@Suite("Duplication and corruption")
struct DuplicationAndCorruptionTests {
    @Test func duplicationRateIsWithinAStatisticalBound() {
        var link = EmulatedLink(
            LinkParameters(delay: .milliseconds(20), jitter: .uniform(maximum: .milliseconds(5)), duplication: 0.1),
            seed: 17)
        let deliveries = drive(&link, count: 100_000, every: .milliseconds(1))
        #expect(isNear(link.counters.duplicated.fraction(of: 100_000), 0.1, trials: 100_000))
        #expect(deliveries.count == 100_000 + link.counters.duplicated)
        let copies = deliveries.filter(\.isDuplicate)
        #expect(copies.count == link.counters.duplicated)
        #expect(Set(deliveries.filter { !$0.isDuplicate }.map(\.sequenceNumber)).count == 100_000)
        let originals = Dictionary(uniqueKeysWithValues: deliveries.filter { !$0.isDuplicate }.map { ($0.sequenceNumber, $0) })
        #expect(copies.allSatisfy { originals[$0.sequenceNumber]?.datagram == $0.datagram })
        #expect(copies.contains { originals[$0.sequenceNumber]?.deliveredAt != $0.deliveredAt }, "own jitter")
    }

    @Test func corruptionDamagesTheRequestedFractionOfCopies() {
        var link = EmulatedLink(LinkParameters(corruption: 0.2), seed: 19)
        let deliveries = drive(&link, count: 20_000, every: .milliseconds(1), size: 32)
        #expect(isNear(link.counters.corrupted.fraction(of: 20_000), 0.2, trials: 20_000))
        let damaged = deliveries.filter { $0.datagram.count != 32 || $0.datagram[4...].contains { $0 != 0xA5 } }.count
        #expect(damaged <= link.counters.corrupted && damaged >= link.counters.corrupted * 9 / 10)
    }
}

@Suite("Bandwidth cap")
struct BandwidthCapTests {
    /// 1 Mbit/s: a 1 250-byte datagram takes exactly 10 ms to serialise.
    private static let megabit = 1_000_000 as Int64

    @Test func throughputEqualsTheCapUnderOverloadAndTheQueueDrops() {
        let cap = BandwidthCap(bitsPerSecond: Self.megabit, queueLimit: .bytes(30_000))
        var link = EmulatedLink(LinkParameters(delay: .milliseconds(25), bandwidth: cap), seed: 23)
        // 2 Mbit/s offered for 10 s.
        let deliveries = drive(&link, count: 2_000, every: .milliseconds(5), size: 1_250)
        let span = deliveries.last!.deliveredAt - deliveries.first!.deliveredAt
        let bits = Double((deliveries.count - 1) * 1_250 * 8)
        #expect(abs(bits / span.inSeconds - 1e6) < 1, "throughput \(bits / span.inSeconds)")
        #expect(zip(deliveries, deliveries.dropFirst()).allSatisfy { $1.deliveredAt - $0.deliveredAt == .milliseconds(10) })
        #expect(link.counters.lostToQueueOverflow > 900)
        #expect(deliveries.count + link.counters.lost == 2_000)
    }

    @Test(arguments: [QueueLimit.bytes(30_000), .packets(24)])
    func queueingDelayIsBoundedByDepthOverCap(limit: QueueLimit) {
        var link = EmulatedLink(
            LinkParameters(bandwidth: BandwidthCap(bitsPerSecond: Self.megabit, queueLimit: limit)), seed: 29)
        let deliveries = drive(&link, count: 2_000, every: .milliseconds(3), size: 1_250)
        let longest = deliveries.map { $0.deliveredAt - $0.sentAt }.max()!
        // 30 000 bytes or 24 datagrams of 1 250 bytes: 240 ms at 1 Mbit/s, reached once the queue fills.
        #expect(longest <= .milliseconds(240))
        #expect(longest > .milliseconds(230))
        #expect(link.counters.lostToQueueOverflow > 0)
    }

    @Test func underTheCapNothingIsDroppedAndEachDatagramTakesItsSerialisationTime() {
        var link = EmulatedLink(
            LinkParameters(bandwidth: BandwidthCap(bitsPerSecond: Self.megabit, queueLimit: .packets(2))), seed: 31)
        let deliveries = drive(&link, count: 1_000, every: .milliseconds(20), size: 1_250)
        #expect(deliveries.count == 1_000)
        #expect(deliveries.allSatisfy { $0.deliveredAt - $0.sentAt == .milliseconds(10) })
    }
}

@Suite("Scheduled changes")
struct ScheduledChangeTests {
    @Test func scheduledChangesApplyAtTheirInstants() {
        let second = MonotonicInstant.zero + .seconds(1)
        var link = EmulatedLink(
            LinkParameters(delay: .milliseconds(10)),
            schedule: [
                ScheduledChange(at: second + .seconds(1), .down),
                ScheduledChange(at: second, LinkParameters(delay: .milliseconds(100))),
            ],
            seed: 37)
        link.schedule(.perfect, at: second + .seconds(2))
        let deliveries = drive(&link, count: 400, every: .milliseconds(10))
        for delivery in deliveries {
            let transit = delivery.deliveredAt - delivery.sentAt
            switch delivery.sentAt.nanoseconds {
            case ..<1_000_000_000: #expect(transit == .milliseconds(10))
            case ..<2_000_000_000: #expect(transit == .milliseconds(100))
            case ..<3_000_000_000: Issue.record("sent during the outage but delivered at \(delivery.deliveredAt)")
            default: #expect(transit == .zero)
            }
        }
        #expect(link.counters.lostRandomly == 100)
        #expect(deliveries.count == 300)
        #expect(link.parameters == .perfect)
    }

    @Test func bandwidthCanBeCutMidCall() {
        let cap = BandwidthCap(bitsPerSecond: 500_000, queueLimit: .packets(10))
        var link = EmulatedLink(
            .perfect, schedule: [ScheduledChange(at: .zero + .seconds(1), LinkParameters(bandwidth: cap))], seed: 41)
        // 1 Mbit/s offered for 2 s: all through in the first second, about half in the second.
        let deliveries = drive(&link, count: 200, every: .milliseconds(10), size: 1_250)
        #expect(deliveries.filter { $0.sentAt < .zero + .seconds(1) }.count == 100)
        #expect(link.counters.lostToQueueOverflow > 35 && link.counters.lostToQueueOverflow < 60)
    }
}

@Suite("Path")
struct EmulatedPathTests {
    @Test func directionsHaveTheirOwnParameters() {
        var path = EmulatedPath(
            aToB: LinkParameters(delay: .milliseconds(30)), bToA: LinkParameters(delay: .milliseconds(10)), seed: 1)
        path.send([0xA], .aToB, at: .zero)
        path.send([0xB], .bToA, at: .zero)
        #expect(path.nextDeliveryTime == .zero + .milliseconds(10))
        #expect(path.poll(now: .zero + .milliseconds(9)) == nil)
        let first = path.poll(now: .zero + .milliseconds(30))
        let second = path.poll(now: .zero + .milliseconds(30))
        #expect(first?.direction == .bToA && first?.delivery.datagram == [0xB])
        #expect(second?.direction == .aToB && second?.delivery.datagram == [0xA])
        #expect(path.poll(now: .zero + .seconds(1)) == nil && path.nextDeliveryTime == nil)
    }

    @Test func directionsDrawIndependentRandomness() {
        var path = EmulatedPath(symmetric: everything, seed: 99)
        #expect(
            drive(&path.aToB, count: 1_000, every: .milliseconds(2)) != drive(&path.bToA, count: 1_000, every: .milliseconds(2)))
    }
}
