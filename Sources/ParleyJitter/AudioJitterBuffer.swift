public import ParleyWire

/// A NetEq-class jitter buffer for one Opus stream: it holds received packets, plays them out on the
/// device's clock, time-stretches toward a target delay, and fills gaps with FEC, concealment or
/// comfort noise.
///
/// **Driving it.** Call `insert` for every received (decrypted) packet, and `pull` every 10 or 20 ms
/// of the device clock. Both take the instant as input: the buffer reads no clock. Not `Sendable`:
/// one session owns it. The same calls give the same samples and statistics.
///
/// **Playout.** The playout point moves through RTP time as samples are pulled, whether or not packets
/// came (the clock runs): a packet that arrives after its audio was due is late and discarded, so a
/// delay spike or an outage never leaves delay behind. The delay held is measured as
/// `DelayManager.playoutDelay` — how long after the least-delayed recent arrival each sample plays —
/// and steered to `targetDelay` (the 95th percentile of relative delay) by playing decoded speech
/// faster (libsonic, speed `accelerationSpeed`) when it is more than `accelerationThreshold` above the
/// target, slower (`decelerationSpeed`) when below it; concealment is never stretched. When the delay is
/// more than `flushThreshold` above target, playout jumps forward instead (the packets skipped are
/// counted as discarded).
///
/// **Gaps.** When the packet at the playout point is missing but a later one is held, the sequence
/// numbers tell loss from DTX: if the later packet directly follows the last one played, the sender
/// stopped sending (DTX) and the gap is comfort noise; otherwise the packet before the later one is
/// rebuilt from its in-band FEC if it carries any, and earlier missing audio is concealed. With nothing
/// held at all, the decoder conceals (comfort noise if the last packet was a DTX frame).
///
/// **Wire input never traps.** Malformed, duplicate, late and over-cap packets are counted and dropped.
public final class AudioJitterBuffer {
    /// The buffer's settings; every default suits a two-party voice call.
    public struct Configuration: Equatable, Sendable {
        /// Channels of the output (1, the default, or 2); the sample rate is always 48 kHz.
        public var channelCount: Int
        /// The target delay's floor (20 ms).
        public var minimumTargetDelay: Duration
        /// The target delay's ceiling (1 s).
        public var maximumTargetDelay: Duration
        /// The most audio held — packets plus decoded, unplayed samples (2 s); packets beyond it are dropped.
        public var maximumBufferedDuration: Duration
        /// Delay above target beyond which decoded speech is played faster (10 ms).
        public var accelerationThreshold: Duration
        /// Delay below target beyond which decoded speech is played slower (0 ms: any shortfall).
        public var decelerationThreshold: Duration
        /// libsonic speed when accelerating (1.25: a 20 ms packet plays in 16 ms).
        public var accelerationSpeed: Double
        /// libsonic speed when decelerating (0.8: a 20 ms packet plays in 25 ms).
        public var decelerationSpeed: Double
        /// Delay above target beyond which playout jumps forward instead of accelerating (300 ms).
        public var flushThreshold: Duration
        /// Consecutive packets too far ahead to hold after which the stream is taken to have restarted (25).
        public var earlyPacketsBeforeResync: Int
        /// The delay estimator's tuning; its floor and ceiling are replaced by the two above.
        public var delayEstimation: DelayManager.Configuration

        /// The defaults documented on each property.
        public init(
            channelCount: Int = 1, minimumTargetDelay: Duration = .milliseconds(20),
            maximumTargetDelay: Duration = .seconds(1), maximumBufferedDuration: Duration = .seconds(2),
            accelerationThreshold: Duration = .milliseconds(10), decelerationThreshold: Duration = .zero,
            accelerationSpeed: Double = 1.25, decelerationSpeed: Double = 0.8,
            flushThreshold: Duration = .milliseconds(300), earlyPacketsBeforeResync: Int = 25,
            delayEstimation: DelayManager.Configuration = .init()
        ) {
            self.channelCount = channelCount
            self.minimumTargetDelay = minimumTargetDelay
            self.maximumTargetDelay = maximumTargetDelay
            self.maximumBufferedDuration = maximumBufferedDuration
            self.accelerationThreshold = accelerationThreshold
            self.decelerationThreshold = decelerationThreshold
            self.accelerationSpeed = accelerationSpeed
            self.decelerationSpeed = decelerationSpeed
            self.flushThreshold = flushThreshold
            self.earlyPacketsBeforeResync = earlyPacketsBeforeResync
            self.delayEstimation = delayEstimation
        }

