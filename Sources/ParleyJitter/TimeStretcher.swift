internal import CSonic

/// Changes the duration of decoded speech without changing its pitch, over libsonic (PICOLA-style
/// pitch-synchronous overlap-add).
///
/// Each call stretches one block on its own: the block is written, flushed and read back whole, so
/// nothing stays inside libsonic between calls and the number of samples added or removed is exactly
/// `output.count − input.count`. Not thread-safe; owned by one jitter buffer.
public final class TimeStretcher {
    /// 1 or 2: samples are interleaved.
    public let channelCount: Int
    private let stream: sonicStream

    /// A stretcher for 48 kHz audio of `channelCount` channels.
    ///
    /// - Throws: `JitterError.timeStretcherUnavailable` if libsonic cannot allocate its stream;
    ///   `JitterError.invalidConfiguration` for a channel count other than 1 or 2.
    public init(channelCount: Int) throws(JitterError) {
        guard channelCount == 1 || channelCount == 2 else {
            throw .invalidConfiguration(field: "channelCount", reason: "must be 1 or 2, got \(channelCount)")
        }
        guard let stream = sonicCreateStream(48_000, Int32(channelCount)) else {
            throw .timeStretcherUnavailable
        }
        self.stream = stream
        self.channelCount = channelCount
    }

    deinit {
        sonicDestroyStream(stream)
    }

    /// `samples` (interleaved) played at `speed`: above 1 shortens them, below 1 lengthens them.
    ///
    /// The result holds about `samples.count / speed` samples, in whole sample frames; if libsonic
    /// gives nothing back the input is returned unchanged.
    /// - Precondition: `speed` is in 0.5…2 and `samples` holds whole sample frames (caller's invariants).
    public func stretch(_ samples: [Int16], speed: Float) -> [Int16] {
        precondition((0.5...2).contains(speed), "speed out of range")
        precondition(samples.count % channelCount == 0, "samples must hold whole sample frames")
        let frames = samples.count / channelCount
        guard frames > 0 else { return samples }
        sonicSetSpeed(stream, speed)
        var input = samples
        let written = input.withUnsafeMutableBufferPointer { buffer in
            sonicWriteShortToStream(stream, buffer.baseAddress, Int32(frames))
        }
        guard written != 0 else { return samples }
        _ = sonicFlushStream(stream)
        var output: [Int16] = []
        var block = [Int16](repeating: 0, count: 4_096 * channelCount)
        while true {
            let read = block.withUnsafeMutableBufferPointer { buffer in
                sonicReadShortFromStream(stream, buffer.baseAddress, 4_096)
            }
            guard read > 0 else { break }
            output += block[0..<(Int(read) * channelCount)]
        }
        return output.isEmpty ? samples : output
    }
}
