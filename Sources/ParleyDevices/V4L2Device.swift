internal import CParleyShims
internal import CV4L2
internal import Glibc

/// A V4L2 pixel format, by its four-character code (`YUYV`, `MJPG`, `YU12` …).
public struct V4L2PixelFormat: Hashable, Sendable, CustomStringConvertible {
    /// The code as the kernel stores it: the four characters, first in the lowest byte.
    public let fourCC: UInt32

    /// The format with this code.
    public init(fourCC: UInt32) {
        self.fourCC = fourCC
    }

    /// The format named by four ASCII characters, e.g. `"YUYV"`.
    public init?(_ code: String) {
        let bytes = Array(code.utf8)
        guard bytes.count == 4 else { return nil }
        fourCC = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }

    /// Planar YUV 4:2:0 (`YU12`), which Parley's `VideoFrame` holds; libv4l converts other formats to it.
    public static let yuv420 = V4L2PixelFormat("YU12")!
    /// Packed YUV 4:2:2 (`YUYV`), what most USB cameras send uncompressed.
    public static let yuyv = V4L2PixelFormat("YUYV")!
    /// Motion JPEG (`MJPG`), what most USB cameras send at high resolutions.
    public static let mjpeg = V4L2PixelFormat("MJPG")!

    /// The four characters (the top bit, set for big-endian variants, shown as `-BE`).
    public var description: String {
        let characters = (0..<4).map { Character(Unicode.Scalar(UInt8((fourCC >> (8 * $0)) & 0x7f))) }
        return String(characters) + (fourCC & 0x8000_0000 != 0 ? "-BE" : "")
    }
}

/// A frame size in pixels.
public struct V4L2FrameSize: Hashable, Sendable, CustomStringConvertible {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int

    /// `width`×`height`.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public var description: String { "\(width)x\(height)" }
}

/// The time between frames, as V4L2 states it: `numerator`/`denominator` seconds.
public struct V4L2FrameInterval: Hashable, Sendable, CustomStringConvertible {
    /// Seconds per frame, numerator.
    public var numerator: Int
    /// Seconds per frame, denominator.
    public var denominator: Int

    /// An interval of `numerator`/`denominator` seconds.
    public init(numerator: Int, denominator: Int) {
        self.numerator = numerator
        self.denominator = denominator
    }

    /// The interval of `frameRate` frames per second (1/rate, kept exact for whole rates).
    public init(frameRate: Double) {
        let rounded = frameRate.rounded()
        if abs(frameRate - rounded) < 1e-9 {
            self.init(numerator: 1, denominator: Int(rounded))
        } else {
            self.init(numerator: 1_000, denominator: Int((frameRate * 1_000).rounded()))
        }
    }

    /// Frames per second (0 if the interval is not positive).
    public var frameRate: Double {
        numerator > 0 && denominator > 0 ? Double(denominator) / Double(numerator) : 0
    }

    /// The interval as a `Duration`.
    public var duration: Duration {
        denominator > 0 ? .seconds(numerator) / denominator : .zero
    }

    public var description: String { "\(numerator)/\(denominator) s" }
}

/// A frame size a format offers, with the frame intervals offered at that size.
public struct V4L2SizeOption: Hashable, Sendable {
    /// The frame size.
    public var size: V4L2FrameSize
    /// The intervals at this size, fastest first (for a stepwise or continuous range: its ends and the
    /// common rates inside it).
    public var intervals: [V4L2FrameInterval]

    /// `size` offered at `intervals`.
    public init(size: V4L2FrameSize, intervals: [V4L2FrameInterval]) {
        self.size = size
        self.intervals = intervals
    }
}

/// A pixel format a capture device offers, with its sizes.
public struct V4L2FormatDescription: Hashable, Sendable {
    /// The format's code.
    public var pixelFormat: V4L2PixelFormat
    /// The driver's name for it.
    public var name: String
    /// Whether it is compressed (MJPEG, H.264 …).
    public var isCompressed: Bool
    /// Whether libv4l offers it by converting from a native format (not the driver itself).
    public var isEmulated: Bool
    /// The sizes, as the driver lists them (for a stepwise or continuous range: the common sizes inside
    /// it and its largest size).
    public var sizes: [V4L2SizeOption]

