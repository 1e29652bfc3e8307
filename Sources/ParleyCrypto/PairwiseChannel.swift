public import ParleyWire

/// The pairwise secure channel between two engines after their Noise handshake (Protocols/peer/channel.md).
///
/// It seals session messages into datagrams with an explicit 64-bit counter as the AES-256-GCM nonce,
/// checks received datagrams against a sliding replay window, rekeys each direction every
/// `datagramsPerEpoch` datagrams without a round trip, acknowledges and retransmits reliable messages
/// with exponential backoff, delivers each once, and sends keep-alives when idle.
///
/// Sans-IO: it reads no clock and touches no socket. Inputs are `send(_:now:)`, `receive(datagram:now:)`
/// and `handleTimeout(now:)`; after every input the owner drains `pollOutput()` (or `pollDatagram()`
/// and `pollEvent()`) until it says `.wait(until:)`, sends the datagrams, and calls
/// `handleTimeout(now:)` at that instant (calling it early or late is harmless).
///
/// A datagram that fails any check (malformed, replayed, unknown epoch, failed authentication) throws,
/// is counted in `statistics`, and changes nothing else: no window slides, no key advances.
///
/// A class, not a value: one owner; never copied, so a (key, nonce) pair is never reused — every
/// reference shares the one send counter and the one replay window, and a stale copy cannot seal
/// under a counter already spent or accept a datagram already taken. Not `Sendable`: keep it in one
/// isolation domain (e.g. the session's actor).
public final class PairwiseChannel {
    /// Tunables. The protocol's constants (`datagramsPerEpoch`, `initialCounter`) must be the same on
    /// both peers; they are settable only so tests can cross epochs and reach the counter's end.
    public struct Configuration: Equatable, Sendable {
        /// The largest datagram the channel sends (header, ciphertext and tag). Default 1200 bytes.
        public var maximumDatagramSize: Int
        /// Plaintexts are padded with zero bytes to a multiple of this (1: no padding). Default 16.
        public var paddingMultiple: Int
        /// The first retransmission timeout of a reliable message. Default 100 ms.
        public var initialRetransmissionTimeout: Duration
        /// The timeout doubles after each transmission up to this. Default 2 s.
        public var maximumRetransmissionTimeout: Duration
        /// Transmissions of a reliable message (the first included) before giving up. Default 10.
        public var maximumTransmissions: Int
        /// A keep-alive is sent when nothing was sent for this long. Default 10 s.
        public var keepAliveInterval: Duration
        /// Reliable messages that may be unacknowledged at once (1…1024). Default 64.
        public var maximumUnacknowledged: Int
        /// Width of the datagram replay window and of the message-id window (≥ 2048). Default 2048.
        public var replayWindowWidth: Int
        /// Datagrams per key epoch: epoch = counter / this. Protocol constant 2^24; tests may lower it.
        public var datagramsPerEpoch: UInt64
        /// How many epochs ahead of its current one a receiver derives keys for. Default 4.
        public var maximumEpochSkip: UInt64
        /// The counter of the first datagram in each direction. Protocol constant 0; tests may start near
        /// the end. The keys given to the channel are those of epoch `initialCounter / datagramsPerEpoch`.
        public var initialCounter: UInt64

        /// The defaults of Protocols/peer/channel.md.
        public init(
            maximumDatagramSize: Int = 1200, paddingMultiple: Int = 16,
            initialRetransmissionTimeout: Duration = .milliseconds(100),
            maximumRetransmissionTimeout: Duration = .seconds(2), maximumTransmissions: Int = 10,
            keepAliveInterval: Duration = .seconds(10), maximumUnacknowledged: Int = 64,
            replayWindowWidth: Int = ReplayWindow.defaultWidth, datagramsPerEpoch: UInt64 = 1 << 24,
            maximumEpochSkip: UInt64 = 4, initialCounter: UInt64 = 0
        ) {
            self.maximumDatagramSize = maximumDatagramSize
            self.paddingMultiple = paddingMultiple
            self.initialRetransmissionTimeout = initialRetransmissionTimeout
            self.maximumRetransmissionTimeout = maximumRetransmissionTimeout
            self.maximumTransmissions = maximumTransmissions
            self.keepAliveInterval = keepAliveInterval
            self.maximumUnacknowledged = maximumUnacknowledged
            self.replayWindowWidth = replayWindowWidth
            self.datagramsPerEpoch = datagramsPerEpoch
            self.maximumEpochSkip = maximumEpochSkip
            self.initialCounter = initialCounter
        }
    }

