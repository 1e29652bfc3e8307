import ParleyMedia
import ParleyTestSupport
import ParleyWire
import Testing

@Suite struct CaptureTickerTests {
    @Test func nominalPaceTicksOncePerInterval() async throws {
        let clock = VirtualClock()
        var ticker = CaptureTicker(clock: clock, interval: .milliseconds(20))
        var instants: [MonotonicInstant] = []
        for _ in 0..<5 { instants.append(try await ticker.next()) }
        let gaps = zip(instants.dropFirst(), instants).map { $0 - $1 }
        #expect(gaps == Array(repeating: .milliseconds(20), count: 4))
        #expect(ticker.skippedTicks == 0)
    }

    @Test func slowConsumerSkipsMissedTicksInsteadOfBursting() async throws {
        let clock = VirtualClock()
        var ticker = CaptureTicker(clock: clock, interval: .milliseconds(20))
        let start = try await ticker.next()
        clock.advance(by: .milliseconds(75))  // the consumer stalls for more than three intervals
        let next = try await ticker.next()
        // The ticks due at 20 and 40 ms are skipped; the one due at 60 ms fires at once, late…
        #expect(next - start == .milliseconds(75))
        #expect(ticker.skippedTicks == 2)
        // …and the schedule carries on from the start, not from the late tick.
        #expect(try await ticker.next() - start == .milliseconds(80))
    }

    @Test func asFastAsPossibleNeverSleeps() async throws {
        let clock = VirtualClock()
        var ticker = CaptureTicker(clock: clock, interval: .milliseconds(33), pace: .asFastAsPossible)
        for _ in 0..<10 { _ = try await ticker.next() }
        #expect(clock.sleepCount == 0)
    }

    @Test func systemClockIsMonotonicAndSleeps() async throws {
        let clock = SystemMediaClock()
        let before = clock.now()
        try await clock.sleep(until: before + .milliseconds(5))
        #expect(clock.now() - before >= .milliseconds(5))
    }

    @Test func pacedCameraStampsEachFrameWithItsTick() async throws {
        let clock = VirtualClock()
        var camera = try SyntheticCamera(width: 320, height: 240, frameRate: 25)
        var ticker = CaptureTicker(clock: clock, interval: camera.frameInterval)
        let first = try await camera.nextFrame(pacedBy: &ticker)
        let second = try await camera.nextFrame(pacedBy: &ticker)
        #expect(second.captureInstant - first.captureInstant == .milliseconds(40))
        #expect(VideoStamp.read(from: second) == VideoStamp(frameNumber: 1, captureInstant: second.captureInstant))
    }

    @Test func pacedMicrophoneDeliversOneIntervalOfAudioPerTick() async throws {
        let clock = VirtualClock()
        var microphone = try SyntheticMicrophone()
        var ticker = CaptureTicker(clock: clock, interval: .milliseconds(10))
        let first = try await microphone.nextFrame(pacedBy: &ticker)
        let second = try await microphone.nextFrame(pacedBy: &ticker)
        #expect(first.sampleCount == 480)
        #expect(second.presentationTime == .milliseconds(10))
        #expect(second.captureInstant - first.captureInstant == .milliseconds(10))
    }
}
