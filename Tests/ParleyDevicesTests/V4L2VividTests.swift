import Foundation
import ParleyDevices
import ParleyMedia
import ParleyWire
import Testing

/// Whether these tests run where the kernel's vivid driver is loaded.
///
/// `Scripts/vivid-vm` boots a VM with vivid and sets PARLEY_VIVID=1 for the command it runs there; on the
/// host (whose cloud kernel has no vivid) the suite is reported as skipped, never as passed.
/// `make test` runs this suite inside the VM.
private let insideVividVM = ProcessInfo.processInfo.environment["PARLEY_VIVID"] == "1"

/// The vivid instances `Scripts/vivid-vm` creates, by bus: one for capture tests, one to unplug.
private let captureBus = "platform:vivid-000"
private let unplugBus = "platform:vivid-001"

/// The 75 % colour bars vivid draws by default (test pattern 0), left to right, as BT.601 limited-range
/// Y'CbCr: white, yellow, cyan, green, magenta, red, blue, black. (vivid's own values, seen in the VM,
/// are within 2 of these: e.g. white 179/128/128, red 64/99/211.)
private let colourBars: [(name: String, y: Int, u: Int, v: Int)] = [
    ("white", 180, 128, 128), ("yellow", 162, 44, 142), ("cyan", 131, 156, 44), ("green", 112, 72, 58),
    ("magenta", 84, 184, 198), ("red", 65, 100, 212), ("blue", 35, 212, 114), ("black", 16, 128, 128),
]

@Suite(
    "V4L2 capture on the kernel's vivid driver (inside Scripts/vivid-vm)", .serialized,
    .enabled(if: insideVividVM, "needs the vivid driver: run through Scripts/vivid-vm (sets PARLEY_VIVID=1)"))
struct V4L2VividTests {
    @Test func enumerationShowsTheVividCardWithItsFormatsSizesAndRates() throws {
        let devices = V4L2Devices.captureDevices()
        print("V4L2 capture devices: \(devices.map { "\($0.path) \($0.card) (\($0.driver), \($0.busInfo))" })")
        // Both vivid instances, each once: the first one's video output node is not a capture device.
        #expect(devices.map(\.busInfo).sorted() == [captureBus, unplugBus], "\(devices)")
        let vivid = try #require(devices.first { $0.busInfo == captureBus })
        #expect(vivid.card == "vivid")
        #expect(vivid.driver == "vivid")
        #expect(vivid.path.hasPrefix("/dev/video"))
        let native = vivid.formats.filter { !$0.isEmulated }.map(\.pixelFormat)
        #expect(native.contains(.yuyv), "formats: \(native)")
        #expect(native.contains(.yuv420), "formats: \(native)")
        let yuyv = try #require(vivid.formats.first { $0.pixelFormat == .yuyv })
        let vga = try #require(yuyv.sizes.first { $0.size == V4L2FrameSize(width: 640, height: 480) })
        #expect(vga.intervals.first?.frameRate == 25, "640x480 rates: \(vga.intervals.map(\.frameRate))")
        #expect(vga.intervals.map(\.frameRate) == vga.intervals.map(\.frameRate).sorted(by: >))

        let mode = try #require(vivid.bestMode(maximumWidth: 640, maximumHeight: 480, maximumFrameRate: 30))
        #expect(mode.size == V4L2FrameSize(width: 640, height: 480))
        #expect(mode.frameRate == 25)
        #expect(mode.pixelFormat == .yuv420, "I420 itself needs no conversion: \(mode)")
        let small = try #require(vivid.bestMode(maximumWidth: 400, maximumHeight: 300, maximumFrameRate: 15))
        #expect(small.size == V4L2FrameSize(width: 320, height: 180), "\(small)")
        #expect(small.frameRate <= 15)
    }

