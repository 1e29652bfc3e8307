public import ParleyRTP
public import ParleyWire
import ParleyPayload

/// The receive side of one video stream: frame assembly, decodability, render timing, NACK and
/// key-frame requests, and the W3C receive statistics.
///
/// Feed it every media packet of its SSRC (`insert`, SRTP removed and RTX unwrapped) and the round-trip
/// time when known; after every input, and at every instant a `.wait(until:)` named, drain
/// `pollOutput(now:)` until it returns `.wait`: it yields NACKs and key-frame requests to send, and
/// frames to decode, one at a time. Sans-IO: nothing here reads a clock.
///
/// **Decodability.** Frames are rebuilt by `VP8FrameAssembler` and released only in decode order. A key
/// frame (frame marking I bit) is always decodable; a delta frame needs the previous frame of the stream,
/// which is the last frame released when the sequence numbers run on without a gap, or when the VP8
/// PictureIDs run on (frames in between marked discardable, D bit, may be skipped). A frame whose chain
/// crosses a packet given up (or a frame dropped) with no key frame in between can never be decoded: it
/// is dropped (`framesDropped`) and a key frame is requested. Frames without frame marking are treated as
/// delta frames, since the payload is opaque.
///
/// **Bounds.** At most `Configuration.maximumFrames` frames are held (assembling and waiting); on
/// overflow the oldest is dropped and a key frame requested. The NACK list and the packet window are
/// bounded too. Every unused packet or frame is counted in `statistics`; nothing traps on input.
public struct VideoReceiver: Sendable {
    /// Tunables of a `VideoReceiver`.
    public struct Configuration: Equatable, Sendable {
        /// The most frames held at once, assembling and waiting together (at least 1). Default 60.
        public var maximumFrames: Int
        /// A key-frame request is repeated after this long (at least 1 ms) if no key frame arrived.
        /// Default 200 ms.
        public var keyFrameRequestInterval: Duration
        /// When and how often missing packets are NACKed.
        public var nack: NACKConfiguration
        /// The least delay added to absorb jitter. Default 10 ms.
        public var minimumRenderDelay: Duration
        /// The most delay added to absorb jitter. Default 500 ms.
        public var maximumRenderDelay: Duration
        /// Sequence numbers (newest first) the frame assembler keeps (at least 1). Default 1024.
        public var packetWindow: Int
        /// Once retransmissions are common (3 of the last 300 frames needed one), the render delay also
        /// covers this many repairs, a repair taking the NACK reordering delay plus a round trip; 0 never
        /// waits for repairs (lower latency, a freeze whenever a repair is slow). Default 1.
        public var retransmissionDelayMultiplier: Double

        /// A configuration with the given values (each defaulted as documented).
        public init(
            maximumFrames: Int = 60, keyFrameRequestInterval: Duration = .milliseconds(200),
            nack: NACKConfiguration = NACKConfiguration(), minimumRenderDelay: Duration = .milliseconds(10),
            maximumRenderDelay: Duration = .milliseconds(500), packetWindow: Int = 1024,
            retransmissionDelayMultiplier: Double = 1
        ) {
            self.maximumFrames = maximumFrames
            self.keyFrameRequestInterval = keyFrameRequestInterval
            self.nack = nack
            self.minimumRenderDelay = minimumRenderDelay
            self.maximumRenderDelay = maximumRenderDelay
            self.packetWindow = packetWindow
            self.retransmissionDelayMultiplier = retransmissionDelayMultiplier
        }
    }

    /// What is known of a frame some of whose packets arrived.
    private struct AssemblingFrame: Sendable {
        var lowest: Int64
        var highest: Int64
        var firstArrival: MonotonicInstant
        var lastArrival: MonotonicInstant
        var hasMarking = false
        var isIndependent = false
        var isDiscardable = false
        var pictureID: UInt16?
        var containsRetransmission = false
    }

