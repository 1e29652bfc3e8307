public import ParleyWire

/// A typed RTP header extension: how its value is coded in an extension element's data.
public protocol RTPHeaderExtensionValue: Equatable, Sendable {
    /// The extension's URI, as negotiated (RFC 8285 §5).
    static var uri: String { get }
    /// The value coded in `data`.
    init(extensionData data: ArraySlice<UInt8>) throws(WireError)
    /// The element data for this value.
    var extensionData: [UInt8] { get }
}

/// Which local id each extension URI uses on a stream (the `a=extmap` of SDP, RFC 8285 §5).
public struct RTPExtensionRegistry: Equatable, Sendable {
    private var idsByURI: [String: UInt8]

    /// A registry mapping each id to a URI.
    ///
    /// - Throws: `WireError.invalidValue` if an id is outside 1…255 or a URI appears twice; the mapping
    ///   may come from a peer, so it is validated, not trusted.
    public init(_ urisByID: [UInt8: String]) throws(WireError) {
        idsByURI = [:]
        for (id, uri) in urisByID.sorted(by: { $0.key < $1.key }) {
            guard id != 0 else { throw .invalidValue(field: "extension id", reason: "0 is reserved for padding") }
            guard idsByURI[uri] == nil else {
                throw .invalidValue(field: "extension URI", reason: "\(uri) mapped twice")
            }
            idsByURI[uri] = id
        }
    }

    /// Parley's own mapping: transport-wide sequence number 1, absolute send time 2, frame marking 3.
    public static let parleyDefault = try! RTPExtensionRegistry([
        1: TransportWideSequenceNumber.uri, 2: AbsoluteSendTime.uri, 3: FrameMarking.uri,
    ])

    /// The local id of extension `type`, if it is registered.
    public func id<Value: RTPHeaderExtensionValue>(of type: Value.Type) -> UInt8? {
        idsByURI[Value.uri]
    }

    /// The value of extension `type` in `extensions`; `nil` if unregistered or absent.
    ///
    /// - Throws: `WireError` if the element is present but malformed.
    public func value<Value: RTPHeaderExtensionValue>(
        _ type: Value.Type, in extensions: RTPHeaderExtensions
    ) throws(WireError) -> Value? {
        guard let id = id(of: type), let data = extensions[id] else { return nil }
        return try Value(extensionData: data)
    }

    /// Sets extension `value` in `extensions`; does nothing if its type is not registered.
    public func set<Value: RTPHeaderExtensionValue>(_ value: Value, in extensions: inout RTPHeaderExtensions) {
        guard let id = id(of: Value.self) else { return }
        extensions.set(id: id, data: value.extensionData[...])
    }
}

/// The transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2):
/// one counter across every stream a sender sends, for congestion-control feedback.
///
/// ```
///  0                   1
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  transport-wide sequence nr   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct TransportWideSequenceNumber: RTPHeaderExtensionValue {
    public static let uri = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

    /// The sequence number.
    public var sequenceNumber: SequenceNumber

    /// The extension carrying `sequenceNumber`.
    public init(_ sequenceNumber: SequenceNumber) {
        self.sequenceNumber = sequenceNumber
    }

    public init(extensionData data: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(data)
        sequenceNumber = SequenceNumber(try reader.readUInt16("transport-wide sequence number"))
        guard reader.isAtEnd else {
            throw .lengthMismatch(field: "transport-wide sequence number", declared: 2, actual: data.count)
        }
    }

    public var extensionData: [UInt8] {
        [UInt8(sequenceNumber.rawValue >> 8), UInt8(truncatingIfNeeded: sequenceNumber.rawValue)]
    }
}

/// The absolute send time (WebRTC's abs-send-time): when the packet left, as 24-bit 6.18 fixed-point
/// seconds, wrapping every 64 s.
///
/// ```
///  0                   1                   2
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | seconds (6) |      fraction of a second (18)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct AbsoluteSendTime: RTPHeaderExtensionValue {
    public static let uri = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"

    /// The 24-bit 6.18 fixed-point value.
    public var fixedPoint: UInt32

    /// The send time `instant`, reduced to 6.18 fixed point modulo 64 s.
    public init(_ instant: MonotonicInstant) {
        let nanoseconds = UInt64(bitPattern: instant.nanoseconds)
        let seconds = nanoseconds / 1_000_000_000
        let fraction = ((nanoseconds % 1_000_000_000) << 18) / 1_000_000_000
        fixedPoint = UInt32(truncatingIfNeeded: ((seconds << 18) | fraction) & 0xFF_FFFF)
    }

    /// The raw 24-bit value (higher bits are dropped).
    public init(fixedPoint: UInt32) {
        self.fixedPoint = fixedPoint & 0xFF_FFFF
    }

    /// The send time within its 64-second cycle.
    public var timeWithinCycle: Duration {
        .nanoseconds((Int64(fixedPoint) * 1_000_000_000) >> 18)
    }

    public init(extensionData data: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(data)
        fixedPoint = try reader.readUInt24("absolute send time")
        guard reader.isAtEnd else {
            throw .lengthMismatch(field: "absolute send time", declared: 3, actual: data.count)
        }
    }

    public var extensionData: [UInt8] {
        [UInt8(fixedPoint >> 16 & 0xFF), UInt8(fixedPoint >> 8 & 0xFF), UInt8(fixedPoint & 0xFF)]
    }
}

