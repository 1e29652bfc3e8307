public import ParleyWire

/// The 16-byte id of a call, chosen at random by the caller and bound into the handshake's prologue
/// (Protocols/peer/handshake.md §2).
public struct CallID: Hashable, Sendable, CustomStringConvertible {
    /// Bytes in a call id.
    public static let byteCount = 16

    /// The 16 bytes as sent.
    public let bytes: [UInt8]

    /// The call id `bytes`, or nil unless there are exactly 16.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    /// A new call id from `generator` (use the system's generator, the default, outside tests).
    public static func random<Generator: RandomNumberGenerator>(using generator: inout Generator) -> CallID {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        for _ in 0..<byteCount {
            bytes.append(UInt8.random(in: .min ... .max, using: &generator))
        }
        return CallID(unchecked: bytes)
    }

    /// A new call id from the system's cryptographically secure generator.
    public static func random() -> CallID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    private init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The id in lower-case hex.
    public var description: String { noiseHexString(bytes) }
}

/// The wall-clock time an initiator put in its handshake initiation: nanoseconds since
/// 1970-01-01T00:00:00Z, UTC, not counting leap seconds (POSIX time), sent as 8 bytes big-endian.
///
/// Only the responder's replay rule reads it (handshake.md §5). Nothing in the sans-IO core reads a
/// clock: the runtime passes the initiator's `now` and the responder's `now` in.
public struct HandshakeTimestamp: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the Unix epoch.
    public var rawValue: UInt64

    /// The timestamp `rawValue` nanoseconds after the Unix epoch.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The timestamp `nanoseconds` after the Unix epoch.
    public init(nanosecondsSinceUnixEpoch nanoseconds: UInt64) {
        rawValue = nanoseconds
    }

    /// Bytes on the wire.
    public static let byteCount = 8

    public static func < (lhs: HandshakeTimestamp, rhs: HandshakeTimestamp) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Seconds and nanoseconds since the epoch, e.g. `1735689600.000000000`.
    public var description: String {
        let fraction = String(rawValue % 1_000_000_000)
        return "\(rawValue / 1_000_000_000)." + String(repeating: "0", count: 9 - fraction.count) + fraction
    }
}

/// A handshake initiation datagram (first byte 0x04): Noise IK message 1 behind a 24-byte header
/// (Protocols/peer/handshake.md §3).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  type = 0x04  |            reserved (3 bytes, zero)           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        initiator index                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                      call id (16 bytes)                       |
/// +                                                               +
/// |                                                               |
/// +                                                               +
/// |                                                               |
/// +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+  offset 24: Noise message 1
/// |        initiator ephemeral public key e (32 bytes)            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  offset 56
/// |  encrypted initiator static key s (32 bytes) ‖ tag (16 bytes) |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  offset 104
/// |  encrypted payload: timestamp (8) ‖ offer (n) ‖ tag (16)      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The parser checks the header and the Noise message's size bounds (104…65 535 bytes); the
/// cryptography is `HandshakeResponder`'s.
public struct HandshakeInitiation: Equatable, Sendable {
    /// The first byte.
    public static let type: UInt8 = 0x04
    /// Bytes before the Noise message.
    public static let headerSize = 24
    /// The smallest Noise message 1: e (32), encrypted s (48), encrypted timestamp (8 + 16).
    public static let minimumNoiseMessageSize = 32 + 48 + HandshakeTimestamp.byteCount + 16
    /// The largest Noise message (Noise rev 34 §3).
    public static let maximumNoiseMessageSize = 65_535
    /// The largest offer that fits.
    public static let maximumOfferSize = maximumNoiseMessageSize - minimumNoiseMessageSize

    /// The index the initiator picked for its end of the call.
    public var initiatorIndex: UInt32
    /// The call this handshake sets up.
    public var callID: CallID
    /// Noise IK message 1.
    public var noiseMessage: ArraySlice<UInt8>

    /// An initiation with these fields.
    public init(initiatorIndex: UInt32, callID: CallID, noiseMessage: ArraySlice<UInt8>) {
        self.initiatorIndex = initiatorIndex
        self.callID = callID
        self.noiseMessage = noiseMessage
    }

