public import ParleyCrypto
public import ParleyJitter
public import ParleySRTP
public import ParleyWire

/// What one outgoing stream has sent (W3C webrtc-stats `RTCOutboundRtpStreamStats` names where one exists).
public struct OutboundStreamStatistics: Equatable, Sendable {
    /// The stream's SSRC.
    public var ssrc: SSRC
    /// Audio or video.
    public var kind: MediaKind
    /// RTP packets sent, retransmissions excluded (`packetsSent`).
    public var packetsSent = 0
    /// RTP payload bytes sent, retransmissions excluded (`bytesSent`).
    public var bytesSent = 0
    /// RTP header and padding bytes sent (`headerBytesSent`).
    public var headerBytesSent = 0
    /// Frames handed to the session and sent (`framesSent`; for audio, Opus packets).
    public var framesSent = 0
    /// Key frames sent (video).
    public var keyFramesSent = 0
    /// Frames not sent because SFrame refused them (the key's counters ran out before a rotation).
    public var framesNotProtected = 0
    /// NACK packets received for this stream (`nackCount`).
    public var nackCount = 0
    /// PLI packets received for this stream (`pliCount`).
    public var pliCount = 0
    /// FIR packets received for this stream (`firCount`).
    public var firCount = 0
    /// Key-frame requests honoured (passed to the encoder) and ignored (inside the minimum interval).
    public var keyFrameRequestsHonoured = 0
    /// Key-frame requests ignored because one was honoured less than the minimum interval before.
    public var keyFrameRequestsIgnored = 0
    /// Packets resent on the RTX stream (`retransmittedPacketsSent`).
    public var retransmittedPacketsSent = 0
    /// Payload bytes resent on the RTX stream (`retransmittedBytesSent`).
    public var retransmittedBytesSent = 0
    /// Of `retransmittedPacketsSent`, the second copies sent because the peer reported heavy loss.
    public var redundantRetransmissionsSent = 0
    /// The loss fraction the peer reports for this stream (smoothed), 0…1.
    public var peerReportedLoss: Double = 0
    /// What the SRTP context counted.
    public var srtp = SRTPContext.Statistics()
}

/// What one incoming stream has received (W3C webrtc-stats `RTCInboundRtpStreamStats` names where one exists).
public struct InboundStreamStatistics: Equatable, Sendable {
    /// The stream's SSRC.
    public var ssrc: SSRC
    /// Audio or video.
    public var kind: MediaKind
    /// RTP packets received and authenticated, retransmissions included (`packetsReceived`).
    public var packetsReceived = 0
    /// RTP payload bytes received (`bytesReceived`).
    public var bytesReceived = 0
    /// RTP header bytes received (`headerBytesReceived`).
    public var headerBytesReceived = 0
    /// Packets lost: expected minus received, RFC 3550 A.3 (`packetsLost`).
    public var packetsLost: Int64 = 0
    /// Interarrival jitter, seconds (`jitter`, RFC 3550 A.8).
    public var jitter: Double = 0
    /// When the last packet of the stream arrived.
    public var lastPacketReceived: MonotonicInstant?
    /// SFrame drops: a frame under a KID that is not known (never announced, or past its grace period).
    public var sframeUnknownKey = 0
    /// SFrame drops: the tag did not verify (forged, damaged, or another key).
    public var sframeAuthenticationFailures = 0
    /// SFrame drops: a CTR seen before or older than the replay window.
    public var sframeReplays = 0
    /// SFrame drops: the SFrame header did not parse.
    public var sframeMalformed = 0
    /// SFrame drops: the frame's KID belongs to another stream of the peer (v1.md §2 rule 1).
    public var sframeWrongStream = 0
    /// The loss fraction this end measured on the stream (smoothed over RTCP intervals), 0…1.
    public var smoothedLoss: Double = 0
    /// NACK packets sent a second time because the measured loss was heavy.
    public var redundantNACKsSent = 0
    /// RTP packets that authenticated but did not parse (or an RTX packet that did not unwrap).
    public var malformedPackets = 0
    /// What the SRTP context counted (authentication failures, replays…).
    public var srtp = SRTPContext.Statistics()
    /// What the SRTP context of the stream's RTX stream counted (video streams with RTX).
    public var retransmissionSRTP = SRTPContext.Statistics()
    /// The audio jitter buffer's counters (audio streams).
    public var audio: AudioJitterStatistics?
    /// The audio jitter buffer's current target delay (audio streams).
    public var audioTargetDelay: Duration?
    /// What the audio jitter buffer holds now, packets and decoded samples (audio streams).
    public var audioBufferedDuration: Duration?
    /// Frames the video receive path holds now, assembling and waiting (video streams).
    public var videoBufferedFrames: Int?
    /// The video receive path's counters (video streams).
    public var video: VideoReceiveStatistics?
}

/// Datagrams the session dropped before they reached a stream, by reason.
public struct DatagramDropStatistics: Equatable, Sendable {
    /// Too short to carry anything, or an RTP/RTCP packet whose header did not parse.
    public var malformed = 0
    /// SRTP for an SSRC that is none of the peer's streams.
    public var unknownSSRC = 0
    /// SRTP for a stream whose keys have not been announced yet.
    public var beforeKeys = 0
    /// A first byte this session does not handle (reserved, STUN, DTLS…).
    public var unexpectedType = 0
    /// Handshake responses that failed (forged, tampered, for another attempt) or came when none was due.
    public var handshakeResponsesRejected = 0
    /// Channel datagrams before the channel existed.
    public var channelBeforeHandshake = 0
    /// SRTCP compounds that authenticated but did not parse.
    public var malformedRTCP = 0
    /// Sender-key announcements that were malformed or broke a rule (v1.md §2).
    public var rejectedAnnouncements = 0
}

/// A snapshot of everything a session counts.
public struct CallStatistics: Equatable, Sendable {
    /// The call's state at the snapshot.
    public var state: CallState
    /// The latest round-trip time from RTCP (`currentRoundTripTime`), nil before the first measurement.
    public var roundTripTime: Duration?
    /// Sum of every RTT measurement, seconds (`totalRoundTripTime`).
    public var totalRoundTripTime: Double = 0
    /// RTT measurements so far (`roundTripTimeMeasurements`).
    public var roundTripTimeMeasurements = 0
    /// Datagrams and bytes handed to the owner to send.
    public var datagramsSent = 0
    /// Bytes of `datagramsSent`.
    public var bytesSent = 0
    /// Datagrams handed to the session.
    public var datagramsReceived = 0
    /// Bytes of `datagramsReceived`.
    public var bytesReceived = 0
    /// RTCP compounds sent and received.
    public var rtcpSent = 0
    /// RTCP compounds received and authenticated.
    public var rtcpReceived = 0
    /// Handshake initiations sent (first attempt and retries).
    public var handshakeAttempts = 0
    /// Outgoing streams, by SSRC order.
    public var outbound: [OutboundStreamStatistics] = []
    /// Incoming streams, by SSRC order.
    public var inbound: [InboundStreamStatistics] = []
    /// The pairwise channel's counters (zero before the handshake).
    public var channel = PairwiseChannelStatistics()
    /// What was dropped before any stream saw it.
    public var dropped = DatagramDropStatistics()
    /// Media frames the owner offered while the call was not active (not sent), on any stream.
    public var framesDroppedBeforeActive = 0
    /// Local sender-key rotations announced.
    public var keyRotations = 0
}