/// Frame marking (RFC 9626): frame boundaries, independence and layers, readable without the
/// (possibly encrypted) payload — what lets a receiver or forwarder work without keys.
///
/// Short form, for non-scalable streams (1 byte):
/// ```
///  0 1 2 3 4 5 6 7
/// +-+-+-+-+-+-+-+-+
/// |S|E|I|D|0 0 0 0|
/// +-+-+-+-+-+-+-+-+
/// ```
/// Long form, for scalable streams (3 bytes; 2 when TL0PICIDX is left out):
/// ```
///  0                   1                   2
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |S|E|I|D|B| TID |      LID      |   TL0PICIDX   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// S: first packet of a frame; E: last packet; I: the frame is independent (a key frame);
/// D: discardable; B: base-layer sync; TID: temporal layer; LID: layer id.
public struct FrameMarking: RTPHeaderExtensionValue {
    public static let uri = "urn:ietf:params:rtp-hdrext:framemarking"

    /// Layer information of the long form.
    public struct Layers: Equatable, Sendable {
        /// Base-layer sync (B).
        public var baseLayerSync: Bool
        /// Temporal layer id, 0…7.
        public var temporalID: UInt8
        /// Layer id (spatial/quality), codec-specific.
        public var layerID: UInt8
        /// Temporal-layer-0 picture index, if sent.
        public var tl0PictureIndex: UInt8?

        /// Layer information with the given fields.
        public init(baseLayerSync: Bool = false, temporalID: UInt8, layerID: UInt8 = 0, tl0PictureIndex: UInt8? = nil) {
            self.baseLayerSync = baseLayerSync
            self.temporalID = temporalID & 0x07
            self.layerID = layerID
            self.tl0PictureIndex = tl0PictureIndex
        }
    }

    /// S: this packet starts a frame.
    public var startOfFrame: Bool
    /// E: this packet ends a frame.
    public var endOfFrame: Bool
    /// I: the frame can be decoded without any earlier frame.
    public var isIndependent: Bool
    /// D: the frame can be dropped without breaking later frames.
    public var isDiscardable: Bool
    /// Layer information; `nil` for the short (non-scalable) form.
    public var layers: Layers?

    /// A frame marking with the given flags.
    public init(
        startOfFrame: Bool, endOfFrame: Bool, isIndependent: Bool, isDiscardable: Bool = false,
        layers: Layers? = nil
    ) {
        self.startOfFrame = startOfFrame
        self.endOfFrame = endOfFrame
        self.isIndependent = isIndependent
        self.isDiscardable = isDiscardable
        self.layers = layers
    }

    public init(extensionData data: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(data)
        let flags = try reader.readUInt8("frame marking flags")
        startOfFrame = flags & 0x80 != 0
        endOfFrame = flags & 0x40 != 0
        isIndependent = flags & 0x20 != 0
        isDiscardable = flags & 0x10 != 0
        switch data.count {
        case 1:
            guard flags & 0x0F == 0 else {
                throw .invalidValue(field: "frame marking", reason: "short form must have its low 4 bits zero")
            }
            layers = nil
        case 2, 3:
            let layerID = try reader.readUInt8("frame marking LID")
            let tl0 = data.count == 3 ? try reader.readUInt8("frame marking TL0PICIDX") : nil
            layers = Layers(baseLayerSync: flags & 0x08 != 0, temporalID: flags & 0x07, layerID: layerID, tl0PictureIndex: tl0)
        default:
            throw .lengthMismatch(field: "frame marking", declared: 3, actual: data.count)
        }
    }

    public var extensionData: [UInt8] {
        var flags: UInt8 = (startOfFrame ? 0x80 : 0) | (endOfFrame ? 0x40 : 0) | (isIndependent ? 0x20 : 0)
            | (isDiscardable ? 0x10 : 0)
        guard let layers else { return [flags] }
        flags |= (layers.baseLayerSync ? 0x08 : 0) | layers.temporalID & 0x07
        var data = [flags, layers.layerID]
        if let tl0 = layers.tl0PictureIndex { data.append(tl0) }
        return data
    }
}
