internal import Foundation
public import ParleyWire

/// A camera for machines without one: moving, textured pictures carrying a `VideoStamp`.
///
/// The picture is a wide textured background panning slowly, with an inverted square of the same
/// texture sliding across it — the motion a real encoder sees (mostly predictable, some newly
/// revealed area each frame). The stamp sits in the top rows. Frames are a pure function of their
/// number, so any frame can be regenerated as a reference for quality measurements.
public struct SyntheticCamera: Sendable {
    /// Picture width in pixels.
    public let width: Int
    /// Picture height in pixels.
    public let height: Int
    /// Nominal frames per second; frame *n* is presented at *n* / `frameRate` seconds.
    public let frameRate: Double
    /// Number of the frame `nextFrame(captureInstant:)` returns next.
    public private(set) var nextFrameNumber: UInt32 = 0

    private let texture: Texture
    private static let panRange = 128

    /// A camera producing `width`×`height` frames at `frameRate`.
    ///
    /// - Throws: `MediaError.invalidArgument` if the size is odd, too small to carry a stamp, or the
    ///   frame rate is outside 1…120.
    public init(width: Int = 640, height: Int = 480, frameRate: Double = 30) throws(MediaError) {
        guard width % 2 == 0, height % 2 == 0, width <= 4_096, height <= 4_096,
            VideoStamp.fits(width: width, height: height)
        else {
            throw .invalidArgument(
                field: "size", reason: "must be even, at most 4096, and leave room for the stamp; got \(width)x\(height)")
        }
        guard frameRate >= 1, frameRate <= 120 else {
            throw .invalidArgument(field: "frameRate", reason: "must be 1…120, got \(frameRate)")
        }
        self.width = width
        self.height = height
        self.frameRate = frameRate
        texture = Texture(width: width + Self.panRange + 2, height: height + Self.panRange + 2)
    }

    /// The next frame, stamped with its number and `captureInstant` (kept to the microsecond).
    public mutating func nextFrame(captureInstant: MonotonicInstant) -> VideoFrame {
        let frame = frame(number: nextFrameNumber, captureInstant: captureInstant)
        nextFrameNumber &+= 1
        return frame
    }

    /// Waits for `ticker`'s next tick and returns the next frame, captured at that tick.
    ///
    /// With a `.nominal` ticker the camera runs at its frame rate from the ticker's clock (give the
    /// ticker an interval of 1 / `frameRate`); with `.asFastAsPossible` it runs as fast as it is asked.
    public mutating func nextFrame<Clock: MediaClock>(pacedBy ticker: inout CaptureTicker<Clock>) async throws -> VideoFrame {
        nextFrame(captureInstant: try await ticker.next())
    }

    /// The interval between frames at `frameRate`, for a `CaptureTicker`.
    public var frameInterval: Duration {
        .nanoseconds(Int64((1e9 / frameRate).rounded()))
    }

    /// Frame number `number` as it was or will be produced, stamped with `captureInstant`.
    public func frame(number: UInt32, captureInstant: MonotonicInstant) -> VideoFrame {
        let presentationTime = Duration.nanoseconds(Int64((Double(number) / frameRate * 1e9).rounded()))
        // Sizes were validated in init, so this cannot fail.
        var frame = try! VideoFrame(
            width: width, height: height, presentationTime: presentationTime,
            captureInstant: captureInstant.truncatedToMicroseconds)
        let n = Int(number)
        let panX = 2 * Self.triangle(n, period: Self.panRange / 2)
        let panY = 2 * Self.triangle(n / 2 + 17, period: Self.panRange / 2)
        paintBackground(into: &frame, panX: panX, panY: panY)
        paintSquare(into: &frame, number: n)
        VideoStamp(frameNumber: number, captureInstant: captureInstant).write(into: &frame)
        return frame
    }

    private func paintBackground(into frame: inout VideoFrame, panX: Int, panY: Int) {
        for plane in VideoPlane.allCases {
            let source = texture.planes[plane.rawValue]
            let sourceStride = texture.stride(of: plane)
            let shift = plane == .y ? 0 : 1
            source.withUnsafeBufferPointer { texels in
                frame.copyPlane(
                    plane, from: texels.baseAddress! + (panY >> shift) * sourceStride + (panX >> shift),
                    sourceStride: sourceStride)
            }
        }
    }

    private func paintSquare(into frame: inout VideoFrame, number: Int) {
        let side = (min(width, height) / 4) & ~1
        let left = Self.triangle(number * 4, period: width - side) & ~1
        let top = VideoStamp.height(forWidth: width)
            + (Self.triangle(number * 3, period: height - side - VideoStamp.height(forWidth: width)) & ~1)
        let stride = frame.stride(of: .y)
        let sourceStride = texture.stride(of: .y)
        texture.planes[0].withUnsafeBufferPointer { texels in
            frame.withMutablePlane(.y) { luma in
                for row in 0..<side {
                    let destination = (top + row) * stride + left
                    let source = (row + 40) * sourceStride + 60
                    for column in 0..<side {
                        luma[destination + column] = 251 &- texels[source + column]
                    }
                }
            }
        }
    }

    /// 0, 1, …, period, period − 1, …, 1, 0, 1, … (a bouncing position).
    private static func triangle(_ value: Int, period: Int) -> Int {
        guard period > 0 else { return 0 }
        let phase = value % (2 * period)
        return phase <= period ? phase : 2 * period - phase
    }
}

/// The camera's background: a fixed I420 image larger than the picture, computed once.
private final class Texture: Sendable {
    let width: Int
    let height: Int
    let planes: [[UInt8]]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        var luma = [UInt8](repeating: 0, count: width * height)
        var random = SplitMix64(seed: 0x5EED_CA3E_7A)
        for y in 0..<height {
            for x in 0..<width {
                let fx = Double(x)
                let fy = Double(y)
                var value = 128.0
                value += 45 * sin(fx * 0.021 + 2 * sin(fy * 0.013))
                value += 25 * sin((fx + fy) * 0.047)
                value += 18 * sin(((fx - 200) * (fx - 200) + (fy - 150) * (fy - 150)).squareRoot() * 0.09)
                value += Double(Int(random.next() % 9) - 4)
                luma[y * width + x] = UInt8(min(235, max(16, value.rounded())))
            }
        }
        let chromaWidth = (width + 1) / 2
        let chromaHeight = (height + 1) / 2
        var u = [UInt8](repeating: 0, count: chromaWidth * chromaHeight)
        var v = u
        for y in 0..<chromaHeight {
            for x in 0..<chromaWidth {
                let fx = Double(x)
                let fy = Double(y)
                u[y * chromaWidth + x] = UInt8((128 + 40 * sin(fx * 0.022 + fy * 0.014)).rounded())
                v[y * chromaWidth + x] = UInt8((128 + 40 * cos(fx * 0.018 - fy * 0.026)).rounded())
            }
        }
        planes = [luma, u, v]
    }

    func stride(of plane: VideoPlane) -> Int {
        plane == .y ? width : (width + 1) / 2
    }
}
