public import ParleyWire

/// Strict base64url without padding (RFC 4648 §5), the text form of Parley identity keys.
///
/// Decoding accepts exactly one spelling of each byte string: only the 64 characters `A–Z a–z 0–9 - _`,
/// no padding, no white space, no length that leaves a lone 6-bit character (length ≡ 1 mod 4), and
/// zero bits in the unused low bits of the last character. Also the text form of the out-of-band offer
/// and answer blobs (Protocols/control/services.md §4).
public enum Base64URL {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Character → 6-bit value; 0xFF for every byte outside the alphabet.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in alphabet.enumerated() {
            table[Int(character)] = UInt8(value)
        }
        return table
    }()

    /// The unpadded base64url text of `bytes`.
    public static func encode(_ bytes: [UInt8]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var group: UInt32 = 0
            for (offset, byte) in chunk.enumerated() {
                group |= UInt32(byte) << UInt32(16 - 8 * offset)
            }
            for position in 0...chunk.count {
                text.append(alphabet[Int((group >> UInt32(18 - 6 * position)) & 0x3F)])
            }
            index += 3
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The bytes that `text` spells, or the first reason it is not canonical unpadded base64url.
    public static func decode(_ text: some Collection<UInt8>, field: String) throws(WireError) -> [UInt8] {
        var sextets: [UInt8] = []
        sextets.reserveCapacity(text.count)
        for (offset, character) in text.enumerated() {
            if character == UInt8(ascii: "=") {
                throw .invalidValue(field: field, reason: "padding ('=') is not allowed")
            }
            let value = values[Int(character)]
            guard value != 0xFF else {
                throw .invalidValue(field: field, reason: "byte 0x\(hexByte(character)) at offset \(offset) is not a base64url character")
            }
            sextets.append(value)
        }
        guard sextets.count % 4 != 1 else {
            throw .invalidValue(field: field, reason: "\(sextets.count) characters is not a possible unpadded base64url length")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(sextets.count * 3 / 4)
        var index = 0
        while index < sextets.count {
            let chunk = sextets[index..<min(index + 4, sextets.count)]
            var group: UInt32 = 0
            for (offset, sextet) in chunk.enumerated() {
                group |= UInt32(sextet) << UInt32(18 - 6 * offset)
            }
            let byteCount = chunk.count - 1
            for position in 0..<byteCount {
                bytes.append(UInt8(truncatingIfNeeded: group >> UInt32(16 - 8 * position)))
            }
            // The bits of the last character beyond the final byte must be zero (one spelling per value).
            let unusedBits = UInt32(24 - 8 * byteCount)
            guard group & ((1 << unusedBits) - 1) == 0 else {
                throw .invalidValue(field: field, reason: "non-canonical: the unused bits of the last character are not zero")
            }
            index += 4
        }
        return bytes
    }

    static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
