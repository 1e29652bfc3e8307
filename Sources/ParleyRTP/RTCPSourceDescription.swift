public import ParleyWire

/// Source description items (RFC 3550 §6.5): one chunk per source, each a list of items such as CNAME.
///
/// ```
///         0                   1                   2                   3
///         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// header |V=2|P|    SC   |  PT=SDES=202  |             length            |
///        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// chunk  |                          SSRC/CSRC_1                          |
///   1    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///        |                           SDES items                          |
///        |                              ...                              |
///        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// chunk  |                          SSRC/CSRC_2                          |
///   2    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///        |                           SDES items                          |
///        |                              ...                              |
///        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
///
/// item:   0                   1                   2                   3
///         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///        |    CNAME=1    |     length    | user and domain name        ...
///        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// A chunk's items end with one or more zero bytes (an item type of 0, then zeros up to the next
/// 32-bit boundary), so every chunk starts on a word boundary.
public struct RTCPSourceDescription: RTCPPacketBody {
    /// The chunks, one per source; at most 31 (serializing writes the first 31).
    public var chunks: [Chunk]

    /// A description made of `chunks`.
    public init(chunks: [Chunk]) {
        self.chunks = chunks
    }

    /// The items describing one source.
    public struct Chunk: Equatable, Sendable {
        /// The source described.
        public var source: SSRC
        /// Its items, in order.
        public var items: [Item]

        /// A chunk for `source` with `items`.
        public init(source: SSRC, items: [Item]) {
            self.source = source
            self.items = items
        }

        /// The first CNAME item, if any.
        public var cname: String? {
            for case .cname(let name) in items { return name }
            return nil
        }

        /// Bytes on the wire: SSRC, items, and the terminating zeros up to a word boundary.
        var size: Int {
            4 + (items.reduce(0) { $0 + 2 + $1.valueSize } + 4) / 4 * 4
        }
    }

    /// One SDES item: a CNAME, decoded, or any other item kept as its type and bytes.
    ///
    /// A value holds at most 255 bytes; serializing cuts longer ones. `.other` must not use type 0,
    /// which ends a chunk's item list.
    public enum Item: Equatable, Sendable {
        /// The canonical name (item type 1), which ties a participant's streams together.
        case cname(String)
        /// Any other item (NAME 2, EMAIL 3, PHONE 4, LOC 5, TOOL 6, NOTE 7, PRIV 8, …) as sent.
        case other(type: UInt8, value: ArraySlice<UInt8>)

        /// The item type on the wire.
        public var type: UInt8 {
            switch self {
            case .cname: 1
            case .other(let type, _): type
            }
        }

        var valueSize: Int {
            switch self {
            case .cname(let name): min(name.utf8.count, 255)
            case .other(_, let value): min(value.count, 255)
            }
        }

        func write(into writer: inout ByteWriter) {
            writer.writeUInt8(type)
            writer.writeUInt8(UInt8(valueSize))
            switch self {
            case .cname(let name): writer.writeBytes(name.utf8.prefix(255))
            case .other(_, let value): writer.writeBytes(value.prefix(255))
            }
        }
    }

    /// Parses an SDES packet's content: exactly SC chunks.
    public init(header: RTCPHeader, content: ArraySlice<UInt8>) throws(WireError) {
        try header.expect(packetType: RTCPHeader.sourceDescription)
        var reader = ByteReader(content)
        chunks = []
        for _ in 0..<header.count {
            let chunkStart = reader.position
            let source = SSRC(try reader.readUInt32("SDES chunk SSRC"))
            var items: [Item] = []
            while true {
                let type = try reader.readUInt8("SDES item type")
                if type == 0 { break }
                let length = Int(try reader.readUInt8("SDES item length"))
                let value = try reader.readBytes(length, "SDES item value")
                if type == 1 {
                    guard let name = String(validating: value, as: UTF8.self) else {
                        throw .invalidValue(field: "SDES CNAME", reason: "not UTF-8")
                    }
                    items.append(.cname(name))
                } else {
                    items.append(.other(type: type, value: value))
                }
            }
            let terminator = try reader.readBytes((4 - (reader.position - chunkStart) % 4) % 4, "SDES chunk padding")
            guard terminator.allSatisfy({ $0 == 0 }) else {
                throw .invalidValue(field: "SDES chunk padding", reason: "must be zero bytes")
            }
            chunks.append(Chunk(source: source, items: items))
        }
        try reader.expectEndOfRTCPContent(content, "SDES source count")
    }

    /// SC = the number of chunks, PT = 202.
    public var header: RTCPHeader {
        RTCPHeader(count: UInt8(min(chunks.count, 31)), packetType: RTCPHeader.sourceDescription)
    }

    /// The chunks' sizes.
    public var contentSize: Int {
        chunks.prefix(31).reduce(0) { $0 + $1.size }
    }

    /// Appends the chunks.
    public func serializeContent(into writer: inout ByteWriter) {
        for chunk in chunks.prefix(31) {
            let start = writer.count
            writer.writeUInt32(chunk.source.rawValue)
            for item in chunk.items {
                item.write(into: &writer)
            }
            writer.writeZeros(chunk.size - (writer.count - start))
        }
    }
}
