import ParleyNetworkEmulator
import ParleyWire
import Testing

@Suite struct DelaySpikeTests {
    /// The index a `drive` datagram carries in its first four bytes.
    private func index(_ delivery: EmulatedDelivery) -> Int {
        (0..<4).reduce(0) { $0 | Int(delivery.datagram[$1]) << (8 * $1) }
    }

    @Test func spikedDatagramsArriveLateAndAlone() {
        var link = EmulatedLink(
            LinkParameters(delay: .milliseconds(30), delaySpikes: DelaySpikes(probability: 0.01, extraDelay: .milliseconds(150))),
            seed: 11)
        let deliveries = drive(&link, count: 20_000, every: .milliseconds(20))
        #expect(deliveries.count == 20_000)
        let transits = deliveries.map { $0.deliveredAt - $0.sentAt }
        let late = transits.filter { $0 == .milliseconds(180) }.count
        let onTime = transits.filter { $0 == .milliseconds(30) }.count
        // Every datagram took either the plain delay or the spike: nothing queued behind a spike.
        #expect(late + onTime == 20_000)
        #expect(late == link.counters.spiked)
        #expect(isNear(late.fraction(of: 20_000), 0.01, trials: 20_000))
        // A spiked datagram is overtaken by its successors (it arrives out of order).
        let order = deliveries.map(index)
        #expect(order != order.sorted())
    }

    @Test func noSpikesWithoutTheSetting() {
        var link = EmulatedLink(LinkParameters(delay: .milliseconds(30)), seed: 11)
        let deliveries = drive(&link, count: 2_000, every: .milliseconds(20))
        #expect(deliveries.allSatisfy { $0.deliveredAt - $0.sentAt == .milliseconds(30) })
        #expect(link.counters.spiked == 0)
    }
}
