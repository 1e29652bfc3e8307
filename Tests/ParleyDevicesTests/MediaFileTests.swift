import Foundation
import ParleyDevices
import ParleyMedia
import ParleyWire
import Testing

/// The recording sinks' files: Y4M video and WAV audio, written and read back.
@Suite("Recording files")
struct MediaFileTests {
    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("parley-\(UUID().uuidString.prefix(8))-\(name)").path
    }

    @Test("Y4M frames read back byte for byte, stamps included, with the header's size and rate")
    func y4mRoundTrip() throws {
        let path = temporaryPath("camera.y4m")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var camera = try SyntheticCamera(width: 320, height: 240, frameRate: 30)
        let frames = (0..<5).map { camera.nextFrame(captureInstant: MonotonicInstant(microseconds: Int64($0) * 33_333)) }
        let recorder = try Y4MRecorder(path: path, width: 320, height: 240, frameRate: 30)
        for frame in frames { try recorder.write(frame) }
        #expect(recorder.framesWritten == 5)
        #expect(throws: DeviceError.self) { try recorder.write(try VideoFrame(width: 160, height: 120)) }
        recorder.close()

        let header = try String(contentsOfFile: path, encoding: .isoLatin1).prefix { $0 != "\n" }
        #expect(header == "YUV4MPEG2 W320 H240 F30:1 Ip A1:1 C420jpeg")
        var reader = try Y4MReader(path: path)
        #expect(reader.width == 320 && reader.height == 240 && reader.frameRate == 30)
        var read: [VideoFrame] = []
        while let frame = reader.next() { read.append(frame) }
        #expect(read.count == 5)
        for (original, copy) in zip(frames, read) {
            for plane in VideoPlane.allCases {
                for row in stride(from: 0, to: original.height(of: plane), by: 7) {
                    let a = original.withPlane(plane) { Array($0[(row * original.stride(of: plane))..<(row * original.stride(of: plane) + original.width(of: plane))]) }
                    let b = copy.withPlane(plane) { Array($0[(row * copy.stride(of: plane))..<(row * copy.stride(of: plane) + copy.width(of: plane))]) }
                    #expect(a == b, "plane \(plane) row \(row)")
                }
            }
        }
        #expect(read.compactMap { VideoStamp.read(from: $0)?.frameNumber } == [0, 1, 2, 3, 4])
    }

    @Test("A WAV file has the canonical 44-byte header with its final sizes and reads back the samples")
    func wavRoundTrip() throws {
        let path = temporaryPath("voice.wav")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var microphone = try SyntheticMicrophone()
        let recorder = try WAVRecorder(path: path)
        var written: [Int16] = []
        for _ in 0..<50 {
            let frame = microphone.nextFrame(sampleCount: 960, captureInstant: .zero)
            try recorder.write(frame.samples)
            written += frame.samples
        }
        recorder.close()

        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let dataBytes = 48_000 * 2
        let expectedHeader: [UInt8] =
            Array("RIFF".utf8)  // chunk id
            + [0x24, 0x77, 0x01, 0x00]  // RIFF size: 36 + 96 000 = 96 036
            + Array("WAVE".utf8) + Array("fmt ".utf8)  // form type, format chunk id
            + [0x10, 0x00, 0x00, 0x00]  // format chunk size 16
            + [0x01, 0x00, 0x01, 0x00]  // PCM, 1 channel
            + [0x80, 0xBB, 0x00, 0x00]  // 48 000 samples per second
            + [0x00, 0x77, 0x01, 0x00]  // 96 000 bytes per second
            + [0x02, 0x00, 0x10, 0x00]  // 2-byte blocks, 16 bits
            + Array("data".utf8) + [0x00, 0x77, 0x01, 0x00]  // data chunk: 96 000 bytes
        #expect(Array(bytes.prefix(44)) == expectedHeader)
        #expect(bytes.count == 44 + dataBytes)
        let file = try WAVFile(path: path)
        #expect(file.channelCount == 1 && file.sampleRate == 48_000)
        #expect(file.samples == written)
        // The microphone's markers survive the file (every 500 ms: at 0 and 0.5 s).
        #expect(AudioMarker.detectStarts(in: file.samples).count == 2)
    }

    @Test("Reading a missing or foreign file gives a clear error")
    func foreignFilesAreRefused() throws {
        let path = temporaryPath("not-media.txt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "hello".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DeviceError.unsupported(device: path, reason: "not a RIFF WAVE file")) { try WAVFile(path: path) }
        #expect(throws: DeviceError.unsupported(device: path, reason: "no Y4M header")) { try Y4MReader(path: path) }
        #expect(throws: DeviceError.notFound(path + ".missing")) { try WAVFile(path: path + ".missing") }
    }
}
