public import ParleyWire

/// One record of a pairwise-channel plaintext (Protocols/peer/channel.md §5): a session message with its
/// id, an acknowledgement, a keep-alive, or a record of a type this version does not know.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |R|    type     |         length (bytes of value)       | value…
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// R = 1 (reliable): value = message id (32 bits) ‖ body; the receiver acknowledges the id.
/// R = 0: value = body.
///
/// type byte  record                     body
/// 0x00       padding: ends the records; every remaining byte of the plaintext is 0x00
/// 0x01       keep-alive                 (empty)
/// 0x02       acknowledgement            message id (32) × n, n ≥ 1
/// 0x81       sender key announcement    opaque announcement (v1.md §2)
/// 0x82       sender key acknowledgement SSRC (32) ‖ KID (64)
/// 0x83       hang-up                    reason code (16)
/// 0x84       media state                flags (8): bit 0 (0x01) audio muted, bit 1 (0x02) video on
/// ```
///
/// Receivers skip records of unknown types (acknowledging them if R = 1) and ignore bytes after the
/// fields they know in keep-alive, sender key acknowledgement, hang-up and media state bodies, so later
/// versions can add types and fields. A plaintext is a sequence of records, optionally followed by
/// padding.
public enum SessionMessageRecord: Equatable, Sendable {
    /// A keep-alive: says nothing, keeps the path and the peer's view of liveness fresh.
    case keepAlive
    /// Acknowledges reliable messages by id.
    case acknowledgement([SessionMessageID])
    /// A reliable session message with its id.
    case message(SessionMessageID, SessionMessage)
    /// A record whose type this version does not know, as parsed: acknowledged if it carries a message
    /// id (R = 1), never delivered.
    case unknown(type: UInt8, messageID: SessionMessageID?, body: [UInt8])

    /// Type bytes (the top bit is R, "reliable: carries a message id").
    public enum TypeCode {
        /// Padding: the rest of the plaintext is zero bytes.
        public static let padding: UInt8 = 0x00
        /// Keep-alive.
        public static let keepAlive: UInt8 = 0x01
        /// Acknowledgement of reliable messages.
        public static let acknowledgement: UInt8 = 0x02
        /// Sender key announcement (reliable).
        public static let senderKeyAnnouncement: UInt8 = 0x81
        /// Sender key acknowledgement (reliable).
        public static let senderKeyAcknowledgement: UInt8 = 0x82
        /// Hang-up (reliable).
        public static let hangUp: UInt8 = 0x83
        /// Media state (reliable).
        public static let mediaState: UInt8 = 0x84
        /// The R bit: the value starts with a 32-bit message id and the record is acknowledged.
        public static let reliableBit: UInt8 = 0x80
    }

    /// Bytes before the value: type (8) and length (16).
    public static let headerSize = 3
    /// The most value bytes a record can carry (the length is 16 bits).
    public static let maximumValueSize = Int(UInt16.max)

    /// The record's message id, if it is reliable (a message, or an unknown type with R = 1).
    public var messageID: SessionMessageID? {
        switch self {
        case .message(let id, _): id
        case .unknown(_, let id, _): id
        case .keepAlive, .acknowledgement: nil
        }
    }

    /// Reads one record from the front of `reader`.
    ///
    /// - Throws: `WireError` naming the field that is truncated or invalid; the padding type (0x00) is
    ///   not a record, so `parsePlaintext(_:)` handles it and this refuses it.
    public init(reading reader: inout ByteReader) throws(WireError) {
        let type = try reader.readUInt8("record type")
        guard type != TypeCode.padding else {
            throw .invalidValue(field: "record type", reason: "0x00 is padding, not a record")
        }
        let length = Int(try reader.readUInt16("record length"))
        var value = ByteReader(try reader.readBytes(length, "record value"))
        var id: SessionMessageID?
        if type & TypeCode.reliableBit != 0 {
            id = SessionMessageID(try value.readUInt32("message id"))
        }
        switch type {
        case TypeCode.keepAlive:
            self = .keepAlive
        case TypeCode.acknowledgement:
            guard length > 0, length % 4 == 0 else {
                throw .invalidValue(field: "acknowledgement length", reason: "must be a positive multiple of 4, got \(length)")
            }
            var ids: [SessionMessageID] = []
            ids.reserveCapacity(length / 4)
            while !value.isAtEnd {
                ids.append(SessionMessageID(try value.readUInt32("acknowledged message id")))
            }
            self = .acknowledgement(ids)
        case TypeCode.senderKeyAnnouncement:
            self = .message(id!, .senderKeyAnnouncement(Array(value.readRest())))
        case TypeCode.senderKeyAcknowledgement:
            let ssrc = SSRC(try value.readUInt32("acknowledged SSRC"))
            let keyID = try value.readUInt64("acknowledged KID")
            self = .message(id!, .senderKeyAcknowledgement(ssrc: ssrc, keyID: keyID))
        case TypeCode.hangUp:
            let reason = SessionMessage.HangUpReason(rawValue: try value.readUInt16("hang-up reason"))
            self = .message(id!, .hangUp(reason))
        case TypeCode.mediaState:
            let flags = try value.readUInt8("media state flags")
            self = .message(id!, .mediaState(.init(audioMuted: flags & 0x01 != 0, videoEnabled: flags & 0x02 != 0)))
        default:
            self = .unknown(type: type, messageID: id, body: Array(value.readRest()))
        }
    }

