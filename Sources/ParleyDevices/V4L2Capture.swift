internal import CParleyShims
internal import CV4L2
internal import Glibc
public import ParleyMedia
internal import ParleyWire
internal import Synchronization

/// What a `V4L2Capture` is asked for: the largest size and highest rate wanted.
public struct V4L2CaptureRequest: Hashable, Sendable {
    /// Widest picture wanted.
    public var maximumWidth: Int
    /// Tallest picture wanted.
    public var maximumHeight: Int
    /// Highest frame rate wanted.
    public var maximumFrameRate: Double
    /// Driver buffers to stream with (2…32); more absorb longer stalls of the capture thread.
    public var bufferCount: Int

    /// A request for at most `maximumWidth`×`maximumHeight` at `maximumFrameRate`.
    public init(maximumWidth: Int = 1_280, maximumHeight: Int = 720, maximumFrameRate: Double = 30, bufferCount: Int = 4) {
        self.maximumWidth = maximumWidth
        self.maximumHeight = maximumHeight
        self.maximumFrameRate = maximumFrameRate
        self.bufferCount = bufferCount
    }
}

/// What a running capture reports. After `.disconnected` or `.failed` the capture has ended and the
/// event stream finishes; after `stop()` it finishes without an event.
public enum V4L2CaptureEvent: Sendable {
    /// A captured picture (I420) stamped with its capture instant.
    case frame(VideoFrame)
    /// The device went away (unplugged, its driver unbound: ENODEV, EIO).
    case disconnected(DeviceError)
    /// Capture stopped on some other error.
    case failed(DeviceError)
}

/// Counters of a capture.
public struct V4L2CaptureStatistics: Hashable, Sendable {
    /// Frames delivered into the event stream.
    public var framesCaptured = 0
    /// Frames the driver skipped (gaps in its sequence numbers: the capture thread fell behind).
    public var framesDroppedByDriver = 0
    /// Frames dropped because the event stream's buffer was full (the consumer fell behind).
    public var framesDroppedByConsumer = 0
    /// Frames whose driver timestamp was not on CLOCK_MONOTONIC, stamped at dequeue instead.
    public var framesStampedAtDequeue = 0
    /// Buffers dequeued that were too short for a picture, or flagged as erroneous, and skipped.
    public var framesSkipped = 0
}

/// A camera streaming I420 frames from a V4L2 device through libv4l2.
///
/// Opening picks the best native mode at or under the request (`V4L2DeviceInfo.bestMode`), asks libv4l2
/// for I420 at that size (libv4lconvert converts YUYV, MJPEG … when the driver does not send I420
/// itself), sets the frame interval, maps the driver's buffers and starts streaming on a thread of its
/// own. Frames carry the driver's timestamp (when the driver stamps with CLOCK_MONOTONIC, the clock of
/// `MonotonicInstant`; otherwise the instant they were dequeued).
///
/// A device that vanishes ends capture with `.disconnected` and the event stream finishes: nothing
/// hangs. `stop()` (or releasing the capture) stops streaming, joins the thread and frees the buffers.
public final class V4L2Capture: Sendable {
    /// The device, as described when it was opened.
    public let device: V4L2DeviceInfo
    /// The native mode chosen from the request.
    public let mode: V4L2Mode
    /// The size of the I420 frames delivered (the driver may adjust the mode's size).
    public let size: V4L2FrameSize
    /// The frame interval in force after negotiation (the mode's, unless the driver adjusted it).
    public let interval: V4L2FrameInterval
    /// Frames and the end of capture, in order. Holds at most `bufferedEvents` undelivered events; when
    /// the consumer falls further behind, the oldest frames are dropped (and counted).
    public let events: AsyncStream<V4L2CaptureEvent>

    private let stream: V4L2Stream
    private let thread: V4L2Thread