    /// A complete frame waiting for its turn.
    private struct WaitingFrame: Sendable {
        var frame: ReceivedVideoFrame
        var first: Int64
        var last: Int64
        var timestamp: Int64
        var isDiscardable: Bool
        /// 128 for 7-bit PictureIDs, 32768 for 15-bit ones.
        var pictureIDModulus: Int
    }

    /// The last frame released: what the next delta frame refers to.
    private struct Anchor: Sendable {
        var last: Int64
        var pictureID: UInt16?
        var pictureIDModulus: Int
    }

    /// The most "break" sequence numbers remembered; beyond, the chain is treated as broken.
    private static let maximumBreaks = 1024

    /// The stream this receiver takes packets of.
    public let ssrc: SSRC
    /// The receiver's tunables.
    public let configuration: Configuration

    private var assembler: VP8FrameAssembler
    private var sequenceUnwrapper = CounterUnwrapper<UInt16>()
    private var timestampUnwrapper = CounterUnwrapper<UInt32>()
    private var tracker: NACKTracker
    private var timing: VideoRenderTiming
    private var freezes = FreezeDetector()
    private var counters = VideoReceiveStatistics()
    private var roundTripTime: Duration?
    /// Frames being assembled, by unwrapped timestamp.
    private var assembling: [Int64: AssemblingFrame] = [:]
    /// Complete frames not yet released, by first sequence number.
    private var waiting: [WaitingFrame] = []
    /// The newest sequence number no longer of interest (its frame was released or dropped).
    private var floor: Int64?
    /// The last frame released; `nil` before the first and whenever the chain is broken for certain.
    private var anchor: Anchor?
    /// Sequence numbers after the anchor that will never arrive (given up, or frames dropped), sorted.
    private var breaks: [Int64] = []
    /// A key frame starting after this sequence number is needed; `nil` when none is.
    private var keyFrameNeededAfter: Int64?
    private var lastKeyFrameRequest: MonotonicInstant?
    private var lastRenderTime: MonotonicInstant?
    private var lastReleasedKeyFrame: Int64?

    /// A receiver for stream `ssrc`.
    public init(ssrc: SSRC, configuration: Configuration = Configuration()) {
        self.ssrc = ssrc
        self.configuration = configuration
        assembler = VP8FrameAssembler(window: max(configuration.packetWindow, 1))
        tracker = NACKTracker(configuration: configuration.nack)
        timing = VideoRenderTiming(
            minimumDelay: configuration.minimumRenderDelay, maximumDelay: configuration.maximumRenderDelay)
    }

    // MARK: Inputs

