@testable import ParleyMedia
import ParleyWire
import Testing

/// Encodes `count` synthetic-camera frames starting at `first`; returns sources and encoded frames.
private func encodeCamera(
    _ encoder: VP8Encoder, camera: SyntheticCamera, frames range: Range<UInt32>
) throws -> [(source: VideoFrame, encoded: EncodedVideoFrame?)] {
    try range.map { number in
        let source = camera.frame(number: number, captureInstant: MonotonicInstant(microseconds: Int64(number) * 33_333))
        return (source, try encoder.encode(source))
    }
}

@Suite struct VP8Tests {
    @Test func vgaAtOneMegabitKeepsPSNRAbove35dB() throws {
        let camera = try SyntheticCamera(width: 640, height: 480)
        let encoder = try VP8Encoder(configuration: .init(width: 640, height: 480, bitrate: 1_000_000))
        let decoder = try VP8Decoder()
        var psnrs: [Double] = []
        var bytes = 0
        for (source, encoded) in try encodeCamera(encoder, camera: camera, frames: 0..<90) {
            let encoded = try #require(encoded)
            bytes += encoded.payload.count
            let decoded = try decoder.decode(encoded.payload)
            psnrs.append(try #require(MediaQuality.psnr(decoded, reference: source)))
        }
        let mean = psnrs.reduce(0, +) / Double(psnrs.count)
        let bitrate = Double(bytes * 8) / 3
        #expect(mean >= 35, "mean luma PSNR \(mean) dB")
        #expect(psnrs.min()! >= 30, "worst frame \(psnrs.min()!) dB")
        // Rate control holds the target within 15 % over three seconds.
        #expect(abs(bitrate - 1_000_000) / 1_000_000 < 0.15, "\(bitrate) bit/s")
    }

    @Test func firstFrameIsAKeyFrameAndLaterOnesAreNot() throws {
        let camera = try SyntheticCamera(width: 320, height: 240)
        let encoder = try VP8Encoder(configuration: .init(width: 320, height: 240, bitrate: 300_000))
        let frames = try encodeCamera(encoder, camera: camera, frames: 0..<10).map { try #require($0.encoded) }
        #expect(frames.map(\.isKeyFrame) == [true] + Array(repeating: false, count: 9))
        #expect(frames[3].presentationTime == camera.frame(number: 3, captureInstant: .zero).presentationTime)
        #expect(frames[3].captureInstant == MonotonicInstant(microseconds: 3 * 33_333))
    }

    @Test func forcedKeyFrameIsTheNextFrame() throws {
        let camera = try SyntheticCamera(width: 320, height: 240)
        let encoder = try VP8Encoder(configuration: .init(width: 320, height: 240, bitrate: 300_000))
        _ = try encodeCamera(encoder, camera: camera, frames: 0..<20)
        encoder.forceKeyFrame()
        let after = try encodeCamera(encoder, camera: camera, frames: 20..<23).map { try #require($0.encoded) }
        #expect(after.map(\.isKeyFrame) == [true, false, false])
        // A key frame decodes on a fresh decoder: it needs nothing earlier.
        let decoder = try VP8Decoder()
        #expect(try decoder.decode(after[0].payload).width == 320)
    }

    @Test func halvingTheBitrateLowersTheMeanFrameSizeWithinTwoSeconds() throws {
        let camera = try SyntheticCamera(width: 640, height: 480)
        let encoder = try VP8Encoder(configuration: .init(width: 640, height: 480, bitrate: 1_000_000))
        let before = try encodeCamera(encoder, camera: camera, frames: 0..<60)
            .dropFirst(30).map { try #require($0.encoded).payload.count }
        var halved = encoder.configuration
        halved.bitrate = 500_000
        try encoder.apply(halved)
        let after = try encodeCamera(encoder, camera: camera, frames: 60..<120)
            .map { try #require($0.encoded).payload.count }
        let meanBefore = Double(before.reduce(0, +)) / Double(before.count)
        let meanAfter = Double(after.reduce(0, +)) / Double(after.count)
        #expect(meanAfter < meanBefore * 0.7, "before \(meanBefore) B/frame, after \(meanAfter) B/frame")
        // …and the second of those two seconds is near the new target (±20 %).
        let lastSecond = Double(after.suffix(30).reduce(0, +) * 8)
        #expect(abs(lastSecond - 500_000) / 500_000 < 0.2, "\(lastSecond) bit/s")
    }

    @Test func resolutionChangesMidStream() throws {
        let large = try SyntheticCamera(width: 640, height: 480)
        let small = try SyntheticCamera(width: 320, height: 240)
        let encoder = try VP8Encoder(configuration: .init(width: 640, height: 480, bitrate: 800_000))
        let decoder = try VP8Decoder()
        for (source, encoded) in try encodeCamera(encoder, camera: large, frames: 0..<10) {
            #expect(try decoder.decode(try #require(encoded).payload).width == source.width)
        }
        // A smaller frame arrives: the encoder re-initialises and starts with a key frame.
        let switched = try encodeCamera(encoder, camera: small, frames: 10..<20)
        #expect(switched.first?.encoded?.isKeyFrame == true)
        #expect(encoder.configuration.width == 320)
        for (source, encoded) in switched {
            let decoded = try decoder.decode(try #require(encoded).payload)
            #expect(decoded.width == 320 && decoded.height == 240)
            #expect(try #require(MediaQuality.psnr(decoded, reference: source)) > 30)
        }
        // And back up, by configuration this time.
        var back = encoder.configuration
        back.width = 640
        back.height = 480
        try encoder.apply(back)
        let up = try encodeCamera(encoder, camera: large, frames: 20..<22)
        #expect(up.first?.encoded?.isKeyFrame == true)
        #expect(try decoder.decode(try #require(up.first?.encoded).payload).width == 640)
    }

    @Test func frameRateAndSpeedChangeWhileEncoding() throws {
        let camera = try SyntheticCamera(width: 320, height: 240)
        let encoder = try VP8Encoder(configuration: .init(width: 320, height: 240, bitrate: 300_000))
        _ = try encodeCamera(encoder, camera: camera, frames: 0..<5)
        var changed = encoder.configuration
        changed.frameRate = 15
        changed.cpuUsed = -12
        try encoder.apply(changed)
        let later = try encodeCamera(encoder, camera: camera, frames: 5..<10)
        #expect(later.allSatisfy { $0.encoded?.isKeyFrame == false })
        #expect(encoder.configuration == changed)
    }

    @Test func randomBytesGiveAnErrorNotACrash() throws {
        var random = SplitMix64(seed: 7)
        let decoder = try VP8Decoder()
        for _ in 0..<500 {
            let bytes = (0..<Int(random.next() % 3_000 + 1)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            #expect(throws: MediaError.self) { try decoder.decode(bytes) }
        }
        #expect(throws: MediaError.corruptInput(codec: "vp8", detail: "empty frame")) { try decoder.decode([]) }
    }

    @Test func truncatedAndCorruptedFramesGiveErrorsAndDecodingResumesAtTheNextKeyFrame() throws {
        let camera = try SyntheticCamera(width: 320, height: 240)
        let encoder = try VP8Encoder(configuration: .init(width: 320, height: 240, bitrate: 300_000))
        let frames = try encodeCamera(encoder, camera: camera, frames: 0..<3).map { try #require($0.encoded) }
        let decoder = try VP8Decoder()
        // A key frame cut to its first 10 bytes: the header promises more than there is.
        #expect(throws: MediaError.self) { try decoder.decode(Array(frames[0].payload.prefix(10))) }
        // An inter frame with no key frame before it has no reference.
        #expect(throws: MediaError.self) { try decoder.decode(frames[1].payload) }
        #expect(try decoder.decode(frames[0].payload).width == 320)
        #expect(try decoder.decode(frames[1].payload).width == 320)
    }

    @Test func invalidConfigurationIsRefusedNamingTheField() {
        #expect(throws: MediaError.invalidArgument(field: "width", reason: "must be even and 16…16384, got 641")) {
            try VP8Encoder(configuration: .init(width: 641, height: 480, bitrate: 500_000))
        }
        #expect(throws: MediaError.invalidArgument(field: "bitrate", reason: "must be 10000…100000000 bit/s, got 5")) {
            try VP8Encoder(configuration: .init(width: 640, height: 480, bitrate: 5))
        }
    }
}