    /// A reliable message sent and not yet acknowledged.
    private struct Unacknowledged: Sendable {
        var id: SessionMessageID
        var message: SessionMessage
        var transmissions: Int
        var deadline: MonotonicInstant
    }

    /// The index this end picked: datagrams to this channel carry it.
    public let localIndex: UInt32
    /// The index the peer picked: datagrams from this channel carry it.
    public let remoteIndex: UInt32
    /// The settings.
    public let configuration: Configuration
    /// Counters for the session's statistics.
    public private(set) var statistics = PairwiseChannelStatistics()

    // Sending.
    private var sendKey: PairwiseChannelKey
    /// The epoch of the send key.
    public private(set) var sendEpoch: UInt64
    /// The counter the next datagram will carry (2^64 − 1 once the channel can send no more).
    public private(set) var nextSendCounter: UInt64
    private var nextMessageID: UInt64 = 0
    private var unacknowledged: [Unacknowledged] = []
    private var queuedRecords: [SessionMessageRecord] = []
    private var queuedAcknowledgements: [SessionMessageID] = []
    /// When the last datagram was sent, or the first input arrived if none was: keep-alives count from it.
    private var idleSince: MonotonicInstant?

    // Receiving.
    private var receiveKey: PairwiseChannelKey
    private var previousReceiveKey: PairwiseChannelKey?
    /// The epoch of the newest receive key (the newest epoch a datagram authenticated in).
    public private(set) var receiveEpoch: UInt64
    private var datagramWindow: ReplayWindow
    private var messageWindow: ReplayWindow
    private var newestMediaState: SessionMessageID?
    /// When the last datagram authenticated, if one has.
    public private(set) var lastAuthenticatedReceive: MonotonicInstant?

    // Output.
    private var datagrams: [[UInt8]] = []
    private var events: [PairwiseChannelEvent] = []

    /// A channel from the handshake's result: `sendKey` and `receiveKey` are the Split() keys (the
    /// initiator sends with the first, the responder with the second), 32 bytes each.
    ///
    /// - Throws: `CryptoError.invalidKey` if a key is not 32 bytes.
    /// - Precondition: the configuration is within the ranges its fields document.
    public init(
        localIndex: UInt32, remoteIndex: UInt32, sendKey: [UInt8], receiveKey: [UInt8],
        configuration: Configuration = .init()
    ) throws(CryptoError) {
        for (what, key) in [("channel send key", sendKey), ("channel receive key", receiveKey)] where key.count != 32 {
            throw .invalidKey(what: what, reason: "must be 32 bytes, got \(key.count)")
        }
        precondition(configuration.maximumDatagramSize >= 64, "a channel datagram must hold at least 64 bytes")
        precondition(configuration.paddingMultiple >= 1, "the padding multiple is at least 1")
        precondition(configuration.maximumTransmissions >= 1, "a reliable message is sent at least once")
        precondition((1...1024).contains(configuration.maximumUnacknowledged), "1…1024 unacknowledged messages")
        precondition(configuration.replayWindowWidth >= ReplayWindow.defaultWidth, "the replay window is at least 2048 wide")
        precondition(configuration.datagramsPerEpoch >= 1, "an epoch holds at least one datagram")
        precondition(configuration.initialCounter < PairwiseChannelHeader.reservedCounter, "2^64 - 1 is reserved")
        precondition(configuration.initialRetransmissionTimeout > .zero
            && configuration.maximumRetransmissionTimeout >= configuration.initialRetransmissionTimeout
            && configuration.keepAliveInterval > .zero, "timeouts are positive")
        self.localIndex = localIndex
        self.remoteIndex = remoteIndex
        self.configuration = configuration
        self.sendKey = PairwiseChannelKey(bytes: sendKey)
        self.receiveKey = PairwiseChannelKey(bytes: receiveKey)
        let epoch = configuration.initialCounter / configuration.datagramsPerEpoch
        sendEpoch = epoch
        receiveEpoch = epoch
        nextSendCounter = configuration.initialCounter
        datagramWindow = ReplayWindow(width: configuration.replayWindowWidth)
        messageWindow = ReplayWindow(width: configuration.replayWindowWidth)
    }

    // MARK: Inputs

    /// Sends a reliable message: seals it into a datagram now and retransmits it until acknowledged.
    ///
    /// - Returns: the id `.acknowledged` / `.deliveryFailed` events will name.
    /// - Throws: `CryptoError.keyExhausted` if the channel can send no more (new handshake needed) or
    ///   message ids ran out; `.invalidState` if too many messages are unacknowledged or the message does
    ///   not fit one datagram. Nothing is sent then.
    @discardableResult
    public func send(_ message: SessionMessage, now: MonotonicInstant) throws(CryptoError) -> SessionMessageID {
        try send([message], now: now)[0]
    }