    /// A received media packet, SRTP already removed and RTX already unwrapped (so `packet` has the
    /// original sequence number). `frameMarking` is the parsed extension, `nil` if the packet had none;
    /// `isRetransmission` says it came on the RTX stream.
    public mutating func insert(
        _ packet: RTPPacket, frameMarking: FrameMarking?, arrival: MonotonicInstant, isRetransmission: Bool
    ) {
        guard packet.header.ssrc == ssrc else {
            counters.foreignPackets += 1
            return
        }
        counters.packetsReceived += 1
        if isRetransmission { counters.retransmittedPacketsReceived += 1 }
        let sequence = sequenceUnwrapper.unwrap(packet.header.sequenceNumber).rawValue
        let timestamp = timestampUnwrapper.unwrap(packet.header.timestamp).rawValue

        if packet.payload.isEmpty {
            // Padding only (bandwidth probing): its sequence number is accounted for, nothing else.
            counters.paddingOnlyPackets += 1
            noteReceived(sequence, isRetransmission: isRetransmission, now: arrival)
            return
        }
        let outcome = assembler.insert(packet)
        switch outcome {
        case .duplicate:
            counters.duplicates += 1
            return
        case .late:
            counters.latePackets += 1
            return
        case .malformed:
            counters.malformedPackets += 1
            noteReceived(sequence, isRetransmission: isRetransmission, now: arrival)
            if sequence > (floor ?? .min) {
                counters.unrecoverablePackets += 1
                packetLost(for: sequence)
            }
            return
        case .buffered, .completed:
            break
        }
        noteReceived(sequence, isRetransmission: isRetransmission, now: arrival)
        if let floor, sequence <= floor {
            counters.latePackets += 1
            return
        }
        if let index = breaks.firstIndex(of: sequence) { breaks.remove(at: index) }

        let descriptor = try? VP8RTPPayload(parsing: packet.payload).descriptor
        if assembling[timestamp] == nil {
            makeRoom()
            if let floor, sequence <= floor {
                counters.latePackets += 1
                return
            }
            assembling[timestamp] = AssemblingFrame(
                lowest: sequence, highest: sequence, firstArrival: arrival, lastArrival: arrival)
        }
        if var frame = assembling[timestamp] {
            frame.lowest = min(frame.lowest, sequence)
            frame.highest = max(frame.highest, sequence)
            frame.firstArrival = min(frame.firstArrival, arrival)
            frame.lastArrival = max(frame.lastArrival, arrival)
            frame.containsRetransmission = frame.containsRetransmission || isRetransmission
            frame.pictureID = frame.pictureID ?? descriptor?.pictureID?.value
            if let frameMarking {
                frame.hasMarking = true
                frame.isIndependent = frame.isIndependent || frameMarking.isIndependent
                frame.isDiscardable = frame.isDiscardable || frameMarking.isDiscardable
            }
            assembling[timestamp] = frame
        }
        if let frameMarking, frameMarking.isIndependent {
            keyFrameArriving(at: sequence, isStart: frameMarking.startOfFrame || descriptor?.isStartOfFrame == true)
        } else if anchor == nil, !keyFrameKnown(after: floor ?? .min) {
            // A delta frame with nothing to refer to and no key frame on its way: ask for one now.
            requestKeyFrame(after: sequence)
        }
        if case .completed(let frame) = outcome {
            completed(frame, packetSequence: sequence, packetNumber: packet.header.sequenceNumber, timestamp: timestamp)
        }
    }

    /// The latest round-trip time to the sender (from RTCP): paces NACK retries.
    public mutating func setRoundTripTime(_ rtt: Duration) {
        roundTripTime = max(rtt, .zero)
    }

    /// The owner decoded (and rendered) a frame it got from `.frame`, at `now`: counts it decoded and
    /// drives the freeze, pause and inter-frame metrics.
    public mutating func frameDecoded(_ frame: ReceivedVideoFrame, now: MonotonicInstant) {
        counters.framesDecoded += 1
        if frame.isKeyFrame { counters.keyFramesDecoded += 1 }
        freezes.rendered(at: now)
    }

    /// The owner could not decrypt or decode a frame it got from `.frame`: counts it dropped; later delta
    /// frames wait for a key frame, which is requested.
    public mutating func frameUndecodable(_ frame: ReceivedVideoFrame, now: MonotonicInstant) {
        counters.framesDropped += 1
        counters.framesUndecodable += 1
        let first = sequenceUnwrapper.peek(frame.firstSequenceNumber.rawValue)
        let last = first + Int64(max(frame.packetCount, 1)) - 1
        // A failure before the newest key frame released does not break what follows that key frame.
        if let key = lastReleasedKeyFrame, first < key { return }
        anchor = nil
        requestKeyFrame(after: last)
    }

    // MARK: Outputs

    /// The next thing for the owner: a NACK or key-frame request to send, a frame to decode, or when to
    /// poll again. Drain it after every input and at every deadline it names.
    public mutating func pollOutput(now: MonotonicInstant) -> VideoReceiverOutput {
        let rtt = currentRoundTripTime
        if let givenUp = tracker.expire(now: now, roundTripTime: rtt) {
            handle(givenUp)
        }
        let due = tracker.due(now: now, roundTripTime: rtt)
        if !due.isEmpty {
            counters.nackCount += 1
            return .nack(due.map { ExtendedSequenceNumber(rawValue: $0).wrapped })
        }
        let (ready, frameDeadline) = advance(now: now)
        if let deadline = keyFrameRequestDeadline, deadline <= now {
            counters.pliCount += 1
            lastKeyFrameRequest = now
            return .keyFrameRequest
        }
        if let ready {
            return .frame(release(ready, now: now))
        }
        let deadlines = [tracker.nextDeadline(roundTripTime: rtt), keyFrameRequestDeadline, frameDeadline]
        return .wait(until: deadlines.compactMap { $0 }.min())
    }

