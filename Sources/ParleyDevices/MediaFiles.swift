import Glibc
public import ParleyMedia
import ParleyWire

/// A file written sequentially through stdio, closed once.
final class OutputFile {
    let path: String
    private var handle: UnsafeMutablePointer<FILE>?

    init(creating path: String) throws(DeviceError) {
        guard let handle = fopen(path, "wb") else {
            throw .system(call: "fopen \(path)", code: errno, detail: String(cString: strerror(errno)))
        }
        self.path = path
        self.handle = handle
    }

    deinit { close() }

    func write(_ bytes: UnsafeRawBufferPointer) throws(DeviceError) {
        guard append(bytes) else {
            throw .system(call: "fwrite \(path)", code: errno, detail: String(cString: strerror(errno)))
        }
    }

    /// Appends `bytes`; false (errno set) if they were not all written.
    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let handle, bytes.count > 0 else { return true }
        return fwrite(bytes.baseAddress, 1, bytes.count, handle) == bytes.count
    }

    func write(_ bytes: [UInt8]) throws(DeviceError) {
        guard bytes.withUnsafeBytes({ append($0) }) else {
            throw .system(call: "fwrite \(path)", code: errno, detail: String(cString: strerror(errno)))
        }
    }

    /// Writes `bytes` at `offset` from the start, then returns to the end.
    func patch(_ bytes: [UInt8], at offset: Int) throws(DeviceError) {
        guard let handle else { return }
        fflush(handle)
        fseek(handle, offset, SEEK_SET)
        try write(bytes)
        fseek(handle, 0, SEEK_END)
    }

    func close() {
        if let handle { fclose(handle) }
        handle = nil
    }
}

/// Records video frames as YUV4MPEG2 (`.y4m`): a text header, then each frame as `FRAME\n` and its
/// I420 planes without padding — the format every video tool reads (ffmpeg, mpv, GStreamer).
///
/// The header names the size of the first frame and the nominal rate; a frame of another size is
/// refused (Y4M cannot change size mid-stream), so a recorder starts a new file instead.
public final class Y4MRecorder {
    /// The file's path.
    public let path: String
    /// The frame size in the header.
    public let width: Int, height: Int
    /// Frames written so far.
    public private(set) var framesWritten = 0
    private let file: OutputFile

    /// Creates (or truncates) `path` for frames of `width`×`height` at `frameRate` frames per second.
    public init(path: String, width: Int, height: Int, frameRate: Int) throws(DeviceError) {
        file = try OutputFile(creating: path)
        self.path = path
        self.width = width
        self.height = height
        try file.write(Array("YUV4MPEG2 W\(width) H\(height) F\(max(1, frameRate)):1 Ip A1:1 C420jpeg\n".utf8))
    }

    /// Appends `frame`.
    ///
    /// - Throws: `DeviceError.unsupported` for a frame of another size; `.system` if writing fails.
    public func write(_ frame: VideoFrame) throws(DeviceError) {
        guard frame.width == width, frame.height == height else {
            throw .unsupported(device: path, reason: "frame of \(frame.width)x\(frame.height) in a \(width)x\(height) recording")
        }
        try file.write(Array("FRAME\n".utf8))
        for plane in VideoPlane.allCases {
            let rowBytes = frame.width(of: plane)
            let stride = frame.stride(of: plane)
            let rows = frame.height(of: plane)
            let written = frame.withPlane(plane) { bytes in
                (0..<rows).allSatisfy { row in
                    file.append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[(row * stride)..<(row * stride + rowBytes)]))
                }
            }
            guard written else {
                throw .system(call: "fwrite \(path)", code: errno, detail: String(cString: strerror(errno)))
            }
        }
        framesWritten += 1
    }

    /// Flushes and closes the file.
    public func close() { file.close() }
}

/// Reads a YUV4MPEG2 file written as `Y4MRecorder` writes them (4:2:0, progressive).
public struct Y4MReader {
    /// Frame width and height from the header.
    public let width: Int, height: Int
    /// The nominal frame rate from the header (numerator / denominator).
    public let frameRate: Double
    private let bytes: [UInt8]
    private var offset: Int

    /// Reads `path` whole.
    ///
    /// - Throws: `DeviceError.notFound` if it cannot be read; `.unsupported` if it is not 4:2:0 Y4M.
    public init(path: String) throws(DeviceError) {
        let data = try readWholeFile(path)
        guard let newline = data.firstIndex(of: 0x0A) else { throw .unsupported(device: path, reason: "no Y4M header") }
        let header = String(decoding: data[..<newline], as: UTF8.self).split(separator: " ")
        guard header.first == "YUV4MPEG2" else { throw .unsupported(device: path, reason: "not YUV4MPEG2") }
        var width = 0, height = 0, rate = 30.0
        for field in header.dropFirst() {
            let value = field.dropFirst()
            switch field.first {
            case "W": width = Int(value) ?? 0
            case "H": height = Int(value) ?? 0
            case "F":
                let parts = value.split(separator: ":").compactMap { Double($0) }
                if parts.count == 2, parts[1] > 0 { rate = parts[0] / parts[1] }
            case "C" where !value.hasPrefix("420"):
                throw .unsupported(device: path, reason: "chroma \(value): only 4:2:0 is read")
            case "I" where value != "p":
                throw .unsupported(device: path, reason: "interlaced (I\(value))")
            default: break
            }
        }
        guard width > 0, height > 0 else { throw .unsupported(device: path, reason: "no size in the header") }
        self.width = width
        self.height = height
        frameRate = rate
        bytes = data
        offset = newline + 1
    }