    /// Sends reliable messages together, in as few datagrams as they fit: all of them, or (throwing)
    /// none. A media state replaces any earlier unacknowledged one, which is no longer retransmitted
    /// (and gets no event).
    @discardableResult
    public func send(_ messages: [SessionMessage], now: MonotonicInstant) throws(CryptoError) -> [SessionMessageID] {
        noteFirstInput(now)
        guard !isSendExhausted else { throw .keyExhausted(what: "pairwise channel send counter") }
        guard UInt64(messages.count) <= UInt64(UInt32.max) + 1 - nextMessageID else {
            throw .keyExhausted(what: "session message ids")
        }
        let superseded = messages.contains { if case .mediaState = $0 { true } else { false } }
            ? unacknowledged.filter { if case .mediaState = $0.message { true } else { false } }.count : 0
        guard unacknowledged.count - superseded + messages.count <= configuration.maximumUnacknowledged else {
            throw .invalidState(what: "pairwise channel", reason:
                "\(unacknowledged.count) messages are unacknowledged; the limit is \(configuration.maximumUnacknowledged)")
        }
        for message in messages {
            let size = SessionMessageRecord.message(SessionMessageID(0), message).serializedSize
            guard size <= maximumPlaintextSize else {
                throw .invalidState(what: "pairwise channel", reason:
                    "a \(size)-byte record exceeds the \(maximumPlaintextSize)-byte plaintext of a datagram")
            }
        }
        var ids: [SessionMessageID] = []
        ids.reserveCapacity(messages.count)
        for message in messages {
            let id = SessionMessageID(UInt32(nextMessageID))
            nextMessageID += 1
            if case .mediaState = message {
                unacknowledged.removeAll { if case .mediaState = $0.message { true } else { false } }
            }
            unacknowledged.append(Unacknowledged(
                id: id, message: message, transmissions: 1, deadline: now + retransmissionTimeout(after: 1)))
            queuedRecords.append(.message(id, message))
            ids.append(id)
        }
        transmitQueued(now: now)
        return ids
    }

    /// Handles a datagram from the peer (its first byte is 0x06 and its receiver index `localIndex`).
    ///
    /// - Returns: the session messages it carried that were not delivered before, in order (media states
    ///   older than one already delivered are left out). Acknowledgements it carried become events;
    ///   acknowledgements of the reliable messages it carried are sent.
    /// - Throws: `CryptoError.malformed`, `.replayed`, `.unknownKey` (an epoch whose key is gone or too
    ///   far ahead), or `.authenticationFailed`; the datagram is dropped, counted, and changes nothing
    ///   else. An authenticated datagram whose plaintext is malformed is consumed (its counter is seen)
    ///   and delivers nothing.
    public func receive(datagram: ArraySlice<UInt8>, now: MonotonicInstant) throws(CryptoError) -> [SessionMessage] {
        noteFirstInput(now)
        let records: [SessionMessageRecord]
        do {
            records = try open(datagram, now: now)
        } catch {
            switch error {
            case .malformed: statistics.malformed += 1
            case .replayed: statistics.replays += 1
            case .unknownKey: statistics.unknownEpochs += 1
            default: statistics.authenticationFailures += 1
            }
            throw error
        }
        var delivered: [SessionMessage] = []
        for record in records {
            switch record {
            case .keepAlive:
                statistics.keepAlivesReceived += 1
            case .acknowledgement(let ids):
                for id in ids {
                    guard let index = unacknowledged.firstIndex(where: { $0.id == id }) else { continue }
                    let entry = unacknowledged.remove(at: index)
                    events.append(.acknowledged(entry.id, entry.message))
                }
            case .message(let id, let message):
                acknowledge(id)
                guard isFirstArrival(of: id) else { continue }
                if case .mediaState = message {
                    if let newest = newestMediaState, id < newest {
                        statistics.staleMediaStates += 1
                        continue
                    }
                    newestMediaState = id
                }
                statistics.messagesDelivered += 1
                delivered.append(message)
            case .unknown(_, let id, _):
                statistics.unknownRecords += 1
                if let id {
                    acknowledge(id)
                    _ = isFirstArrival(of: id)
                }
            }
        }
        transmitQueued(now: now)
        return delivered
    }

