import ParleyCrypto
import ParleyWire
import Testing

@Suite struct SFrameReplayWindowTests {
    @Test func anyFirstCounterIsAcceptedAndNeverTwice() {
        var window = SFrameReplayWindow()
        var accepted: Bool
        #expect(window.highestCounter == nil)
        accepted = window.record(1_000_000)
        #expect(accepted)
        #expect(window.highestCounter == 1_000_000)
        #expect(!window.allows(1_000_000))
        accepted = window.record(1_000_000)
        #expect(!accepted)
    }

    @Test func widthIsRoundedUpToWholeWordsAndDefaultsTo1024() {
        #expect(SFrameReplayWindow().width == 1_024)
        #expect(SFrameReplayWindow(width: 1).width == 64)
        #expect(SFrameReplayWindow(width: 100).width == 128)
    }

    @Test func outOfOrderWithinTheWindowIsAcceptedOnceAndOlderIsRefused() {
        var window = SFrameReplayWindow(width: 64)
        var accepted: Bool
        accepted = window.record(200)
        #expect(accepted)
        // 200 − 63 is the oldest still inside a 64-wide window; 200 − 64 is outside.
        #expect(window.allows(137))
        #expect(!window.allows(136))
        accepted = window.record(136)
        #expect(!accepted)
        for counter in stride(from: 199, through: 137, by: -2) {
            accepted = window.record(UInt64(counter))
            #expect(accepted)
        }
        for counter in stride(from: 199, through: 137, by: -2) {
            #expect(!window.allows(UInt64(counter)))
        }
        for counter in stride(from: 198, through: 138, by: -2) {
            #expect(window.allows(UInt64(counter)))
        }
    }

    @Test func movingForwardForgetsOnlyWhatFellOutOfTheWindow() {
        var window = SFrameReplayWindow(width: 128)
        var accepted: Bool
        for counter in UInt64(0)..<100 { accepted = window.record(counter); #expect(accepted) }
        accepted = window.record(150)
        #expect(accepted)  // 150 − 127 = 23 is now the oldest counter inside
        for counter in UInt64(23)..<100 { #expect(!window.allows(counter), "\(counter) was seen") }
        for counter in UInt64(0)...22 { #expect(!window.allows(counter), "\(counter) is too old") }
        for counter in UInt64(100)..<150 { #expect(window.allows(counter), "\(counter) was not seen") }
        // A jump far beyond the window clears it entirely: nothing stale is left in the ring.
        accepted = window.record(10_000)
        #expect(accepted)
        for counter in UInt64(10_000 - 127)..<10_000 { #expect(window.allows(counter)) }
        #expect(!window.allows(10_000 - 128))
    }

    @Test func countersAtTheTopOfTheRangeWork() {
        var window = SFrameReplayWindow(width: 64)
        var accepted: Bool
        accepted = window.record(UInt64.max - 1)
        #expect(accepted)
        accepted = window.record(UInt64.max)
        #expect(accepted)
        #expect(!window.allows(UInt64.max) && !window.allows(UInt64.max - 1))
        #expect(window.allows(UInt64.max - 2) && window.allows(UInt64.max - 63))
        #expect(!window.allows(UInt64.max - 64) && !window.allows(0))
    }

    @Test func matchesAPlainSetModelOnRandomTraffic() {
        var random = SplitMix64(seed: 0xA11_0CA7E)
        for width in [64, 200, 1_024] {
            var window = SFrameReplayWindow(width: width)
            var accepted: Bool
            var seen: Set<UInt64> = []
            var highest: UInt64?
            var base: UInt64 = UInt64.random(in: 0...1_000_000, using: &random)
            for _ in 0..<5_000 {
                base += UInt64.random(in: 0...3, using: &random)
                let jitter = UInt64.random(in: 0...UInt64(2 * window.width), using: &random)
                let counter = base >= jitter ? base - jitter : base
                let expected = !seen.contains(counter) && (highest.map { counter > $0 || $0 - counter < UInt64(window.width) } ?? true)
                #expect(window.allows(counter) == expected)
                accepted = window.record(counter)
                #expect(accepted == expected)
                if expected {
                    seen.insert(counter)
                    highest = max(highest ?? counter, counter)
                }
            }
        }
    }
}
