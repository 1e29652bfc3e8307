public import ParleyWire

/// One RTP header extension element (RFC 8285 §4): a local id and its data.
public struct RTPHeaderExtensionElement: Equatable, Sendable {
    /// The local identifier: 1…14 in the one-byte form, 1…255 in the two-byte form.
    public var id: UInt8
    /// The element's data: 1…16 bytes in the one-byte form, 0…255 in the two-byte form.
    public var data: ArraySlice<UInt8>

    /// The element `id` carrying `data`.
    public init(id: UInt8, data: ArraySlice<UInt8>) {
        self.id = id
        self.data = data
    }

    /// The element `id` carrying `data`.
    public init(id: UInt8, data: [UInt8]) {
        self.init(id: id, data: data[...])
    }

    /// Whether the element fits the one-byte form.
    public var fitsOneByteForm: Bool {
        (1...14).contains(id) && (1...16).contains(data.count)
    }
}

/// The header extension block of an RTP packet (RFC 3550 §5.3.1, RFC 8285).
///
/// One-byte form (profile 0xBEDE), elements packed back to back, zero bytes as padding:
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |       0xBE    |    0xDE       |           length              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  ID   |  L=len-1  |     data (L+1 bytes)    |  ID   |  L  | …
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// Two-byte form (profile 0x100 followed by 4 application bits):
/// ```
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         0x100         |appbits|           length              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      ID       |     length    |  data (length bytes) …        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// `length` counts 32-bit words after the 4-byte block header. Any other profile is kept as opaque
/// data (RFC 3550's generic extension). In the one-byte form id 15 ends parsing (RFC 8285 §4.2) and
/// a byte with id 0 is one byte of padding.
public struct RTPHeaderExtensions: Equatable, Sendable {
    /// How the block is coded.
    public enum Form: Equatable, Sendable {
        /// RFC 8285 one-byte headers (profile 0xBEDE).
        case oneByte
        /// RFC 8285 two-byte headers (profile 0x1000 | appBits).
        case twoByte(appBits: UInt8)
        /// An RFC 3550 extension with another profile; its data is in `genericData`.
        case generic(profile: UInt16)
    }

    /// The block's form. When serializing, `.oneByte` turns into `.twoByte` if an element needs it.
    public var form: Form
    /// The RFC 8285 elements, in order (empty for `.generic`).
    public var elements: [RTPHeaderExtensionElement]
    /// The opaque data of a `.generic` block (a multiple of 4 bytes).
    public var genericData: ArraySlice<UInt8>

    /// An empty block in the one-byte form.
    public init(form: Form = .oneByte, elements: [RTPHeaderExtensionElement] = []) {
        self.form = form
        self.elements = elements
        genericData = []
    }

    /// An RFC 3550 generic extension with `profile` and `data` (padded to 32 bits when serialized).
    public init(profile: UInt16, data: ArraySlice<UInt8>) {
        form = .generic(profile: profile)
        elements = []
        genericData = data
    }

    /// The data of the first element with `id`, if any.
    public subscript(id: UInt8) -> ArraySlice<UInt8>? {
        elements.first { $0.id == id }?.data
    }

    /// Replaces (or appends) the element `id` with `data`.
    public mutating func set(id: UInt8, data: ArraySlice<UInt8>) {
        if let index = elements.firstIndex(where: { $0.id == id }) {
            elements[index].data = data
        } else {
            elements.append(RTPHeaderExtensionElement(id: id, data: data))
        }
    }

    /// Removes every element with `id`.
    public mutating func remove(id: UInt8) {
        elements.removeAll { $0.id == id }
    }

    /// Whether serializing writes no extension block at all (no elements, not generic).
    public var isEmptyOnWire: Bool {
        if case .generic = form { return false }
        return elements.isEmpty
    }

    /// The form serializing will use: one-byte unless an element does not fit it.
    public var effectiveForm: Form {
        switch form {
        case .oneByte:
            return elements.allSatisfy(\.fitsOneByteForm) ? .oneByte : .twoByte(appBits: 0)
        case .twoByte, .generic:
            return form
        }
    }

