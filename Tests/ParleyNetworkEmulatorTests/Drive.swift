import ParleyNetworkEmulator
import ParleyWire

/// Sends `count` datagrams of `size` bytes, one every `interval` from `start`, draining deliveries after
/// each send, then drains everything still in flight; returns the deliveries in delivery order.
/// Each datagram starts with its index (little-endian, 4 bytes) so its bytes differ from its neighbours'.
func drive(
    _ link: inout EmulatedLink, count: Int, every interval: Duration, size: Int = 100,
    from start: MonotonicInstant = .zero
) -> [EmulatedDelivery] {
    var deliveries: [EmulatedDelivery] = []
    deliveries.reserveCapacity(count)
    for index in 0..<count {
        let now = start + interval * index
        deliveries += link.drain(now: now)
        var datagram = [UInt8](repeating: 0xA5, count: max(size, 4))
        for byte in 0..<4 { datagram[byte] = UInt8(truncatingIfNeeded: index >> (8 * byte)) }
        link.send(datagram, at: now)
        deliveries += link.drain(now: now)
    }
    while let next = link.nextDeliveryTime { deliveries += link.drain(now: next) }
    return deliveries
}

/// Whether `fraction` is within `sigmas` standard errors of a Bernoulli(`p`) rate over `trials`.
func isNear(_ fraction: Double, _ p: Double, trials: Int, sigmas: Double = 5) -> Bool {
    abs(fraction - p) <= sigmas * (p * (1 - p) / Double(trials)).squareRoot()
}

extension Int {
    /// This count as a fraction of `total`.
    func fraction(of total: Int) -> Double { Double(self) / Double(total) }
}
