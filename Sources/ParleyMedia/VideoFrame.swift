public import ParleyWire

/// One plane of an I420 picture.
public enum VideoPlane: Int, CaseIterable, Sendable {
    /// Luma, full resolution.
    case y
    /// Blue-difference chroma, half width and half height (rounded up).
    case u
    /// Red-difference chroma, half width and half height (rounded up).
    case v
}

/// An I420 (YUV 4:2:0, 8-bit, BT.601 limited range) picture with its timing.
///
/// The three planes share one copy-on-write buffer, so copying a frame is cheap until one copy is
/// written. Rows of a plane are `stride(of:)` bytes apart; bytes past the visible width are padding.
public struct VideoFrame: Sendable {
    /// Visible width in pixels (at least 1).
    public let width: Int
    /// Visible height in pixels (at least 1).
    public let height: Int
    /// Time since the start of the stream at which this frame is presented.
    public var presentationTime: Duration
    /// When the frame was captured, on the engine's monotonic clock.
    public var captureInstant: MonotonicInstant

    private let strides: [Int]
    private let offsets: [Int]
    private var storage: [UInt8]

    /// A frame of `width`×`height` filled with mid-grey (Y = U = V = 128), rows padded to `alignment`.
    ///
    /// - Throws: `MediaError.invalidArgument` if a dimension is outside 1…16384 or `alignment` is not a
    ///   power of two in 1…4096.
    public init(
        width: Int, height: Int, presentationTime: Duration = .zero,
        captureInstant: MonotonicInstant = .zero, alignment: Int = 32
    ) throws(MediaError) {
        guard (1...16_384).contains(width) else {
            throw .invalidArgument(field: "width", reason: "must be 1…16384, got \(width)")
        }
        guard (1...16_384).contains(height) else {
            throw .invalidArgument(field: "height", reason: "must be 1…16384, got \(height)")
        }
        guard (1...4_096).contains(alignment), alignment & (alignment - 1) == 0 else {
            throw .invalidArgument(field: "alignment", reason: "must be a power of two in 1…4096, got \(alignment)")
        }
        self.width = width
        self.height = height
        self.presentationTime = presentationTime
        self.captureInstant = captureInstant
        let chromaWidth = (width + 1) / 2
        let chromaHeight = (height + 1) / 2
        let align = { (value: Int) in (value + alignment - 1) / alignment * alignment }
        strides = [align(width), align(chromaWidth), align(chromaWidth)]
        let ySize = strides[0] * height
        let uSize = strides[1] * chromaHeight
        offsets = [0, ySize, ySize + uSize]
        storage = [UInt8](repeating: 128, count: ySize + 2 * uSize)
    }

    /// Width in pixels of `plane`.
    public func width(of plane: VideoPlane) -> Int {
        plane == .y ? width : (width + 1) / 2
    }

    /// Height in pixels (rows) of `plane`.
    public func height(of plane: VideoPlane) -> Int {
        plane == .y ? height : (height + 1) / 2
    }

    /// Bytes from the start of one row of `plane` to the start of the next.
    public func stride(of plane: VideoPlane) -> Int {
        strides[plane.rawValue]
    }

    /// Calls `body` with the bytes of `plane` (`stride(of:)` × `height(of:)` bytes).
    public func withPlane<Result, Failure: Error>(
        _ plane: VideoPlane, _ body: (UnsafeBufferPointer<UInt8>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let range = byteRange(of: plane)
        return try storage.withUnsafeBufferPointer { (all) throws(Failure) -> Result in
            try body(UnsafeBufferPointer(rebasing: all[range]))
        }
    }

    /// Calls `body` with the writable bytes of `plane`; copies the buffer first if it is shared.
    public mutating func withMutablePlane<Result, Failure: Error>(
        _ plane: VideoPlane, _ body: (UnsafeMutableBufferPointer<UInt8>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let range = byteRange(of: plane)
        return try storage.withUnsafeMutableBufferPointer { (all) throws(Failure) -> Result in
            try body(UnsafeMutableBufferPointer(rebasing: all[range]))
        }
    }

    /// The luma value at (`x`, `y`); both must be inside the frame.
    public func luma(x: Int, y: Int) -> UInt8 {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel outside the frame")
        return storage[y * strides[0] + x]
    }

    /// Calls `body` with the start of each plane (Y, U, V), for handing the frame to C codecs.
    func withPlaneBaseAddresses<Result>(
        _ body: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>) -> Result
    ) -> Result {
        storage.withUnsafeBufferPointer { all in
            let base = all.baseAddress!
            return body(base + offsets[0], base + offsets[1], base + offsets[2])
        }
    }

    /// Copies `rows` rows of `plane` from `source` (rows `sourceStride` bytes apart), `width(of:)` bytes each.
    mutating func copyPlane(_ plane: VideoPlane, from source: UnsafePointer<UInt8>, sourceStride: Int) {
        let rowBytes = width(of: plane)
        let rows = height(of: plane)
        let stride = stride(of: plane)
        withMutablePlane(plane) { destination in
            let base = destination.baseAddress!
            for row in 0..<rows {
                (base + row * stride).update(from: source + row * sourceStride, count: rowBytes)
            }
        }
    }

    private func byteRange(of plane: VideoPlane) -> Range<Int> {
        let start = offsets[plane.rawValue]
        return start..<(start + strides[plane.rawValue] * height(of: plane))
    }
}
