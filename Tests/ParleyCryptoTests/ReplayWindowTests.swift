import ParleyCrypto
import ParleyWire
import Testing

@Suite struct ReplayWindowTests {
    @Test func anEmptyWindowAcceptsAnything() {
        let window = ReplayWindow()
        #expect(window.highest == nil)
        for counter: UInt64 in [0, 1, 2047, 2048, 1 << 40, UInt64.max] {
            #expect(window.check(counter) == .fresh)
        }
    }

    @Test func checkAloneChangesNothing() {
        var window = ReplayWindow()
        window.commit(10)
        let before = window
        _ = window.check(11)
        _ = window.check(10)
        #expect(window == before)
        #expect(window.check(11) == .fresh, "a checked but uncommitted counter stays fresh")
    }

    @Test func aCommittedCounterIsADuplicate() {
        var window = ReplayWindow()
        window.commit(0)
        #expect(window.check(0) == .duplicate)
        #expect(window.check(1) == .fresh)
        window.commit(1)
        #expect(window.check(1) == .duplicate)
        #expect(window.highest == 1)
    }

    @Test func theWindowEdgeIsWidthBelowTheHighest() {
        var window = ReplayWindow(width: 2048)
        window.commit(10_000)
        // 10 000 − 2047 is the oldest counter still inside; 10 000 − 2048 is out.
        #expect(window.check(10_000 - 2047) == .fresh)
        #expect(window.check(10_000 - 2048) == .tooOld)
        #expect(window.check(0) == .tooOld)
        window.commit(10_000 - 2047)
        #expect(window.check(10_000 - 2047) == .duplicate)
        // Sliding by one pushes the edge counter out.
        window.commit(10_001)
        #expect(window.check(10_000 - 2047) == .tooOld)
        #expect(window.check(10_001 - 2047) == .fresh)
    }

    @Test func reorderedCountersInsideTheWindowAreEachAcceptedOnce() {
        var window = ReplayWindow(width: 2048)
        var random = SplitMix64(seed: 0xC0FFEE)
        let counters = Array(UInt64(5_000)..<UInt64(7_000)).shuffled(using: &random)
        window.commit(7_000)
        for counter in counters {
            #expect(window.check(counter) == .fresh, "counter \(counter)")
            window.commit(counter)
        }
        for counter in counters {
            #expect(window.check(counter) == .duplicate, "counter \(counter)")
        }
    }

    @Test func aFarJumpForgetsEverythingBelowTheNewWindow() {
        var window = ReplayWindow(width: 2048)
        for counter in UInt64(0)..<100 { window.commit(counter) }
        window.commit(1_000_000)
        #expect(window.check(99) == .tooOld)
        // Every bit inside the new window starts clear: old bits must not alias into it.
        for counter in (1_000_000 - 2047)..<UInt64(1_000_000) {
            #expect(window.check(counter) == .fresh)
        }
        #expect(window.check(1_000_000) == .duplicate)
    }

    @Test func aJumpOfExactlyTheRingSizeClearsReusedWords() {
        // The ring has width / 64 + 1 = 3 words for width 128; a jump of 3 words reuses the same word.
        var window = ReplayWindow(width: 128)
        window.commit(5)
        window.commit(5 + 3 * 64)
        #expect(window.check(5 + 3 * 64) == .duplicate)
        #expect(window.check(5 + 2 * 64) == .fresh)
        #expect(window.check(6 + 64) == .fresh, "inside the window and never committed")
        #expect(window.check(5) == .tooOld)
    }

    @Test func slidingWordByWordKeepsWhatIsStillInside() {
        var window = ReplayWindow(width: 128)
        for counter in stride(from: UInt64(0), through: 1_000, by: 3) {
            window.commit(counter)
            // Everything committed and still inside the window is remembered.
            let low = counter >= 127 ? counter - 127 : 0
            for earlier in low...counter {
                #expect(window.check(earlier) == (earlier % 3 == 0 ? .duplicate : .fresh), "after \(counter): \(earlier)")
            }
        }
    }

    @Test func committingSomethingNotFreshChangesNothing() {
        var window = ReplayWindow(width: 2048)
        window.commit(5_000)
        window.commit(4_000)
        let before = window
        window.commit(4_000)  // duplicate
        window.commit(1)  // too old
        #expect(window == before)
    }

