import ParleyCrypto
import ParleyJitter
import ParleyPayload
import ParleyRTP
import ParleySRTP
import ParleyWire

/// One stream this end sends: its RTP numbering, its keys and contexts, and what it counted.
final class OutgoingStream {
    let description: MediaStreamDescription
    var sequenceNumber: SequenceNumber
    let timestampBase: UInt32
    /// Samples (audio) sent so far, or the capture instant of the first frame (video).
    var audioSamplesSent: Int64 = 0
    var firstCapture: MonotonicInstant?
    var lastTimestamp: RTPTimestamp
    var lastSentAt: MonotonicInstant?
    var sframe: SFrameContext.Sender?
    var srtp: SRTPContext?
    var packetizer: VP8Packetizer
    var statistics: OutboundStreamStatistics
    /// The loss fraction the peer reports for this stream, smoothed over its reports.
    var peerReportedLoss: Double = 0

    init<Generator: RandomNumberGenerator>(
        description: MediaStreamDescription, kind: MediaKind, maximumPayloadSize: Int, using generator: inout Generator
    ) {
        self.description = description
        sequenceNumber = SequenceNumber(UInt16.random(in: 0...UInt16.max, using: &generator))
        timestampBase = UInt32.random(in: 0...UInt32.max, using: &generator)
        lastTimestamp = RTPTimestamp(timestampBase)
        packetizer = VP8Packetizer(
            maximumPayloadSize: maximumPayloadSize, firstPictureID: UInt16.random(in: 0...0x7FFF, using: &generator))
        statistics = OutboundStreamStatistics(ssrc: description.ssrc, kind: kind)
    }

    /// The next sequence number, advancing the counter.
    func takeSequenceNumber() -> SequenceNumber {
        defer { sequenceNumber = sequenceNumber.advanced(by: 1) }
        return sequenceNumber
    }

    /// The RTP timestamp of a video frame captured at `capture` (90 kHz from the first frame).
    func videoTimestamp(capture: MonotonicInstant) -> RTPTimestamp {
        let first = firstCapture ?? capture
        firstCapture = first
        let ticks = (capture - first).ticks(atRate: Int64(description.clockRate))
        return RTPTimestamp(timestampBase &+ UInt32(truncatingIfNeeded: ticks))
    }

    /// The RTP timestamp that corresponds to `now`, extrapolated from the last packet (for a sender report).
    func timestamp(at now: MonotonicInstant) -> RTPTimestamp {
        guard let lastSentAt else { return lastTimestamp }
        let ticks = (now - lastSentAt).ticks(atRate: Int64(description.clockRate))
        return RTPTimestamp(lastTimestamp.rawValue &+ UInt32(truncatingIfNeeded: max(0, ticks)))
    }
}

/// The RTX stream this end resends video packets on.
final class OutgoingRetransmissionStream {
    let ssrc: SSRC
    let payloadType: UInt8
    let mediaSSRC: SSRC
    var sequenceNumber: SequenceNumber
    var srtp: SRTPContext?
    var sframe: SFrameContext.Sender?

    init<Generator: RandomNumberGenerator>(
        stream: RetransmissionStream, mediaSSRC: SSRC, using generator: inout Generator
    ) {
        ssrc = stream.ssrc
        payloadType = stream.payloadType
        self.mediaSSRC = mediaSSRC
        sequenceNumber = SequenceNumber(UInt16.random(in: 0...UInt16.max, using: &generator))
    }
}

/// One stream the peer sends: its SRTP context once announced, reception statistics, and its jitter
/// buffer (audio) or receive path (video).
final class IncomingStream {
    let description: MediaStreamDescription
    var srtp: SRTPContext?
    var reception: ReceptionStatistics
    let audio: AudioJitterBuffer?
    var video: VideoReceiver?
    var statistics: InboundStreamStatistics
    /// The loss fraction this end measures on the stream, smoothed over its reports.
    var smoothedLoss: Double = 0

    init(description: MediaStreamDescription, audio: AudioJitterBuffer?, video: VideoReceiver?) {
        self.description = description
        reception = ReceptionStatistics(ssrc: description.ssrc, clockRate: Int(description.clockRate))
        self.audio = audio
        self.video = video
        statistics = InboundStreamStatistics(ssrc: description.ssrc, kind: description.kind)
    }
}

/// The session's randomness: seeded (reproducible simulations) or the system's.
struct SessionRandom: RandomNumberGenerator {
    private var seeded: SplitMix64?
    private var system = SystemRandomNumberGenerator()

    init(seed: UInt64?) {
        seeded = seed.map { SplitMix64(seed: $0) }
    }

    mutating func next() -> UInt64 {
        if seeded != nil { return seeded!.next() }
        return system.next()
    }
}
