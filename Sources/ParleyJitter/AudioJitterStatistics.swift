/// What one audio jitter buffer has done, with the names and meanings of the W3C webrtc-stats
/// `RTCInboundRtpStreamStats` members, plus Parley's own counters.
///
/// Samples are counted per channel (a stereo sample frame counts once), at 48 kHz. Counters only grow.
public struct AudioJitterStatistics: Equatable, Sendable {
    /// W3C: the sum of the time each audio sample takes from the time the first packet containing it is
    /// received until it is emitted (seconds); increases by that delay for each sample counted in
    /// `jitterBufferEmittedCount`. Concealed samples have no packet and add nothing.
    public var jitterBufferDelay: Double = 0
    /// W3C: the sum of the jitter buffer's target delay (seconds) at the time each sample counted in
    /// `jitterBufferEmittedCount` was emitted.
    public var jitterBufferTargetDelay: Double = 0
    /// W3C: the sum of the minimum delay (seconds) — the target the buffer would have without playout
    /// delay hints or A/V sync, which Parley does not apply, so equal to `jitterBufferTargetDelay` — at
    /// the time each sample in `jitterBufferEmittedCount` was emitted.
    public var jitterBufferMinimumDelay: Double = 0
    /// W3C: the total number of audio samples that have come out of the jitter buffer (increasing
    /// `jitterBufferDelay`): decoded, time-stretched and FEC-recovered samples.
    public var jitterBufferEmittedCount: Int = 0
    /// W3C: the total number of samples that have been received on this stream and played out,
    /// including `concealedSamples` (Parley: every sample pulled once playout has started).
    public var totalSamplesReceived: Int = 0
    /// W3C: samples replaced by locally synthesised samples before playout: audio of lost packets, of
    /// packets that came too late, and comfort noise during DTX.
    public var concealedSamples: Int = 0
    /// W3C: the concealed samples that are "silent" (silence or comfort noise); a subset of
    /// `concealedSamples`. Parley counts comfort noise and concealment whose level stays below −54 dBFS.
    public var silentConcealedSamples: Int = 0
    /// W3C: how many times a concealed sample was synthesised after a non-concealed one (a run of
    /// consecutive concealed samples is one event).
    public var concealmentEvents: Int = 0
    /// W3C: samples inserted by slowing playout down (time-stretching to build delay up).
    public var insertedSamplesForDeceleration: Int = 0
    /// W3C: samples removed by speeding playout up (time-stretching to bring delay down).
    public var removedSamplesForAcceleration: Int = 0
    /// W3C: packets discarded by the jitter buffer because they came too late or too early to be played
    /// (here also: packets flushed to realign playout, and packets dropped at the buffer's cap).
    public var packetsDiscarded: Int = 0
    /// W3C: packets carrying FEC received; with Opus, packets carrying in-band LBRR data.
    public var fecPacketsReceived: Int = 0
    /// W3C: FEC packets whose error-correction payload was not used (the packet it protects arrived,
    /// or the FEC packet itself was late or discarded); a subset of `fecPacketsReceived`.
    public var fecPacketsDiscarded: Int = 0
    /// W3C: RTP packets received on this stream (every `insert`, including duplicates and bad ones).
    public var packetsReceived: Int = 0

    /// Parley: samples rebuilt from the next packet's in-band FEC instead of being concealed.
    public var redundancyRecoveredSamples: Int = 0
    /// Parley: packets dropped because the same packet was already held or played.
    public var duplicatePackets: Int = 0
    /// Parley: packets dropped because the decoder could not parse or decode them.
    public var malformedPackets: Int = 0
    /// Parley: packets that arrived after their playout time (part of `packetsDiscarded`).
    public var latePackets: Int = 0
    /// Parley: packets dropped because holding them would exceed `maximumBufferedDuration`, or flushed
    /// to bring playout back near the target (part of `packetsDiscarded`).
    public var overflowDrops: Int = 0
    /// Parley: packets decoded and played.
    public var decodedPackets: Int = 0

    /// All counters at zero.
    public init() {}
}

/// How the samples of one `AudioJitterBuffer.pull` were made.
public enum AudioPlayoutOperation: Equatable, Sendable {
    /// Decoded packets, played as they are.
    case normal
    /// Decoded packets, shortened with libsonic to bring delay down.
    case accelerate
    /// Decoded packets, lengthened with libsonic to build delay up.
    case decelerate
    /// A lost packet rebuilt from the next packet's in-band FEC.
    case redundancy
    /// Audio synthesised for a lost or late packet (Opus PLC).
    case concealment
    /// Comfort noise while the sender is in discontinuous transmission.
    case comfortNoise
    /// Silence: nothing has been received (or playout has not started) yet.
    case silence
}

/// The samples of one pull and how they were made.
///
/// When one pull spans several kinds of audio, `operation` names the one that matters most to a
/// listener: concealment, then comfort noise, redundancy, acceleration, deceleration, normal, silence.
public struct AudioPlayout: Equatable, Sendable {
    /// Exactly the requested number of samples per channel, interleaved.
    public var samples: [Int16]
    /// How they were made.
    public var operation: AudioPlayoutOperation

    /// A playout of `samples` made by `operation`.
    public init(samples: [Int16], operation: AudioPlayoutOperation) {
        self.samples = samples
        self.operation = operation
    }
}

extension AudioPlayoutOperation {
    /// Higher wins when one pull mixes operations.
    var precedence: Int {
        switch self {
        case .silence: 0
        case .normal: 1
        case .decelerate: 2
        case .accelerate: 3
        case .redundancy: 4
        case .comfortNoise: 5
        case .concealment: 6
        }
    }
}