    /// What the receiver has done so far.
    public var statistics: VideoReceiveStatistics {
        var statistics = counters
        statistics.freezeCount = freezes.freezeCount
        statistics.totalFreezesDuration = freezes.totalFreezesDuration
        statistics.pauseCount = freezes.pauseCount
        statistics.totalPausesDuration = freezes.totalPausesDuration
        statistics.totalInterFrameDelay = freezes.totalInterFrameDelay
        statistics.totalSquaredInterFrameDelay = freezes.totalSquaredInterFrameDelay
        return statistics
    }

    /// Frames held now: being assembled plus complete and waiting (never more than `maximumFrames`).
    public var bufferedFrameCount: Int { assembling.count + waiting.count }

    /// Complete frames held now, waiting for their render time or for the frames before them.
    public var completeFrameCount: Int { waiting.count }

    /// The delay currently added to absorb jitter (between the configured minimum and maximum).
    public var renderDelay: Duration { timing.renderDelay }

    /// The sequence numbers currently missing and not given up, oldest first.
    public var missingSequenceNumbers: [SequenceNumber] {
        tracker.entries.map { ExtendedSequenceNumber(rawValue: $0.sequence).wrapped }
    }

    // MARK: Packets and frames

    private var currentRoundTripTime: Duration { roundTripTime ?? configuration.nack.defaultRoundTripTime }

    private mutating func noteReceived(_ sequence: Int64, isRetransmission: Bool, now: MonotonicInstant) {
        let (wasMissing, givenUp) = tracker.received(sequence, floor: floor, now: now)
        if wasMissing {
            if isRetransmission {
                counters.recoveredByRetransmission += 1
            } else {
                counters.recoveredByReordering += 1
            }
        }
        if let givenUp { handle(givenUp) }
    }

    /// A packet of a key frame arrived: no more requests for now, and (from its first packet) the
    /// packets before it are no longer needed.
    private mutating func keyFrameArriving(at sequence: Int64, isStart: Bool) {
        if let needed = keyFrameNeededAfter, sequence > needed { keyFrameNeededAfter = nil }
        guard isStart else { return }
        // Frames before the key frame may still complete by reordering, but are not worth asking for:
        // once the key frame is due, release skips to it.
        counters.packetsNoLongerNeeded += tracker.forget(through: sequence - 1).count
    }

    private mutating func completed(
        _ frame: VP8FrameAssembler.Frame, packetSequence: Int64, packetNumber: SequenceNumber, timestamp: Int64
    ) {
        let info = assembling.removeValue(forKey: timestamp)
        let first = packetSequence + Int64(frame.firstSequenceNumber.distance(from: packetNumber))
        let last = first + Int64(frame.packetCount) - 1
        guard let info, first > (floor ?? .min) else {
            // Part of a frame already given up: its first packets were dropped as stale.
            counters.incompleteFramesDiscarded += info == nil ? 0 : 1
            return
        }
        counters.framesReceived += 1
        if !info.hasMarking { counters.framesWithoutMarking += 1 }
        let allowance = configuration.retransmissionDelayMultiplier > 0
            ? (configuration.nack.reorderingDelay + currentRoundTripTime) * configuration.retransmissionDelayMultiplier
            : .zero
        timing.frameCompleted(
            timestamp: timestamp, lastArrival: info.lastArrival, wasRetransmitted: info.containsRetransmission,
            retransmissionAllowance: allowance)
        let received = ReceivedVideoFrame(
            data: frame.data, timestamp: frame.timestamp, pictureID: frame.descriptor.pictureID?.value ?? info.pictureID,
            isKeyFrame: info.isIndependent, firstSequenceNumber: frame.firstSequenceNumber,
            packetCount: frame.packetCount, firstArrival: info.firstArrival, lastArrival: info.lastArrival,
            renderTime: info.lastArrival)
        let entry = WaitingFrame(
            frame: received, first: first, last: last, timestamp: timestamp, isDiscardable: info.isDiscardable,
            pictureIDModulus: { if case .sevenBit = frame.descriptor.pictureID { 128 } else { 32_768 } }())
        let index = waiting.firstIndex { $0.first > first } ?? waiting.count
        waiting.insert(entry, at: index)
    }

