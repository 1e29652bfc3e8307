public import ParleyRTP
public import ParleyWire

/// Rebuilds VP8 frames from the RTP packets of one stream, arriving in any order, lost or duplicated
/// (RFC 7741 §4.5).
///
/// A frame is the run of packets with consecutive sequence numbers and one timestamp from a packet
/// with S = 1 and PID = 0 to a packet with the marker bit; it is complete — and returned — only when
/// every packet of the run is present. Nothing reads the VP8 bytes, so frames may be SFrame ciphertexts.
/// Complete frames come out as soon as they are complete, not necessarily in order: deciding what to
/// decode (and when to give up on a frame) is the jitter buffer's job.
///
/// **Memory is bounded by `window`**: only packets whose (unwrapped) sequence number lies within the
/// newest `window` are kept, so at most `window` received payloads are held (about `window` × 1.2 kB);
/// an older packet is dropped as `.late`, a pending packet that falls out of the window is counted in
/// `Statistics.evictedPackets`, and a frame longer than `window` packets can never complete.
/// Malformed packets are counted and dropped; nothing here traps on input or reads a clock.
/// Feed it the packets of one SSRC only (RTX already unwrapped).
public struct VP8FrameAssembler: Sendable {
    /// A complete frame.
    public struct Frame: Equatable, Sendable {
        /// The VP8 bytes of every packet, in order (an SFrame ciphertext if the sender protected it).
        public var data: [UInt8]
        /// The RTP timestamp of the frame's packets (90 kHz).
        public var timestamp: RTPTimestamp
        /// The descriptor of the first packet (PictureID, TL0PICIDX, TID/Y, KEYIDX, N).
        public var descriptor: VP8PayloadDescriptor
        /// The sequence number of the first packet.
        public var firstSequenceNumber: SequenceNumber
        /// How many packets carried the frame.
        public var packetCount: Int

        /// A frame with these fields (for tests and for consumers that build frames themselves).
        public init(
            data: [UInt8], timestamp: RTPTimestamp, descriptor: VP8PayloadDescriptor,
            firstSequenceNumber: SequenceNumber, packetCount: Int
        ) {
            self.data = data
            self.timestamp = timestamp
            self.descriptor = descriptor
            self.firstSequenceNumber = firstSequenceNumber
            self.packetCount = packetCount
        }
    }

    /// What happened to one inserted packet.
    public enum Outcome: Equatable, Sendable {
        /// Kept; its frame is not complete yet.
        case buffered
        /// Completed this frame.
        case completed(Frame)
        /// A sequence number already received (or already delivered in a frame): dropped.
        case duplicate
        /// Older than the window: dropped.
        case late
        /// Not a valid VP8 payload: dropped.
        case malformed(WireError)
    }

    /// Counts of what happened to packets since the assembler was created.
    public struct Statistics: Equatable, Sendable {
        /// Frames completed and returned.
        public var completedFrames = 0
        /// Packets dropped because their payload did not parse.
        public var malformedPackets = 0
        /// Packets dropped because their sequence number had been seen.
        public var duplicatePackets = 0
        /// Packets dropped because they were older than the window.
        public var latePackets = 0
        /// Packets of incomplete frames that fell out of the window unused.
        public var evictedPackets = 0
    }

    private struct Pending {
        var payload: VP8RTPPayload
        var timestamp: RTPTimestamp
        var marker: Bool
    }

    private enum State {
        case pending(Pending)
        case delivered
    }

    private struct Entry {
        var sequence: Int64
        var state: State
    }

    /// How many sequence numbers (newest first) the assembler keeps.
    public let window: Int
    /// What happened to packets so far.
    public private(set) var statistics = Statistics()

    private var unwrapper = CounterUnwrapper<UInt16>()
    private var entries: [Entry?]
    /// The oldest sequence number of interest: max(the oldest received, `highest` − `window` + 1).
    private var floor: Int64 = 0
    /// The newest sequence number received, or `nil` before the first packet.
    private var highest: Int64?

    /// An assembler keeping the newest `window` sequence numbers (at least 1; the default 1024 holds a
    /// 1 MB frame at 1 kB per packet, or half a second of 16 Mbit/s video).
    public init(window: Int = 1024) {
        precondition(window >= 1, "window must hold at least one packet")
        self.window = window
        entries = Array(repeating: nil, count: window)
    }