    /// The next frame, or nil at the end of the file (or at a truncated frame).
    public mutating func next() -> VideoFrame? {
        guard offset < bytes.count, let newline = bytes[offset...].firstIndex(of: 0x0A),
            bytes[offset..<newline].starts(with: Array("FRAME".utf8))
        else { return nil }
        let chromaWidth = (width + 1) / 2
        let chromaHeight = (height + 1) / 2
        let frameBytes = width * height + 2 * chromaWidth * chromaHeight
        let start = newline + 1
        guard start + frameBytes <= bytes.count, var frame = try? VideoFrame(width: width, height: height) else { return nil }
        var planeStart = start
        for plane in VideoPlane.allCases {
            let rowBytes = frame.width(of: plane)
            let rows = frame.height(of: plane)
            let stride = frame.stride(of: plane)
            frame.withMutablePlane(plane) { destination in
                for row in 0..<rows {
                    for column in 0..<rowBytes {
                        destination[row * stride + column] = bytes[planeStart + row * rowBytes + column]
                    }
                }
            }
            planeStart += rowBytes * rows
        }
        offset = start + frameBytes
        return frame
    }
}

/// Records 16-bit PCM audio at 48 kHz as a RIFF WAVE file; the sizes in the header are written when
/// the recorder closes (a file cut short by a crash still plays up to the last block in most tools).
public final class WAVRecorder {
    /// The file's path.
    public let path: String
    /// Channels per sample frame (1 or 2).
    public let channelCount: Int
    /// Sample frames written so far.
    public private(set) var sampleFramesWritten = 0
    private let file: OutputFile
    private var isClosed = false

    /// Creates (or truncates) `path` for `channelCount` channels at 48 kHz.
    public init(path: String, channelCount: Int = 1) throws(DeviceError) {
        file = try OutputFile(creating: path)
        self.path = path
        self.channelCount = channelCount
        try file.write(Self.header(channelCount: channelCount, dataBytes: 0))
    }

    deinit { close() }

    /// Appends interleaved samples (a whole number of sample frames).
    public func write(_ samples: [Int16]) throws(DeviceError) {
        let littleEndian = samples.map { $0.littleEndian }
        guard littleEndian.withUnsafeBytes({ file.append($0) }) else {
            throw .system(call: "fwrite \(path)", code: errno, detail: String(cString: strerror(errno)))
        }
        sampleFramesWritten += samples.count / channelCount
    }

    /// Writes the final sizes into the header and closes the file.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        try? file.patch(Self.header(channelCount: channelCount, dataBytes: sampleFramesWritten * channelCount * 2), at: 0)
        file.close()
    }

    /// The 44-byte canonical WAVE header: RIFF size, `fmt ` (PCM, channels, 48 kHz, 16-bit), `data` size.
    static func header(channelCount: Int, dataBytes: Int) -> [UInt8] {
        func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        func le16(_ value: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        let rate = AudioFrame.sampleRate
        return Array("RIFF".utf8) + le32(36 + dataBytes) + Array("WAVEfmt ".utf8) + le32(16) + le16(1) + le16(channelCount)
            + le32(rate) + le32(rate * channelCount * 2) + le16(channelCount * 2) + le16(16) + Array("data".utf8) + le32(dataBytes)
    }
}

/// Reads the samples of a 16-bit PCM WAVE file (any chunk order; only `fmt ` and `data` are used).
public struct WAVFile: Sendable {
    /// Channels per sample frame.
    public let channelCount: Int
    /// Sample frames per second.
    public let sampleRate: Int
    /// Interleaved samples.
    public let samples: [Int16]

    /// Reads `path`.
    ///
    /// - Throws: `DeviceError.notFound` if it cannot be read; `.unsupported` if it is not 16-bit PCM WAVE.
    public init(path: String) throws(DeviceError) {
        let data = try readWholeFile(path)
        func le(_ at: Int, _ count: Int) -> Int {
            (0..<count).reduce(0) { $0 | Int(data[at + $1]) << (8 * $1) }
        }
        guard data.count >= 12, data[0..<4].elementsEqual("RIFF".utf8), data[8..<12].elementsEqual("WAVE".utf8) else {
            throw .unsupported(device: path, reason: "not a RIFF WAVE file")
        }
        var offset = 12
        var channels = 0, rate = 0, bits = 0
        var samples: [Int16]?
        while offset + 8 <= data.count {
            let size = le(offset + 4, 4)
            let body = offset + 8
            let end = min(data.count, body + size)
            if data[offset..<(offset + 4)].elementsEqual("fmt ".utf8), end - body >= 16 {
                guard le(body, 2) == 1 else { throw .unsupported(device: path, reason: "not PCM") }
                channels = le(body + 2, 2)
                rate = le(body + 4, 4)
                bits = le(body + 14, 2)
            } else if data[offset..<(offset + 4)].elementsEqual("data".utf8) {
                samples = stride(from: body, to: end - 1, by: 2).map { Int16(bitPattern: UInt16(le($0, 2))) }
            }
            offset = body + size + (size & 1)
        }
        guard bits == 16, channels > 0, let samples else {
            throw .unsupported(device: path, reason: "not 16-bit PCM with a data chunk")
        }
        channelCount = channels
        sampleRate = rate
        self.samples = samples
    }
}

/// The bytes of the file at `path`; `DeviceError.notFound` if it cannot be opened.
func readWholeFile(_ path: String) throws(DeviceError) -> [UInt8] {
    guard let file = fopen(path, "rb") else { throw .notFound(path) }
    defer { fclose(file) }
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        data += chunk[..<count]
    }
    return data
}