    /// Parses an initiation datagram; the Noise message shares `bytes`' storage.
    ///
    /// - Throws: `WireError` naming the field: a wrong type, non-zero reserved bytes, a Noise message
    ///   shorter than 104 or longer than 65 535 bytes.
    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(bytes)
        try reader.readDatagramStart(expecting: Self.type, field: "type") { "expected 0x04 (handshake initiation), got \($0)" }
        initiatorIndex = try reader.readUInt32("initiator index")
        guard let callID = CallID(bytes: try reader.readBytes(CallID.byteCount, "call id")) else {
            throw .truncated(field: "call id", needed: CallID.byteCount, available: 0)  // readBytes gave 16
        }
        self.callID = callID
        let message = reader.readRest()
        guard message.count >= Self.minimumNoiseMessageSize else {
            throw .truncated(field: "Noise message 1", needed: Self.minimumNoiseMessageSize, available: message.count)
        }
        guard message.count <= Self.maximumNoiseMessageSize else {
            throw .invalidValue(
                field: "Noise message 1", reason: "\(message.count) bytes, at most \(Self.maximumNoiseMessageSize)")
        }
        noiseMessage = message
    }

    /// Parses an initiation datagram.
    public init(parsing bytes: [UInt8]) throws(WireError) {
        try self.init(parsing: bytes[...])
    }

    /// The 24-byte header as sent: type, reserved, initiator index, call id.
    public var header: [UInt8] {
        var writer = ByteWriter(capacity: Self.headerSize)
        writeHeader(into: &writer)
        return writer.bytes
    }

    /// The protocol label that starts the prologue: ASCII `parley/1` (protocol version 1).
    public static let prologueLabel: [UInt8] = Array("parley/1".utf8)

    /// The Noise prologue of this handshake (handshake.md §2): `parley/1` ‖ the 24-byte header. It binds
    /// the protocol version, the call id and the initiator index into the handshake hash.
    public var prologue: [UInt8] { Self.prologueLabel + header }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int { Self.headerSize + noiseMessage.count }

    /// The datagram as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the datagram to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        writeHeader(into: &writer)
        writer.writeBytes(noiseMessage)
    }

    private func writeHeader(into writer: inout ByteWriter) {
        writer.writeUInt8(Self.type)
        writer.writeUInt24(0)
        writer.writeUInt32(initiatorIndex)
        writer.writeBytes(callID.bytes)
    }
}

/// A handshake response datagram (first byte 0x05): Noise IK message 2 behind a 12-byte header
/// (Protocols/peer/handshake.md §4).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  type = 0x05  |            reserved (3 bytes, zero)           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        responder index                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 initiator index (echoed)                      |
/// +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+  offset 12: Noise message 2
/// |        responder ephemeral public key e (32 bytes)            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  offset 44
/// | encrypted payload: responder index (4) ‖ answer (n) ‖ tag (16)|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct HandshakeResponse: Equatable, Sendable {
    /// The first byte.
    public static let type: UInt8 = 0x05
    /// Bytes before the Noise message.
    public static let headerSize = 12
    /// The smallest Noise message 2: e (32), encrypted responder index (4 + 16).
    public static let minimumNoiseMessageSize = 32 + 4 + 16
    /// The largest Noise message (Noise rev 34 §3).
    public static let maximumNoiseMessageSize = 65_535
    /// The largest answer that fits.
    public static let maximumAnswerSize = maximumNoiseMessageSize - minimumNoiseMessageSize

    /// The index the responder picked for its end of the call.
    public var responderIndex: UInt32
    /// The initiator's index, echoed: the initiator finds its handshake by it.
    public var initiatorIndex: UInt32
    /// Noise IK message 2.
    public var noiseMessage: ArraySlice<UInt8>

    /// A response with these fields.
    public init(responderIndex: UInt32, initiatorIndex: UInt32, noiseMessage: ArraySlice<UInt8>) {
        self.responderIndex = responderIndex
        self.initiatorIndex = initiatorIndex
        self.noiseMessage = noiseMessage
    }

    /// Parses a response datagram; the Noise message shares `bytes`' storage.
    ///
    /// - Throws: `WireError` naming the field: a wrong type, non-zero reserved bytes, a Noise message
    ///   shorter than 52 or longer than 65 535 bytes.
    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        var reader = ByteReader(bytes)
        try reader.readDatagramStart(expecting: Self.type, field: "type") { "expected 0x05 (handshake response), got \($0)" }
        responderIndex = try reader.readUInt32("responder index")
        initiatorIndex = try reader.readUInt32("initiator index")
        let message = reader.readRest()
        guard message.count >= Self.minimumNoiseMessageSize else {
            throw .truncated(field: "Noise message 2", needed: Self.minimumNoiseMessageSize, available: message.count)
        }
        guard message.count <= Self.maximumNoiseMessageSize else {
            throw .invalidValue(
                field: "Noise message 2", reason: "\(message.count) bytes, at most \(Self.maximumNoiseMessageSize)")
        }
        noiseMessage = message
    }

    /// Parses a response datagram.
    public init(parsing bytes: [UInt8]) throws(WireError) {
        try self.init(parsing: bytes[...])
    }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int { Self.headerSize + noiseMessage.count }

    /// The datagram as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the datagram to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        writer.writeUInt8(Self.type)
        writer.writeUInt24(0)
        writer.writeUInt32(responderIndex)
        writer.writeUInt32(initiatorIndex)
        writer.writeBytes(noiseMessage)
    }
}
