public import ParleyWire

/// A span of PCM audio: 48 kHz, signed 16-bit native-endian samples, channels interleaved.
///
/// `samples` holds `sampleCount × channelCount` values: for stereo, left then right for each instant.
/// Arrays are copy-on-write, so passing a frame around is cheap.
public struct AudioFrame: Sendable, Equatable {
    /// The only sample rate Parley uses internally, in Hz.
    public static let sampleRate = 48_000

    /// 1 (mono) or 2 (stereo).
    public let channelCount: Int
    /// Interleaved samples, `sampleCount × channelCount` of them.
    public var samples: [Int16]
    /// Time since the start of the stream of the first sample.
    public var presentationTime: Duration
    /// When the first sample was captured, on the engine's monotonic clock.
    public var captureInstant: MonotonicInstant

    /// A frame holding `samples` (interleaved, `channelCount` channels).
    ///
    /// - Precondition: `channelCount` is 1 or 2 and `samples.count` is a multiple of it; callers build
    ///   frames from their own buffers, so a mismatch is a programming error, not bad input.
    public init(
        channelCount: Int, samples: [Int16], presentationTime: Duration = .zero,
        captureInstant: MonotonicInstant = .zero
    ) {
        precondition(channelCount == 1 || channelCount == 2, "channelCount must be 1 or 2")
        precondition(samples.count % channelCount == 0, "samples must hold whole sample frames")
        self.channelCount = channelCount
        self.samples = samples
        self.presentationTime = presentationTime
        self.captureInstant = captureInstant
    }

    /// Samples per channel.
    public var sampleCount: Int { samples.count / channelCount }

    /// How long the frame lasts.
    public var duration: Duration { Self.duration(ofSamples: sampleCount) }

    /// The duration of `count` samples at 48 kHz.
    public static func duration(ofSamples count: Int) -> Duration {
        Duration(ticks: Int64(count), atRate: Int64(sampleRate))
    }

    /// The number of whole samples in `duration` at 48 kHz.
    public static func sampleCount(in duration: Duration) -> Int {
        Int(duration.ticks(atRate: Int64(sampleRate)))
    }
}