    /// A format description (as enumeration builds them; tests and fakes build their own).
    public init(
        pixelFormat: V4L2PixelFormat, name: String, isCompressed: Bool = false, isEmulated: Bool = false,
        sizes: [V4L2SizeOption]
    ) {
        self.pixelFormat = pixelFormat
        self.name = name
        self.isCompressed = isCompressed
        self.isEmulated = isEmulated
        self.sizes = sizes
    }
}

/// One way to run a camera: a native pixel format at a size and frame interval.
public struct V4L2Mode: Hashable, Sendable, CustomStringConvertible {
    /// The format the driver sends (libv4l converts it to I420).
    public var pixelFormat: V4L2PixelFormat
    /// The frame size.
    public var size: V4L2FrameSize
    /// The time between frames.
    public var interval: V4L2FrameInterval

    /// A mode of `pixelFormat` at `size` and `interval`.
    public init(pixelFormat: V4L2PixelFormat, size: V4L2FrameSize, interval: V4L2FrameInterval) {
        self.pixelFormat = pixelFormat
        self.size = size
        self.interval = interval
    }

    /// Frames per second.
    public var frameRate: Double { interval.frameRate }

    public var description: String {
        "\(pixelFormat) \(size) @ \((frameRate * 100).rounded() / 100) fps"
    }
}

/// A V4L2 video capture device: its node, names and what it can capture.
public struct V4L2DeviceInfo: Hashable, Sendable {
    /// The device node, e.g. `/dev/video0`.
    public var path: String
    /// The card name (`VIDIOC_QUERYCAP`), e.g. `HD Pro Webcam C920` or `vivid-000-vid-cap`.
    public var card: String
    /// The driver's name, e.g. `uvcvideo` or `vivid`.
    public var driver: String
    /// Where the device hangs, e.g. `usb-0000:00:14.0-1` or `platform:vivid-000`.
    public var busInfo: String
    /// The pixel formats, as the driver lists them.
    public var formats: [V4L2FormatDescription]

    /// A device description (as enumeration builds them; tests and fakes build their own).
    public init(path: String, card: String, driver: String, busInfo: String, formats: [V4L2FormatDescription]) {
        self.path = path
        self.card = card
        self.driver = driver
        self.busInfo = busInfo
        self.formats = formats
    }

    /// Every native (not emulated) mode: each format × size × interval.
    public var modes: [V4L2Mode] {
        formats.filter { !$0.isEmulated }.flatMap { format in
            format.sizes.flatMap { option in
                option.intervals.map { V4L2Mode(pixelFormat: format.pixelFormat, size: option.size, interval: $0) }
            }
        }
    }

    /// The best native mode no larger than `maximumWidth`×`maximumHeight` and no faster than
    /// `maximumFrameRate`: the most pixels, then the highest rate, then the cheapest format to convert
    /// (I420 itself, then other uncompressed formats, then compressed ones).
    ///
    /// If the sizes that fit offer no rate at or under the maximum, the slowest rate of the largest such
    /// size is taken. `nil` if no size fits.
    public func bestMode(maximumWidth: Int, maximumHeight: Int, maximumFrameRate: Double) -> V4L2Mode? {
        let fitting = modes.filter { $0.size.width <= maximumWidth && $0.size.height <= maximumHeight }
        let compressed = Set(formats.filter(\.isCompressed).map(\.pixelFormat))
        func cost(_ format: V4L2PixelFormat) -> Int {
            format == .yuv420 ? 0 : compressed.contains(format) ? 2 : 1
        }
        func better(_ a: V4L2Mode, _ b: V4L2Mode) -> Bool {
            let pixelsA = a.size.width * a.size.height
            let pixelsB = b.size.width * b.size.height
            if pixelsA != pixelsB { return pixelsA > pixelsB }
            if a.frameRate != b.frameRate { return a.frameRate > b.frameRate }
            return cost(a.pixelFormat) < cost(b.pixelFormat)
        }
        let withinRate = fitting.filter { $0.frameRate <= maximumFrameRate * 1.001 }
        if let best = withinRate.min(by: better) { return best }
        // Nothing slow enough: the largest fitting size at its slowest rate.
        return fitting.min { a, b in
            let pixelsA = a.size.width * a.size.height
            let pixelsB = b.size.width * b.size.height
            if pixelsA != pixelsB { return pixelsA > pixelsB }
            if a.frameRate != b.frameRate { return a.frameRate < b.frameRate }
            return cost(a.pixelFormat) < cost(b.pixelFormat)
        }
    }
}

