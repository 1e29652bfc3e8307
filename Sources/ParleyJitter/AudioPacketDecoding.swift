internal import ParleyPayload

/// A decoder the audio jitter buffer drives. ParleyMedia's `OpusDecoder` conforms.
///
/// The buffer calls it from one thread only, in playout order: `decode` for each packet it plays,
/// `decodeRedundancy` before `decode` of the packet that follows a loss, `conceal` for audio it has no
/// packet for.
public protocol AudioPacketDecoding: AnyObject {
    /// Channels in every sample array the decoder returns (1 or 2); samples are interleaved.
    var channelCount: Int { get }
    /// Samples per channel the packet decodes to (from its Opus TOC); nil if it is not a valid packet.
    func sampleCount(of payload: ArraySlice<UInt8>) -> Int?
    /// Decodes a packet; interleaved samples.
    func decode(_ payload: ArraySlice<UInt8>) throws(JitterError) -> [Int16]
    /// Rebuilds `sampleCount` samples of the lost packet before `nextPayload` from the in-band FEC (LBRR)
    /// `nextPayload` carries; nil if it carries none.
    func decodeRedundancy(from nextPayload: ArraySlice<UInt8>, sampleCount: Int) throws(JitterError) -> [Int16]?
    /// Concealment (PLC; comfort noise while the sender is in DTX).
    func conceal(sampleCount: Int) throws(JitterError) -> [Int16]
    /// Whether `payload` carries redundancy for the packet before it (counted as an FEC packet received).
    func containsRedundancy(_ payload: ArraySlice<UInt8>) -> Bool
}

extension AudioPacketDecoding {
    /// Whether the Opus packet `payload` carries in-band FEC (LBRR), read from its SILK header
    /// (`OpusRedundancy.containsRedundancy(_:)`).
    public func containsRedundancy(_ payload: ArraySlice<UInt8>) -> Bool {
        OpusRedundancy.containsRedundancy(payload)
    }
}
