public import ParleyWire

/// One direction of an emulated network: datagrams go in with `send(_:at:)` and come out, impaired, from
/// `poll(now:)`.
///
/// Sans-IO and deterministic: the link reads no clock and owns no thread or socket; all randomness comes
/// from one `SplitMix64` seeded at creation, so the same seed, parameters and calls give the same
/// deliveries, byte for byte. Instants passed to `send` and `poll` must not go backwards. The owner sends,
/// then drains `poll(now:)` until it returns `nil`, and wakes up again at `nextDeliveryTime`.
public struct EmulatedLink: Sendable {
    /// The parameters in force (those of the last scheduled change reached).
    public private(set) var parameters: LinkParameters
    /// What the link has done so far.
    public private(set) var counters = LinkCounters()

    private var generator: SplitMix64
    private var pendingChanges: [ScheduledChange]
    private var inBadState = false
    private var nextSequenceNumber: UInt64 = 0
    private var nextOrder: UInt64 = 0
    private var latestArrival = MonotonicInstant(nanoseconds: .min)
    private var highestDeliveredSequenceNumber: UInt64?
    /// When the bottleneck finishes serialising the last accepted datagram.
    private var bottleneckFreeAt = MonotonicInstant(nanoseconds: .min)
    /// Datagrams not yet fully serialised: (finish instant, size), oldest first, from `queueHead` on.
    private var queue: [(finish: MonotonicInstant, bytes: Int)] = []
    private var queueHead = 0
    private var queuedBytes = 0
    private var inFlight = DeliveryHeap()

    /// A link with `parameters` from the start, then each of `schedule` at its instant, drawing randomness
    /// from `SplitMix64(seed: seed)`.
    public init(_ parameters: LinkParameters = .perfect, schedule: [ScheduledChange] = [], seed: UInt64) {
        self.parameters = parameters
        self.pendingChanges = schedule.enumerated()
            .sorted { ($0.element.instant, $0.offset) < ($1.element.instant, $1.offset) }
            .map(\.element)
        self.generator = SplitMix64(seed: seed)
    }

    /// Adds a change of parameters at `instant` (applied when a `send` or `poll` reaches it).
    public mutating func schedule(_ parameters: LinkParameters, at instant: MonotonicInstant) {
        let index = pendingChanges.firstIndex { $0.instant > instant } ?? pendingChanges.endIndex
        pendingChanges.insert(ScheduledChange(at: instant, parameters), at: index)
    }

    /// Offers `datagram` to the link at `now`; it is lost, queued, delayed, duplicated or corrupted as the
    /// parameters in force at `now` say, and any surviving copies come out of `poll(now:)` later.
    public mutating func send(_ datagram: [UInt8], at now: MonotonicInstant) {
        applyChanges(upTo: now)
        let sequenceNumber = nextSequenceNumber
        nextSequenceNumber += 1
        counters.sent += 1

        if bernoulli(parameters.randomLoss) {
            counters.lostRandomly += 1
            return
        }
        if let channel = parameters.burstLoss {
            inBadState = inBadState ? !bernoulli(channel.badToGood) : bernoulli(channel.goodToBad)
            if bernoulli(inBadState ? channel.lossInBad : channel.lossInGood) {
                counters.lostInBursts += 1
                return
            }
        }

        var departure = now
        if let cap = parameters.bandwidth {
            while queueHead < queue.count, queue[queueHead].finish <= now {
                queuedBytes -= queue[queueHead].bytes
                queueHead += 1
            }
            if queueHead > 64, queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            let full: Bool
            switch cap.queueLimit {
            case .bytes(let limit): full = queuedBytes + datagram.count > limit
            case .packets(let limit): full = queue.count - queueHead + 1 > limit
            }
            if full {
                counters.lostToQueueOverflow += 1
                return
            }
            let bits = Int128(datagram.count) * 8 * 1_000_000_000
            let rate = Int128(cap.bitsPerSecond)
            let serialisation = Int64((bits + rate - 1) / rate)
            departure = MonotonicInstant(nanoseconds: max(now, bottleneckFreeAt).nanoseconds + serialisation)
            bottleneckFreeAt = departure
            queue.append((departure, datagram.count))
            queuedBytes += datagram.count
        }

        enqueue(datagram, sequenceNumber: sequenceNumber, sentAt: now, departure: departure, isDuplicate: false)
        if bernoulli(parameters.duplication) {
            counters.duplicated += 1
            enqueue(datagram, sequenceNumber: sequenceNumber, sentAt: now, departure: departure, isDuplicate: true)
        }
    }

    /// The earliest instant at which `poll(now:)` will return a datagram, or `nil` if none is in flight.
    public var nextDeliveryTime: MonotonicInstant? { inFlight.peek?.delivery.deliveredAt }

    /// The next datagram due at or before `now`, in delivery order, or `nil` when none is due yet.
    public mutating func poll(now: MonotonicInstant) -> EmulatedDelivery? {
        applyChanges(upTo: now)
        guard let top = inFlight.peek, top.delivery.deliveredAt <= now else { return nil }
        let delivery = inFlight.pop().delivery
        counters.delivered += 1
        if !delivery.isDuplicate {
            if let highest = highestDeliveredSequenceNumber, delivery.sequenceNumber < highest {
                counters.reordered += 1
            } else {
                highestDeliveredSequenceNumber = delivery.sequenceNumber
            }
        }
        return delivery
    }

    /// Every datagram due at or before `now`, in delivery order (`poll(now:)` until `nil`).
    public mutating func drain(now: MonotonicInstant) -> [EmulatedDelivery] {
        var deliveries: [EmulatedDelivery] = []
        while let delivery = poll(now: now) { deliveries.append(delivery) }
        return deliveries
    }