        var estimatorConfiguration: DelayManager.Configuration {
            var estimation = delayEstimation
            estimation.minimumTargetDelay = minimumTargetDelay
            estimation.maximumTargetDelay = maximumTargetDelay
            return estimation
        }

        func validate() throws(JitterError) {
            guard channelCount == 1 || channelCount == 2 else {
                throw .invalidConfiguration(field: "channelCount", reason: "must be 1 or 2, got \(channelCount)")
            }
            guard maximumBufferedDuration >= maximumTargetDelay + .milliseconds(120),
                maximumBufferedDuration <= .seconds(60)
            else {
                throw .invalidConfiguration(
                    field: "maximumBufferedDuration",
                    reason: "must be at least maximumTargetDelay + 120 ms and at most 60 s")
            }
            guard accelerationThreshold >= .zero, decelerationThreshold >= .zero, flushThreshold > .zero else {
                throw .invalidConfiguration(field: "accelerationThreshold", reason: "thresholds must not be negative")
            }
            guard accelerationSpeed > 1, accelerationSpeed <= 2 else {
                throw .invalidConfiguration(field: "accelerationSpeed", reason: "must lie in (1, 2]")
            }
            guard decelerationSpeed >= 0.5, decelerationSpeed < 1 else {
                throw .invalidConfiguration(field: "decelerationSpeed", reason: "must lie in [0.5, 1)")
            }
            guard earlyPacketsBeforeResync > 0 else {
                throw .invalidConfiguration(field: "earlyPacketsBeforeResync", reason: "must be positive")
            }
            try estimatorConfiguration.validate()
        }
    }

    private struct Packet {
        var timestamp: Int64
        var sequence: Int64
        var payload: [UInt8]
        var sampleCount: Int
        var arrival: MonotonicInstant
        var carriesRedundancy: Bool
        var redundancyUsed = false
    }

    private struct Chunk {
        var samples: [Int16]
        var operation: AudioPlayoutOperation
        /// The arrival of the packet the samples came from; nil for synthesised samples.
        var arrival: MonotonicInstant?
        var isConcealed: Bool
        var isSilent: Bool
    }

    /// The settings in force.
    public let configuration: Configuration
    private let decoder: any AudioPacketDecoding
    private let stretcher: TimeStretcher
    private var delayManager: DelayManager
    private var sequences = CounterUnwrapper<UInt16>()
    private var timestamps = CounterUnwrapper<UInt32>()
    /// Held packets, in timestamp order.
    private var packets: [Packet] = []
    private var pending: [Chunk] = []
    private var pendingOffset = 0
    private var pendingSamples = 0
    /// The RTP time (unwrapped ticks) of the next audio to produce; nil until playout starts.
    private var playoutTimestamp: Int64?
    private var lastPlayed: (sequence: Int64, sampleCount: Int, wasDTX: Bool)?
    private var seenSequences: Set<Int64> = []
    private var highestSeenSequence: Int64 = .min
    private var consecutiveEarlyPackets = 0
    private var lastEmittedWasConcealed = false
    /// What the buffer has done so far.
    public private(set) var statistics = AudioJitterStatistics()

    /// A buffer with `configuration`, decoding with `decoder`.
    ///
    /// - Throws: `JitterError.invalidConfiguration` for an out-of-range setting or a decoder whose channel
    ///   count differs; `JitterError.timeStretcherUnavailable` if libsonic cannot start.
    public init(configuration: Configuration = .init(), decoder: any AudioPacketDecoding) throws(JitterError) {
        try configuration.validate()
        guard decoder.channelCount == configuration.channelCount else {
            throw .invalidConfiguration(
                field: "channelCount",
                reason: "decoder has \(decoder.channelCount) channels, configuration \(configuration.channelCount)")
        }
        self.configuration = configuration
        self.decoder = decoder
        stretcher = try TimeStretcher(channelCount: configuration.channelCount)
        delayManager = try DelayManager(configuration: configuration.estimatorConfiguration)
    }

    /// The delay the buffer aims to hold (95th percentile of relative arrival delay, at least the floor).
    public var targetDelay: Duration { delayManager.targetDelay }

