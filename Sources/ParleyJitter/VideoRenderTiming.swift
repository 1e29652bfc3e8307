import ParleyWire

/// Render timing of one video stream from the variation of frame delays.
///
/// Each frame's transit is the arrival of its last packet minus its RTP timestamp (as a duration from
/// the first frame's). The least transit of the recent `window` frames is the baseline (the
/// least-delayed frame); a frame's delay variation is its transit above the baseline. The target delay
/// is the 95th percentile of the recent variations, clamped to the configured range; the render delay
/// follows it up at once and down by at most `decreasePerFrame` per frame, so render times stay smooth.
/// A frame renders at its timestamp mapped through the baseline, plus the render delay.
///
/// Frames completed by a retransmission are kept out of the estimate (their delay is the repair, not
/// the network's jitter); once at least `retransmittedFramesForAllowance` of the recent `window` frames
/// needed one, the target also covers a retransmission: the allowance given with each frame
/// (the NACK reordering delay plus a round trip), so that one repair does not stall rendering.
struct VideoRenderTiming: Sendable {
    static let window = 300
    static let decreasePerFrame = Duration.milliseconds(2)
    static let retransmittedFramesForAllowance = 3
    static let resetThreshold = Duration.seconds(5)

    var minimumDelay: Duration
    var maximumDelay: Duration
    /// Transits (nanoseconds) of the recent frames, oldest first.
    private var transits: [Int64] = []
    /// Whether each recent frame (all of them, oldest first) needed a retransmission.
    private var repaired: [Bool] = []
    private var repairedCount = 0
    private var allowance = Duration.zero
    private var origin: Int64?
    /// The current render delay.
    private(set) var renderDelay: Duration

    init(minimumDelay: Duration, maximumDelay: Duration) {
        self.minimumDelay = minimumDelay
        self.maximumDelay = max(maximumDelay, minimumDelay)
        renderDelay = minimumDelay
    }

    /// The frame's media time in nanoseconds since the first frame (90 kHz timestamps).
    private mutating func mediaTime(_ timestamp: Int64) -> Int64 {
        let origin = self.origin ?? timestamp
        self.origin = origin
        // Clamped to ±2^40 ticks (127 days), so that no run of timestamp jumps can overflow nanoseconds.
        let limit: Int64 = 1 << 40
        return Duration(ticks: min(max(timestamp - origin, -limit), limit), atRate: 90_000).totalNanoseconds
    }

    /// Takes a complete frame's timestamp, the arrival of its last packet, whether a retransmission
    /// completed it, and the delay a retransmission takes now.
    mutating func frameCompleted(
        timestamp: Int64, lastArrival: MonotonicInstant, wasRetransmitted: Bool, retransmissionAllowance: Duration
    ) {
        let media = mediaTime(timestamp)
        if !wasRetransmitted {
            let transit = lastArrival.nanoseconds - media
            // A jump of the sender's clock (or a stall) by more than `resetThreshold` starts afresh
            // rather than holding the maximum delay for a whole window.
            if let baseline = transits.min(), abs(transit - baseline) > Self.resetThreshold.totalNanoseconds {
                transits.removeAll()
            }
            transits.append(transit)
            if transits.count > Self.window { transits.removeFirst(transits.count - Self.window) }
        }
        repaired.append(wasRetransmitted)
        if wasRetransmitted { repairedCount += 1 }
        if repaired.count > Self.window, repaired.removeFirst() { repairedCount -= 1 }
        allowance = retransmissionAllowance
        let target = targetDelay
        if target > renderDelay {
            renderDelay = target
        } else {
            renderDelay = max(target, renderDelay - Self.decreasePerFrame)
        }
    }

    /// The delay the estimate asks for now: the 95th percentile of recent variations, clamped.
    var targetDelay: Duration {
        guard let baseline = transits.min() else { return minimumDelay }
        let variations = transits.map { $0 - baseline }.sorted()
        let index = min(variations.count - 1, Int((Double(variations.count) * 0.95).rounded(.down)))
        var estimate = Duration.nanoseconds(variations[index])
        if repairedCount >= Self.retransmittedFramesForAllowance { estimate += allowance }
        return min(max(estimate, minimumDelay), maximumDelay)
    }

    /// When the frame with `timestamp` should be rendered; `nil` before any frame completed.
    mutating func renderTime(timestamp: Int64) -> MonotonicInstant? {
        guard let baseline = transits.min() else { return nil }
        return MonotonicInstant(nanoseconds: mediaTime(timestamp) + baseline) + renderDelay
    }
}
