public import ParleyWire

/// The sender's filter for key-frame requests (PLI, FIR): at most one honoured per `minimumInterval`.
///
/// Several receivers, or one receiver repeating itself, may ask for key frames faster than is useful;
/// a key frame sent in answer to the first serves them all. Sans-IO: every call takes `now`.
public struct KeyFrameRequestLimiter: Sendable {
    /// The shortest time between two honoured requests.
    public let minimumInterval: Duration
    /// Requests honoured so far.
    public private(set) var honoured = 0
    /// Requests ignored so far (too soon after an honoured one).
    public private(set) var ignored = 0
    private var lastHonoured: MonotonicInstant?

    /// A limiter honouring at most one request per `minimumInterval` (default 300 ms).
    public init(minimumInterval: Duration = .milliseconds(300)) {
        self.minimumInterval = minimumInterval
    }

    /// Whether to send a key frame for a request received at `now`: true for the first request and for
    /// any at least `minimumInterval` after the last honoured one.
    public mutating func shouldHonour(requestAt now: MonotonicInstant) -> Bool {
        if let lastHonoured, now - lastHonoured < minimumInterval {
            ignored += 1
            return false
        }
        lastHonoured = now
        honoured += 1
        return true
    }
}