    @Test func sixtyFramesArriveAsI420ColourBarsAtTheNegotiatedRateAndSurviveVP8() async throws {
        let path = try vividPath(captureBus)
        try selectColourBars(path)
        let capture = try V4L2Capture(
            path: path,
            request: V4L2CaptureRequest(maximumWidth: 640, maximumHeight: 480, maximumFrameRate: 30, bufferCount: 8),
            bufferedEvents: 128)
        #expect(capture.size == V4L2FrameSize(width: 640, height: 480))
        #expect(capture.frameRate == 25, "negotiated \(capture.interval)")
        let (frames, end) = await collect(from: capture, frames: 64, timeout: .seconds(60))
        capture.stop()
        #expect(end == nil, "capture ended early: \(String(describing: end))")
        try #require(frames.count == 64, "only \(frames.count) frames")
        let statistics = capture.statistics
        print("vivid capture: \(capture.mode), \(statistics)")

        // Rate: the driver's stamps, first to last, against the negotiated interval (± 10 %).
        let span = (frames.last!.captureInstant - frames.first!.captureInstant).inSeconds
        let rate = Double(frames.count - 1) / span
        print("vivid capture: \(frames.count) frames in \(span) s = \(rate) fps (negotiated \(capture.frameRate))")
        #expect(abs(rate - capture.frameRate) <= 0.1 * capture.frameRate, "measured \(rate) fps")
        let now = monotonicNow()
        // Stamps are on CLOCK_MONOTONIC: the last frame was taken shortly before now.
        #expect(statistics.framesStampedAtDequeue == 0)
        #expect(abs((now - frames.last!.captureInstant).inSeconds) < 30, "stamp \(frames.last!.captureInstant), now \(now)")
        for (earlier, later) in zip(frames, frames.dropFirst()) {
            #expect(later.captureInstant > earlier.captureInstant)
        }
        #expect(frames.first!.presentationTime == .zero)

        // Picture: I420 at 640x480 with vivid's 75 % colour bars (below the text vivid prints at the top).
        for (number, frame) in [(0, frames[0]), (31, frames[31]), (63, frames[63])] {
            #expect(frame.width == 640 && frame.height == 480)
            var samples: [String] = []
            defer { if number == 0 { print("vivid capture: bars Y'CbCr \(samples.joined(separator: " "))") } }
            for (index, bar) in colourBars.enumerated() {
                let x = 40 + 80 * index
                let y = 360
                let sample = (y: Int(frame.luma(x: x, y: y)), u: chroma(frame, .u, x, y), v: chroma(frame, .v, x, y))
                samples.append("\(bar.name) \(sample.y)/\(sample.u)/\(sample.v)")
                #expect(
                    abs(sample.y - bar.y) <= 4 && abs(sample.u - bar.u) <= 4 && abs(sample.v - bar.v) <= 4,
                    "\(bar.name) bar at x=\(x): Y'CbCr \(sample), expected \((bar.y, bar.u, bar.v))")
            }
        }

