public import ParleyWire

/// Estimates how much delay the audio jitter buffer should hold: the 95th percentile of packets'
/// relative arrival delay, with isolated delay spikes left out. Pure logic: no clock, no audio.
///
/// **Relative delay.** A packet's transit is its arrival instant minus its RTP timestamp (as time);
/// its relative delay is its transit minus the smallest transit of the packets that arrived in the last
/// `referenceWindow` (2 s): how much later it came than the least-delayed recent packet. A 2 s reference
/// follows clock drift and route changes within 2 s, yet spans ~100 packets, enough to hold an early one.
///
/// **Percentile.** Relative delays go into a histogram of `bucketWidth` buckets whose weights all
/// decay by `forgettingFactor` per packet while the new packet's bucket gains `1 − forgettingFactor`
/// (an exponentially weighted distribution). The target is the upper edge of the bucket where the
/// cumulative weight reaches `percentile`. The factor 0.997 per packet (half-life 231 packets, 4.6 s
/// at 50 packets/s) is chosen for decay: once jitter stops, old weight is below 5 % after
/// ln(0.05)/ln(0.997) ≈ 1000 packets, so the target is back at the floor about 20 s + 2 s (reference)
/// later — well inside the 30 s required, where NetEq takes ~84 s. Rising is faster than decay
/// because fresh delays need to hold only 5 % of the weight: 26 % after 2 s.
///
/// **Spikes.** A packet whose relative delay exceeds the current estimate by more than
/// `spikeThreshold` is a spike: it is left out of the histogram (the buffer will play it as a late
/// loss), so that one delayed packet — and the packets queued behind it on a FIFO path — do not raise
/// the target for tens of seconds. Spike packets arriving within 100 ms of each other form one spike
/// episode. When more than `spikesToTrigger` episodes arrive within `spikeWindow` the spikes are no
/// longer isolated: they are ordinary jitter and go into the histogram like every other packet. (1 % of
/// packets spiking at 50 packets/s is 5 episodes per 10 s on average; 15 is then practically never reached.)
public struct DelayManager: Sendable {
    /// Tuning of the estimator; every default is what `AudioJitterBuffer` uses.
    public struct Configuration: Equatable, Sendable {
        /// The target never goes below this (20 ms).
        public var minimumTargetDelay: Duration
        /// The target never goes above this (1 s); also the top of the histogram.
        public var maximumTargetDelay: Duration
        /// The share of packets the target should cover (0.95).
        public var percentile: Double
        /// The histogram's resolution (5 ms).
        public var bucketWidth: Duration
        /// Weight kept per packet by older histogram entries (0.997; see the type's documentation).
        public var forgettingFactor: Double
        /// How far back the least-delayed reference packet is looked for (2 s).
        public var referenceWindow: Duration
        /// How far above the estimate a packet must be to count as a spike (60 ms).
        public var spikeThreshold: Duration
        /// The span over which spike episodes are counted (10 s).
        public var spikeWindow: Duration
        /// More episodes than this within `spikeWindow` means spikes are jitter, not outliers (15).
        public var spikesToTrigger: Int

        /// The defaults documented on each property.
        public init(
            minimumTargetDelay: Duration = .milliseconds(20), maximumTargetDelay: Duration = .seconds(1),
            percentile: Double = 0.95, bucketWidth: Duration = .milliseconds(5), forgettingFactor: Double = 0.997,
            referenceWindow: Duration = .seconds(2), spikeThreshold: Duration = .milliseconds(60),
            spikeWindow: Duration = .seconds(10), spikesToTrigger: Int = 15
        ) {
            self.minimumTargetDelay = minimumTargetDelay
            self.maximumTargetDelay = maximumTargetDelay
            self.percentile = percentile
            self.bucketWidth = bucketWidth
            self.forgettingFactor = forgettingFactor
            self.referenceWindow = referenceWindow
            self.spikeThreshold = spikeThreshold
            self.spikeWindow = spikeWindow
            self.spikesToTrigger = spikesToTrigger
        }

        func validate() throws(JitterError) {
            guard minimumTargetDelay >= .zero else {
                throw .invalidConfiguration(field: "minimumTargetDelay", reason: "must not be negative")
            }
            guard maximumTargetDelay >= minimumTargetDelay, maximumTargetDelay <= .seconds(10) else {
                throw .invalidConfiguration(
                    field: "maximumTargetDelay", reason: "must lie between minimumTargetDelay and 10 s")
            }
            guard percentile > 0, percentile < 1 else {
                throw .invalidConfiguration(field: "percentile", reason: "must lie strictly between 0 and 1")
            }
            guard bucketWidth >= .milliseconds(1), bucketWidth <= .milliseconds(100) else {
                throw .invalidConfiguration(field: "bucketWidth", reason: "must lie in 1…100 ms")
            }
            guard forgettingFactor > 0, forgettingFactor < 1 else {
                throw .invalidConfiguration(field: "forgettingFactor", reason: "must lie strictly between 0 and 1")
            }
            guard referenceWindow > .zero else {
                throw .invalidConfiguration(field: "referenceWindow", reason: "must be positive")
            }
            guard spikeThreshold > .zero, spikeWindow > .zero, spikesToTrigger >= 0 else {
                throw .invalidConfiguration(field: "spikeThreshold", reason: "spike settings must be positive")
            }
        }
    }