    /// Opens the capture device at `path` and starts streaming the best mode at or under `request`.
    ///
    /// - Throws: `DeviceError.notFound` (no such node), `.busy` (another program streams from it),
    ///   `.unsupported` (not a capture device, or no mode fits the request), `.disconnected`, `.system`.
    public init(path: String, request: V4L2CaptureRequest = V4L2CaptureRequest(), bufferedEvents: Int = 8)
        throws(DeviceError)
    {
        let descriptor = try V4L2Devices.open(path)
        var stream: V4L2Stream?
        defer { if stream == nil { _ = v4l2_close(descriptor) } }
        let device = try V4L2Devices.describe(descriptor, path: path)
        guard
            let mode = device.bestMode(
                maximumWidth: request.maximumWidth, maximumHeight: request.maximumHeight,
                maximumFrameRate: request.maximumFrameRate)
        else {
            throw .unsupported(
                device: path,
                reason: "no mode at or under \(request.maximumWidth)x\(request.maximumHeight) @ \(request.maximumFrameRate) fps")
        }
        let (size, bytesPerLine) = try Self.setFormat(descriptor, path: path, size: mode.size)
        let interval = try Self.setInterval(descriptor, path: path, mode.interval)
        let (events, continuation) = AsyncStream.makeStream(
            of: V4L2CaptureEvent.self, bufferingPolicy: .bufferingNewest(max(1, bufferedEvents)))
        let buffers = try Self.mapBuffers(descriptor, path: path, count: min(32, max(2, request.bufferCount)))
        let created = V4L2Stream(
            descriptor: descriptor, path: path, buffers: buffers, size: size, bytesPerLine: bytesPerLine,
            interval: interval, continuation: continuation)
        stream = created
        try created.start()
        self.device = device
        self.mode = mode
        self.size = size
        self.interval = interval
        self.events = events
        self.stream = created
        do {
            thread = try V4L2Thread(name: "parley-v4l2") { created.run() }
        } catch {
            created.finish(nil)
            throw error
        }
    }

    /// Frame rate in force (frames per second).
    public var frameRate: Double { interval.frameRate }

    /// Counters so far.
    public var statistics: V4L2CaptureStatistics { stream.statistics }

    /// Stops streaming, waits for the capture thread and finishes the event stream; later calls do nothing.
    public func stop() {
        stream.requestStop()
        if !thread.isCurrent { thread.join() }
    }

    /// The device's controls.
    public func controls() throws(DeviceError) -> [V4L2Control] {
        try V4L2Devices.controls(stream.descriptor, path: stream.path)
    }

    /// Sets control `id` to `value` while capturing.
    public func setControl(_ id: UInt32, to value: Int32) throws(DeviceError) {
        try V4L2Devices.setControl(id, to: value, descriptor: stream.descriptor, path: stream.path)
    }

    deinit {
        stop()
    }

    /// Asks libv4l2 for I420 at `size`; returns the size granted and the luma row length.
    private static func setFormat(
        _ descriptor: Int32, path: String, size: V4L2FrameSize
    ) throws(DeviceError) -> (V4L2FrameSize, Int) {
        var format = v4l2_format()
        format.type = V4L2Ioctl.captureType
        format.fmt.pix.width = UInt32(size.width)
        format.fmt.pix.height = UInt32(size.height)
        format.fmt.pix.pixelformat = V4L2PixelFormat.yuv420.fourCC
        format.fmt.pix.field = V4L2_FIELD_NONE.rawValue
        try V4L2Ioctl.perform("VIDIOC_S_FMT", descriptor, V4L2Ioctl.setFormat, &format, device: path)
        let granted = V4L2FrameSize(width: Int(format.fmt.pix.width), height: Int(format.fmt.pix.height))
        guard format.fmt.pix.pixelformat == V4L2PixelFormat.yuv420.fourCC else {
            throw .unsupported(
                device: path,
                reason: "libv4l2 offers \(V4L2PixelFormat(fourCC: format.fmt.pix.pixelformat)), not I420, at \(size)")
        }
        guard granted.width >= 2, granted.height >= 2, granted.width <= 16_384, granted.height <= 16_384 else {
            throw .unsupported(device: path, reason: "driver granted an impossible size \(granted)")
        }
        let bytesPerLine = max(Int(format.fmt.pix.bytesperline), granted.width)
        return (granted, bytesPerLine)
    }

