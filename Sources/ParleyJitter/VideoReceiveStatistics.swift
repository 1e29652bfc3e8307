/// What a `VideoReceiver` has received, released, dropped and asked for since it was created.
///
/// The first group carries the W3C webrtc-stats names (RTCInboundRtpStreamStats) with their meanings;
/// the rest are Parley's own counters. Every packet and every frame that is not used is counted in one
/// of the drop counters.
public struct VideoReceiveStatistics: Equatable, Sendable {
    // MARK: W3C webrtc-stats

    /// The total number of complete frames received on this RTP stream; incremented when the complete
    /// frame is received.
    public var framesReceived = 0
    /// The total number of frames correctly decoded for this RTP stream, i.e. frames that would be
    /// displayed if no frames are dropped (reported by the owner through `frameDecoded`).
    public var framesDecoded = 0
    /// The total number of key frames, such as key frames in VP8, successfully decoded for this RTP stream.
    public var keyFramesDecoded = 0
    /// The total number of frames dropped prior to decode or dropped because the frame missed its display
    /// deadline for this receiver's track: complete frames never released (undecodable, skipped, or over
    /// the cap) plus frames the owner could not decrypt or decode (`framesUndecodable`).
    public var framesDropped = 0
    /// The total number of video freezes experienced by this receiver: an interval between two
    /// consecutively rendered frames of at least max(3 × avg, avg + 150 ms), where avg is the linear
    /// average of the last 30 intervals.
    public var freezeCount = 0
    /// The total duration, in seconds, of rendered frames which are considered as frozen.
    public var totalFreezesDuration = 0.0
    /// The total number of video pauses: a frame rendered more than 5 s after the previous one.
    public var pauseCount = 0
    /// The total duration, in seconds, of pauses.
    public var totalPausesDuration = 0.0
    /// The sum of the interframe delays, in seconds, between consecutively rendered frames, recorded just
    /// after a frame has been rendered.
    public var totalInterFrameDelay = 0.0
    /// The sum of the squared interframe delays, in seconds², between consecutively rendered frames.
    public var totalSquaredInterFrameDelay = 0.0
    /// The sum, in seconds, of the time each frame took from the arrival of its first packet (ingest)
    /// to the time it left the jitter buffer (emit).
    public var jitterBufferDelay = 0.0
    /// The sum, in seconds, of the jitter buffer's target delay at the moment each frame was emitted.
    public var jitterBufferTargetDelay = 0.0
    /// The total number of frames that came out of the jitter buffer.
    public var jitterBufferEmittedCount = 0
    /// The total number of Negative ACKnowledgement (NACK) packets sent by this receiver (one per
    /// `.nack` output).
    public var nackCount = 0
    /// The total number of Picture Loss Indication (PLI) packets sent by this receiver (one per
    /// `.keyFrameRequest` output).
    public var pliCount = 0
    /// The total number of RTP packets received for this SSRC, retransmissions included.
    public var packetsReceived = 0
    /// The total number of retransmitted packets received for this SSRC; a subset of `packetsReceived`.
    public var retransmittedPacketsReceived = 0

    // MARK: Parley

    /// Missing packets that arrived as retransmissions.
    public var recoveredByRetransmission = 0
    /// Missing packets that arrived late but not as retransmissions (reordered).
    public var recoveredByReordering = 0
    /// Missing packets given up (NACK retries or age exhausted, or too many missing at once).
    public var unrecoverablePackets = 0
    /// Missing packets no longer asked for because a later key frame makes them unnecessary.
    public var packetsNoLongerNeeded = 0
    /// Packets dropped because their sequence number had already been received.
    public var duplicates = 0
    /// Packets dropped because their frame had already been released or dropped, or because they were
    /// older than the assembler's window.
    public var latePackets = 0
    /// Packets dropped because their VP8 payload descriptor did not parse (their sequence number counts
    /// as unrecoverable).
    public var malformedPackets = 0
    /// Packets with no payload (padding only, e.g. bandwidth probes): not NACKed, not part of any frame.
    public var paddingOnlyPackets = 0
    /// Packets dropped because they carried another SSRC.
    public var foreignPackets = 0
    /// Frames dropped (complete or not) because the buffer held `maximumFrames`.
    public var overflowDrops = 0
    /// Frames the owner reported it could not decrypt or decode (also in `framesDropped`).
    public var framesUndecodable = 0
    /// Frames abandoned before they were complete (their packets can no longer arrive in time).
    public var incompleteFramesDiscarded = 0
    /// Complete frames whose packets carried no frame-marking extension (treated as delta frames).
    public var framesWithoutMarking = 0
    /// Frames emitted after their render time had passed (they waited for a retransmission).
    public var framesReleasedLate = 0

    /// All counters zero.
    public init() {}
}
