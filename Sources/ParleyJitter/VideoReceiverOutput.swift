public import ParleyWire

/// What a `VideoReceiver` asks its owner to do next; see `VideoReceiver.pollOutput(now:)`.
public enum VideoReceiverOutput: Equatable, Sendable {
    /// The next decodable frame, in decode order, released at its render time (or later, if it waited
    /// for a retransmission).
    case frame(ReceivedVideoFrame)
    /// Send an RTCP generic NACK (RFC 4585 §6.2.1) asking for these sequence numbers, oldest first.
    case nack([SequenceNumber])
    /// Send a Picture Loss Indication (RFC 4585 §6.3.1): the receiver needs a key frame.
    case keyFrameRequest
    /// Nothing more now: poll again at this instant (`nil`: only after the next input).
    case wait(until: MonotonicInstant?)
}

/// A complete, decodable video frame leaving the receiver.
public struct ReceivedVideoFrame: Equatable, Sendable {
    /// The frame's bytes, payload descriptors removed (opaque: an SFrame ciphertext).
    public var data: [UInt8]
    /// The RTP timestamp of the frame's packets (90 kHz).
    public var timestamp: RTPTimestamp
    /// The VP8 PictureID of the frame, if its packets carried one.
    public var pictureID: UInt16?
    /// Whether the frame is independent (frame marking I bit): decodable without any earlier frame.
    public var isKeyFrame: Bool
    /// The sequence number of the frame's first packet.
    public var firstSequenceNumber: SequenceNumber
    /// How many packets carried the frame.
    public var packetCount: Int
    /// When the first of the frame's packets arrived.
    public var firstArrival: MonotonicInstant
    /// When the last of the frame's packets arrived (the frame became complete).
    public var lastArrival: MonotonicInstant
    /// When the frame should be rendered; in the past if the frame was released late.
    public var renderTime: MonotonicInstant

    /// A frame with these fields.
    public init(
        data: [UInt8], timestamp: RTPTimestamp, pictureID: UInt16?, isKeyFrame: Bool,
        firstSequenceNumber: SequenceNumber, packetCount: Int, firstArrival: MonotonicInstant,
        lastArrival: MonotonicInstant, renderTime: MonotonicInstant
    ) {
        self.data = data
        self.timestamp = timestamp
        self.pictureID = pictureID
        self.isKeyFrame = isKeyFrame
        self.firstSequenceNumber = firstSequenceNumber
        self.packetCount = packetCount
        self.firstArrival = firstArrival
        self.lastArrival = lastArrival
        self.renderTime = renderTime
    }
}