    /// Sets the frame interval (if the driver lets its rate be chosen); returns the interval in force.
    private static func setInterval(
        _ descriptor: Int32, path: String, _ interval: V4L2FrameInterval
    ) throws(DeviceError) -> V4L2FrameInterval {
        var parameters = v4l2_streamparm()
        parameters.type = V4L2Ioctl.captureType
        try V4L2Ioctl.perform("VIDIOC_G_PARM", descriptor, V4L2Ioctl.getParameters, &parameters, device: path)
        if parameters.parm.capture.capability & UInt32(V4L2_CAP_TIMEPERFRAME) != 0, interval.denominator > 0 {
            parameters.parm.capture.timeperframe = v4l2_fract(
                numerator: UInt32(interval.numerator), denominator: UInt32(interval.denominator))
            try V4L2Ioctl.perform("VIDIOC_S_PARM", descriptor, V4L2Ioctl.setParameters, &parameters, device: path)
        }
        let granted = parameters.parm.capture.timeperframe
        return V4L2FrameInterval(numerator: Int(granted.numerator), denominator: Int(granted.denominator))
    }

    /// Requests `count` memory-mapped buffers, maps and queues them.
    private static func mapBuffers(
        _ descriptor: Int32, path: String, count: Int
    ) throws(DeviceError) -> [V4L2Stream.MappedBuffer] {
        var request = v4l2_requestbuffers()
        request.count = UInt32(count)
        request.type = V4L2Ioctl.captureType
        request.memory = V4L2_MEMORY_MMAP.rawValue
        try V4L2Ioctl.perform("VIDIOC_REQBUFS", descriptor, V4L2Ioctl.requestBuffers, &request, device: path)
        guard request.count >= 1 else {
            throw .unsupported(device: path, reason: "driver granted no streaming buffers")
        }
        var buffers: [V4L2Stream.MappedBuffer] = []
        func release() {
            for buffer in buffers { _ = v4l2_munmap(buffer.start, buffer.length) }
            var none = v4l2_requestbuffers()
            none.type = V4L2Ioctl.captureType
            none.memory = V4L2_MEMORY_MMAP.rawValue
            _ = V4L2Ioctl.call(descriptor, V4L2Ioctl.requestBuffers, &none)
        }
        for index in 0..<request.count {
            var buffer = v4l2_buffer()
            buffer.index = index
            buffer.type = V4L2Ioctl.captureType
            buffer.memory = V4L2_MEMORY_MMAP.rawValue
            if let code = V4L2Ioctl.call(descriptor, V4L2Ioctl.queryBuffer, &buffer) {
                release()
                throw V4L2Ioctl.error("VIDIOC_QUERYBUF", code, device: path)
            }
            let start = v4l2_mmap(
                nil, Int(buffer.length), PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, Int64(buffer.m.offset))
            guard let start, start != MAP_FAILED else {
                let code = errno
                release()
                throw V4L2Ioctl.error("v4l2_mmap", code, device: path)
            }
            buffers.append(V4L2Stream.MappedBuffer(start: start, length: Int(buffer.length)))
            if let code = V4L2Ioctl.call(descriptor, V4L2Ioctl.queueBuffer, &buffer) {
                release()
                throw V4L2Ioctl.error("VIDIOC_QBUF", code, device: path)
            }
        }
        return buffers
    }
}

/// The streaming half of a `V4L2Capture`: the descriptor, the mapped buffers and the capture loop.
///
/// The buffers are touched only by the capture thread (`run`) once it starts, and by `finish` after the
/// loop ends; the descriptor is closed when the last owner lets go.
final class V4L2Stream: @unchecked Sendable {
    struct MappedBuffer {
        let start: UnsafeMutableRawPointer
        let length: Int
    }

    private struct Shared {
        var stopRequested = false
        var finished = false
        var statistics = V4L2CaptureStatistics()
    }

    let descriptor: Int32
    let path: String
    private let buffers: [MappedBuffer]
    private let size: V4L2FrameSize
    private let bytesPerLine: Int
    private let interval: V4L2FrameInterval
    private let continuation: AsyncStream<V4L2CaptureEvent>.Continuation
    private let shared = Mutex(Shared())

