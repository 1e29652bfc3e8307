internal import CParleyShims
internal import CV4L2
internal import Glibc

/// The V4L2 calls Parley makes, over libv4l2 (`parley_v4l2_ioctl`), with errors mapped to `DeviceError`.
///
/// The `VIDIOC_*` request numbers are function-like C macros (`_IOWR('V', nr, type)`), which Swift cannot
/// import; they are computed here from the same parts, with the argument sizes Clang gives the imported
/// structs.
enum V4L2Ioctl {
    private static func request<Argument>(_ direction: UInt, _ number: UInt, _: Argument.Type) -> UInt {
        // _IOC(dir, type, nr, size): dir in bits 30–31, size in 16–29, type ('V') in 8–15, nr in 0–7.
        (direction << 30) | (UInt(MemoryLayout<Argument>.size) << 16) | (UInt(UInt8(ascii: "V")) << 8) | number
    }

    private static let read: UInt = 2
    private static let write: UInt = 1
    private static let readWrite: UInt = 3

    static let queryCapability = request(read, 0, v4l2_capability.self)
    static let enumerateFormat = request(readWrite, 2, v4l2_fmtdesc.self)
    static let getFormat = request(readWrite, 4, v4l2_format.self)
    static let setFormat = request(readWrite, 5, v4l2_format.self)
    static let requestBuffers = request(readWrite, 8, v4l2_requestbuffers.self)
    static let queryBuffer = request(readWrite, 9, v4l2_buffer.self)
    static let queueBuffer = request(readWrite, 15, v4l2_buffer.self)
    static let dequeueBuffer = request(readWrite, 17, v4l2_buffer.self)
    static let streamOn = request(write, 18, Int32.self)
    static let streamOff = request(write, 19, Int32.self)
    static let getParameters = request(readWrite, 21, v4l2_streamparm.self)
    static let setParameters = request(readWrite, 22, v4l2_streamparm.self)
    static let getControl = request(readWrite, 27, v4l2_control.self)
    static let setControl = request(readWrite, 28, v4l2_control.self)
    static let queryControl = request(readWrite, 36, v4l2_queryctrl.self)
    static let enumerateFrameSizes = request(readWrite, 74, v4l2_frmsizeenum.self)
    static let enumerateFrameIntervals = request(readWrite, 75, v4l2_frmivalenum.self)

    static let captureType = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue

    /// `v4l2_ioctl(descriptor, request, &argument)`, retried on EINTR; the errno on failure.
    static func call<Argument>(_ descriptor: Int32, _ request: UInt, _ argument: inout Argument) -> Int32? {
        while true {
            let result = withUnsafeMutablePointer(to: &argument) { pointer in
                parley_v4l2_ioctl(descriptor, request, UnsafeMutableRawPointer(pointer))
            }
            if result >= 0 { return nil }
            if errno != EINTR { return errno }
        }
    }

    /// `call`, throwing the mapped error for `device`.
    static func perform<Argument>(
        _ name: String, _ descriptor: Int32, _ request: UInt, _ argument: inout Argument, device: String
    ) throws(DeviceError) {
        if let code = call(descriptor, request, &argument) {
            throw error(name, code, device: device)
        }
    }

    /// The `DeviceError` for errno `code` from `call` on `device`: EBUSY is busy, ENODEV/EIO/ENXIO mean
    /// the device went away, everything else is a failed system call.
    static func error(_ call: String, _ code: Int32, device: String) -> DeviceError {
        switch code {
        case EBUSY: .busy(device)
        case ENODEV, EIO, ENXIO: .disconnected(device)
        default: .system(call: call, code: code, detail: describe(code))
        }
    }

    /// `strerror(code)`.
    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// The NUL-terminated string in a fixed-size C `char`/`__u8` array (a tuple in Swift).
    static func string<Tuple>(_ tuple: Tuple) -> String {
        withUnsafeBytes(of: tuple) { bytes in
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }
}