    /// Audio held: packets not yet played (from the playout point to the end of the newest) plus decoded
    /// samples not yet pulled.
    public var bufferedDuration: Duration {
        Self.duration(ofSamples: heldSamples)
    }

    /// How long after its least-delayed arrival the next pulled sample plays (nil before playout starts).
    public func playoutDelay(at now: MonotonicInstant) -> Duration? {
        guard let playoutTimestamp,
            let delay = delayManager.playoutDelay(ofTimestamp: playoutTimestamp, at: now)
        else { return nil }
        return delay + Self.duration(ofSamples: pendingSamples)
    }

    private var heldSamples: Int {
        guard let last = packets.last else { return pendingSamples }
        let start = playoutTimestamp ?? packets[0].timestamp
        return pendingSamples + max(0, Int(last.timestamp + Int64(last.sampleCount) - start))
    }

    private static func duration(ofSamples count: Int) -> Duration {
        Duration(ticks: Int64(count), atRate: 48_000)
    }

    // MARK: - Insert

    /// A received, already decrypted Opus packet. Late, duplicate, malformed and over-cap packets are
    /// dropped and counted (`packetsDiscarded` etc.), never thrown.
    public func insert(
        payload: [UInt8], sequenceNumber: SequenceNumber, timestamp: RTPTimestamp, arrival: MonotonicInstant
    ) {
        statistics.packetsReceived += 1
        guard let sampleCount = decoder.sampleCount(of: payload[...]), sampleCount > 0, sampleCount <= 5_760 else {
            statistics.malformedPackets += 1
            return
        }
        let sequence = sequences.peek(sequenceNumber.rawValue)
        let unwrappedTimestamp = timestamps.peek(timestamp.rawValue)
        if seenSequences.contains(sequence) || packets.contains(where: { $0.timestamp == unwrappedTimestamp }) {
            statistics.duplicatePackets += 1
            return
        }
        // A packet far ahead of what can be held: dropped, unless many in a row say the stream restarted.
        if let playoutTimestamp,
            unwrappedTimestamp + Int64(sampleCount) - playoutTimestamp + Int64(pendingSamples)
                > configuration.maximumBufferedDuration.ticks(atRate: 48_000)
                || unwrappedTimestamp < playoutTimestamp - 48_000 * 60
        {
            consecutiveEarlyPackets += 1
            if consecutiveEarlyPackets < configuration.earlyPacketsBeforeResync {
                statistics.packetsDiscarded += 1
                statistics.overflowDrops += 1
                return
            }
            resynchronize()
        }
        consecutiveEarlyPackets = 0
        let extendedSequence = sequences.unwrap(sequenceNumber.rawValue)
        let extendedTimestamp = timestamps.unwrap(timestamp.rawValue)
        remember(extendedSequence)
        let carriesRedundancy = decoder.containsRedundancy(payload[...])
        if carriesRedundancy { statistics.fecPacketsReceived += 1 }
        delayManager.update(timestamp: extendedTimestamp, arrival: arrival)

        if let playoutTimestamp, extendedTimestamp < playoutTimestamp {
            statistics.latePackets += 1
            statistics.packetsDiscarded += 1
            if carriesRedundancy { statistics.fecPacketsDiscarded += 1 }
            return
        }
        let packet = Packet(
            timestamp: extendedTimestamp, sequence: extendedSequence, payload: payload, sampleCount: sampleCount,
            arrival: arrival, carriesRedundancy: carriesRedundancy)
        let index = packets.firstIndex { $0.timestamp > extendedTimestamp } ?? packets.endIndex
        packets.insert(packet, at: index)
        // Before playout starts, keep only the newest `maximumBufferedDuration`.
        let cap = Int(configuration.maximumBufferedDuration.ticks(atRate: 48_000))
        while heldSamples > cap, packets.count > 1 {
            drop(packets.removeFirst(), asOverflow: true)
        }
    }

    private func remember(_ sequence: Int64) {
        seenSequences.insert(sequence)
        highestSeenSequence = max(highestSeenSequence, sequence)
        if seenSequences.count > 1_024 {
            let horizon = highestSeenSequence - 512
            seenSequences = seenSequences.filter { $0 >= horizon }
        }
    }