/// Finding and describing V4L2 capture devices.
public enum V4L2Devices {
    /// Every video capture device among `directory`'s `video*` nodes, in node order.
    ///
    /// Nodes that are not video capture devices (video output, metadata, codecs) are left out, and so
    /// are nodes that cannot be opened (gone, or not permitted).
    public static func captureDevices(in directory: String = "/dev") -> [V4L2DeviceInfo] {
        videoNodes(in: directory).compactMap { path in try? describe(path) }
    }

    /// The device at `path` (a video capture device) with its formats, sizes and intervals.
    ///
    /// - Throws: `DeviceError.notFound` if there is no such node, `.unsupported` if it cannot capture
    ///   video by streaming, `.busy` / `.disconnected` / `.system` as opening and querying fail.
    public static func describe(_ path: String) throws(DeviceError) -> V4L2DeviceInfo {
        let descriptor = try open(path)
        defer { _ = v4l2_close(descriptor) }
        return try describe(descriptor, path: path)
    }

    /// Opens `path` through libv4l2 (non-blocking, read-write).
    static func open(_ path: String) throws(DeviceError) -> Int32 {
        while true {
            let descriptor = parley_v4l2_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            if descriptor >= 0 { return descriptor }
            let code = errno
            switch code {
            case EINTR: continue
            case ENOENT, ENODEV, ENXIO: throw .notFound(path)
            default: throw V4L2Ioctl.error("open(\(path))", code, device: path)
            }
        }
    }

    /// The description of the open device `descriptor`.
    static func describe(_ descriptor: Int32, path: String) throws(DeviceError) -> V4L2DeviceInfo {
        var capability = v4l2_capability()
        try V4L2Ioctl.perform("VIDIOC_QUERYCAP", descriptor, V4L2Ioctl.queryCapability, &capability, device: path)
        // `device_caps` describes this node; `capabilities` the whole physical device.
        let caps =
            capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0
            ? capability.device_caps : capability.capabilities
        guard caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 else {
            throw .unsupported(device: path, reason: "not a video capture device")
        }
        guard caps & UInt32(V4L2_CAP_STREAMING) != 0 else {
            throw .unsupported(device: path, reason: "does not support streaming I/O")
        }
        return V4L2DeviceInfo(
            path: path, card: V4L2Ioctl.string(capability.card), driver: V4L2Ioctl.string(capability.driver),
            busInfo: V4L2Ioctl.string(capability.bus_info), formats: formats(descriptor, path: path))
    }

