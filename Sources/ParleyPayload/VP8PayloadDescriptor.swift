public import ParleyWire

/// The VP8 payload descriptor at the front of every VP8 RTP payload (RFC 7741 §4.2).
///
/// ```
///       0 1 2 3 4 5 6 7
///      +-+-+-+-+-+-+-+-+
///      |X|R|N|S|R| PID | (REQUIRED)
///      +-+-+-+-+-+-+-+-+
/// X:   |I|L|T|K| RSV   | (OPTIONAL)
///      +-+-+-+-+-+-+-+-+
/// I:   |M| PictureID   | (OPTIONAL)
///      +-+-+-+-+-+-+-+-+
///      |   PictureID   | (present when M = 1: 15-bit PictureID)
///      +-+-+-+-+-+-+-+-+
/// L:   |   TL0PICIDX   | (OPTIONAL)
///      +-+-+-+-+-+-+-+-+
/// T/K: |TID|Y| KEYIDX  | (OPTIONAL)
///      +-+-+-+-+-+-+-+-+
/// ```
///
/// Reserved bits (R, RSV) are ignored when parsing and written as zero. TID/Y are ignored unless T = 1,
/// KEYIDX unless K = 1 (§4.2), so a parse → serialize round trip yields an equal descriptor, not always
/// equal bytes. Values wider than their field are masked when serializing.
public struct VP8PayloadDescriptor: Equatable, Sendable {
    /// A PictureID and the width it is sent with.
    public enum PictureID: Equatable, Sendable {
        /// A 7-bit PictureID (M = 0), 0…127.
        case sevenBit(UInt8)
        /// A 15-bit PictureID (M = 1), 0…32767.
        case fifteenBit(UInt16)

        /// The PictureID's value.
        public var value: UInt16 {
            switch self {
            case .sevenBit(let id): UInt16(id & 0x7F)
            case .fifteenBit(let id): id & 0x7FFF
            }
        }

        /// The next picture's id, wrapping within the same width.
        public var next: PictureID {
            switch self {
            case .sevenBit(let id): .sevenBit((id &+ 1) & 0x7F)
            case .fifteenBit(let id): .fifteenBit((id &+ 1) & 0x7FFF)
            }
        }
    }

    /// The temporal layer of the frame (the TID and Y fields, present when T = 1).
    public struct TemporalLayer: Equatable, Sendable {
        /// The temporal layer index, 0…3 (TID).
        public var id: UInt8
        /// Whether the frame depends only on the base layer (Y, "layer sync").
        public var isLayerSync: Bool

        /// Temporal layer `id`, a layer sync point if `isLayerSync`.
        public init(id: UInt8, isLayerSync: Bool = false) {
            self.id = id
            self.isLayerSync = isLayerSync
        }
    }

    /// N: the frame is not used as a reference by any later frame (it may be discarded).
    public var isNonReference: Bool
    /// S: the packet starts a VP8 partition.
    public var isStartOfPartition: Bool
    /// PID: the partition index, 0…7. Packetizers that treat the frame as opaque always send 0.
    public var partitionIndex: UInt8
    /// The PictureID (I = 1), or `nil`.
    public var pictureID: PictureID?
    /// TL0PICIDX: the running index of base-layer frames (L = 1), or `nil`.
    public var tl0PictureIndex: UInt8?
    /// TID and Y (T = 1), or `nil`.
    public var temporalLayer: TemporalLayer?
    /// KEYIDX: the running index of key frames, 0…31 (K = 1), or `nil`.
    public var keyIndex: UInt8?

    /// A descriptor; by default the shortest one, starting partition 0.
    public init(
        isNonReference: Bool = false, isStartOfPartition: Bool = true, partitionIndex: UInt8 = 0,
        pictureID: PictureID? = nil, tl0PictureIndex: UInt8? = nil, temporalLayer: TemporalLayer? = nil,
        keyIndex: UInt8? = nil
    ) {
        self.isNonReference = isNonReference
        self.isStartOfPartition = isStartOfPartition
        self.partitionIndex = partitionIndex
        self.pictureID = pictureID
        self.tl0PictureIndex = tl0PictureIndex
        self.temporalLayer = temporalLayer
        self.keyIndex = keyIndex
    }

    /// The largest descriptor: 6 bytes (extension byte, 15-bit PictureID, TL0PICIDX, TID/Y/KEYIDX).
    public static let maximumSize = 6

    /// Whether the packet starts a frame (S = 1 and PID = 0, RFC 7741 §4.4).
    public var isStartOfFrame: Bool { isStartOfPartition && partitionIndex == 0 }