    /// Takes one received packet; returns the frame it completed, if any.
    public mutating func insert(_ packet: RTPPacket) -> Outcome {
        let payload: VP8RTPPayload
        do {
            payload = try VP8RTPPayload(parsing: packet.payload)
        } catch {
            statistics.malformedPackets += 1
            return .malformed(error)
        }
        let sequence = unwrapper.unwrap(packet.header.sequenceNumber).rawValue
        if let highest {
            if sequence <= highest - Int64(window) {
                statistics.latePackets += 1
                return .late
            }
            if entry(at: sequence) != nil {
                statistics.duplicatePackets += 1
                return .duplicate
            }
            if sequence > highest {
                advance(to: sequence)
            } else {
                floor = min(floor, sequence)
            }
        } else {
            floor = sequence
            highest = sequence
        }
        let pending = Pending(payload: payload, timestamp: packet.header.timestamp, marker: packet.header.marker)
        entries[slot(sequence)] = Entry(sequence: sequence, state: .pending(pending))
        return completeFrame(around: sequence, timestamp: pending.timestamp)
    }

    /// The sequence numbers, oldest first, between the oldest and the newest packet in the window that
    /// have not arrived: what a NACK would ask for. Packets after the newest one received (the rest of
    /// an unfinished last frame) cannot be known and are not listed.
    public var missingSequenceNumbers: [SequenceNumber] {
        guard let highest else { return [] }
        return (floor...highest).filter { entry(at: $0) == nil }.map { SequenceNumber(UInt16(truncatingIfNeeded: $0)) }
    }

    private func slot(_ sequence: Int64) -> Int {
        Int(((sequence % Int64(window)) + Int64(window)) % Int64(window))
    }

    private func entry(at sequence: Int64) -> State? {
        guard let entry = entries[slot(sequence)], entry.sequence == sequence else { return nil }
        return entry.state
    }

    private func pending(at sequence: Int64, timestamp: RTPTimestamp) -> Pending? {
        guard case .pending(let pending) = entry(at: sequence), pending.timestamp == timestamp else { return nil }
        return pending
    }

    /// Moves the window's top to `sequence`, evicting what falls out of it.
    private mutating func advance(to sequence: Int64) {
        let oldHighest = highest ?? sequence
        let newFloor = sequence - Int64(window) + 1
        if sequence - oldHighest >= Int64(window) {
            for index in entries.indices {
                evict(index)
            }
            floor = sequence
        } else {
            for old in (oldHighest - Int64(window) + 1)..<newFloor where entries[slot(old)]?.sequence == old {
                evict(slot(old))
            }
            floor = max(floor, newFloor)
        }
        highest = sequence
    }

    private mutating func evict(_ index: Int) {
        if case .pending = entries[index]?.state { statistics.evictedPackets += 1 }
        entries[index] = nil
    }

    /// The frame `sequence` belongs to, if every packet of it is now present.
    private mutating func completeFrame(around sequence: Int64, timestamp: RTPTimestamp) -> Outcome {
        var first = sequence
        while true {
            guard let packet = pending(at: first, timestamp: timestamp), first == sequence || !packet.marker else {
                return .buffered
            }
            if packet.payload.descriptor.isStartOfFrame { break }
            first -= 1
        }
        var last = sequence
        while true {
            guard let packet = pending(at: last, timestamp: timestamp),
                last == sequence || !packet.payload.descriptor.isStartOfFrame
            else { return .buffered }
            if packet.marker { break }
            last += 1
        }
        var data: [UInt8] = []
        var descriptor = VP8PayloadDescriptor()
        for number in first...last {
            guard case .pending(let packet) = entries[slot(number)]?.state else { continue }
            if number == first {
                descriptor = packet.payload.descriptor
                data.reserveCapacity(packet.payload.data.count * Int(last - first + 1))
            }
            data.append(contentsOf: packet.payload.data)
            entries[slot(number)]?.state = .delivered
        }
        statistics.completedFrames += 1
        return .completed(
            Frame(
                data: data, timestamp: timestamp, descriptor: descriptor,
                firstSequenceNumber: SequenceNumber(UInt16(truncatingIfNeeded: first)),
                packetCount: Int(last - first + 1)))
    }
}
