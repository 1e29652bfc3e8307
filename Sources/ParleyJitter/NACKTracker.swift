import ParleyWire

/// The missing sequence numbers of one stream and when to NACK each (see `NACKConfiguration`).
///
/// Works on unwrapped sequence numbers; sans-IO (every call takes `now`). Bounded by
/// `NACKConfiguration.maximumListSize`.
struct NACKTracker: Sendable {
    /// One missing packet.
    struct Entry: Sendable {
        var sequence: Int64
        var detectedAt: MonotonicInstant
        var sends = 0
        var lastSentAt: MonotonicInstant?
    }

    /// Packets given up in one call: how many, and the sequence numbers that matter for decoding
    /// (every one given up singly; the ends of a run given up at once).
    struct GiveUp: Equatable, Sendable {
        var sequences: [Int64]
        var count: Int

        mutating func merge(_ other: GiveUp?) {
            guard let other else { return }
            sequences = (sequences + other.sequences).sorted()
            count += other.count
        }
    }

    var configuration: NACKConfiguration
    /// Missing packets, oldest first.
    private(set) var entries: [Entry] = []
    /// The newest sequence number received.
    private(set) var highest: Int64?

    init(configuration: NACKConfiguration) {
        self.configuration = configuration
    }

    /// Notes a received packet. Returns whether it was missing (NACKed or waiting to be) and any packets
    /// given up because a jump made the list too long. Gaps at or below `floor` are not tracked.
    mutating func received(_ sequence: Int64, floor: Int64?, now: MonotonicInstant) -> (wasMissing: Bool, givenUp: GiveUp?) {
        guard let highest else {
            self.highest = sequence
            return (false, nil)
        }
        if sequence <= highest {
            guard let index = index(of: sequence) else { return (false, nil) }
            entries.remove(at: index)
            return (true, nil)
        }
        self.highest = sequence
        let limit = max(configuration.maximumListSize, 0)
        var first = max(highest + 1, (floor ?? Int64.min) &+ 1)
        var givenUp: GiveUp?
        // A jump longer than the list: the packets that could never fit are given up at once.
        if sequence - first > Int64(limit) {
            let skipped = sequence - Int64(limit) - first
            givenUp = GiveUp(sequences: [first, first + skipped - 1], count: Int(skipped))
            first += skipped
        }
        if first < sequence {
            for missing in first..<sequence {
                entries.append(Entry(sequence: missing, detectedAt: now))
            }
        }
        let excess = entries.count - limit
        if excess > 0 {
            var dropped = GiveUp(sequences: entries.prefix(excess).map(\.sequence), count: excess)
            dropped.merge(givenUp)
            givenUp = dropped
            entries.removeFirst(excess)
        }
        return (false, givenUp)
    }

    /// Forgets every missing packet at or below `sequence`; returns the oldest forgotten (if any) and
    /// how many were.
    @discardableResult
    mutating func forget(through sequence: Int64) -> (oldest: Int64?, count: Int) {
        let end = entries.firstIndex { $0.sequence > sequence } ?? entries.count
        let oldest = end > 0 ? entries[0].sequence : nil
        entries.removeFirst(end)
        return (oldest, end)
    }

    /// Packets given up at `now` (too many NACKs, or too old): removed from the list.
    mutating func expire(now: MonotonicInstant, roundTripTime: Duration) -> GiveUp? {
        let retry = configuration.retryInterval(roundTripTime: roundTripTime)
        let expired = entries.filter { isExpired($0, now: now, retry: retry) }.map(\.sequence)
        guard !expired.isEmpty else { return nil }
        let tracker = self
        entries.removeAll { tracker.isExpired($0, now: now, retry: retry) }
        let givenUp: GiveUp? = GiveUp(sequences: expired, count: expired.count)
        return givenUp
    }

    /// The packets to NACK at `now`, oldest first; each is marked sent.
    mutating func due(now: MonotonicInstant, roundTripTime: Duration) -> [Int64] {
        let retry = configuration.retryInterval(roundTripTime: roundTripTime)
        var batch: [Int64] = []
        for index in entries.indices where isDue(entries[index], now: now, retry: retry) {
            entries[index].sends += 1
            entries[index].lastSentAt = now
            batch.append(entries[index].sequence)
        }
        return batch
    }

    /// The next instant something is due or expires; `nil` if nothing is missing.
    func nextDeadline(roundTripTime: Duration) -> MonotonicInstant? {
        let retry = configuration.retryInterval(roundTripTime: roundTripTime)
        return entries.lazy.map { entry -> MonotonicInstant in
            let expiry = entry.detectedAt + self.configuration.maximumAge
            guard let last = entry.lastSentAt else {
                return min(entry.detectedAt + self.configuration.reorderingDelay, expiry)
            }
            return min(last + retry, expiry)
        }.min()
    }

    private func isExpired(_ entry: Entry, now: MonotonicInstant, retry: Duration) -> Bool {
        if now - entry.detectedAt >= configuration.maximumAge { return true }
        guard entry.sends >= configuration.maximumRetries else { return false }
        guard let last = entry.lastSentAt else { return true }
        return now - last >= retry
    }

    private func isDue(_ entry: Entry, now: MonotonicInstant, retry: Duration) -> Bool {
        guard entry.sends < configuration.maximumRetries else { return false }
        guard let last = entry.lastSentAt else { return now - entry.detectedAt >= configuration.reorderingDelay }
        return now - last >= retry
    }

    private func index(of sequence: Int64) -> Int? {
        // Entries are sorted: binary search.
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].sequence < sequence { low = middle + 1 } else { high = middle }
        }
        return low < entries.count && entries[low].sequence == sequence ? low : nil
    }
}