    private func drop(_ packet: Packet, asOverflow: Bool) {
        statistics.packetsDiscarded += 1
        if asOverflow { statistics.overflowDrops += 1 } else { statistics.latePackets += 1 }
        if packet.carriesRedundancy, !packet.redundancyUsed { statistics.fecPacketsDiscarded += 1 }
    }

    /// Starts over after a timestamp discontinuity: the held packets and the delay history are dropped.
    private func resynchronize() {
        for packet in packets { drop(packet, asOverflow: true) }
        packets.removeAll()
        playoutTimestamp = nil
        lastPlayed = nil
        sequences = CounterUnwrapper()
        timestamps = CounterUnwrapper()
        seenSequences.removeAll()
        highestSeenSequence = .min
        // The configuration was validated at init, so a fresh estimator cannot fail.
        if let fresh = try? DelayManager(configuration: delayManager.configuration) { delayManager = fresh }
    }

    // MARK: - Pull

    /// Exactly `sampleCount` samples per channel (interleaved) for playout at `now` (called every 10 or
    /// 20 ms by the device clock).
    ///
    /// - Precondition: `sampleCount` is in 1…48 000 (a programming error otherwise, not input).
    public func pull(sampleCount: Int, now: MonotonicInstant) -> AudioPlayout {
        precondition(sampleCount > 0 && sampleCount <= 48_000, "pull between 1 and 48 000 samples")
        if playoutTimestamp == nil { startIfReady(now: now) }
        guard playoutTimestamp != nil else {
            return AudioPlayout(
                samples: [Int16](repeating: 0, count: sampleCount * configuration.channelCount), operation: .silence)
        }
        while pendingSamples < sampleCount { produce(now: now) }
        return emit(sampleCount, now: now)
    }

    /// Starts playout once the oldest held packet has waited the target delay, from the newest packet
    /// that has (older ones are discarded: they would only add delay).
    private func startIfReady(now: MonotonicInstant) {
        let target = targetDelay
        guard let start = packets.lastIndex(where: {
            (delayManager.playoutDelay(ofTimestamp: $0.timestamp, at: now) ?? .zero) >= target
        }) else { return }
        for packet in packets[..<start] { drop(packet, asOverflow: true) }
        packets.removeFirst(start)
        playoutTimestamp = packets[0].timestamp
    }

    private func produce(now: MonotonicInstant) {
        guard var position = playoutTimestamp else { return }
        let target = targetDelay
        let delay = playoutDelay(at: now) ?? target
        if delay > target + configuration.flushThreshold {
            // Far behind: jump forward to the target rather than play the backlog faster.
            var skip = (delay - target).ticks(atRate: 48_000)
            // Land on a packet boundary when one is near, so no packet is cut.
            if let next = packets.first(where: { $0.timestamp >= position + skip }),
                next.timestamp - position - skip < 960
            {
                skip = next.timestamp - position
            }
            position += skip
            while let first = packets.first, first.timestamp < position {
                drop(packets.removeFirst(), asOverflow: true)
            }
            playoutTimestamp = position
        }
        while let first = packets.first, first.timestamp < position {
            drop(packets.removeFirst(), asOverflow: false)  // overlaps audio already produced
        }
        let frameLength = lastPlayed?.sampleCount ?? 960
        guard let next = packets.first else {
            let isDTX = lastPlayed?.wasDTX ?? false
            append(synthesised: frameLength, operation: isDTX ? .comfortNoise : .concealment)
            return
        }
        if next.timestamp == position {
            play(packets.removeFirst(), delay: delay, target: target)
            return
        }
        let gap = Int(next.timestamp - position)
        if let lastPlayed, next.sequence == lastPlayed.sequence + 1 {
            append(synthesised: min(gap, frameLength), operation: .comfortNoise)
            return
        }
        if gap > frameLength {
            append(synthesised: min(gap - frameLength, frameLength), operation: .concealment)
            return
        }
        if next.carriesRedundancy,
            let recovered = try? decoder.decodeRedundancy(from: next.payload[...], sampleCount: gap),
            recovered.count == gap * configuration.channelCount
        {
            packets[0].redundancyUsed = true
            appendChunk(
                Chunk(samples: recovered, operation: .redundancy, arrival: next.arrival, isConcealed: false,
                    isSilent: false),
                advancing: gap)
            return
        }
        append(synthesised: gap, operation: .concealment)
    }