    /// Parses a whole plaintext: records up to its end or up to padding, which must be all zero bytes.
    ///
    /// - Throws: `WireError` for the first record that does not parse, or non-zero padding.
    public static func parsePlaintext(_ bytes: ArraySlice<UInt8>) throws(WireError) -> [SessionMessageRecord] {
        var reader = ByteReader(bytes)
        var records: [SessionMessageRecord] = []
        while !reader.isAtEnd {
            if try reader.peekUInt8("record type") == TypeCode.padding {
                guard reader.readRest().allSatisfy({ $0 == 0 }) else {
                    throw .invalidValue(field: "padding", reason: "padding bytes must be zero")
                }
                break
            }
            records.append(try SessionMessageRecord(reading: &reader))
        }
        return records
    }

    /// Parses a whole plaintext.
    public static func parsePlaintext(_ bytes: [UInt8]) throws(WireError) -> [SessionMessageRecord] {
        try parsePlaintext(bytes[...])
    }

    /// The type byte this record is sent with.
    public var typeCode: UInt8 {
        switch self {
        case .keepAlive: TypeCode.keepAlive
        case .acknowledgement: TypeCode.acknowledgement
        case .message(_, let message):
            switch message {
            case .senderKeyAnnouncement: TypeCode.senderKeyAnnouncement
            case .senderKeyAcknowledgement: TypeCode.senderKeyAcknowledgement
            case .hangUp: TypeCode.hangUp
            case .mediaState: TypeCode.mediaState
            }
        case .unknown(let type, _, _): type
        }
    }

    /// Bytes of the value (after the 3-byte header).
    public var valueSize: Int {
        switch self {
        case .keepAlive: 0
        case .acknowledgement(let ids): 4 * ids.count
        case .message(_, let message):
            switch message {
            case .senderKeyAnnouncement(let body): 4 + body.count
            case .senderKeyAcknowledgement: 4 + 12
            case .hangUp: 4 + 2
            case .mediaState: 4 + 1
            }
        case .unknown(_, let id, let body): (id == nil ? 0 : 4) + body.count
        }
    }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int { Self.headerSize + valueSize }

    /// The record as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the record to `writer`.
    ///
    /// - Precondition: the value fits the 16-bit length (the channel refuses larger messages first); an
    ///   `.unknown` record has a non-zero type and a message id exactly when its R bit is set.
    public func serialize(into writer: inout ByteWriter) {
        precondition(valueSize <= Self.maximumValueSize, "a session record value is at most 65535 bytes")
        if case .unknown(let type, let id, _) = self {
            precondition(type != TypeCode.padding && (type & TypeCode.reliableBit != 0) == (id != nil),
                "an unknown record has a message id exactly when its R bit is set")
        }
        writer.writeUInt8(typeCode)
        writer.writeUInt16(UInt16(valueSize))
        if let id = messageID { writer.writeUInt32(id.rawValue) }
        switch self {
        case .keepAlive:
            break
        case .acknowledgement(let ids):
            for id in ids { writer.writeUInt32(id.rawValue) }
        case .message(_, let message):
            switch message {
            case .senderKeyAnnouncement(let body):
                writer.writeBytes(body)
            case .senderKeyAcknowledgement(let ssrc, let keyID):
                writer.writeUInt32(ssrc.rawValue)
                writer.writeUInt64(keyID)
            case .hangUp(let reason):
                writer.writeUInt16(reason.rawValue)
            case .mediaState(let state):
                writer.writeUInt8((state.audioMuted ? 0x01 : 0) | (state.videoEnabled ? 0x02 : 0))
            }
        case .unknown(_, _, let body):
            writer.writeBytes(body)
        }
    }
}
