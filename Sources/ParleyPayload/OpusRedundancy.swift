/// Finds whether an Opus packet carries in-band forward error correction (LBRR) for the packet before it.
///
/// libopus 1.3 has no call for this, so it is read from the packet itself: the first Opus frame's SILK
/// layer starts with, for each coded channel (mid, then side for stereo), one VAD flag per SILK frame
/// (one for 10 and 20 ms, two for 40 ms, three for 60 ms) and then one LBRR flag, each coded with the
/// range coder at probability ½ (RFC 6716 §4.2.3–§4.2.4). libopus recovers a loss from the first frame
/// of the next packet only, so only that frame is read. CELT-only packets have no SILK layer and so no
/// LBRR; a zero-length frame (discontinuous transmission) has none either.
///
/// Input is wire data: every malformed packet gives `false`, nothing traps.
public enum OpusRedundancy {
    /// Whether `packet`'s first Opus frame carries LBRR data for the previous packet.
    public static func containsRedundancy(_ packet: ArraySlice<UInt8>) -> Bool {
        guard let first = firstFrame(of: packet), !first.frame.isEmpty else { return false }
        let toc = first.toc
        guard toc.mode != .celt else { return false }
        let silkFrames = max(1, toc.samplesPerFrame / 960)  // 10 ms and 20 ms: 1; 40 ms: 2; 60 ms: 3
        var decoder = RangeDecoder(first.frame)
        for _ in 0..<(toc.isStereo ? 2 : 1) {
            for _ in 0..<silkFrames { _ = decoder.decodeEvenBit() }  // VAD flags
            if decoder.decodeEvenBit() { return true }  // LBRR flag
        }
        return false
    }

    /// Whether `packet`'s first Opus frame carries LBRR data for the previous packet.
    public static func containsRedundancy(_ packet: [UInt8]) -> Bool {
        containsRedundancy(packet[...])
    }

    /// The TOC and the bytes of the first frame (RFC 6716 §3.2), or nil if the packet is malformed.
    static func firstFrame(of packet: ArraySlice<UInt8>) -> (toc: OpusTOC, frame: ArraySlice<UInt8>)? {
        guard let tocByte = packet.first else { return nil }
        let toc = OpusTOC(tocByte)
        var index = packet.startIndex + 1
        let end = packet.endIndex
        /// A frame length (§3.2.1): one byte below 252, else two bytes.
        func readLength() -> Int? {
            guard index < end else { return nil }
            let first = Int(packet[index])
            index += 1
            guard first >= 252 else { return first }
            guard index < end else { return nil }
            let second = Int(packet[index])
            index += 1
            return first + 4 * second
        }
        switch toc.frameCountCode {
        case 0:
            return (toc, packet[index..<end])
        case 1:
            let remaining = end - index
            guard remaining % 2 == 0 else { return nil }
            return (toc, packet[index..<(index + remaining / 2)])
        case 2:
            guard let length = readLength(), length <= end - index else { return nil }
            return (toc, packet[index..<(index + length)])
        default:
            guard index < end else { return nil }
            let countByte = packet[index]
            index += 1
            let count = Int(countByte & 0x3F)
            let isVariable = countByte & 0x80 != 0
            let hasPadding = countByte & 0x40 != 0
            guard count > 0 else { return nil }
            var padding = 0
            if hasPadding {
                // §3.2.5: each 255 adds 254 bytes of padding and continues; a lower value ends.
                while true {
                    guard index < end else { return nil }
                    let value = Int(packet[index])
                    index += 1
                    padding += value == 255 ? 254 : value
                    if value != 255 { break }
                }
            }
            let available = end - index - padding
            guard available >= 0 else { return nil }
            if isVariable {
                var lengths: [Int] = []
                for _ in 0..<(count - 1) {
                    guard let length = readLength() else { return nil }
                    lengths.append(length)
                }
                let firstLength = count == 1 ? end - index - padding : lengths[0]
                guard firstLength >= 0, firstLength <= end - index - padding else { return nil }
                return (toc, packet[index..<(index + firstLength)])
            }
            guard available % count == 0 else { return nil }
            return (toc, packet[index..<(index + available / count)])
        }
    }
}

/// The start of the RFC 6716 §4.1 range decoder: enough to read symbols of probability ½.
///
/// Bytes past the end of the frame read as zero, as the RFC specifies.
struct RangeDecoder {
    private let bytes: ArraySlice<UInt8>
    private var offset: Int
    private var range: UInt32
    private var value: UInt32
    /// The last byte read; its low bit is the first bit of the next symbol (§4.1.1).
    private var previous: UInt32

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        offset = bytes.startIndex
        previous = 0
        range = 128
        value = 0
        previous = nextByte()
        value = 127 - (previous >> 1)
        normalize()
    }

    private mutating func nextByte() -> UInt32 {
        guard offset < bytes.endIndex else { return 0 }
        defer { offset += 1 }
        return UInt32(bytes[offset])
    }

    /// §4.1.2.1: keeps `range` above 2^23, shifting in one byte (less its first bit) at a time.
    private mutating func normalize() {
        while range <= 1 << 23 {
            range <<= 8
            let byte = nextByte()
            let symbol = ((previous << 7) | (byte >> 1)) & 0xFF
            value = ((value << 8) &+ (255 - symbol)) & 0x7FFF_FFFF
            previous = byte
        }
    }

    /// One binary symbol coded with a probability of ½ for each value (§4.1.3.2 with logp = 1).
    mutating func decodeEvenBit() -> Bool {
        let half = range >> 1
        let bit = value < half
        if bit {
            range = half
        } else {
            value -= half
            range -= half
        }
        normalize()
        return bit
    }
}
