public import ParleyWire

/// Which way a datagram travels on an emulated path between endpoints A and B.
public enum PathDirection: Sendable, Hashable, CaseIterable {
    /// From endpoint A to endpoint B.
    case aToB
    /// From endpoint B to endpoint A.
    case bToA
}

/// A two-way emulated network between endpoints A and B: two independent `EmulatedLink`s.
///
/// Each direction has its own parameters, schedule and generator (seeded from `seed`, so the two never
/// share a random stream). Driven like a link: `send`, then drain `poll(now:)`, then wake at
/// `nextDeliveryTime`.
public struct EmulatedPath: Sendable {
    /// The link carrying datagrams from A to B.
    public var aToB: EmulatedLink
    /// The link carrying datagrams from B to A.
    public var bToA: EmulatedLink

    /// A path whose directions have the given parameters and schedules; per-direction seeds derive from
    /// `seed`.
    public init(
        aToB: LinkParameters = .perfect, bToA: LinkParameters = .perfect,
        aToBSchedule: [ScheduledChange] = [], bToASchedule: [ScheduledChange] = [], seed: UInt64
    ) {
        var seeds = SplitMix64(seed: seed)
        self.aToB = EmulatedLink(aToB, schedule: aToBSchedule, seed: seeds.next())
        self.bToA = EmulatedLink(bToA, schedule: bToASchedule, seed: seeds.next())
    }

    /// A path with the same parameters and schedule both ways (independent randomness each way).
    public init(symmetric parameters: LinkParameters, schedule: [ScheduledChange] = [], seed: UInt64) {
        self.init(aToB: parameters, bToA: parameters, aToBSchedule: schedule, bToASchedule: schedule, seed: seed)
    }

    /// The link for `direction`.
    public subscript(direction: PathDirection) -> EmulatedLink {
        get { direction == .aToB ? aToB : bToA }
        set { if direction == .aToB { aToB = newValue } else { bToA = newValue } }
    }

    /// Offers `datagram` to the link for `direction` at `now`.
    public mutating func send(_ datagram: [UInt8], _ direction: PathDirection, at now: MonotonicInstant) {
        self[direction].send(datagram, at: now)
    }

    /// The earliest instant at which either direction delivers, or `nil` if nothing is in flight.
    public var nextDeliveryTime: MonotonicInstant? {
        switch (aToB.nextDeliveryTime, bToA.nextDeliveryTime) {
        case let (a?, b?): min(a, b)
        case let (a, b): a ?? b
        }
    }

    /// The next datagram due at or before `now` in either direction (earliest first; A→B on a tie),
    /// with its direction, or `nil` when none is due yet.
    public mutating func poll(now: MonotonicInstant) -> (direction: PathDirection, delivery: EmulatedDelivery)? {
        let a = aToB.nextDeliveryTime.flatMap { $0 <= now ? $0 : nil }
        let b = bToA.nextDeliveryTime.flatMap { $0 <= now ? $0 : nil }
        switch (a, b) {
        case let (a?, b?) where b < a: return bToA.poll(now: now).map { (.bToA, $0) }
        case (_?, _): return aToB.poll(now: now).map { (.aToB, $0) }
        case (nil, _?): return bToA.poll(now: now).map { (.bToA, $0) }
        case (nil, nil): return nil
        }
    }
}
