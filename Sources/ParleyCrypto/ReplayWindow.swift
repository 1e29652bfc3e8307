/// A sliding replay window over 64-bit counters (RFC 6479's ring of bitmap words): remembers which of
/// the `width` most recent counters up to the highest one committed have been seen.
///
/// Use it in two steps, so a forged input never changes the window:
/// 1. `check(_:)` before authenticating — a `.duplicate` or `.tooOld` counter is dropped cheaply;
/// 2. `commit(_:)` only after the input authenticated.
///
/// A counter is *too old* when it is `width` or more below the highest committed counter; everything
/// above the highest is fresh (far jumps are allowed: the window slides, forgetting what falls out).
/// The ring holds `width / 64 + 1` words, one more than the window needs, so advancing clears whole
/// words and never forgets a counter still inside the window. Counters span the full `UInt64` range.
///
/// A value type with no clock; the pairwise channel (datagram counters and reliable message ids) and the
/// SFrame receiver (the CTR of each KID) use it, and any other layer may.
public struct ReplayWindow: Equatable, Sendable {
    /// What `check(_:)` says about a counter.
    public enum Verdict: Equatable, Sendable {
        /// Not seen and inside (or above) the window: accept it if it authenticates, then `commit`.
        case fresh
        /// Seen before (committed).
        case duplicate
        /// Below the window: it may or may not have been seen; the window no longer knows.
        case tooOld
    }

    /// How many counters the window covers, ending at (and including) the highest committed one.
    public let width: Int
    /// The highest counter committed so far, or `nil` before the first.
    public private(set) var highest: UInt64?
    private var words: [UInt64]

    /// The default width, and the least the pairwise channel allows (Protocols/peer/channel.md §3).
    public static let defaultWidth = 2048

    /// An empty window covering `width` counters.
    ///
    /// - Precondition: `width` is a positive multiple of 64.
    public init(width: Int = ReplayWindow.defaultWidth) {
        precondition(width >= 64 && width % 64 == 0, "a replay window is a positive multiple of 64 wide")
        self.width = width
        words = Array(repeating: 0, count: width / 64 + 1)
    }

    /// An empty window covering at least `minimumWidth` counters: the width is rounded up to a multiple
    /// of 64 (for callers such as SFrame, whose configured width is any positive number).
    ///
    /// - Precondition: `minimumWidth` is in 1…2^24.
    public init(minimumWidth: Int) {
        precondition((1...1 << 24).contains(minimumWidth), "a replay window is 1…2^24 wide")
        self.init(width: (minimumWidth + 63) / 64 * 64)
    }

    /// Whether `counter` would be accepted, without changing anything.
    public func check(_ counter: UInt64) -> Verdict {
        guard let highest else { return .fresh }
        if counter > highest { return .fresh }
        if highest - counter >= UInt64(width) { return .tooOld }
        return isSet(counter) ? .duplicate : .fresh
    }

    /// Records `counter` as seen (call it only after the input carrying it authenticated). A counter
    /// above the highest slides the window up to it; a counter that is not `.fresh` changes nothing.
    public mutating func commit(_ counter: UInt64) {
        guard check(counter) == .fresh else { return }
        if let highest, counter <= highest {
            set(counter)
            return
        }
        let newBlock = counter >> 6
        if let highest {
            let oldBlock = highest >> 6
            let advance = newBlock - oldBlock
            if advance >= UInt64(words.count) {
                for index in words.indices { words[index] = 0 }
            } else if advance > 0 {
                var block = oldBlock + 1
                while true {
                    words[wordIndex(ofBlock: block)] = 0
                    if block == newBlock { break }
                    block += 1
                }
            }
        }
        highest = counter
        set(counter)
    }

    private func wordIndex(ofBlock block: UInt64) -> Int {
        Int(block % UInt64(words.count))
    }

    private func isSet(_ counter: UInt64) -> Bool {
        words[wordIndex(ofBlock: counter >> 6)] & (1 << (counter & 63)) != 0
    }

    private mutating func set(_ counter: UInt64) {
        words[wordIndex(ofBlock: counter >> 6)] |= 1 << (counter & 63)
    }
}