    /// The settings in force.
    public let configuration: Configuration
    private var buckets: [Double]
    private var totalWeight = 0.0
    /// Candidates for the least transit: (arrival, transit ns), transits increasing, arrivals increasing.
    private var reference: [(arrival: MonotonicInstant, transit: Int64)] = []
    private var referenceHead = 0
    private var spikeEpisodes: [MonotonicInstant] = []
    private var lastSpikeArrival: MonotonicInstant?
    /// Packets left out of the histogram as spikes.
    public private(set) var spikePackets = 0
    /// Packets seen.
    public private(set) var packetCount = 0

    /// An estimator with `configuration`, having seen nothing.
    ///
    /// - Throws: `JitterError.invalidConfiguration` for an out-of-range setting.
    public init(configuration: Configuration = .init()) throws(JitterError) {
        try configuration.validate()
        self.configuration = configuration
        let count = Int(configuration.maximumTargetDelay.totalNanoseconds / configuration.bucketWidth.totalNanoseconds) + 1
        buckets = [Double](repeating: 0, count: count)
    }

    /// Takes in one received packet; returns its relative delay.
    ///
    /// - Parameters:
    ///   - timestamp: the packet's RTP timestamp unwrapped to 64 bits (48 kHz ticks).
    ///   - arrival: when it arrived; arrivals must not go backwards.
    @discardableResult
    public mutating func update(timestamp: Int64, arrival: MonotonicInstant) -> Duration {
        packetCount += 1
        let transit = arrival.nanoseconds &- Int64(truncatingIfNeeded: (Int128(timestamp) * 1_000_000_000) / 48_000)
        // Keep the candidates for the minimum over the window: later, smaller transits make earlier,
        // larger ones useless.
        while reference.count > referenceHead, reference[reference.count - 1].transit >= transit {
            reference.removeLast()
        }
        reference.append((arrival, transit))
        let horizon = arrival - configuration.referenceWindow
        while reference.count - referenceHead > 1, reference[referenceHead].arrival < horizon {
            referenceHead += 1
        }
        if referenceHead > 64 {
            reference.removeFirst(referenceHead)
            referenceHead = 0
        }
        let relative = max(0, transit - reference[referenceHead].transit)
        let relativeDelay = Duration.nanoseconds(relative)

        // Spike detection against the estimate before this packet.
        let recentHorizon = arrival - configuration.spikeWindow
        spikeEpisodes.removeAll { $0 < recentHorizon }
        let isolated = spikeEpisodes.count <= configuration.spikesToTrigger
        if totalWeight > 0, isolated, relativeDelay > rawPercentile + configuration.spikeThreshold {
            spikePackets += 1
            if let last = lastSpikeArrival, arrival - last <= .milliseconds(100) {
                // Same episode (a queue draining behind the delayed packet).
            } else {
                spikeEpisodes.append(arrival)
            }
            lastSpikeArrival = arrival
            return relativeDelay
        }

        let factor = configuration.forgettingFactor
        for index in buckets.indices { buckets[index] *= factor }
        totalWeight = totalWeight * factor + (1 - factor)
        let bucket = min(buckets.count - 1, Int(relative / configuration.bucketWidth.totalNanoseconds))
        buckets[bucket] += 1 - factor
        return relativeDelay
    }

    /// The percentile of relative delay, unclamped (zero before the first packet).
    public var rawPercentile: Duration {
        guard totalWeight > 0 else { return .zero }
        let wanted = configuration.percentile * totalWeight
        var cumulative = 0.0
        for (index, weight) in buckets.enumerated() {
            cumulative += weight
            if cumulative >= wanted - 1e-12 {
                return configuration.bucketWidth * (index + 1)
            }
        }
        return configuration.bucketWidth * buckets.count
    }

    /// The delay the buffer should hold: the percentile, within the configured floor and ceiling.
    public var targetDelay: Duration {
        min(configuration.maximumTargetDelay, max(configuration.minimumTargetDelay, rawPercentile))
    }

    /// The least transit in the reference window (arrival minus timestamp, in ns), once a packet arrived.
    public var referenceTransit: Int64? {
        reference.count > referenceHead ? reference[referenceHead].transit : nil
    }

    /// How long after its least-delay arrival the audio at `timestamp` is played if played at `now`:
    /// the delay the buffer holds, as the target measures it; nil before the first packet.
    public func playoutDelay(ofTimestamp timestamp: Int64, at now: MonotonicInstant) -> Duration? {
        guard let referenceTransit else { return nil }
        let earliestArrival = Int64(truncatingIfNeeded: (Int128(timestamp) * 1_000_000_000) / 48_000) &+ referenceTransit
        return .nanoseconds(now.nanoseconds &- earliestArrival)
    }

    /// Spike episodes counted within the last `spikeWindow` (as of the last packet).
    public var recentSpikeEpisodes: Int { spikeEpisodes.count }
}