    /// Handles a datagram from the peer.
    public func receive(datagram: [UInt8], now: MonotonicInstant) throws(CryptoError) -> [SessionMessage] {
        try receive(datagram: datagram[...], now: now)
    }

    /// Handles the passing of time: retransmits reliable messages whose timeout expired (or gives up on
    /// them after `maximumTransmissions`), and sends a keep-alive if nothing was sent for
    /// `keepAliveInterval`.
    public func handleTimeout(now: MonotonicInstant) {
        noteFirstInput(now)
        var index = 0
        while index < unacknowledged.count {
            var entry = unacknowledged[index]
            guard entry.deadline <= now else {
                index += 1
                continue
            }
            if entry.transmissions >= configuration.maximumTransmissions {
                unacknowledged.remove(at: index)
                statistics.deliveryFailures += 1
                events.append(.deliveryFailed(entry.id, entry.message))
                continue
            }
            entry.transmissions += 1
            entry.deadline = now + retransmissionTimeout(after: entry.transmissions)
            unacknowledged[index] = entry
            queuedRecords.append(.message(entry.id, entry.message))
            statistics.retransmissions += 1
            index += 1
        }
        if queuedRecords.isEmpty, let keepAliveDeadline, keepAliveDeadline <= now {
            queuedRecords.append(.keepAlive)
            statistics.keepAlivesSent += 1
        }
        transmitQueued(now: now)
    }

    // MARK: Outputs

    /// The next thing for the owner: a datagram to send, an event, or when to call `handleTimeout(now:)`.
    public func pollOutput() -> PairwiseChannelOutput {
        if let datagram = pollDatagram() { return .transmit(datagram) }
        if let event = pollEvent() { return .event(event) }
        return .wait(until: nextDeadline)
    }

    /// The next datagram to send, if any.
    public func pollDatagram() -> [UInt8]? {
        datagrams.isEmpty ? nil : datagrams.removeFirst()
    }

    /// The next event, if any.
    public func pollEvent() -> PairwiseChannelEvent? {
        events.isEmpty ? nil : events.removeFirst()
    }

    /// When `handleTimeout(now:)` has work: the earliest retransmission or keep-alive; `nil` if none is
    /// scheduled (before the first input, or once the channel can send no more and nothing is pending).
    public var nextDeadline: MonotonicInstant? {
        let retransmission = unacknowledged.lazy.map(\.deadline).min()
        guard let keepAliveDeadline else { return retransmission }
        return min(retransmission ?? keepAliveDeadline, keepAliveDeadline)
    }

    /// The reliable messages sent and not yet acknowledged (nor given up), oldest first.
    public var unacknowledgedMessageIDs: [SessionMessageID] { unacknowledged.map(\.id) }

    /// Whether the last datagram counter was used: nothing more can be sent.
    public var isSendExhausted: Bool { nextSendCounter == PairwiseChannelHeader.reservedCounter }

    // MARK: Internals

    private var maximumPlaintextSize: Int {
        configuration.maximumDatagramSize - PairwiseChannelHeader.minimumDatagramSize
    }

    private var keepAliveDeadline: MonotonicInstant? {
        guard !isSendExhausted, let idleSince else { return nil }
        return idleSince + configuration.keepAliveInterval
    }

    /// The timeout after the `transmissions`-th transmission: initial × 2^(transmissions − 1), capped.
    private func retransmissionTimeout(after transmissions: Int) -> Duration {
        var timeout = configuration.initialRetransmissionTimeout
        for _ in 1..<max(transmissions, 1) where timeout < configuration.maximumRetransmissionTimeout {
            timeout *= 2
        }
        return min(timeout, configuration.maximumRetransmissionTimeout)
    }

    private func noteFirstInput(_ now: MonotonicInstant) {
        if idleSince == nil { idleSince = now }
    }

    private func acknowledge(_ id: SessionMessageID) {
        if !queuedAcknowledgements.contains(id) { queuedAcknowledgements.append(id) }
    }

    /// Whether reliable message `id` arrives for the first time (then it is remembered).
    private func isFirstArrival(of id: SessionMessageID) -> Bool {
        guard messageWindow.check(UInt64(id.rawValue)) == .fresh else {
            statistics.duplicateMessages += 1
            return false
        }
        messageWindow.commit(UInt64(id.rawValue))
        return true
    }

