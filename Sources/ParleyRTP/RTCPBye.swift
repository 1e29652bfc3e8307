public import ParleyWire

/// A goodbye (RFC 3550 §6.6): the listed sources are leaving, optionally saying why.
///
/// ```
///        0                   1                   2                   3
///        0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///       |V=2|P|    SC   |   PT=BYE=203  |             length            |
///       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///       |                           SSRC/CSRC                           |
///       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///       :                              ...                              :
///       +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// (opt) |     length    |               reason for leaving            ...
///       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// The reason is UTF-8 text, followed by zero bytes up to the next 32-bit boundary.
public struct RTCPBye: RTCPPacketBody {
    /// The sources leaving; at most 31 (serializing writes the first 31).
    public var sources: [SSRC]
    /// Why, if said: at most 255 UTF-8 bytes (serializing cuts longer reasons).
    public var reason: String?

    /// A goodbye from `sources`, with an optional `reason`.
    public init(sources: [SSRC], reason: String? = nil) {
        self.sources = sources
        self.reason = reason
    }

    /// Parses a BYE's content: SC sources, then an optional reason.
    public init(header: RTCPHeader, content: ArraySlice<UInt8>) throws(WireError) {
        try header.expect(packetType: RTCPHeader.bye)
        var reader = ByteReader(content)
        sources = []
        for _ in 0..<header.count {
            sources.append(SSRC(try reader.readUInt32("BYE SSRC")))
        }
        reason = nil
        guard !reader.isAtEnd else { return }
        let length = Int(try reader.readUInt8("BYE reason length"))
        guard let text = String(validating: try reader.readBytes(length, "BYE reason"), as: UTF8.self) else {
            throw .invalidValue(field: "BYE reason", reason: "not UTF-8")
        }
        reason = text
        let padding = reader.readRest()
        guard padding.count < 4, padding.allSatisfy({ $0 == 0 }) else {
            throw .lengthMismatch(field: "BYE reason padding", declared: content.count, actual: content.count - padding.count)
        }
    }

    /// SC = the number of sources, PT = 203.
    public var header: RTCPHeader {
        RTCPHeader(count: UInt8(min(sources.count, 31)), packetType: RTCPHeader.bye)
    }

    private var reasonSize: Int? {
        reason.map { min($0.utf8.count, 255) }
    }

    /// 4 per source, plus the reason with its length byte padded to a word.
    public var contentSize: Int {
        4 * min(sources.count, 31) + (reasonSize.map { ($0 + 4) / 4 * 4 } ?? 0)
    }

    /// Appends the sources and reason.
    public func serializeContent(into writer: inout ByteWriter) {
        for source in sources.prefix(31) {
            writer.writeUInt32(source.rawValue)
        }
        if let reason, let size = reasonSize {
            writer.writeUInt8(UInt8(size))
            writer.writeBytes(reason.utf8.prefix(size))
            writer.writeZeros((size + 4) / 4 * 4 - 1 - size)
        }
    }
}