    /// Reads a descriptor from the front of `reader`, leaving it at the VP8 payload.
    ///
    /// - Throws: `WireError.truncated` naming the field the buffer ended in.
    public init(reading reader: inout ByteReader) throws(WireError) {
        let first = try reader.readUInt8("VP8 descriptor X/N/S/PID")
        self.init(
            isNonReference: first & 0x20 != 0, isStartOfPartition: first & 0x10 != 0,
            partitionIndex: first & 0x07)
        guard first & 0x80 != 0 else { return }
        let flags = try reader.readUInt8("VP8 descriptor I/L/T/K")
        if flags & 0x80 != 0 {
            let high = try reader.readUInt8("VP8 PictureID")
            if high & 0x80 != 0 {
                let low = try reader.readUInt8("VP8 PictureID (15-bit)")
                pictureID = .fifteenBit(UInt16(high & 0x7F) << 8 | UInt16(low))
            } else {
                pictureID = .sevenBit(high)
            }
        }
        if flags & 0x40 != 0 {
            tl0PictureIndex = try reader.readUInt8("VP8 TL0PICIDX")
        }
        if flags & 0x30 != 0 {
            let layer = try reader.readUInt8("VP8 TID/Y/KEYIDX")
            if flags & 0x20 != 0 { temporalLayer = TemporalLayer(id: layer >> 6, isLayerSync: layer & 0x20 != 0) }
            if flags & 0x10 != 0 { keyIndex = layer & 0x1F }
        }
    }

    private var hasExtension: Bool {
        pictureID != nil || tl0PictureIndex != nil || temporalLayer != nil || keyIndex != nil
    }

    /// Bytes the descriptor takes on the wire (1…6).
    public var serializedSize: Int {
        guard hasExtension else { return 1 }
        let pictureIDSize = switch pictureID {
        case .none: 0
        case .sevenBit: 1
        case .fifteenBit: 2
        }
        let layerSize = temporalLayer != nil || keyIndex != nil ? 1 : 0
        return 2 + pictureIDSize + (tl0PictureIndex != nil ? 1 : 0) + layerSize
    }

    /// The descriptor as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the descriptor to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        writer.writeUInt8(
            (hasExtension ? 0x80 : 0) | (isNonReference ? 0x20 : 0) | (isStartOfPartition ? 0x10 : 0)
                | partitionIndex & 0x07)
        guard hasExtension else { return }
        writer.writeUInt8(
            (pictureID != nil ? 0x80 : 0) | (tl0PictureIndex != nil ? 0x40 : 0) | (temporalLayer != nil ? 0x20 : 0)
                | (keyIndex != nil ? 0x10 : 0))
        switch pictureID {
        case .none: break
        case .sevenBit(let id): writer.writeUInt8(id & 0x7F)
        case .fifteenBit(let id): writer.writeUInt16(0x8000 | id & 0x7FFF)
        }
        if let tl0PictureIndex { writer.writeUInt8(tl0PictureIndex) }
        if temporalLayer != nil || keyIndex != nil {
            let layer = temporalLayer.map { ($0.id & 0x03) << 6 | ($0.isLayerSync ? 0x20 : 0) } ?? 0
            writer.writeUInt8(layer | (keyIndex ?? 0) & 0x1F)
        }
    }
}

/// The payload of one VP8 RTP packet: the payload descriptor and the VP8 bytes after it (RFC 7741 §4).
///
/// The VP8 bytes are never interpreted: they may be an SFrame ciphertext.
public struct VP8RTPPayload: Equatable, Sendable {
    /// The payload descriptor.
    public var descriptor: VP8PayloadDescriptor
    /// The VP8 bytes after the descriptor (at least one); shares the parsed buffer's storage.
    public var data: ArraySlice<UInt8>

    /// The payload `descriptor` followed by `data`.
    public init(descriptor: VP8PayloadDescriptor, data: ArraySlice<UInt8>) {
        self.descriptor = descriptor
        self.data = data
    }

    /// Parses an RTP packet's payload.
    ///
    /// - Throws: `WireError.truncated` if the descriptor is cut off or no VP8 byte follows it.
    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(bytes)
        descriptor = try VP8PayloadDescriptor(reading: &reader)
        guard !reader.isAtEnd else { throw .truncated(field: "VP8 payload", needed: 1, available: 0) }
        data = reader.readRest()
    }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int { descriptor.serializedSize + data.count }

    /// The RTP payload as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the RTP payload to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        descriptor.serialize(into: &writer)
        writer.writeBytes(data)
    }
}
