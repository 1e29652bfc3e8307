public import ParleyWire

/// The impairments of one direction of an emulated path; the default is a perfect link (no delay, no loss).
///
/// Stages apply in this order to each datagram sent: loss (random, then bursty), the bandwidth cap and its
/// drop-tail queue, then propagation delay plus jitter, then duplication, then corruption; lost datagrams
/// take no bandwidth. Probabilities
/// are in `0...1`; values outside are clamped.
public struct LinkParameters: Sendable, Equatable {
    /// The one-way propagation delay added to every datagram (after any queueing).
    public var delay: Duration
    /// The random deviation added to `delay` for each datagram.
    public var jitter: Jitter
    /// Whether jitter may deliver datagrams out of send order; when `false`, delivery times are held
    /// monotonic (a datagram that would overtake waits for its predecessor), as on a single FIFO path.
    public var allowsReordering: Bool
    /// The probability that each datagram is lost, independently of every other (Bernoulli).
    public var randomLoss: Double
    /// Bursty loss from a two-state Gilbert–Elliott channel, or `nil` for none.
    public var burstLoss: GilbertElliott?
    /// The probability that a datagram surviving loss and the queue is delivered a second time, with its own
    /// jitter (and its own chance of corruption); the copy takes no extra bandwidth.
    public var duplication: Double
    /// A bottleneck with a drop-tail queue, or `nil` for unlimited bandwidth.
    public var bandwidth: BandwidthCap?
    /// The probability that a delivered copy is damaged with `RandomNumberGenerator.mutated(_:changes:)`
    /// (flipped bits, changed bytes, cut or extended tails).
    public var corruption: Double
    /// Isolated delay spikes: single datagrams held back much longer than the rest, or `nil` for none.
    public var delaySpikes: DelaySpikes?

    /// A link with the given impairments; every argument defaults to "none".
    public init(
        delay: Duration = .zero,
        jitter: Jitter = .none,
        allowsReordering: Bool = false,
        randomLoss: Double = 0,
        burstLoss: GilbertElliott? = nil,
        duplication: Double = 0,
        bandwidth: BandwidthCap? = nil,
        corruption: Double = 0,
        delaySpikes: DelaySpikes? = nil
    ) {
        self.delay = delay
        self.jitter = jitter
        self.allowsReordering = allowsReordering
        self.randomLoss = randomLoss
        self.burstLoss = burstLoss
        self.duplication = duplication
        self.bandwidth = bandwidth
        self.corruption = corruption
        self.delaySpikes = delaySpikes
    }

    /// A perfect link: every datagram delivered at the instant it is sent.
    public static let perfect = LinkParameters()

    /// A datagram that is never delivered: the link is down (a total outage).
    public static let down = LinkParameters(randomLoss: 1)
}

/// Isolated delay spikes: each datagram, with probability `probability`, arrives `extraDelay` later than
/// its jitter alone would make it. A spiked datagram is held back on its own: later datagrams overtake it
/// (as a link-layer retransmission does), so a spike never delays its successors.
public struct DelaySpikes: Sendable, Equatable {
    /// The chance that a datagram is spiked, `0...1`.
    public var probability: Double
    /// How much later a spiked datagram arrives.
    public var extraDelay: Duration

    /// Spikes of `extraDelay` on a fraction `probability` of the datagrams.
    public init(probability: Double, extraDelay: Duration) {
        self.probability = probability
        self.extraDelay = extraDelay
    }
}

/// The distribution of the per-datagram deviation from a link's fixed delay.
///
/// Deviations are symmetric around zero, so the mean one-way delay stays the link's `delay`; a datagram's
/// transit time never goes below zero (a deviation that would make it negative is clamped).
public enum Jitter: Sendable, Equatable {
    /// No jitter: every datagram takes exactly the fixed delay.
    case none
    /// A deviation uniform in `-maximum...maximum`.
    case uniform(maximum: Duration)
    /// A near-normal deviation (Irwin–Hall, 12 uniforms) with the given standard deviation, cut at ±4σ.
    case normal(standardDeviation: Duration)
}

/// A Gilbert–Elliott bursty-loss channel: a good and a bad state, each with its own loss probability.
///
/// Before each datagram the channel moves state (good→bad with `goodToBad`, bad→good with `badToGood`),
/// then loses the datagram with the loss probability of the state it is in. A stay in the bad state lasts
/// `1 / badToGood` datagrams on average; in the long run the channel is bad a fraction
/// `goodToBad / (goodToBad + badToGood)` of the time (see `stationaryLossRate`). The channel starts good.
public struct GilbertElliott: Sendable, Equatable {
    /// The probability of moving from the good to the bad state before a datagram.
    public var goodToBad: Double
    /// The probability of moving from the bad to the good state before a datagram.
    public var badToGood: Double
    /// The probability of losing a datagram in the good state (often 0).
    public var lossInGood: Double
    /// The probability of losing a datagram in the bad state (often 1).
    public var lossInBad: Double

    /// A channel with the given transition and loss probabilities.
    public init(goodToBad: Double, badToGood: Double, lossInGood: Double = 0, lossInBad: Double = 1) {
        self.goodToBad = goodToBad
        self.badToGood = badToGood
        self.lossInGood = lossInGood
        self.lossInBad = lossInBad
    }

    /// The long-run fraction of datagrams lost: `πG·lossInGood + πB·lossInBad`, with
    /// `πB = goodToBad / (goodToBad + badToGood)`.
    public var stationaryLossRate: Double {
        let total = goodToBad + badToGood
        guard total > 0 else { return lossInGood }
        let bad = goodToBad / total
        return (1 - bad) * lossInGood + bad * lossInBad
    }
}

/// A bottleneck of a given rate in front of a drop-tail queue.
///
/// Each datagram occupies the bottleneck for its serialisation time (`bytes × 8 / bitsPerSecond`, rounded
/// up to a nanosecond); datagrams that arrive while it is busy wait in the queue. The queue's occupancy
/// counts every datagram not yet fully serialised, including the one being sent; a datagram that would
/// take it over `queueLimit` is dropped (counted as `lostToQueueOverflow`). So queueing delay is at most
/// the limit's worth of bytes divided by the rate.
public struct BandwidthCap: Sendable, Equatable {
    /// The bottleneck rate in bits per second (must be positive).
    public var bitsPerSecond: Int64
    /// How much the queue holds before it drops.
    public var queueLimit: QueueLimit

    /// A bottleneck of `bitsPerSecond` with a queue of `queueLimit`.
    public init(bitsPerSecond: Int64, queueLimit: QueueLimit) {
        precondition(bitsPerSecond > 0, "a bandwidth cap must be positive")
        self.bitsPerSecond = bitsPerSecond
        self.queueLimit = queueLimit
    }
}

/// The capacity of a drop-tail queue.
public enum QueueLimit: Sendable, Equatable {
    /// At most this many bytes queued (including the datagram being serialised).
    case bytes(Int)
    /// At most this many datagrams queued (including the one being serialised).
    case packets(Int)
}

/// New parameters for a link, taking effect from an instant on.
///
/// A change replaces all of a link's parameters for datagrams sent at or after `instant`; datagrams
/// already in flight keep the delivery times they were given. The Gilbert–Elliott state carries over.
public struct ScheduledChange: Sendable, Equatable {
    /// When the change takes effect.
    public var instant: MonotonicInstant
    /// The parameters from then on.
    public var parameters: LinkParameters

    /// `parameters` taking effect at `instant`.
    public init(at instant: MonotonicInstant, _ parameters: LinkParameters) {
        self.instant = instant
        self.parameters = parameters
    }
}
