internal import COpus
public import ParleyJitter

/// `OpusDecoder` is the audio jitter buffer's decoder: packet lengths come from libopus's TOC parser,
/// FEC is used only when the next packet carries LBRR, and concealment is libopus's own PLC (which
/// produces comfort noise after a DTX packet).
extension OpusDecoder: AudioPacketDecoding {
    /// Samples per channel `payload` decodes to at 48 kHz, or nil if libopus cannot parse it or it
    /// lasts over 120 ms.
    public func sampleCount(of payload: ArraySlice<UInt8>) -> Int? {
        guard !payload.isEmpty else { return nil }
        let count = payload.withUnsafeBufferPointer { bytes -> Int32 in
            guard let base = bytes.baseAddress else { return -1 }
            return opus_packet_get_nb_samples(base, Int32(bytes.count), Int32(AudioFrame.sampleRate))
        }
        guard count > 0, count <= 5_760 else { return nil }
        return Int(count)
    }

    /// Decodes `payload`; interleaved samples.
    ///
    /// - Throws: `JitterError.decoderFailed` if libopus rejects the packet.
    public func decode(_ payload: ArraySlice<UInt8>) throws(JitterError) -> [Int16] {
        do {
            return try decode(payload, presentationTime: .zero, captureInstant: .zero).samples
        } catch {
            throw .decoderFailed(reason: "\(error)")
        }
    }

    /// Rebuilds the lost packet before `nextPayload` from its LBRR data, or nil if it carries none (then
    /// the decoder's state is untouched, so the caller can conceal instead).
    ///
    /// - Throws: `JitterError.decoderFailed` if libopus fails or `sampleCount` is not a multiple of 2.5 ms.
    public func decodeRedundancy(
        from nextPayload: ArraySlice<UInt8>, sampleCount: Int
    ) throws(JitterError) -> [Int16]? {
        guard containsRedundancy(nextPayload) else { return nil }
        do {
            return try recoverLoss(usingFECFrom: nextPayload, sampleCount: sampleCount).samples
        } catch {
            throw .decoderFailed(reason: "\(error)")
        }
    }

    /// `sampleCount` samples per channel of libopus concealment.
    ///
    /// - Throws: `JitterError.decoderFailed` if `sampleCount` is not a multiple of 2.5 ms up to 120 ms.
    public func conceal(sampleCount: Int) throws(JitterError) -> [Int16] {
        do {
            return try concealLoss(sampleCount: sampleCount).samples
        } catch {
            throw .decoderFailed(reason: "\(error)")
        }
    }
}