    /// Drops the oldest frame held if the buffer is full, so one more fits.
    private mutating func makeRoom() {
        while bufferedFrameCount >= max(configuration.maximumFrames, 1) {
            counters.overflowDrops += 1
            let oldestAssembling = assembling.min { $0.value.lowest < $1.value.lowest }
            let dropped: Int64
            if let head = waiting.first, head.first < (oldestAssembling?.value.lowest ?? .max) {
                waiting.removeFirst()
                counters.framesDropped += 1
                dropped = head.last
            } else if let oldest = oldestAssembling {
                assembling.removeValue(forKey: oldest.key)
                counters.incompleteFramesDiscarded += 1
                dropped = oldest.value.highest
            } else {
                return
            }
            anchor = nil
            advanceFloor(to: dropped)
            requestKeyFrame(after: dropped)
        }
    }

    // MARK: Losses and key frames

    private mutating func handle(_ givenUp: NACKTracker.GiveUp) {
        counters.unrecoverablePackets += givenUp.count
        for sequence in givenUp.sequences where sequence > (floor ?? .min) {
            packetLost(for: sequence)
        }
    }

    /// `sequence` will never arrive: frames after it need a key frame, unless it lies inside a frame
    /// marked discardable (which later frames do not refer to).
    private mutating func packetLost(for sequence: Int64) {
        let insideDiscardable = assembling.values.contains {
            $0.isDiscardable && $0.lowest < sequence && sequence < $0.highest
        }
        guard !insideDiscardable else { return }
        addBreak(sequence)
        requestKeyFrame(after: sequence)
    }

    private mutating func addBreak(_ sequence: Int64) {
        if let anchor, sequence <= anchor.last { return }
        let index = breaks.firstIndex { $0 >= sequence } ?? breaks.count
        guard index == breaks.count || breaks[index] != sequence else { return }
        breaks.insert(sequence, at: index)
        if breaks.count > Self.maximumBreaks {
            breaks.removeFirst(breaks.count - Self.maximumBreaks)
            anchor = nil
        }
    }

    /// Whether a key frame starting after `sequence` is on its way (some of its packets arrived).
    private func keyFrameKnown(after sequence: Int64) -> Bool {
        waiting.contains { $0.frame.isKeyFrame && $0.first > sequence }
            || assembling.values.contains { $0.isIndependent && $0.lowest > sequence }
    }

    /// Asks for a key frame starting after `sequence`, unless one is already arriving.
    private mutating func requestKeyFrame(after sequence: Int64) {
        guard !keyFrameKnown(after: sequence) else { return }
        keyFrameNeededAfter = max(keyFrameNeededAfter ?? sequence, sequence)
    }

    private var keyFrameRequestDeadline: MonotonicInstant? {
        guard keyFrameNeededAfter != nil else { return nil }
        guard let last = lastKeyFrameRequest else { return .init(nanoseconds: .min) }
        return last + max(configuration.keyFrameRequestInterval, .milliseconds(1))
    }

    // MARK: Release

    /// Drops the frames at the head that can never be decoded; returns the head if it is decodable and
    /// due, else the instant it (or a key frame to skip to) is due.
    private mutating func advance(now: MonotonicInstant) -> (WaitingFrame?, MonotonicInstant?) {
        while let head = waiting.first {
            if head.frame.isKeyFrame || isContinuous(head) {
                let render = renderTime(of: head)
                if now >= render {
                    var ready = head
                    ready.frame.renderTime = render
                    return (ready, nil)
                }
                return (nil, render)
            }
            if isCertainlyUndecodable(head) {
                dropHead()
                if !keyFrameKnown(after: head.last) { requestKeyFrame(after: head.last) }
                continue
            }
            // Waiting for retransmissions; skip to a complete key frame once it is due.
            if let key = waiting.first(where: \.frame.isKeyFrame) {
                let render = renderTime(of: key)
                if now >= render {
                    dropHead()
                    continue
                }
                return (nil, render)
            }
            return (nil, nil)
        }
        return (nil, nil)
    }