        // Codec: every frame through Parley's VP8 and back, PSNR ≥ 35 dB.
        let encoder = try VP8Encoder(
            configuration: VP8EncoderConfiguration(width: 640, height: 480, frameRate: capture.frameRate, bitrate: 2_000_000))
        let decoder = try VP8Decoder()
        var worst = Double.infinity
        for frame in frames {
            let encoded = try #require(try encoder.encode(frame))
            let decoded = try decoder.decode(encoded.payload)
            let psnr = try #require(MediaQuality.psnr(decoded, reference: frame))
            worst = min(worst, psnr)
        }
        print("vivid capture: VP8 round trip, worst luma PSNR \(worst) dB")
        #expect(worst >= 35, "worst PSNR \(worst) dB")
    }

    @Test func aBusyDeviceIsRefusedWithAnErrorNamingIt() async throws {
        let path = try vividPath(captureBus)
        let first = try V4L2Capture(path: path, request: V4L2CaptureRequest(maximumWidth: 320, maximumHeight: 240))
        defer { first.stop() }
        #expect(throws: DeviceError.busy(path)) {
            _ = try V4L2Capture(path: path, request: V4L2CaptureRequest(maximumWidth: 320, maximumHeight: 240))
        }
        #expect(DeviceError.busy(path).description.contains(path))
        // The first capture is unharmed.
        let (frames, end) = await collect(from: first, frames: 3, timeout: .seconds(20))
        #expect(frames.count == 3 && end == nil)
    }

    @Test func unpluggingTheCameraMidStreamEndsCaptureWithTheDisconnectedEvent() async throws {
        let path = try vividPath(unplugBus)
        let capture = try V4L2Capture(
            path: path, request: V4L2CaptureRequest(maximumWidth: 640, maximumHeight: 480, maximumFrameRate: 30))
        let (before, end) = await collect(from: capture, frames: 5, timeout: .seconds(20))
        try #require(before.count == 5 && end == nil)
        // vivid's "Disconnect" button emulates unplugging: the node unregisters while we stream.
        let disconnect = try #require(try capture.controls().first { $0.name == "Disconnect" && $0.isButton })
        let unplugged = monotonicNow()
        try capture.setControl(disconnect.id, to: 1)
        let (_, ending) = await collect(from: capture, frames: .max, timeout: .seconds(20))
        let waited = monotonicNow() - unplugged
        print("vivid unplug: \(String(describing: ending)) after \(waited)")
        guard case .disconnected(let error) = ending else {
            Issue.record("expected the disconnected event, got \(String(describing: ending))")
            return
        }
        #expect(error == .disconnected(path))
        #expect(waited < .seconds(5))
        capture.stop()  // after the end: returns at once
    }
}

@Suite("V4L2 devices that are not there")
struct V4L2MissingDeviceTests {
    @Test func aMissingNodeIsNotFoundByName() {
        #expect(throws: DeviceError.notFound("/dev/video-parley-missing")) {
            _ = try V4L2Capture(path: "/dev/video-parley-missing")
        }
    }

    @Test func aDirectoryWithoutVideoNodesListsNoCameras() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-v4l2-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(V4L2Devices.captureDevices(in: directory.path).isEmpty)
    }
}

/// Now on CLOCK_MONOTONIC, the clock of the driver's stamps.
private func monotonicNow() -> MonotonicInstant {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return MonotonicInstant(nanoseconds: Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec))
}

/// The node of the vivid capture device on `bus`.
private func vividPath(_ bus: String) throws -> String {
    let devices = V4L2Devices.captureDevices()
    return try #require(devices.first { $0.busInfo == bus }, "no \(bus) among \(devices.map(\.busInfo))").path
}

/// Sets vivid's test pattern to its first entry, the 75 % colour bars.
private func selectColourBars(_ path: String) throws {
    let pattern = try #require(try V4L2Devices.controls(path).first { $0.name == "Test Pattern" })
    try V4L2Devices.setControl(pattern.id, to: 0, path: path)
}

/// The chroma sample of `plane` covering luma pixel (`x`, `y`).
private func chroma(_ frame: VideoFrame, _ plane: VideoPlane, _ x: Int, _ y: Int) -> Int {
    frame.withPlane(plane) { Int($0[(y / 2) * frame.stride(of: plane) + x / 2]) }
}

/// Up to `count` frames from `capture`, and the event that ended capture if it ended first; stops the
/// capture after `timeout` so a silent device cannot hang the test.
private func collect(
    from capture: V4L2Capture, frames count: Int, timeout: Duration
) async -> (frames: [VideoFrame], end: V4L2CaptureEvent?) {
    let watchdog = Task {
        try? await Task.sleep(for: timeout)
        if !Task.isCancelled { capture.stop() }
    }
    defer { watchdog.cancel() }
    var frames: [VideoFrame] = []
    for await event in capture.events {
        switch event {
        case .frame(let frame):
            frames.append(frame)
            if frames.count >= count { return (frames, nil) }
        case .disconnected, .failed:
            return (frames, event)
        }
    }
    return (frames, nil)
}