    init(
        descriptor: Int32, path: String, buffers: [MappedBuffer], size: V4L2FrameSize, bytesPerLine: Int,
        interval: V4L2FrameInterval, continuation: AsyncStream<V4L2CaptureEvent>.Continuation
    ) {
        self.descriptor = descriptor
        self.path = path
        self.buffers = buffers
        self.size = size
        self.bytesPerLine = bytesPerLine
        self.interval = interval
        self.continuation = continuation
    }

    deinit {
        _ = v4l2_close(descriptor)
    }

    var statistics: V4L2CaptureStatistics {
        shared.withLock { $0.statistics }
    }

    func start() throws(DeviceError) {
        var type = Int32(V4L2Ioctl.captureType)
        if let code = V4L2Ioctl.call(descriptor, V4L2Ioctl.streamOn, &type) {
            let error = V4L2Ioctl.error("VIDIOC_STREAMON", code, device: path)
            finish(nil)
            throw error
        }
    }

    func requestStop() {
        shared.withLock { $0.stopRequested = true }
    }

    /// The capture loop: waits for a filled buffer, copies it into a frame, hands the buffer back.
    func run() {
        // How long without a frame before checking whether the device is still there.
        let stallLimit = max(Duration.seconds(2), interval.duration * 4)
        var lastProgress = Self.now()
        var firstInstant: MonotonicInstant?
        var lastSequence: UInt32?
        var pollErrors = 0
        while !shared.withLock({ $0.stopRequested }) {
            var descriptors = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptors, 1, 100)
            if ready < 0 {
                if errno == EINTR { continue }
                return finish(.failed(V4L2Ioctl.error("poll", errno, device: path)))
            }
            if ready == 0 || descriptors.revents & Int16(POLLIN) == 0 {
                let troubled = descriptors.revents & Int16(POLLERR | POLLHUP) != 0
                if troubled || Self.now() - lastProgress > stallLimit {
                    // POLLERR: the queue is in error or the device unregistered; a long silence may
                    // mean the same. Ask the device whether it is still there.
                    var capability = v4l2_capability()
                    if let code = V4L2Ioctl.call(descriptor, V4L2Ioctl.queryCapability, &capability) {
                        let error = V4L2Ioctl.error("VIDIOC_QUERYCAP", code, device: path)
                        return finish(Self.endEvent(error))
                    }
                    lastProgress = Self.now()
                }
                if troubled {
                    pollErrors += 1
                    if pollErrors > 50 {
                        return finish(.failed(.system(call: "poll", code: EIO, detail: "device keeps reporting errors")))
                    }
                    usleep(20_000)
                }
                if ready == 0 || !troubled { continue }
            }
            var buffer = v4l2_buffer()
            buffer.type = V4L2Ioctl.captureType
            buffer.memory = V4L2_MEMORY_MMAP.rawValue
            if let code = V4L2Ioctl.call(descriptor, V4L2Ioctl.dequeueBuffer, &buffer) {
                if code == EAGAIN { continue }
                return finish(Self.endEvent(V4L2Ioctl.error("VIDIOC_DQBUF", code, device: path)))
            }
            pollErrors = 0
            lastProgress = Self.now()
            deliver(buffer, firstInstant: &firstInstant, lastSequence: &lastSequence)
            if let code = V4L2Ioctl.call(descriptor, V4L2Ioctl.queueBuffer, &buffer) {
                return finish(Self.endEvent(V4L2Ioctl.error("VIDIOC_QBUF", code, device: path)))
            }
        }
        finish(nil)
    }

    private func deliver(_ buffer: v4l2_buffer, firstInstant: inout MonotonicInstant?, lastSequence: inout UInt32?) {
        let flags = buffer.flags
        let monotonic = flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK) == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
        let stamp = buffer.timestamp
        let instant =
            monotonic && (stamp.tv_sec != 0 || stamp.tv_usec != 0)
            ? MonotonicInstant(nanoseconds: Int64(stamp.tv_sec) * 1_000_000_000 + Int64(stamp.tv_usec) * 1_000)
            : Self.now()
        var dropped = 0
        if let previous = lastSequence, buffer.sequence &- previous > 1, buffer.sequence &- previous < 1 << 30 {
            dropped = Int(buffer.sequence &- previous) - 1
        }
        lastSequence = buffer.sequence
        let start = firstInstant ?? instant
        firstInstant = start
        let frame = Int(buffer.index) < buffers.count && flags & UInt32(V4L2_BUF_FLAG_ERROR) == 0
            ? picture(buffers[Int(buffer.index)], bytesUsed: Int(buffer.bytesused), instant: instant, start: start)
            : nil
        var consumerDropped = false
        if let frame {
            if case .dropped = continuation.yield(.frame(frame)) { consumerDropped = true }
        }
        shared.withLock { shared in
            shared.statistics.framesDroppedByDriver += dropped
            if frame == nil {
                shared.statistics.framesSkipped += 1
            } else {
                shared.statistics.framesCaptured += 1
                if consumerDropped { shared.statistics.framesDroppedByConsumer += 1 }
                if !monotonic { shared.statistics.framesStampedAtDequeue += 1 }
            }
        }
    }

    /// The I420 picture in `buffer` (planes back to back, chroma rows half as long as luma rows).
    private func picture(
        _ buffer: MappedBuffer, bytesUsed: Int, instant: MonotonicInstant, start: MonotonicInstant
    ) -> VideoFrame? {
        let width = size.width
        let height = size.height
        let chromaStride = bytesPerLine / 2
        let chromaRows = (height + 1) / 2
        let lumaBytes = bytesPerLine * height
        let chromaBytes = chromaStride * chromaRows
        let needed = lumaBytes + 2 * chromaBytes
        // libv4l2 reports the converted size; some drivers leave `bytesused` at 0 for full buffers.
        let available = bytesUsed > 0 ? min(bytesUsed, buffer.length) : buffer.length
        guard available >= needed,
            var frame = try? VideoFrame(
                width: width, height: height, presentationTime: instant - start, captureInstant: instant)
        else { return nil }
        let base = UnsafeRawPointer(buffer.start).assumingMemoryBound(to: UInt8.self)
        for (plane, offset, stride) in [
            (VideoPlane.y, 0, bytesPerLine), (.u, lumaBytes, chromaStride), (.v, lumaBytes + chromaBytes, chromaStride),
        ] {
            let rows = frame.height(of: plane)
            let rowBytes = frame.width(of: plane)
            let destinationStride = frame.stride(of: plane)
            frame.withMutablePlane(plane) { destination in
                let target = destination.baseAddress!
                for row in 0..<rows {
                    (target + row * destinationStride).update(from: base + offset + row * stride, count: rowBytes)
                }
            }
        }
        return frame
    }

    /// Stops streaming, unmaps the buffers and finishes the event stream with `event` (once).
    func finish(_ event: V4L2CaptureEvent?) {
        let first = shared.withLock { shared in
            defer { shared.finished = true }
            return !shared.finished
        }
        guard first else { return }
        var type = Int32(V4L2Ioctl.captureType)
        _ = V4L2Ioctl.call(descriptor, V4L2Ioctl.streamOff, &type)
        for buffer in buffers { _ = v4l2_munmap(buffer.start, buffer.length) }
        var none = v4l2_requestbuffers()
        none.type = V4L2Ioctl.captureType
        none.memory = V4L2_MEMORY_MMAP.rawValue
        _ = V4L2Ioctl.call(descriptor, V4L2Ioctl.requestBuffers, &none)
        if let event { continuation.yield(event) }
        continuation.finish()
    }

    private static func endEvent(_ error: DeviceError) -> V4L2CaptureEvent {
        if case .disconnected = error { return .disconnected(error) }
        return .failed(error)
    }

    /// Now on CLOCK_MONOTONIC.
    static func now() -> MonotonicInstant {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return MonotonicInstant(nanoseconds: Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec))
    }
}
