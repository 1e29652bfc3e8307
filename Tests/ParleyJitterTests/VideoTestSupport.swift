import ParleyJitter
import ParleyPayload
import ParleyRTP
import ParleyWire
import Testing

/// One packet of a synthetic video stream with the frame marking its sender attached.
struct SentVideoPacket: Sendable {
    var packet: RTPPacket
    var marking: FrameMarking
    /// Which frame (0, 1, …) the packet belongs to.
    var frameIndex: Int
}

/// A synthetic VP8 sender: frames of recognisable bytes, packetized by `VP8Packetizer`, frame marking on
/// every packet, 30 frames per second on the 90 kHz clock. Starts near the wrap of both the sequence
/// number and the timestamp, so every stream crosses both.
struct SyntheticVideoSender {
    static let ssrc = SSRC(0x5EED)
    static let ticksPerFrame: Int64 = 3_000

    private var packetizer: VP8Packetizer
    private(set) var nextSequenceNumber: SequenceNumber
    private(set) var framesSent = 0
    let firstTimestamp: RTPTimestamp

    init(
        firstSequenceNumber: UInt16 = 65_400, firstTimestamp: UInt32 = 4_294_000_000, maximumPayloadSize: Int = 1_000,
        pictureIDs: Bool = true
    ) {
        packetizer = VP8Packetizer(maximumPayloadSize: maximumPayloadSize, firstPictureID: pictureIDs ? 32_700 : nil)
        nextSequenceNumber = SequenceNumber(firstSequenceNumber)
        self.firstTimestamp = RTPTimestamp(firstTimestamp)
    }

    /// The bytes of frame `index`: `size` bytes of a pattern unique to the frame.
    static func frameBytes(index: Int, size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index &* 13) }
    }

    /// When frame `index` is captured, if frame 0 is captured at `start`.
    static func captureTime(ofFrame index: Int, start: MonotonicInstant) -> MonotonicInstant {
        start + Duration(ticks: Int64(index) * ticksPerFrame, atRate: 90_000)
    }

    /// The packets of the next frame.
    mutating func send(size: Int, isKeyFrame: Bool, isDiscardable: Bool = false) -> [SentVideoPacket] {
        let index = framesSent
        framesSent += 1
        let header = RTPHeader(
            payloadType: 96, sequenceNumber: nextSequenceNumber,
            timestamp: firstTimestamp.advanced(by: Int64(index) * Self.ticksPerFrame), ssrc: Self.ssrc)
        let packets = header.packets(carrying: packetizer.packetize(Self.frameBytes(index: index, size: size)))
        nextSequenceNumber = nextSequenceNumber.advanced(by: packets.count)
        return packets.enumerated().map { offset, packet in
            SentVideoPacket(
                packet: packet,
                marking: FrameMarking(
                    startOfFrame: offset == 0, endOfFrame: offset == packets.count - 1, isIndependent: isKeyFrame,
                    isDiscardable: isDiscardable),
                frameIndex: index)
        }
    }
}

/// A packet arriving at the receiver at `time`.
struct VideoDelivery: Sendable {
    var time: MonotonicInstant
    var packet: SentVideoPacket
    var isRetransmission = false
}

/// Drives a `VideoReceiver` like its owner would: delivers packets, drains `pollOutput` after every
/// input and at every deadline, "decodes" every frame at once, and records everything it was told.
struct VideoReceiverHarness {
    var receiver: VideoReceiver
    var now: MonotonicInstant
    private(set) var released: [ReceivedVideoFrame] = []
    private(set) var releaseTimes: [MonotonicInstant] = []
    private(set) var nacks: [(time: MonotonicInstant, sequenceNumbers: [SequenceNumber])] = []
    private(set) var keyFrameRequests: [MonotonicInstant] = []
    private(set) var deadline: MonotonicInstant?
    /// Frames the owner pretends it cannot decode (by first sequence number).
    var undecodable: Set<SequenceNumber> = []

    init(configuration: VideoReceiver.Configuration = .init(), start: MonotonicInstant) {
        receiver = VideoReceiver(ssrc: SyntheticVideoSender.ssrc, configuration: configuration)
        now = start
    }

    mutating func deliver(_ packet: SentVideoPacket, at time: MonotonicInstant, isRetransmission: Bool = false) {
        advance(to: time)
        receiver.insert(packet.packet, frameMarking: packet.marking, arrival: time, isRetransmission: isRetransmission)
        drain()
    }

    /// Moves time to `time`, serving every deadline on the way.
    mutating func advance(to time: MonotonicInstant) {
        while let deadline, deadline <= time {
            now = max(now, deadline)
            self.deadline = nil
            drain()
        }
        now = max(now, time)
    }

    /// Delivers `deliveries` (any order) and runs to `end`.
    mutating func run(_ deliveries: [VideoDelivery], until end: MonotonicInstant) {
        for delivery in deliveries.enumerated().sorted(by: { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }) {
            deliver(delivery.element.packet, at: delivery.element.time, isRetransmission: delivery.element.isRetransmission)
        }
        advance(to: end)
    }

    /// Drains the receiver's outputs at `now`.
    mutating func drain() {
        for _ in 0..<100_000 {
            switch receiver.pollOutput(now: now) {
            case .frame(let frame):
                released.append(frame)
                releaseTimes.append(now)
                if undecodable.contains(frame.firstSequenceNumber) {
                    receiver.frameUndecodable(frame, now: now)
                } else {
                    receiver.frameDecoded(frame, now: now)
                }
            case .nack(let numbers):
                nacks.append((now, numbers))
            case .keyFrameRequest:
                keyFrameRequests.append(now)
            case .wait(let until):
                if let until, until <= now { Issue.record("wait(until: \(until)) is not after now \(now)") }
                deadline = until
                return
            }
        }
        Issue.record("pollOutput never said wait")
    }
}

extension Array where Element == ReceivedVideoFrame {
    /// The frame indices of these frames, from their timestamps.
    func frameIndices(firstTimestamp: RTPTimestamp) -> [Int] {
        map { Int($0.timestamp.distance(from: firstTimestamp) / SyntheticVideoSender.ticksPerFrame) }
    }
}