    /// Reads the block (4-byte header and data) from the front of `reader`.
    init(reading reader: inout ByteReader) throws(WireError) {
        let profile = try reader.readUInt16("extension profile")
        let words = Int(try reader.readUInt16("extension length"))
        guard reader.remaining >= words * 4 else {
            throw .truncated(field: "header extension", needed: words * 4, available: reader.remaining)
        }
        let data = try reader.readBytes(words * 4, "header extension")
        genericData = []
        elements = []
        if profile == 0xBEDE {
            form = .oneByte
            elements = try Self.parseOneByte(data)
        } else if profile & 0xFFF0 == 0x1000 {
            form = .twoByte(appBits: UInt8(profile & 0x0F))
            elements = try Self.parseTwoByte(data)
        } else {
            form = .generic(profile: profile)
            genericData = data
        }
    }

    private static func parseOneByte(_ data: ArraySlice<UInt8>) throws(WireError) -> [RTPHeaderExtensionElement] {
        var reader = ByteReader(data)
        var elements: [RTPHeaderExtensionElement] = []
        while !reader.isAtEnd {
            let byte = try reader.readUInt8("one-byte extension header")
            let id = byte >> 4
            if id == 0 { continue }  // a padding byte (id 0 is never an element, whatever its L bits)
            if id == 15 { break }  // reserved: stop parsing
            let length = Int(byte & 0x0F) + 1
            elements.append(RTPHeaderExtensionElement(id: id, data: try reader.readBytes(length, "one-byte extension data")))
        }
        return elements
    }

    private static func parseTwoByte(_ data: ArraySlice<UInt8>) throws(WireError) -> [RTPHeaderExtensionElement] {
        var reader = ByteReader(data)
        var elements: [RTPHeaderExtensionElement] = []
        while !reader.isAtEnd {
            let id = try reader.readUInt8("two-byte extension id")
            if id == 0 { continue }  // padding
            let length = Int(try reader.readUInt8("two-byte extension length"))
            elements.append(RTPHeaderExtensionElement(id: id, data: try reader.readBytes(length, "two-byte extension data")))
        }
        return elements
    }

    /// Bytes of the block on the wire (4-byte header plus data padded to 32 bits); 0 if empty.
    public var serializedSize: Int {
        isEmptyOnWire ? 0 : 4 + Self.padded(dataSize)
    }

    private var dataSize: Int {
        switch effectiveForm {
        case .oneByte: elements.reduce(0) { $0 + 1 + $1.data.count }
        case .twoByte: elements.reduce(0) { $0 + 2 + min(255, $1.data.count) }
        case .generic: genericData.count
        }
    }

    private static func padded(_ size: Int) -> Int { (size + 3) / 4 * 4 }

    /// Appends the block to `writer` (nothing if `isEmptyOnWire`).
    ///
    /// Elements that fit no form are clamped: ids are kept in 1…255 and data to 255 bytes; callers
    /// build elements through typed extensions, which always fit.
    func serialize(into writer: inout ByteWriter) {
        guard !isEmptyOnWire else { return }
        let form = effectiveForm
        let size = dataSize
        switch form {
        case .oneByte: writer.writeUInt16(0xBEDE)
        case .twoByte(let appBits): writer.writeUInt16(0x1000 | UInt16(appBits & 0x0F))
        case .generic(let profile): writer.writeUInt16(profile)
        }
        writer.writeUInt16(UInt16(Self.padded(size) / 4))
        switch form {
        case .oneByte:
            for element in elements {
                writer.writeUInt8(element.id << 4 | UInt8(element.data.count - 1))
                writer.writeBytes(element.data)
            }
        case .twoByte:
            for element in elements {
                writer.writeUInt8(element.id)
                writer.writeUInt8(UInt8(min(255, element.data.count)))
                writer.writeBytes(element.data.prefix(255))
            }
        case .generic:
            writer.writeBytes(genericData)
        }
        writer.writeZeros(Self.padded(size) - size)
    }
}