    /// Checks and decrypts a datagram; on success (only) slides the window and advances the receive key.
    private func open(_ datagram: ArraySlice<UInt8>, now: MonotonicInstant) throws(CryptoError) -> [SessionMessageRecord] {
        var reader = ByteReader(datagram)
        let header: PairwiseChannelHeader
        do {
            header = try PairwiseChannelHeader(reading: &reader)
        } catch {
            throw .malformed(error)
        }
        guard header.receiverIndex == localIndex else {
            throw .malformed(.invalidValue(field: "receiver index", reason: "not this channel's index"))
        }
        guard reader.remaining >= PairwiseChannelHeader.tagSize else {
            throw .malformed(.truncated(field: "tag", needed: PairwiseChannelHeader.tagSize, available: reader.remaining))
        }
        let counter = header.counter
        guard datagramWindow.check(counter) == .fresh else {
            throw .replayed(what: "channel datagram", counter: counter)
        }
        let epoch = counter / configuration.datagramsPerEpoch
        var key = receiveKey
        var keyBefore = previousReceiveKey
        if epoch == receiveEpoch {
            // The current key.
        } else if epoch < receiveEpoch {
            guard epoch == receiveEpoch - 1, let previousReceiveKey else {
                throw .unknownKey(what: "channel epoch", keyID: epoch)
            }
            key = previousReceiveKey
        } else {
            guard epoch - receiveEpoch <= configuration.maximumEpochSkip else {
                throw .unknownKey(what: "channel epoch", keyID: epoch)
            }
            for _ in 0..<(epoch - receiveEpoch) {
                keyBefore = key
                key = key.rekeyed()
            }
        }
        let associatedData = datagram.prefix(PairwiseChannelHeader.size)
        guard let plaintext = key.open(reader.readRest(), counter: counter, associatedData: associatedData) else {
            throw .authenticationFailed(what: "channel datagram")
        }
        datagramWindow.commit(counter)
        if epoch > receiveEpoch {
            statistics.receiveRekeys += Int(epoch - receiveEpoch)
            previousReceiveKey = keyBefore
            receiveKey = key
            receiveEpoch = epoch
        }
        statistics.datagramsReceived += 1
        lastAuthenticatedReceive = now
        do {
            return try SessionMessageRecord.parsePlaintext(plaintext)
        } catch {
            throw .malformed(error)
        }
    }

    /// Packs the queued acknowledgements and records into as few datagrams as they fit, and seals them.
    private func transmitQueued(now: MonotonicInstant) {
        var records: [SessionMessageRecord] = []
        let idsPerAcknowledgement = min((maximumPlaintextSize - SessionMessageRecord.headerSize) / 4, SessionMessageRecord.maximumValueSize / 4)
        var ids = queuedAcknowledgements[...]
        while !ids.isEmpty {
            records.append(.acknowledgement(Array(ids.prefix(idsPerAcknowledgement))))
            ids = ids.dropFirst(idsPerAcknowledgement)
        }
        records += queuedRecords
        queuedAcknowledgements.removeAll()
        queuedRecords.removeAll()
        var batch: [SessionMessageRecord] = []
        var batchSize = 0
        for record in records {
            if batchSize + record.serializedSize > maximumPlaintextSize, !batch.isEmpty {
                seal(batch, size: batchSize, now: now)
                batch.removeAll()
                batchSize = 0
            }
            batch.append(record)
            batchSize += record.serializedSize
        }
        if !batch.isEmpty { seal(batch, size: batchSize, now: now) }
    }

    /// Seals one datagram of `records` (`size` bytes) with the next counter; drops them if none is left.
    private func seal(_ records: [SessionMessageRecord], size: Int, now: MonotonicInstant) {
        guard !isSendExhausted else { return }
        let counter = nextSendCounter
        let epoch = counter / configuration.datagramsPerEpoch
        while sendEpoch < epoch {
            sendKey = sendKey.rekeyed()
            sendEpoch += 1
            statistics.sendRekeys += 1
        }
        let multiple = configuration.paddingMultiple
        let paddedSize = min((size + multiple - 1) / multiple * multiple, maximumPlaintextSize)
        var plaintext = ByteWriter(capacity: paddedSize)
        for record in records { record.serialize(into: &plaintext) }
        plaintext.writeZeros(paddedSize - plaintext.count)
        let header = PairwiseChannelHeader(receiverIndex: remoteIndex, counter: counter).serialize()
        datagrams.append(header + sendKey.seal(plaintext.bytes, counter: counter, associatedData: header))
        nextSendCounter += 1
        statistics.datagramsSent += 1
        idleSince = now
        if isSendExhausted { events.append(.sendCounterExhausted) }
    }
}
