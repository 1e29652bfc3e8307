public import ParleyWire

/// A frame number and capture instant written into a picture as large black and white blocks.
///
/// The blocks survive lossy coding (VP8 at a few hundred kbit/s), so a receiver can identify every
/// decoded frame and measure latency from capture to display.
///
/// Layout: rows of square cells from the top-left corner, `cellSize` pixels each (16, or 8 below
/// 320 pixels wide), left to right then top to bottom, aligned to VP8's 16×16 macroblocks. Each cell is
/// one bit: luma 16 for 0, 235 for 1, chroma neutral. 96 bits, most significant first:
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          frame number                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          capture instant, microseconds modulo 2^48 ...        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  ... capture instant (cont.)  |  CRC-16/CCITT-FALSE of bytes 0–9 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// A cell is read as the mean of its central quarter, thresholded half way between the two levels;
/// a read whose CRC does not match yields no stamp.
public struct VideoStamp: Equatable, Hashable, Sendable {
    /// The frame's number in its stream.
    public var frameNumber: UInt32
    /// Capture instant in whole microseconds, reduced modulo 2^48 (about 8.9 years: `CLOCK_MONOTONIC`
    /// since boot always fits, so for it the instant is exact).
    public var captureInstant: MonotonicInstant

    /// A stamp for `frameNumber`; `captureInstant` is kept to the microsecond, modulo 2^48 µs.
    public init(frameNumber: UInt32, captureInstant: MonotonicInstant) {
        self.frameNumber = frameNumber
        let micros = captureInstant.microseconds & Self.instantMask
        self.captureInstant = MonotonicInstant(microseconds: micros)
    }

    private static let instantMask: Int64 = (1 << 48) - 1

    /// Number of bits a stamp occupies.
    public static let bitCount = 96
    static let blackLevel: UInt8 = 16
    static let whiteLevel: UInt8 = 235

    /// Side of one cell in pixels for a picture `width` pixels wide.
    public static func cellSize(forWidth width: Int) -> Int {
        width >= 320 ? 16 : 8
    }

    /// Pixel rows the stamp covers at the top of a picture `width` pixels wide.
    public static func height(forWidth width: Int) -> Int {
        let cell = cellSize(forWidth: width)
        let perRow = max(1, width / cell)
        return (bitCount + perRow - 1) / perRow * cell
    }

    /// Whether a stamp fits in a `width`×`height` picture, leaving at least half of it for content.
    public static func fits(width: Int, height: Int) -> Bool {
        width >= 64 && Self.height(forWidth: width) <= height / 2
    }

    /// Writes this stamp into the top rows of `frame`.
    ///
    /// - Precondition: `VideoStamp.fits(width:height:)` holds for the frame (callers check sizes once).
    public func write(into frame: inout VideoFrame) {
        precondition(Self.fits(width: frame.width, height: frame.height), "frame too small for a stamp")
        let bits = Self.bits(of: self)
        let cell = Self.cellSize(forWidth: frame.width)
        let perRow = frame.width / cell
        let stride = frame.stride(of: .y)
        frame.withMutablePlane(.y) { luma in
            let base = luma.baseAddress!
            for (index, bit) in bits.enumerated() {
                let left = (index % perRow) * cell
                let top = (index / perRow) * cell
                for row in top..<(top + cell) {
                    (base + row * stride + left).update(repeating: bit ? Self.whiteLevel : Self.blackLevel, count: cell)
                }
            }
            // Cells after the last bit in the final row stay black, so the stamp area is fixed.
            let used = bits.count
            let total = (used + perRow - 1) / perRow * perRow
            for index in used..<total {
                let left = (index % perRow) * cell
                let top = (index / perRow) * cell
                for row in top..<(top + cell) {
                    (base + row * stride + left).update(repeating: Self.blackLevel, count: cell)
                }
            }
        }
        let chromaRows = Self.height(forWidth: frame.width) / 2
        for plane in [VideoPlane.u, .v] {
            let chromaStride = frame.stride(of: plane)
            let chromaWidth = frame.width(of: plane)
            frame.withMutablePlane(plane) { chroma in
                for row in 0..<chromaRows {
                    (chroma.baseAddress! + row * chromaStride).update(repeating: 128, count: chromaWidth)
                }
            }
        }
    }

    /// Reads the stamp from the top rows of `frame`, or `nil` if there is none or it did not survive.
    public static func read(from frame: VideoFrame) -> VideoStamp? {
        guard fits(width: frame.width, height: frame.height) else { return nil }
        let cell = cellSize(forWidth: frame.width)
        let perRow = frame.width / cell
        let stride = frame.stride(of: .y)
        let threshold = (Int(blackLevel) + Int(whiteLevel)) / 2
        let inset = cell / 4
        let bits: [Bool] = frame.withPlane(.y) { luma in
            (0..<bitCount).map { index in
                let left = (index % perRow) * cell + inset
                let top = (index / perRow) * cell + inset
                var sum = 0
                for row in top..<(top + cell / 2) {
                    for column in left..<(left + cell / 2) {
                        sum += Int(luma[row * stride + column])
                    }
                }
                return sum / (cell * cell / 4) > threshold
            }
        }
        return stamp(from: bits)
    }

    static func bits(of stamp: VideoStamp) -> [Bool] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12)
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: stamp.frameNumber >> UInt32(shift)))
        }
        let micros = UInt64(bitPattern: stamp.captureInstant.microseconds)
        for shift in stride(from: 40, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: micros >> UInt64(shift)))
        }
        let crc = crc16CCITT(bytes)
        bytes.append(UInt8(crc >> 8))
        bytes.append(UInt8(crc & 0xFF))
        return bytes.flatMap { byte in (0..<8).map { byte & (0x80 >> $0) != 0 } }
    }

    static func stamp(from bits: [Bool]) -> VideoStamp? {
        guard bits.count == bitCount else { return nil }
        let bytes: [UInt8] = (0..<12).map { index in
            bits[(index * 8)..<(index * 8 + 8)].reduce(0) { ($0 << 1) | ($1 ? 1 : 0) }
        }
        guard crc16CCITT(Array(bytes[0..<10])) == UInt16(bytes[10]) << 8 | UInt16(bytes[11]) else { return nil }
        let frameNumber = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let micros = bytes[4..<10].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        return VideoStamp(frameNumber: frameNumber, captureInstant: MonotonicInstant(microseconds: micros))
    }
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR.
func crc16CCITT(_ bytes: [UInt8]) -> UInt16 {
    var crc: UInt16 = 0xFFFF
    for byte in bytes {
        crc ^= UInt16(byte) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
    }
    return crc
}
