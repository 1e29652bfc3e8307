import ParleyMedia
import ParleyWire
import Testing

@Suite struct VideoStampTests {
    @Test func stampReadsBackExactlyFromAnUncodedFrame() throws {
        let camera = try SyntheticCamera(width: 640, height: 480)
        let instant = MonotonicInstant(nanoseconds: 123_456_789_987_654)
        let frame = camera.frame(number: 4_000_000_123, captureInstant: instant)
        let stamp = try #require(VideoStamp.read(from: frame))
        #expect(stamp.frameNumber == 4_000_000_123)
        #expect(stamp.captureInstant == MonotonicInstant(microseconds: 123_456_789_987))
        #expect(frame.captureInstant == stamp.captureInstant)
    }

    @Test func instantsOutsideFortyEightBitsAreReducedTheSameWayWhenWrittenAndRead() throws {
        let camera = try SyntheticCamera(width: 320, height: 240)
        for nanoseconds: Int64 in [-5_000, (1 << 48) * 1_000 + 7_000, Int64.max] {
            let instant = MonotonicInstant(nanoseconds: nanoseconds)
            let frame = camera.frame(number: 1, captureInstant: instant)
            #expect(VideoStamp.read(from: frame) == VideoStamp(frameNumber: 1, captureInstant: instant))
        }
        #expect(VideoStamp(frameNumber: 0, captureInstant: MonotonicInstant(microseconds: (1 << 48) + 5)).captureInstant
            == MonotonicInstant(microseconds: 5))
    }

    @Test func frameWithoutAStampReadsAsNone() throws {
        let grey = try VideoFrame(width: 640, height: 480)
        #expect(VideoStamp.read(from: grey) == nil)
        // One flipped cell breaks the CRC: a damaged stamp is never misread as another frame.
        var frame = try SyntheticCamera(width: 320, height: 240).frame(number: 9, captureInstant: .zero)
        let stride = frame.stride(of: .y)
        frame.withMutablePlane(.y) { luma in
            for row in 0..<16 { for column in 0..<16 { luma[row * stride + column] ^= 0xFF } }
        }
        #expect(VideoStamp.read(from: frame) == nil)
    }

    @Test func everyFrameIsIdentifiedAfterVP8At300Kilobits() throws {
        let camera = try SyntheticCamera(width: 640, height: 480)
        let encoder = try VP8Encoder(configuration: .init(width: 640, height: 480, bitrate: 300_000))
        let decoder = try VP8Decoder()
        var bytes = 0
        for number in UInt32(0)..<150 {
            // Capture instants as a real clock gives them: uneven, with nanoseconds.
            let instant = MonotonicInstant(nanoseconds: 86_400_000_000_000 + Int64(number) * 33_333_337 + Int64(number % 7) * 911)
            let source = camera.frame(number: number, captureInstant: instant)
            let encoded = try #require(try encoder.encode(source))
            bytes += encoded.payload.count
            let decoded = try decoder.decode(encoded.payload)
            let stamp = VideoStamp.read(from: decoded)
            #expect(stamp == VideoStamp(frameNumber: number, captureInstant: instant), "frame \(number)")
        }
        // The test really ran at the low rate it claims (±20 % over five seconds).
        #expect(abs(Double(bytes * 8) / 5 - 300_000) < 60_000)
    }

    @Test func smallFramesUseSmallerCellsAndStillCarryTheStamp() throws {
        #expect(VideoStamp.cellSize(forWidth: 160) == 8)
        #expect(VideoStamp.cellSize(forWidth: 1280) == 16)
        let frame = try SyntheticCamera(width: 160, height: 120).frame(number: 77, captureInstant: .zero)
        #expect(VideoStamp.read(from: frame)?.frameNumber == 77)
        #expect(throws: MediaError.self) { try SyntheticCamera(width: 64, height: 48) }
    }
}

