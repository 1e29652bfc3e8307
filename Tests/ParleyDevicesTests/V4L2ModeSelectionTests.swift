import ParleyDevices
import Testing

/// Choosing a camera mode from what a device offers (no device needed).
@Suite("V4L2 mode selection")
struct V4L2ModeSelectionTests {
    /// A typical USB camera: YUYV up to 640x480 @ 30 (720p only @ 10), MJPEG up to 1080p @ 30.
    private let webcam = V4L2DeviceInfo(
        path: "/dev/video0", card: "USB Camera", driver: "uvcvideo", busInfo: "usb-0000:00:14.0-1",
        formats: [
            V4L2FormatDescription(
                pixelFormat: .yuyv, name: "YUYV 4:2:2",
                sizes: [
                    option(320, 240, rates: [30, 15]), option(640, 480, rates: [30, 15]),
                    option(1280, 720, rates: [10, 5]),
                ]),
            V4L2FormatDescription(
                pixelFormat: .mjpeg, name: "Motion-JPEG", isCompressed: true,
                sizes: [option(640, 480, rates: [30]), option(1280, 720, rates: [30]), option(1920, 1080, rates: [30])]),
            V4L2FormatDescription(
                pixelFormat: .yuv420, name: "Planar YUV 4:2:0 (emulated)", isEmulated: true,
                sizes: [option(3840, 2160, rates: [60])]),
        ])

    @Test func theLargestSizeAtOrUnderTheRequestWinsThenTheFastestRate() throws {
        let mode = try #require(webcam.bestMode(maximumWidth: 1280, maximumHeight: 720, maximumFrameRate: 30))
        #expect(mode == V4L2Mode(pixelFormat: .mjpeg, size: size(1280, 720), interval: V4L2FrameInterval(frameRate: 30)))
    }

    @Test func anUncompressedFormatWinsATieWithACompressedOne() throws {
        let mode = try #require(webcam.bestMode(maximumWidth: 640, maximumHeight: 480, maximumFrameRate: 30))
        #expect(mode.pixelFormat == .yuyv && mode.size == size(640, 480) && mode.frameRate == 30)
    }

    @Test func ratesAboveTheRequestAreNotTaken() throws {
        let mode = try #require(webcam.bestMode(maximumWidth: 1280, maximumHeight: 720, maximumFrameRate: 12))
        #expect(mode == V4L2Mode(pixelFormat: .yuyv, size: size(1280, 720), interval: V4L2FrameInterval(frameRate: 10)))
    }

    @Test func withNoRateSlowEnoughTheSlowestOfTheLargestFittingSizeIsTaken() throws {
        let mode = try #require(webcam.bestMode(maximumWidth: 640, maximumHeight: 480, maximumFrameRate: 5))
        #expect(mode.size == size(640, 480) && mode.frameRate == 15)
    }

    @Test func emulatedFormatsAreNeverChosenAndTooSmallARequestFindsNothing() {
        #expect(webcam.bestMode(maximumWidth: 4_000, maximumHeight: 3_000, maximumFrameRate: 60)?.pixelFormat != .yuv420)
        #expect(webcam.bestMode(maximumWidth: 160, maximumHeight: 120, maximumFrameRate: 30) == nil)
    }

    @Test func pixelFormatsReadAsTheirFourCharacters() {
        #expect(V4L2PixelFormat.yuyv.fourCC == 0x5659_5559)
        #expect(V4L2PixelFormat.yuv420.description == "YU12")
        #expect(V4L2PixelFormat("MJPEG") == nil)
        #expect(V4L2FrameInterval(numerator: 1, denominator: 25).duration == .milliseconds(40))
    }
}

private func size(_ width: Int, _ height: Int) -> V4L2FrameSize {
    V4L2FrameSize(width: width, height: height)
}

private func option(_ width: Int, _ height: Int, rates: [Int]) -> V4L2SizeOption {
    V4L2SizeOption(size: size(width, height), intervals: rates.map { V4L2FrameInterval(numerator: 1, denominator: $0) })
}