    private mutating func dropHead() {
        let head = waiting.removeFirst()
        counters.framesDropped += 1
        if !head.isDiscardable { addBreak(head.first) }
        advanceFloor(to: head.last)
    }

    private mutating func release(_ ready: WaitingFrame, now: MonotonicInstant) -> ReceivedVideoFrame {
        waiting.removeFirst()
        anchor = Anchor(last: ready.last, pictureID: ready.frame.pictureID, pictureIDModulus: ready.pictureIDModulus)
        breaks.removeAll { $0 <= ready.last }
        if ready.frame.isKeyFrame {
            lastReleasedKeyFrame = ready.first
            if let needed = keyFrameNeededAfter, needed < ready.first { keyFrameNeededAfter = nil }
        }
        advanceFloor(to: ready.last)
        lastRenderTime = ready.frame.renderTime
        counters.jitterBufferEmittedCount += 1
        counters.jitterBufferDelay += max(now - ready.frame.firstArrival, .zero).inSeconds
        counters.jitterBufferTargetDelay += timing.renderDelay.inSeconds
        if now > ready.frame.renderTime { counters.framesReleasedLate += 1 }
        return ready.frame
    }

    private mutating func renderTime(of frame: WaitingFrame) -> MonotonicInstant {
        let estimated = timing.renderTime(timestamp: frame.timestamp) ?? frame.frame.lastArrival
        guard let lastRenderTime else { return estimated }
        return max(estimated, lastRenderTime)
    }

    /// Whether `frame` directly follows the last frame released.
    private func isContinuous(_ frame: WaitingFrame) -> Bool {
        guard let anchor else { return false }
        if frame.first == anchor.last + 1 { return true }
        guard let previous = anchor.pictureID, let current = frame.frame.pictureID,
            anchor.pictureIDModulus == frame.pictureIDModulus
        else { return false }
        let modulus = frame.pictureIDModulus
        let gap = ((Int(current) - Int(previous)) % modulus + modulus) % modulus
        if gap == 1 { return true }
        // Frames in between may be skipped if each is known to be discardable.
        guard gap > 1, gap - 1 <= assembling.count else { return false }
        let discardable = Set(assembling.values.filter(\.isDiscardable).compactMap(\.pictureID))
        return (1..<gap).allSatisfy { discardable.contains(UInt16((Int(previous) + $0) % modulus)) }
    }

    /// Whether a delta `frame`'s chain crosses a lost packet or dropped frame with no key frame after it.
    private func isCertainlyUndecodable(_ frame: WaitingFrame) -> Bool {
        let lost: Int64?
        if let anchor {
            lost = breaks.last { $0 > anchor.last && $0 < frame.first }
        } else {
            lost = breaks.last { $0 < frame.first } ?? .min
        }
        guard let lost else { return false }
        let rescuer = assembling.values.contains { $0.isIndependent && $0.lowest > lost && $0.lowest < frame.first }
        return !rescuer
    }

    /// Nothing at or below `sequence` is of interest any more.
    private mutating func advanceFloor(to sequence: Int64) {
        let floor = max(self.floor ?? sequence, sequence)
        self.floor = floor
        counters.packetsNoLongerNeeded += tracker.forget(through: floor).count
        let stale = assembling.filter { $0.value.lowest <= floor }
        for key in stale.keys { assembling.removeValue(forKey: key) }
        counters.incompleteFramesDiscarded += stale.count
        while let head = waiting.first, head.last <= floor {
            waiting.removeFirst()
            counters.framesDropped += 1
        }
    }
}
