import ParleyMedia
import ParleyWire
import Testing

@Suite struct VideoFrameTests {
    @Test func planesHaveI420SizesWithAlignedStrides() throws {
        let frame = try VideoFrame(width: 642, height: 481)
        #expect(frame.width(of: .u) == 321 && frame.height(of: .u) == 241)
        #expect(frame.stride(of: .y) == 672 && frame.stride(of: .v) == 352)
        frame.withPlane(.v) { #expect($0.count == 352 * 241) }
    }

    @Test func copiesShareStorageUntilOneIsWritten() throws {
        let original = try VideoFrame(width: 16, height: 16)
        var copy = original
        copy.withMutablePlane(.y) { $0[0] = 7 }
        #expect(copy.luma(x: 0, y: 0) == 7)
        #expect(original.luma(x: 0, y: 0) == 128)
    }

    @Test func badSizesAndAlignmentsAreRefusedNamingTheField() {
        #expect(throws: MediaError.invalidArgument(field: "height", reason: "must be 1…16384, got 0")) {
            try VideoFrame(width: 16, height: 0)
        }
        for alignment in [0, -32, 24, 8_192] {
            #expect(throws: MediaError.self) { try VideoFrame(width: 16, height: 16, alignment: alignment) }
        }
    }
}

@Suite struct AudioFrameTests {
    @Test func durationFollowsSampleCountAt48kHz() {
        let frame = AudioFrame(channelCount: 2, samples: [Int16](repeating: 0, count: 1_920))
        #expect(frame.sampleCount == 960)
        #expect(frame.duration == .milliseconds(20))
        #expect(AudioFrame.sampleCount(in: .milliseconds(60)) == 2_880)
    }

    @Test func longCallsDoNotOverflowSampleArithmetic() {
        let hundredHours = 48_000 * 3_600 * 100
        #expect(AudioFrame.duration(ofSamples: hundredHours) == .seconds(360_000))
        #expect(AudioFrame.sampleCount(in: .seconds(360_000)) == hundredHours)
        #expect(AudioFrame.duration(ofSamples: 1) == .seconds(1) / 48_000)
    }
}