    @Test func countersReachTheTopOfTheRange() {
        var window = ReplayWindow(width: 2048)
        window.commit(UInt64.max - 1)
        #expect(window.check(UInt64.max) == .fresh)
        window.commit(UInt64.max)
        #expect(window.check(UInt64.max) == .duplicate)
        #expect(window.check(UInt64.max - 1) == .duplicate)
        #expect(window.check(UInt64.max - 2047) == .fresh)
        #expect(window.check(UInt64.max - 2048) == .tooOld)
    }

    @Test func randomTrafficAgreesWithASetModel() {
        var window = ReplayWindow(width: 256)
        var random = SplitMix64(seed: 7)
        var seen = Set<UInt64>()
        var highest: UInt64?
        for _ in 0..<20_000 {
            let base = highest ?? 1_000
            let counter = base + UInt64.random(in: 0...40, using: &random) - min(base, UInt64.random(in: 0...300, using: &random))
            let expected: ReplayWindow.Verdict
            if let highest, counter <= highest, highest - counter >= 256 {
                expected = .tooOld
            } else {
                expected = seen.contains(counter) ? .duplicate : .fresh
            }
            #expect(window.check(counter) == expected, "counter \(counter), highest \(String(describing: highest))")
            if expected == .fresh, Bool.random(using: &random) {
                window.commit(counter)
                seen.insert(counter)
                highest = max(highest ?? counter, counter)
            }
        }
    }

    @Test func aMinimumWidthIsRoundedUpToWholeWords() {
        #expect(ReplayWindow(minimumWidth: 1).width == 64)
        #expect(ReplayWindow(minimumWidth: 64).width == 64)
        #expect(ReplayWindow(minimumWidth: 100).width == 128)
        #expect(ReplayWindow(minimumWidth: 1_024) == ReplayWindow(width: 1_024))
    }

    @Test func anSFrameReceiverDefaultsToA1024WideWindowRoundedUpToWholeWords() {
        #expect(SFrameContext.Receiver.defaultReplayWindowWidth == 1_024)
        #expect(SFrameContext.Receiver().replayWindowWidth == 1_024)
        #expect(SFrameContext.Receiver(replayWindowWidth: 100).replayWindowWidth == 128)
    }

    @Test func theNarrowestWindowAcceptsEachCounterInsideItOnce() {
        // 64 wide: a ring of two words. 200 − 63 is the oldest counter still inside; 200 − 64 is out.
        var window = ReplayWindow(width: 64)
        window.commit(200)
        #expect(window.check(137) == .fresh)
        #expect(window.check(136) == .tooOld)
        for counter in stride(from: UInt64(199), through: 137, by: -2) {
            #expect(window.check(counter) == .fresh)
            window.commit(counter)
        }
        for counter in stride(from: UInt64(199), through: 137, by: -2) {
            #expect(window.check(counter) == .duplicate)
        }
        for counter in stride(from: UInt64(198), through: 138, by: -2) {
            #expect(window.check(counter) == .fresh)
        }
        #expect(window.check(UInt64.max) == .fresh)
    }

    @Test func committingEveryArrivalAgreesWithASetModelAtEveryWidth() {
        var random = SplitMix64(seed: 0xA11_0CA7E)
        for width in [64, 128, 1_024] {
            var window = ReplayWindow(width: width)
            var seen = Set<UInt64>()
            var highest: UInt64?
            var base = UInt64.random(in: 0...1_000_000, using: &random)
            for _ in 0..<5_000 {
                base += UInt64.random(in: 0...3, using: &random)
                let jitter = UInt64.random(in: 0...UInt64(2 * width), using: &random)
                let counter = base >= jitter ? base - jitter : base
                let expected: ReplayWindow.Verdict
                if let highest, counter <= highest, highest - counter >= UInt64(width) {
                    expected = .tooOld
                } else {
                    expected = seen.contains(counter) ? .duplicate : .fresh
                }
                #expect(window.check(counter) == expected, "width \(width), counter \(counter)")
                // Every arrival is committed: only a fresh one changes the window.
                let before = window
                window.commit(counter)
                if expected == .fresh {
                    #expect(window.check(counter) == .duplicate)
                    seen.insert(counter)
                    highest = max(highest ?? counter, counter)
                } else {
                    #expect(window == before)
                }
            }
        }
    }
}