    /// `/dev/video0`, `/dev/video1`, … that exist, in numeric order.
    static func videoNodes(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var numbers: [Int] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix("video"), let number = Int(name.dropFirst(5)) {
                numbers.append(number)
            }
        }
        return numbers.sorted().map { "\(directory)/video\($0)" }
    }

    private static func formats(_ descriptor: Int32, path: String) -> [V4L2FormatDescription] {
        var result: [V4L2FormatDescription] = []
        for index in 0..<256 {
            var description = v4l2_fmtdesc()
            description.index = UInt32(index)
            description.type = V4L2Ioctl.captureType
            guard V4L2Ioctl.call(descriptor, V4L2Ioctl.enumerateFormat, &description) == nil else { break }
            let format = V4L2PixelFormat(fourCC: description.pixelformat)
            result.append(
                V4L2FormatDescription(
                    pixelFormat: format, name: V4L2Ioctl.string(description.description),
                    isCompressed: description.flags & UInt32(V4L2_FMT_FLAG_COMPRESSED) != 0,
                    isEmulated: description.flags & UInt32(V4L2_FMT_FLAG_EMULATED) != 0,
                    sizes: sizes(descriptor, format)))
        }
        return result
    }

    /// Sizes people ask cameras for, tried inside stepwise and continuous ranges.
    private static let commonSizes: [V4L2FrameSize] = [
        (160, 120), (320, 180), (320, 240), (424, 240), (640, 360), (640, 480), (800, 600), (960, 540),
        (1024, 768), (1280, 720), (1280, 960), (1600, 1200), (1920, 1080), (2560, 1440), (3840, 2160),
    ].map { V4L2FrameSize(width: $0.0, height: $0.1) }

    /// Rates people ask cameras for, tried inside stepwise and continuous interval ranges.
    private static let commonRates: [Int] = [60, 50, 30, 25, 24, 20, 15, 10, 5]

    private static func sizes(_ descriptor: Int32, _ format: V4L2PixelFormat) -> [V4L2SizeOption] {
        var sizes: [V4L2FrameSize] = []
        for index in 0..<1_024 {
            var size = v4l2_frmsizeenum()
            size.index = UInt32(index)
            size.pixel_format = format.fourCC
            guard V4L2Ioctl.call(descriptor, V4L2Ioctl.enumerateFrameSizes, &size) == nil else { break }
            if size.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                sizes.append(V4L2FrameSize(width: Int(size.discrete.width), height: Int(size.discrete.height)))
            } else {
                let step = size.stepwise
                let stepWidth = max(1, Int(step.step_width))
                let stepHeight = max(1, Int(step.step_height))
                let widths = Int(step.min_width)...Int(step.max_width)
                let heights = Int(step.min_height)...Int(step.max_height)
                sizes += commonSizes.filter { size in
                    widths.contains(size.width) && heights.contains(size.height)
                        && (size.width - widths.lowerBound) % stepWidth == 0
                        && (size.height - heights.lowerBound) % stepHeight == 0
                }
                sizes.append(V4L2FrameSize(width: widths.upperBound, height: heights.upperBound))
                break
            }
        }
        var seen = Set<V4L2FrameSize>()
        return sizes.filter { seen.insert($0).inserted }.map { size in
            V4L2SizeOption(size: size, intervals: intervals(descriptor, format, size))
        }
    }

    private static func intervals(
        _ descriptor: Int32, _ format: V4L2PixelFormat, _ size: V4L2FrameSize
    ) -> [V4L2FrameInterval] {
        var intervals: [V4L2FrameInterval] = []
        for index in 0..<256 {
            var interval = v4l2_frmivalenum()
            interval.index = UInt32(index)
            interval.pixel_format = format.fourCC
            interval.width = UInt32(size.width)
            interval.height = UInt32(size.height)
            guard V4L2Ioctl.call(descriptor, V4L2Ioctl.enumerateFrameIntervals, &interval) == nil else { break }
            if interval.type == V4L2_FRMIVAL_TYPE_DISCRETE.rawValue {
                intervals.append(
                    V4L2FrameInterval(
                        numerator: Int(interval.discrete.numerator), denominator: Int(interval.discrete.denominator)))
            } else {
                let fastest = V4L2FrameInterval(
                    numerator: Int(interval.stepwise.min.numerator), denominator: Int(interval.stepwise.min.denominator))
                let slowest = V4L2FrameInterval(
                    numerator: Int(interval.stepwise.max.numerator), denominator: Int(interval.stepwise.max.denominator))
                intervals.append(fastest)
                intervals += commonRates.map { V4L2FrameInterval(numerator: 1, denominator: $0) }.filter {
                    $0.frameRate < fastest.frameRate && $0.frameRate > slowest.frameRate
                }
                intervals.append(slowest)
                break
            }
        }
        if intervals.isEmpty {
            // Drivers that list no intervals (some capture cards) run at whatever rate they run at.
            intervals.append(V4L2FrameInterval(numerator: 0, denominator: 0))
        }
        var seen = Set<V4L2FrameInterval>()
        return intervals.filter { $0.numerator > 0 || $0.denominator == 0 }.filter { seen.insert($0).inserted }
            .sorted { $0.frameRate > $1.frameRate }
    }
}
