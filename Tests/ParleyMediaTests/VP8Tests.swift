import ParleyMedia
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

    @Test func lowerFrameRateGivesEachFrameMoreBits() throws {
        // Rate control spreads the bitrate over the frames: at half the frame rate, frames double in size.
        let camera = try SyntheticCamera(width: 320, height: 240)
        let encoder = try VP8Encoder(configuration: .init(width: 320, height: 240, bitrate: 300_000))
        let at30 = try encodeCamera(encoder, camera: camera, frames: 0..<60).suffix(30)
            .map { try #require($0.encoded).payload.count }
        var slower = encoder.configuration
        slower.frameRate = 15
        try encoder.apply(slower)
        var sizes: [Int] = []
        for number in UInt32(60)..<UInt32(105) {
            var frame = camera.frame(number: number, captureInstant: .zero)
            frame.presentationTime = .seconds(2) + .nanoseconds(Int64(number - 60) * 66_666_667)
            sizes.append(try #require(try encoder.encode(frame)).payload.count)
        }
        let mean30 = Double(at30.reduce(0, +)) / 30
        let mean15 = Double(sizes.suffix(15).reduce(0, +)) / 15
        #expect(mean15 > mean30 * 1.5, "30 fps: \(mean30) B/frame, 15 fps: \(mean15) B/frame")
        #expect(encoder.configuration.frameRate == 15)
    }

    @Test func speedSettingChangesWhileEncoding() throws {
        let camera = try SyntheticCamera(width: 320, height: 240)
        let changed = try VP8Encoder(configuration: .init(width: 320, height: 240, bitrate: 300_000, cpuUsed: -4))
        let unchanged = try VP8Encoder(configuration: .init(width: 320, height: 240, bitrate: 300_000, cpuUsed: -4))
        let before = try encodeCamera(changed, camera: camera, frames: 0..<5).map { $0.encoded?.payload }
        #expect(try encodeCamera(unchanged, camera: camera, frames: 0..<5).map { $0.encoded?.payload } == before)
        var faster = changed.configuration
        faster.cpuUsed = -16
        try changed.apply(faster)
        let afterChange = try encodeCamera(changed, camera: camera, frames: 5..<10).map { $0.encoded?.payload }
        let afterSame = try encodeCamera(unchanged, camera: camera, frames: 5..<10).map { $0.encoded?.payload }
        // Same input and state, different speed setting: the encoder took other decisions, without a key frame.
        #expect(afterChange != afterSame)
        #expect(try encodeCamera(changed, camera: camera, frames: 10..<11).first?.encoded?.isKeyFrame == false)
    }

    @Test func randomBytesGiveAnErrorNotACrash() throws {
        var random = SplitMix64(seed: 7)
        let decoder = try VP8Decoder()
        for _ in 0..<500 {
            let bytes = (0..<Int(random.next() % 3_000 + 1)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            #expect(throws: MediaError.self) { try decoder.decode(bytes) }
        }
        #expect(throws: MediaError.corruptInput(codec: "vp8", detail: "empty frame")) { try decoder.decode([UInt8]()) }
    }

    @Test func damagedRealFramesNeverCrashTheDecoderAndAGoodKeyFrameStillDecodes() throws {
        // Random bytes mostly stop at the frame tag; damaged real frames reach the entropy decoder.
        let camera = try SyntheticCamera(width: 320, height: 240)
        let encoder = try VP8Encoder(configuration: .init(width: 320, height: 240, bitrate: 300_000))
        let frames = try encodeCamera(encoder, camera: camera, frames: 0..<10).map { try #require($0.encoded).payload }
        var random = SplitMix64(seed: 11)
        var errors = 0
        var decoded = 0
        for round in 0..<600 {
            let decoder = try VP8Decoder()
            _ = try decoder.decode(frames[0])
            var damaged = frames[round % frames.count]
            switch round % 3 {
            case 0:  // flip bits
                for _ in 0..<Int(random.next() % 8 + 1) {
                    damaged[Int(random.next() % UInt64(damaged.count))] ^= UInt8(1) << UInt8(random.next() % 8)
                }
            case 1:  // cut short
                damaged = Array(damaged.prefix(Int(random.next() % UInt64(damaged.count))))
            default:  // a valid key-frame header followed by garbage
                damaged = Array(frames[0].prefix(10)) + (0..<200).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            do {
                let picture = try decoder.decode(damaged)
                #expect(picture.width <= 16_383 && picture.height <= 16_383)
                decoded += 1
            } catch {
                errors += 1
            }
            if round % 100 == 0 {
                #expect(try decoder.decode(frames[0]).width == 320)  // recovers at the next key frame
            }
        }
        // The damage reached the decoder (it noticed much of it) and never crashed it.
        #expect(errors > 200, "errors \(errors), decoded \(decoded)")
    }

    @Test func forgedHugeKeyFrameIsRefusedBeforeAllocating() throws {
        let camera = try SyntheticCamera(width: 320, height: 240)
        let encoder = try VP8Encoder(configuration: .init(width: 320, height: 240, bitrate: 300_000))
        var keyFrame = try #require(try encoder.encode(camera.frame(number: 0, captureInstant: .zero))).payload
        // Key frame header (RFC 6386 §9.1): 3-byte tag, start code 9D 01 2A, 14-bit width, 14-bit height.
        keyFrame[6] = 0xFF
        keyFrame[7] = 0x3F  // width 16383
        keyFrame[8] = 0xFF
        keyFrame[9] = 0x3F  // height 16383
        let decoder = try VP8Decoder()
        #expect(throws: MediaError.corruptInput(codec: "vp8", detail: "key frame larger than the maximum 3840x2160")) {
            try decoder.decode(Array(keyFrame.prefix(64)))
        }
    }

    @Test func onePixelAndOddSizedPicturesEncodeAndDecode() throws {
        for (width, height) in [(1, 1), (641, 479)] {
            var picture = try VideoFrame(width: width, height: height)
            picture.withMutablePlane(.y) { $0[0] = 200 }
            let encoder = try VP8Encoder(configuration: .init(width: width, height: height, bitrate: 100_000))
            let encoded = try #require(try encoder.encode(picture))
            let decoded = try VP8Decoder().decode(encoded.payload)
            #expect(decoded.width == width && decoded.height == height)
        }
    }

    @Test func presentationTimesOfLongCallsDoNotOverflow() throws {
        let camera = try SyntheticCamera(width: 160, height: 120)
        let encoder = try VP8Encoder(configuration: .init(width: 160, height: 120, bitrate: 100_000))
        var frame = camera.frame(number: 0, captureInstant: .zero)
        frame.presentationTime = .seconds(100 * 3_600)  // 100 hours into a call
        #expect(try encoder.encode(frame)?.presentationTime == .seconds(360_000))
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
        #expect(throws: MediaError.invalidArgument(field: "width", reason: "must be 1…16383, got 16384")) {
            try VP8Encoder(configuration: .init(width: 16_384, height: 480, bitrate: 500_000))
        }
        #expect(throws: MediaError.invalidArgument(field: "bitrate", reason: "must be 10000…100000000 bit/s, got 5")) {
            try VP8Encoder(configuration: .init(width: 640, height: 480, bitrate: 5))
        }
    }
}