    private func play(_ packet: Packet, delay: Duration, target: Duration) {
        if packet.carriesRedundancy, !packet.redundancyUsed { statistics.fecPacketsDiscarded += 1 }
        let isDTX = packet.payload.count <= 2
        lastPlayed = (packet.sequence, packet.sampleCount, isDTX)
        guard let decoded = try? decoder.decode(packet.payload[...]),
            decoded.count == packet.sampleCount * configuration.channelCount
        else {
            statistics.malformedPackets += 1
            append(synthesised: packet.sampleCount, operation: .concealment)
            return
        }
        statistics.decodedPackets += 1
        var samples = decoded
        var operation = AudioPlayoutOperation.normal
        // Time-stretch speech only: not DTX frames, not blocks too short for a pitch period.
        if !isDTX, packet.sampleCount >= 480 {
            if delay > target + configuration.accelerationThreshold {
                samples = stretcher.stretch(decoded, speed: Float(configuration.accelerationSpeed))
                operation = .accelerate
            } else if delay < target - configuration.decelerationThreshold {
                samples = stretcher.stretch(decoded, speed: Float(configuration.decelerationSpeed))
                operation = .decelerate
            }
        }
        let difference = (samples.count - decoded.count) / configuration.channelCount
        if difference > 0 {
            statistics.insertedSamplesForDeceleration += difference
        } else if difference < 0 {
            statistics.removedSamplesForAcceleration -= difference
        } else {
            operation = .normal
        }
        appendChunk(
            Chunk(samples: samples, operation: operation, arrival: packet.arrival, isConcealed: false, isSilent: false),
            advancing: packet.sampleCount)
    }

    /// Appends `count` samples per channel of decoder concealment (or comfort noise) and advances playout.
    private func append(synthesised count: Int, operation: AudioPlayoutOperation) {
        let channels = configuration.channelCount
        let whole = count / 120 * 120
        var samples: [Int16] = []
        if whole > 0, let concealed = try? decoder.conceal(sampleCount: whole), concealed.count == whole * channels {
            samples = concealed
        }
        samples += [Int16](repeating: 0, count: count * channels - samples.count)
        // −54 dBFS: below this a concealed block is counted as silent.
        let isSilent = operation == .comfortNoise || samples.allSatisfy { abs(Int32($0)) < 64 }
        appendChunk(
            Chunk(samples: samples, operation: operation, arrival: nil, isConcealed: true, isSilent: isSilent),
            advancing: count)
    }

    private func appendChunk(_ chunk: Chunk, advancing ticks: Int) {
        pending.append(chunk)
        pendingSamples += chunk.samples.count / configuration.channelCount
        playoutTimestamp = (playoutTimestamp ?? 0) + Int64(ticks)
    }

    private func emit(_ count: Int, now: MonotonicInstant) -> AudioPlayout {
        let channels = configuration.channelCount
        var output: [Int16] = []
        output.reserveCapacity(count * channels)
        var operation = AudioPlayoutOperation.silence
        let target = targetDelay.inSeconds
        while output.count < count * channels {
            let chunk = pending[0]
            let available = chunk.samples.count - pendingOffset
            let taken = min(available, count * channels - output.count)
            output += chunk.samples[pendingOffset..<(pendingOffset + taken)]
            let frames = taken / channels
            if chunk.operation.precedence > operation.precedence { operation = chunk.operation }
            statistics.totalSamplesReceived += frames
            if chunk.isConcealed {
                statistics.concealedSamples += frames
                if chunk.isSilent { statistics.silentConcealedSamples += frames }
                if !lastEmittedWasConcealed, frames > 0 { statistics.concealmentEvents += 1 }
                lastEmittedWasConcealed = true
            } else if frames > 0 {
                lastEmittedWasConcealed = false
            }
            if let arrival = chunk.arrival {
                statistics.jitterBufferDelay += (now - arrival).inSeconds * Double(frames)
                statistics.jitterBufferTargetDelay += target * Double(frames)
                statistics.jitterBufferMinimumDelay += target * Double(frames)
                statistics.jitterBufferEmittedCount += frames
            }
            if chunk.operation == .redundancy { statistics.redundancyRecoveredSamples += frames }
            pendingSamples -= frames
            if taken == available {
                pending.removeFirst()
                pendingOffset = 0
            } else {
                pendingOffset += taken
            }
        }
        return AudioPlayout(samples: output, operation: operation)
    }
}
