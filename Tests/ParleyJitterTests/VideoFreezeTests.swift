import ParleyJitter
import ParleyRTP
import ParleyWire
import Testing

/// Freeze, pause and inter-frame metrics against the W3C webrtc-stats definitions, on render sequences
/// built by hand: the receiver only sees `frameDecoded(_:now:)` calls.
@Suite struct VideoFreezeTests {
    static let frame = ReceivedVideoFrame(
        data: [1], timestamp: RTPTimestamp(0), pictureID: nil, isKeyFrame: false, firstSequenceNumber: SequenceNumber(0),
        packetCount: 1, firstArrival: .zero, lastArrival: .zero, renderTime: .zero)

    /// Renders one frame at each instant: the first at `start`, then after each of `intervals` (ms).
    static func render(intervals: [Int]) -> VideoReceiveStatistics {
        var receiver = VideoReceiver(ssrc: SSRC(1))
        var time = MonotonicInstant(nanoseconds: 1_000_000_000)
        receiver.frameDecoded(frame, now: time)
        for interval in intervals {
            time = time + .milliseconds(interval)
            receiver.frameDecoded(frame, now: time)
        }
        return receiver.statistics
    }

    @Test func intervalBelowAveragePlus150MillisecondsIsNotAFreezeAtThirtyFramesPerSecond() {
        // 40 intervals of 33 ms: avg 33 ms, threshold max(99, 183) = 183 ms.
        let statistics = Self.render(intervals: Array(repeating: 33, count: 40) + [182])
        #expect(statistics.freezeCount == 0)
        #expect(statistics.totalFreezesDuration == 0)
    }

    @Test func intervalAtAveragePlus150MillisecondsIsAFreezeAtThirtyFramesPerSecond() {
        // The 120 ms interval (below 183 ms) is not a freeze; the next threshold is
        // avg (29 × 33 + 120) / 30 = 35.9 ms + 150 ms = 185.9 ms: 186 ms is one, 185 ms would not be.
        let statistics = Self.render(intervals: Array(repeating: 33, count: 40) + [120, 186, 33, 33])
        #expect(statistics.freezeCount == 1)
        #expect(abs(statistics.totalFreezesDuration - 0.186) < 1e-9)
        let notFrozen = Self.render(intervals: Array(repeating: 33, count: 40) + [120, 185])
        #expect(notFrozen.freezeCount == 0)
    }

    @Test func threeTimesTheAverageGovernsAtLowFrameRates() {
        // 10 fps: avg 100 ms, threshold max(300, 250) = 300 ms; 280 ms is not a freeze. Then
        // avg (29 × 100 + 280) / 30 = 106 ms, threshold 318 ms: 319 ms is a freeze; after it
        // avg (28 × 100 + 280 + 319) / 30 = 113.3 ms, threshold 339.9 ms: 339 ms is not, 340 ms is.
        let statistics = Self.render(intervals: Array(repeating: 100, count: 30) + [280, 319, 340])
        #expect(statistics.freezeCount == 2)
        #expect(abs(statistics.totalFreezesDuration - 0.659) < 1e-9)
        let shorter = Self.render(intervals: Array(repeating: 100, count: 30) + [280, 319, 339])
        #expect(shorter.freezeCount == 1)
        #expect(abs(shorter.totalFreezesDuration - 0.319) < 1e-9)
        let below = Self.render(intervals: Array(repeating: 100, count: 30) + [280, 317])
        #expect(below.freezeCount == 0)
    }

    @Test func averageCoversOnlyTheLastThirtyIntervals() {
        // 30 slow intervals (200 ms) followed by 30 fast ones (20 ms): the slow ones have left the
        // average, so 171 ms (≥ 20 + 150) is a freeze; with 29 fast ones it would not be.
        let statistics = Self.render(intervals: Array(repeating: 200, count: 30) + Array(repeating: 20, count: 30) + [171])
        #expect(statistics.freezeCount == 1)
        let earlier = Self.render(intervals: Array(repeating: 200, count: 30) + Array(repeating: 20, count: 29) + [171])
        #expect(earlier.freezeCount == 0)
    }

    @Test func gapOverFiveSecondsIsAPauseNotAFreeze() {
        let statistics = Self.render(intervals: Array(repeating: 33, count: 10) + [5_001, 33, 5_000])
        #expect(statistics.pauseCount == 1)
        #expect(abs(statistics.totalPausesDuration - 5.001) < 1e-9)
        #expect(statistics.freezeCount == 1)  // exactly 5 s is not a pause, but is a freeze
        #expect(abs(statistics.totalFreezesDuration - 5.0) < 1e-9)
    }

    @Test func interFrameDelaysAreSummedAndSquared() {
        let statistics = Self.render(intervals: [10, 20, 30])
        #expect(abs(statistics.totalInterFrameDelay - 0.060) < 1e-12)
        #expect(abs(statistics.totalSquaredInterFrameDelay - 0.0014) < 1e-12)
        #expect(statistics.framesDecoded == 4)
    }
}
