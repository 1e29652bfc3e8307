/// A sliding replay window over 64-bit counters (the SFrame CTR of one KID): accepts each counter at
/// most once, and refuses counters `width` or more below the highest one accepted.
///
/// The bitmap is a ring of 64-bit words (as in RFC 6479): moving the window forward clears the words it
/// passes, so every operation is O(1) for steps within the window and never allocates after `init`.
///
/// Use it in two steps around authentication: `allows(_:)` before decrypting (cheap rejection), and
/// `record(_:)` only once the frame authenticated, so a forged frame cannot move the window.
public struct SFrameReplayWindow: Sendable, Equatable {
    /// How far below the highest accepted counter a counter may be and still be accepted once.
    public let width: Int
    /// The highest counter recorded, or `nil` before the first.
    public private(set) var highestCounter: UInt64?
    /// Ring of `width / 64 + 1` words; bit `c % 64` of word `(c / 64) % count` stands for counter `c`.
    private var words: [UInt64]

    /// The default width: 1024 frames, about 34 s of 30 fps video.
    public static let defaultWidth = 1_024

    /// An empty window `width` counters wide, rounded up to a multiple of 64 (at least 64).
    public init(width: Int = SFrameReplayWindow.defaultWidth) {
        precondition(width > 0 && width <= 1 << 24, "replay window width must be in 1…2^24")
        let wordCount = (width + 63) / 64
        self.width = wordCount * 64
        words = Array(repeating: 0, count: wordCount + 1)
    }

    /// Whether `counter` would be accepted: not recorded before and not older than the window.
    public func allows(_ counter: UInt64) -> Bool {
        guard let highest = highestCounter else { return true }
        if counter > highest { return true }
        guard highest - counter < UInt64(width) else { return false }
        let (word, bit) = position(of: counter)
        return words[word] & bit == 0
    }

    /// Records `counter` as seen, sliding the window forward if it is the new highest. Returns whether
    /// it was accepted (`false` if seen before or too old, and then nothing changes).
    @discardableResult
    public mutating func record(_ counter: UInt64) -> Bool {
        guard allows(counter) else { return false }
        if let highest = highestCounter, counter > highest {
            // Clear the words between the old top word and the new one (all of them if the jump is large).
            let oldBlock = highest / 64
            let newBlock = counter / 64
            let blocksToClear = min(newBlock - oldBlock, UInt64(words.count))
            var block = newBlock
            for _ in 0..<blocksToClear {
                words[Int(block % UInt64(words.count))] = 0
                block &-= 1
            }
            highestCounter = counter
        } else if highestCounter == nil {
            highestCounter = counter
        }
        let (word, bit) = position(of: counter)
        words[word] |= bit
        return true
    }

    private func position(of counter: UInt64) -> (word: Int, bit: UInt64) {
        (Int((counter / 64) % UInt64(words.count)), 1 << (counter % 64))
    }
}