@Suite struct SyntheticCameraTests {
    @Test func framesMoveAndAreAPureFunctionOfTheirNumber() throws {
        var camera = try SyntheticCamera(width: 320, height: 240, frameRate: 25)
        let first = camera.nextFrame(captureInstant: .zero)
        let second = camera.nextFrame(captureInstant: .zero)
        #expect(camera.nextFrameNumber == 2)
        #expect(second.presentationTime == .milliseconds(40))
        // Consecutive frames differ (motion), yet regenerating a frame gives the same picture.
        #expect(try #require(MediaQuality.psnr(second, reference: first)) < 30)
        #expect(MediaQuality.psnr(camera.frame(number: 1, captureInstant: .zero), reference: second) == .infinity)
    }
}

@Suite struct SyntheticMicrophoneTests {
    @Test func markersAreFoundAtTheirTruePositionsInTheSource() throws {
        var microphone = try SyntheticMicrophone()
        let samples = microphone.nextFrame(sampleCount: 48_000 * 3, captureInstant: .zero).samples
        #expect(AudioMarker.detectStarts(in: samples) == microphone.markerStarts(in: 0..<samples.count))
        #expect(microphone.markerStarts(in: 0..<samples.count) == [12_000, 36_000, 60_000, 84_000, 108_000, 132_000])
    }

    @Test func aListenerFedIn20MsBlocksHearsEveryMarkerOfItsCompleteWindowsOnce() throws {
        var microphone = try SyntheticMicrophone()
        var listener = AudioMarkerListener()
        var heard = 0
        // 3.5 s in 20 ms blocks: three whole windows (0–3 s) are searched, the half second after is pending.
        for _ in 0..<175 {
            heard += listener.listen(to: microphone.nextFrame(sampleCount: 960, captureInstant: .zero).samples)
        }
        #expect(heard == microphone.markerStarts(in: 0..<3 * AudioMarkerListener.window).count)
        #expect(heard == 6)
    }

    @Test func markersAreFoundInDecodedOpusWithinOneMillisecond() throws {
        var microphone = try SyntheticMicrophone()
        let encoder = try OpusEncoder()
        let decoder = try OpusDecoder()
        var decoded: [Int16] = []
        for _ in 0..<250 {  // 5 s
            let packet = try encoder.encode(microphone.nextFrame(sampleCount: 960, captureInstant: .zero))
            decoded += try decoder.decode(packet.payload).samples
        }
        let truth = microphone.markerStarts(in: 0..<(decoded.count - encoder.lookahead))
        let found = AudioMarker.detectStarts(in: decoded).map { $0 - encoder.lookahead }
        #expect(found.count == truth.count, "found \(found), expected \(truth)")
        for (position, expected) in zip(found, truth) {
            #expect(abs(position - expected) <= 48, "marker at \(position), expected \(expected)")
        }
    }

    @Test func speechLikeSignalIsNotATone() throws {
        var microphone = try SyntheticMicrophone(markerInterval: .seconds(60))
        let samples = microphone.nextFrame(sampleCount: 48_000 * 2, captureInstant: .zero).samples
        // Level of speech (about −20 dBFS RMS), with pauses, and no single period repeating for long.
        let rms = (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot()
        #expect(rms > 1_500 && rms < 6_000, "rms \(rms)")
        let tenMilliseconds = 480
        let quietWindows = stride(from: 0, to: samples.count - tenMilliseconds, by: tenMilliseconds).filter { start in
            samples[start..<(start + tenMilliseconds)].allSatisfy { abs(Int($0)) < 300 }
        }
        #expect(quietWindows.count >= 10, "pauses: \(quietWindows.count) quiet 10 ms windows")
        let selfSimilarity = MediaQuality.correlation(
            Array(samples[24_000..<48_000]), reference: Array(samples[0..<24_000]), lag: 0) ?? 1
        #expect(abs(selfSimilarity) < 0.3)
    }

    @Test func stereoCarriesTheSameSignalOnBothChannels() throws {
        var microphone = try SyntheticMicrophone(channelCount: 2)
        let frame = microphone.nextFrame(sampleCount: 960, captureInstant: .zero)
        #expect(frame.samples.count == 1_920)
        #expect(stride(from: 0, to: 1_920, by: 2).allSatisfy { frame.samples[$0] == frame.samples[$0 + 1] })
        #expect(frame.duration == .milliseconds(20))
        #expect(microphone.nextFrame(sampleCount: 960, captureInstant: .zero).presentationTime == .milliseconds(20))
    }
}
