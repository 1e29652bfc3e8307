import ParleyWire

/// Freeze and pause metrics of rendered video, as the W3C webrtc-stats define them.
///
/// An interval between two consecutively rendered frames is a freeze when it is at least
/// max(3 × avg, avg + 150 ms), avg being the mean of the (up to) 30 intervals before it; the first
/// interval cannot be one. An interval over 5 s is a pause instead, and is kept out of the mean.
struct FreezeDetector: Sendable {
    static let averagedIntervals = 30
    static let pauseThreshold = Duration.seconds(5)

    private var lastRender: MonotonicInstant?
    /// Recent intervals in seconds, oldest first.
    private var intervals: [Double] = []
    private(set) var freezeCount = 0
    private(set) var totalFreezesDuration = 0.0
    private(set) var pauseCount = 0
    private(set) var totalPausesDuration = 0.0
    private(set) var totalInterFrameDelay = 0.0
    private(set) var totalSquaredInterFrameDelay = 0.0

    /// Notes a frame rendered at `now`.
    mutating func rendered(at now: MonotonicInstant) {
        defer { lastRender = max(lastRender ?? now, now) }
        guard let lastRender else { return }
        let interval = max(now - lastRender, .zero)
        let seconds = interval.inSeconds
        totalInterFrameDelay += seconds
        totalSquaredInterFrameDelay += seconds * seconds
        if interval > Self.pauseThreshold {
            pauseCount += 1
            totalPausesDuration += seconds
            return
        }
        if !intervals.isEmpty {
            let average = intervals.reduce(0, +) / Double(intervals.count)
            if seconds >= max(3 * average, average + 0.150) {
                freezeCount += 1
                totalFreezesDuration += seconds
            }
        }
        intervals.append(seconds)
        if intervals.count > Self.averagedIntervals { intervals.removeFirst() }
    }
}