    private mutating func applyChanges(upTo now: MonotonicInstant) {
        var applied = 0
        while applied < pendingChanges.count, pendingChanges[applied].instant <= now {
            parameters = pendingChanges[applied].parameters
            applied += 1
        }
        if applied > 0 { pendingChanges.removeFirst(applied) }
    }

    private mutating func enqueue(
        _ datagram: [UInt8], sequenceNumber: UInt64, sentAt: MonotonicInstant, departure: MonotonicInstant,
        isDuplicate: Bool
    ) {
        let transit = max(0, parameters.delay.totalNanoseconds + jitterSample())
        var arrival = MonotonicInstant(nanoseconds: departure.nanoseconds + transit)
        if !parameters.allowsReordering { arrival = max(arrival, latestArrival) }
        if let spikes = parameters.delaySpikes, bernoulli(spikes.probability) {
            // Held back on its own: successors are not queued behind a spike.
            arrival = arrival + spikes.extraDelay
            counters.spiked += 1
        } else {
            latestArrival = max(latestArrival, arrival)
        }
        var bytes = datagram
        if bernoulli(parameters.corruption) {
            bytes = generator.mutated(bytes)
            counters.corrupted += 1
        }
        let delivery = EmulatedDelivery(
            datagram: bytes, sequenceNumber: sequenceNumber, sentAt: sentAt, deliveredAt: arrival,
            isDuplicate: isDuplicate)
        inFlight.push(DeliveryHeap.Entry(delivery: delivery, order: nextOrder))
        nextOrder += 1
    }

    /// A deviation from the fixed delay, in nanoseconds.
    private mutating func jitterSample() -> Int64 {
        switch parameters.jitter {
        case .none:
            return 0
        case .uniform(let maximum):
            let bound = maximum.totalNanoseconds
            return bound > 0 ? Int64.random(in: -bound...bound, using: &generator) : 0
        case .normal(let standardDeviation):
            let sigma = Double(standardDeviation.totalNanoseconds)
            guard sigma > 0 else { return 0 }
            // Irwin–Hall: the sum of 12 uniforms minus 6 has mean 0 and variance 1, and needs no libm,
            // so traces are identical on every platform.
            var z = -6.0
            for _ in 0..<12 { z += Double.random(in: 0..<1, using: &generator) }
            return Int64(min(4, max(-4, z)) * sigma)
        }
    }

    private mutating func bernoulli(_ probability: Double) -> Bool {
        guard probability > 0 else { return false }
        guard probability < 1 else { return true }
        return Double.random(in: 0..<1, using: &generator) < probability
    }
}

/// A datagram coming out of an emulated link.
public struct EmulatedDelivery: Sendable, Equatable {
    /// The bytes delivered (changed from those sent only if the link corrupted them).
    public var datagram: [UInt8]
    /// The datagram's position in the link's send order, from 0 (a duplicate shares its original's).
    public var sequenceNumber: UInt64
    /// When the datagram was sent.
    public var sentAt: MonotonicInstant
    /// When the datagram is delivered.
    public var deliveredAt: MonotonicInstant
    /// Whether this is the extra copy made by duplication.
    public var isDuplicate: Bool

    /// A delivery record (links make these; tests may build them to compare traces).
    public init(
        datagram: [UInt8], sequenceNumber: UInt64, sentAt: MonotonicInstant, deliveredAt: MonotonicInstant,
        isDuplicate: Bool
    ) {
        self.datagram = datagram
        self.sequenceNumber = sequenceNumber
        self.sentAt = sentAt
        self.deliveredAt = deliveredAt
        self.isDuplicate = isDuplicate
    }
}

/// What an emulated link has done: every datagram sent is delivered, lost for one cause, or still in flight.
public struct LinkCounters: Sendable, Equatable {
    /// Datagrams offered with `send(_:at:)`.
    public var sent = 0
    /// Copies handed out by `poll(now:)`, duplicates included.
    public var delivered = 0
    /// Datagrams lost to `randomLoss`.
    public var lostRandomly = 0
    /// Datagrams lost to the Gilbert–Elliott channel.
    public var lostInBursts = 0
    /// Datagrams dropped because the bandwidth cap's queue was full.
    public var lostToQueueOverflow = 0
    /// Extra copies made by duplication.
    public var duplicated = 0
    /// Original datagrams delivered after one sent later than them (duplicates are not counted).
    public var reordered = 0
    /// Copies damaged by corruption.
    public var corrupted = 0
    /// Datagrams held back by a delay spike.
    public var spiked = 0

    /// All counters zero.
    public init() {}

    /// Datagrams lost for any cause.
    public var lost: Int { lostRandomly + lostInBursts + lostToQueueOverflow }
}

/// A binary min-heap of in-flight deliveries ordered by delivery instant, then by scheduling order.
struct DeliveryHeap: Sendable {
    struct Entry: Sendable {
        var delivery: EmulatedDelivery
        var order: UInt64

        func precedes(_ other: Entry) -> Bool {
            (delivery.deliveredAt, order) < (other.delivery.deliveredAt, other.order)
        }
    }

    private var entries: [Entry] = []

    var peek: Entry? { entries.first }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry {
        let top = entries[0]
        let last = entries.removeLast()
        guard !entries.isEmpty else { return top }
        entries[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < entries.count, entries[left].precedes(entries[smallest]) { smallest = left }
            if right < entries.count, entries[right].precedes(entries[smallest]) { smallest = right }
            if smallest == parent { break }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
