public import ParleyCrypto
public import ParleyJitter
import ParleyPayload
import ParleyRTP
import ParleySRTP
public import ParleyWire

/// Makes the audio decoder of an incoming audio stream (Opus from ParleyMedia in production).
public typealias AudioDecoderFactory = (_ channelCount: Int) throws -> any AudioPacketDecoding

/// One call, sans-IO (ARCHITECTURE §3, Protocols/peer/session.md): the handshake, the pairwise channel,
/// sender keys, SFrame and SRTP, the outgoing and incoming streams with their jitter buffers, RTCP
/// reports and feedback (NACK, RTX, PLI), statistics, events and timeouts.
///
/// The owner feeds it datagrams from the peer (`handle(datagram:now:)`), encoded media to send
/// (`sendAudio`, `sendVideoFrame`), commands (`hangUp`, `setMediaState`, `requestKeyFrame`,
/// `markVerified`), timer firings (`handleTimeout(now:)`) and playout pulls (`pullAudio`), and after
/// every input drains `pollOutput()` until it returns `.wait`. Nothing here reads a clock, sleeps or
/// touches a socket. A session is owned by exactly one actor or thread; it is not `Sendable`.
public final class CallSession {
    /// The tuning it was made with.
    public let configuration: CallSessionConfiguration
    /// Whether this end placed the call.
    public let isInitiator: Bool
    /// The call's identifier (shared by both ends).
    public let callID: CallID
    /// This end's session index: channel datagrams to this session carry it.
    public let localIndex: UInt32
    /// The peer's session index, once known.
    public private(set) var remoteIndex: UInt32?
    /// The peer's long-term identity key (for the responder: as the handshake proved it).
    public let peerKey: IdentityPublicKey
    /// What this end offered or answered.
    public let localParameters: CallParameters
    /// What the peer offered or answered, once known.
    public private(set) var peerParameters: CallParameters?
    /// Where the call is.
    public private(set) var state: CallState
    /// The per-call short authentication string, once the handshake completed.
    public private(set) var shortAuthenticationString: ShortAuthenticationString?
    /// The safety number of the two identity keys (stable across calls).
    public let safetyNumber: SafetyNumber
    /// Whether the user marked the peer as verified for this call.
    public private(set) var isVerified = false
    /// The peer's latest media state (mute, video), if it sent one.
    public private(set) var peerMediaState: SessionMessage.MediaState?

    private let identity: IdentityKeyPair
    private let makeAudioDecoder: AudioDecoderFactory
    private let wallClockOrigin: (wall: HandshakeTimestamp, monotonic: MonotonicInstant)
    private var generator: SessionRandom

    // Handshake (initiator).
    private var initiator: HandshakeInitiator?
    private var offerBytes: [UInt8] = []
    private var handshakeStartedAt: MonotonicInstant
    private var nextHandshakeAttempt: MonotonicInstant?
    private var handshakeRetryWait: Duration

    // Keys and channel.
    private var channel: PairwiseChannel?
    private var schedule: SenderKeySchedule
    private var ring: ReceiverKeyRing
    private let sframeReceiver = SFrameContext.Receiver()
    private var peerAuthenticated = false

    // Streams.
    private var outgoing: [SSRC: OutgoingStream] = [:]
    private var outgoingRetransmission: OutgoingRetransmissionStream?
    private var incoming: [SSRC: IncomingStream] = [:]
    private var incomingRetransmission: [SSRC: SSRC] = [:]
    private var retransmissionMapping = RTXMapping(originalPayloadTypes: [:], originalSSRCs: [:])
    private var localExtensions = RTPExtensionRegistry.parleyDefault
    private var peerExtensions = RTPExtensionRegistry.parleyDefault
    private var history: RetransmissionHistory
    private var keyFrameLimiter: KeyFrameRequestLimiter
    private var videoDeadlines: [SSRC: MonotonicInstant] = [:]

    // RTCP and liveness.
    private var nextReport: MonotonicInstant?
    private var sentReports: [(compact: UInt32, sentAt: MonotonicInstant)] = []
    private var lastHeard: MonotonicInstant
    private var isSilent = false
    private var hangUpDeadline: MonotonicInstant?
    private var counters: CallStatistics

    // Output queue.
    private var outputs: [CallSessionOutput] = []
    private var outputHead = 0

    // MARK: - Creating a session

    /// Places a call: builds the handshake initiation (queued as the first output) toward `peer`.
    ///
    /// - Parameters:
    ///   - wallClock: the wall-clock time at `now` (the handshake carries it; handshake.md §5); later
    ///     initiations derive theirs from `now`.
    ///   - localIndex: a random index unique among the engine's live sessions.
    /// - Throws: `SessionError.invalidArgument` if `offer` is not an offer; `.crypto` if the handshake
    ///   cannot be built.
    public init(
        dialing peer: IdentityPublicKey, identity: IdentityKeyPair, offer: CallParameters, callID: CallID = .random(),
        localIndex: UInt32, wallClock: HandshakeTimestamp, now: MonotonicInstant,
        configuration: CallSessionConfiguration = .init(), audioDecoderFactory: @escaping AudioDecoderFactory
    ) throws(SessionError) {
        guard offer.role == .offer else {
            throw .invalidArgument(field: "offer", reason: "call parameters with role \(offer.role), not an offer")
        }
        self.configuration = configuration
        generator = SessionRandom(seed: configuration.randomSeed)
        isInitiator = true
        self.callID = callID
        self.localIndex = localIndex
        peerKey = peer
        localParameters = offer
        state = .dialing
        safetyNumber = SafetyNumber(identity.publicKey, peer)
        self.identity = identity
        makeAudioDecoder = audioDecoderFactory
        wallClockOrigin = (wallClock, now)
        offerBytes = offer.serialize()
        handshakeStartedAt = now
        handshakeRetryWait = configuration.handshakeRetryInterval
        lastHeard = now
        counters = CallStatistics(state: .dialing)
        (schedule, ring, history, keyFrameLimiter) = try Self.keyState(configuration)
        try startHandshakeAttempt(now: now)
        emit(.stateChanged(.dialing))
    }

    /// Answers a call: accepts `pending` with `answer` (the response is queued as the first output).
    ///
    /// The owner has already looked at `pending.initiatorStaticKey` and `pending.offer` and decided to
    /// answer; to decline, call `pending.accept(answer:)` with a declining answer and no session.
    /// - Throws: `SessionError.invalidArgument` if `answer` is not an accepting answer or `pending.offer`
    ///   is not an offer; `.crypto` if the handshake cannot complete.
    public init(
        answering pending: HandshakeResponder.PendingAnswer, identity: IdentityKeyPair, answer: CallParameters,
        localIndex: UInt32, now: MonotonicInstant, configuration: CallSessionConfiguration = .init(),
        audioDecoderFactory: @escaping AudioDecoderFactory
    ) throws(SessionError) {
        guard answer.role == .answer, answer.declineReason == nil else {
            throw .invalidArgument(field: "answer", reason: "must be an accepting answer")
        }
        let offer: CallParameters
        do {
            offer = try CallParameters(parsing: pending.offer)
        } catch {
            throw .invalidArgument(field: "offer", reason: "\(error)")
        }
        self.configuration = configuration
        generator = SessionRandom(seed: configuration.randomSeed)
        isInitiator = false
        callID = pending.callID
        self.localIndex = localIndex
        peerKey = pending.initiatorStaticKey
        localParameters = answer
        peerParameters = offer
        state = .answering
        safetyNumber = SafetyNumber(identity.publicKey, pending.initiatorStaticKey)
        self.identity = identity
        makeAudioDecoder = audioDecoderFactory
        wallClockOrigin = (HandshakeTimestamp(rawValue: 0), now)
        handshakeStartedAt = now
        handshakeRetryWait = configuration.handshakeRetryInterval
        lastHeard = now
        counters = CallStatistics(state: .answering)
        (schedule, ring, history, keyFrameLimiter) = try Self.keyState(configuration)
        let response: [UInt8]
        let handshake: CompletedHandshake
        do {
            (response, handshake) = try pending.accept(answer: answer.serialize(), responderIndex: localIndex)
        } catch {
            throw .crypto(error)
        }
        emit(.stateChanged(.answering))
        transmit(response)
        try completeHandshake(handshake, local: answer, peer: offer, now: now)
    }

    private static func keyState(
        _ configuration: CallSessionConfiguration
    ) throws(SessionError) -> (SenderKeySchedule, ReceiverKeyRing, RetransmissionHistory, KeyFrameRequestLimiter) {
        let schedule: SenderKeySchedule
        do {
            schedule = try SenderKeySchedule(configuration: configuration.keySchedule)
        } catch {
            throw .crypto(error)
        }
        return (
            schedule, ReceiverKeyRing(gracePeriod: configuration.receiveKeyGracePeriod),
            RetransmissionHistory(minimumRetention: configuration.retransmissionRetention),
            KeyFrameRequestLimiter(minimumInterval: configuration.keyFrameRequestMinimumInterval)
        )
    }

    // MARK: - Inputs

    /// A datagram from the peer (any of the call's kinds: handshake response, channel, SRTP, SRTCP).
    ///
    /// Anything that does not parse, authenticate or belong is dropped and counted; it never changes state.
    public func handle(datagram: [UInt8], now: MonotonicInstant) {
        counters.datagramsReceived += 1
        counters.bytesReceived += datagram.count
        guard !state.isEnded, let first = datagram.first else {
            if datagram.isEmpty { counters.dropped.malformed += 1 }
            return
        }
        switch first {
        case 0x05: handleResponse(datagram, now: now)
        case 0x06: handleChannel(datagram, now: now)
        case 128...191: handleSecureRTP(datagram, now: now)
        default: counters.dropped.unexpectedType += 1
        }
        pump(now: now)
    }

    /// A timer fired: the owner calls this at (or after) the instant the last `.wait` named.
    public func handleTimeout(now: MonotonicInstant) {
        guard !state.isEnded else { return }
        if state == .dialing {
            if now - handshakeStartedAt >= configuration.handshakeTimeout {
                end(.handshakeTimeout)
                return
            }
            if let due = nextHandshakeAttempt, now >= due {
                do {
                    try startHandshakeAttempt(now: now)
                } catch {
                    end(.failure("handshake: \(error)"))
                    return
                }
            }
            return
        }
        if let hangUpDeadline, now >= hangUpDeadline {
            end(.hangUp)
            return
        }
        if now - lastHeard >= configuration.peerTimeout {
            end(.peerTimeout)
            return
        }
        if !isSilent, peerAuthenticated || !isInitiator, now - lastHeard >= configuration.silenceThreshold {
            isSilent = true
            emit(.peerSilent)
        }
        channel?.handleTimeout(now: now)
        rotateKeys(now: now)
        for keyID in ring.expire(now: now) {
            _ = sframeReceiver.removeKey(keyID: keyID)
        }
        if let nextReport, now >= nextReport {
            sendReports(now: now)
        }
        pump(now: now)
    }

    /// Sends one encoded Opus packet of `sampleCount` samples (per channel, 48 kHz) on the audio stream.
    ///
    /// - Returns: whether it was sent; before the call is active (or after it ended) the packet is
    ///   counted in `framesDroppedBeforeActive` and not sent.
    @discardableResult
    public func sendAudio(_ packet: [UInt8], sampleCount: Int, now: MonotonicInstant) -> Bool {
        guard state == .active, let stream = outgoing.values.first(where: { $0.description.kind == .audio }),
            let sframe = stream.sframe, let srtp = stream.srtp
        else {
            counters.framesDroppedBeforeActive += 1
            return false
        }
        let timestamp = RTPTimestamp(stream.timestampBase &+ UInt32(truncatingIfNeeded: stream.audioSamplesSent))
        stream.audioSamplesSent += Int64(max(0, sampleCount))
        guard let protected = try? sframe.protect(packet) else {
            stream.statistics.framesNotProtected += 1
            return false
        }
        let header = RTPHeader(
            payloadType: stream.description.payloadType, sequenceNumber: stream.takeSequenceNumber(),
            timestamp: timestamp, ssrc: stream.description.ssrc)
        send(RTPPacket(header: header, payload: protected), on: stream, srtp: srtp, now: now)
        stream.statistics.framesSent += 1
        pump(now: now)
        return true
    }

    /// Sends one encoded VP8 frame captured at `captureInstant` on the video stream: SFrame, then RTP
    /// packets with frame marking, each kept for retransmission, then SRTP.
    ///
    /// - Returns: whether it was sent (not before the call is active).
    @discardableResult
    public func sendVideoFrame(
        _ frame: [UInt8], isKeyFrame: Bool, captureInstant: MonotonicInstant, now: MonotonicInstant
    ) -> Bool {
        guard state == .active, !frame.isEmpty,
            let stream = outgoing.values.first(where: { $0.description.kind == .video }),
            let sframe = stream.sframe, let srtp = stream.srtp
        else {
            counters.framesDroppedBeforeActive += 1
            return false
        }
        guard let protected = try? sframe.protect(frame) else {
            stream.statistics.framesNotProtected += 1
            return false
        }
        let payloads = stream.packetizer.packetize(protected)
        let first = RTPHeader(
            payloadType: stream.description.payloadType, sequenceNumber: stream.sequenceNumber,
            timestamp: stream.videoTimestamp(capture: captureInstant), ssrc: stream.description.ssrc)
        stream.sequenceNumber = stream.sequenceNumber.advanced(by: payloads.count)
        let packets = first.packets(carrying: payloads)
        for (index, var packet) in packets.enumerated() {
            let marking = FrameMarking(
                startOfFrame: index == 0, endOfFrame: index == packets.count - 1, isIndependent: isKeyFrame,
                isDiscardable: false)
            localExtensions.set(marking, in: &packet.header.extensions)
            history.record(packet, sentAt: now)
            send(packet, on: stream, srtp: srtp, now: now)
        }
        stream.statistics.framesSent += 1
        if isKeyFrame { stream.statistics.keyFramesSent += 1 }
        pump(now: now)
        return true
    }

    /// The next `sampleCount` samples (per channel, 48 kHz) of the peer's audio for playout at `now`;
    /// nil if the peer sends no audio stream.
    public func pullAudio(sampleCount: Int, now: MonotonicInstant) -> AudioPlayout? {
        incoming.values.first { $0.audio != nil }?.audio?.pull(sampleCount: sampleCount, now: now)
    }

    /// The owner decoded and rendered a frame it got from `.videoFrame`.
    public func videoFrameDecoded(_ frame: IncomingVideoFrame, now: MonotonicInstant) {
        incoming[frame.ssrc]?.video?.frameDecoded(frame.received, now: now)
        pump(now: now)
    }

    /// The owner could not decode a frame it got from `.videoFrame`: the receiver asks for a key frame.
    public func videoFrameUndecodable(_ frame: IncomingVideoFrame, now: MonotonicInstant) {
        incoming[frame.ssrc]?.video?.frameUndecodable(frame.received, now: now)
        pump(now: now)
    }

    /// Ends the call: the peer is told (reliably, for up to `hangUpLinger`), then the state is
    /// `ended(hangup)`.
    public func hangUp(now: MonotonicInstant) {
        guard !state.isEnded, state != .ending else { return }
        guard let channel, (try? channel.send(.hangUp(.normal), now: now)) != nil else {
            end(.hangUp)
            return
        }
        setState(.ending)
        hangUpDeadline = now + configuration.hangUpLinger
        pump(now: now)
    }

    /// Tells the peer this end's media state (mute, video on/off). The owner stops sending the muted media.
    public func setMediaState(_ mediaState: SessionMessage.MediaState, now: MonotonicInstant) throws(SessionError) {
        guard let channel, !state.isEnded else {
            throw .invalidState(operation: "setMediaState", state: state.description)
        }
        do {
            _ = try channel.send(.mediaState(mediaState), now: now)
        } catch {
            throw .crypto(error)
        }
        pump(now: now)
    }

    /// Asks the peer for a key frame on each of its video streams (a PLI).
    public func requestKeyFrame(now: MonotonicInstant) {
        for stream in incoming.values where stream.description.kind == .video {
            sendFeedback(.pictureLossIndication(.init(senderSSRC: feedbackSSRC, mediaSSRC: stream.description.ssrc)))
        }
        pump(now: now)
    }

    /// Records the user's verdict after comparing the short authentication string or safety number.
    public func markVerified(_ verified: Bool) {
        guard verified != isVerified else { return }
        isVerified = verified
        emit(.verifiedChanged(verified))
    }

    /// The next thing to act on; `.wait` once everything is drained.
    public func pollOutput() -> CallSessionOutput {
        if outputHead < outputs.count {
            let output = outputs[outputHead]
            outputHead += 1
            if outputHead == outputs.count {
                outputs.removeAll(keepingCapacity: true)
                outputHead = 0
            }
            return output
        }
        return .wait(until: nextDeadline)
    }

    /// When the session next needs `handleTimeout(now:)`; nil once ended.
    public var nextDeadline: MonotonicInstant? {
        guard !state.isEnded else { return nil }
        // Asked after every input: fold the timers without building arrays.
        var soonest: MonotonicInstant?
        func consider(_ instant: MonotonicInstant?) {
            guard let instant else { return }
            if soonest.map({ instant < $0 }) ?? true { soonest = instant }
        }
        if state == .dialing {
            consider(nextHandshakeAttempt)
            consider(handshakeStartedAt + configuration.handshakeTimeout)
            return soonest
        }
        consider(channel?.nextDeadline)
        consider(schedule.nextDeadline)
        consider(ring.nextDeadline)
        consider(nextReport)
        consider(hangUpDeadline)
        consider(lastHeard + configuration.peerTimeout)
        if !isSilent { consider(lastHeard + configuration.silenceThreshold) }
        for deadline in videoDeadlines.values { consider(deadline) }
        return soonest
    }

    /// Each timer the session keeps and when it fires, for diagnostics (e.g. a test whose virtual time
    /// stopped advancing).
    public var deadlineBreakdown: [String: MonotonicInstant] {
        var timers: [String: MonotonicInstant?] = [
            "channel": channel?.nextDeadline, "keySchedule": schedule.nextDeadline, "keyRing": ring.nextDeadline,
            "report": nextReport, "hangUp": hangUpDeadline, "handshakeRetry": nextHandshakeAttempt,
        ]
        for (ssrc, deadline) in videoDeadlines { timers["video \(ssrc)"] = deadline }
        return timers.compactMapValues { $0 }
    }

    /// A snapshot of every counter.
    public var statistics: CallStatistics {
        var snapshot = counters
        snapshot.state = state
        snapshot.channel = channel?.statistics ?? PairwiseChannelStatistics()
        snapshot.outbound = outgoing.values.sorted { $0.description.ssrc.rawValue < $1.description.ssrc.rawValue }.map {
            var statistics = $0.statistics
            statistics.srtp = $0.srtp?.statistics ?? .init()
            statistics.peerReportedLoss = $0.peerReportedLoss
            return statistics
        }
        snapshot.inbound = incoming.values.sorted { $0.description.ssrc.rawValue < $1.description.ssrc.rawValue }.map {
            stream in
            var statistics = stream.statistics
            statistics.srtp = stream.srtp?.statistics ?? .init()
            if let rtx = stream.description.retransmission, let context = self.retransmissionContexts[rtx.ssrc] {
                statistics.retransmissionSRTP = context.statistics
            }
            statistics.packetsLost = stream.reception.cumulativeLost
            statistics.smoothedLoss = stream.smoothedLoss
            statistics.jitter = stream.reception.jitter / Double(stream.description.clockRate)
            statistics.audio = stream.audio?.statistics
            statistics.audioTargetDelay = stream.audio?.targetDelay
            statistics.audioBufferedDuration = stream.audio?.bufferedDuration
            statistics.video = stream.video?.statistics
            statistics.videoBufferedFrames = stream.video?.bufferedFrameCount
            return statistics
        }
        return snapshot
    }

    /// The retransmission history's counters (what NACKs asked for and what was resent).
    public var retransmissionStatistics: RetransmissionStatistics { history.statistics }

    // MARK: - Handshake

    private func startHandshakeAttempt(now: MonotonicInstant) throws(SessionError) {
        let elapsed = (now - wallClockOrigin.monotonic).ticks(atRate: 1_000_000_000)
        let wall = HandshakeTimestamp(rawValue: wallClockOrigin.wall.rawValue &+ UInt64(max(0, elapsed)))
        do {
            let attempt = try HandshakeInitiator(
                identity: identity, responder: peerKey, callID: callID, initiatorIndex: localIndex, offer: offerBytes,
                timestamp: wall)
            initiator = attempt
            transmit(attempt.initiation)
        } catch {
            throw .crypto(error)
        }
        counters.handshakeAttempts += 1
        nextHandshakeAttempt = now + handshakeRetryWait
        handshakeRetryWait = min(handshakeRetryWait * 2, .seconds(4))
    }

    private func handleResponse(_ datagram: [UInt8], now: MonotonicInstant) {
        guard state == .dialing, let initiator else {
            counters.dropped.handshakeResponsesRejected += 1
            return
        }
        let answerBytes: [UInt8]
        let handshake: CompletedHandshake
        do {
            (answerBytes, handshake) = try initiator.receive(datagram: datagram[...])
        } catch {
            counters.dropped.handshakeResponsesRejected += 1
            return
        }
        self.initiator = nil
        nextHandshakeAttempt = nil
        let answer: CallParameters
        do {
            answer = try CallParameters(parsing: answerBytes)
            if let reason = answer.declineReason {
                end(.declined(reason))
                return
            }
            try localParameters.check(answer: answer)
        } catch {
            end(.failure("the answer breaks offer-answer.md: \(error)"))
            return
        }
        peerParameters = answer
        do {
            try completeHandshake(handshake, local: localParameters, peer: answer, now: now)
        } catch {
            end(.failure("set-up after the handshake: \(error)"))
            return
        }
        heard(now)
        setState(.active)
    }

    /// Builds the channel, the streams and their keys once the handshake is done.
    private func completeHandshake(
        _ handshake: CompletedHandshake, local: CallParameters, peer: CallParameters, now: MonotonicInstant
    ) throws(SessionError) {
        remoteIndex = handshake.remoteIndex
        do {
            channel = try PairwiseChannel(
                localIndex: handshake.localIndex, remoteIndex: handshake.remoteIndex, sendKey: handshake.keys.sendKey,
                receiveKey: handshake.keys.receiveKey, configuration: configuration.channel)
            shortAuthenticationString = try ShortAuthenticationString(handshakeHash: handshake.keys.handshakeHash)
        } catch {
            throw .crypto(error)
        }
        // The answer names the suites both ends use; the offer's streams the answerer accepted are the
        // initiator's streams, the answer's streams are the responder's.
        let answer = isInitiator ? peer : local
        let offer = isInitiator ? local : peer
        let accepted = Set(answer.acceptedSSRCs)
        let localStreams = isInitiator ? offer.streams.filter { accepted.contains($0.ssrc) } : answer.streams
        let peerStreams = isInitiator ? answer.streams : offer.streams.filter { accepted.contains($0.ssrc) }
        var keyConfiguration = configuration.keySchedule
        if let profile = answer.chosenSRTPProfile { keyConfiguration.srtpProtectionProfile = profile }
        if let suite = answer.chosenSFrameCipherSuite { keyConfiguration.sframeCipherSuite = suite }
        do {
            schedule = try SenderKeySchedule(configuration: keyConfiguration)
            localExtensions = try RTPExtensionRegistry(Self.urisByID(local.headerExtensions))
            peerExtensions = try RTPExtensionRegistry(Self.urisByID(peer.headerExtensions))
        } catch let error as CryptoError {
            throw .crypto(error)
        } catch {
            throw .invalidArgument(field: "headerExtensions", reason: "\(error)")
        }
        for description in localStreams {
            let stream = OutgoingStream(
                description: description, kind: description.kind,
                maximumPayloadSize: configuration.maximumVideoPayloadSize, using: &generator)
            outgoing[description.ssrc] = stream
            try startSending(ssrc: description.ssrc, kind: description.kind, now: now)
            if description.kind == .video, let rtx = description.retransmission {
                outgoingRetransmission = OutgoingRetransmissionStream(
                    stream: rtx, mediaSSRC: description.ssrc, using: &generator)
                try startSending(ssrc: rtx.ssrc, kind: .video, now: now)
            }
        }
        for description in peerStreams {
            var audio: AudioJitterBuffer?
            var video: VideoReceiver?
            switch description.kind {
            case .audio:
                do {
                    let decoder = try makeAudioDecoder(configuration.audioJitterBuffer.channelCount)
                    audio = try AudioJitterBuffer(configuration: configuration.audioJitterBuffer, decoder: decoder)
                } catch {
                    throw .invalidArgument(field: "audioDecoderFactory", reason: "\(error)")
                }
            case .video:
                video = VideoReceiver(ssrc: description.ssrc, configuration: configuration.videoReceiver)
            }
            incoming[description.ssrc] = IncomingStream(description: description, audio: audio, video: video)
            if let rtx = description.retransmission {
                incomingRetransmission[rtx.ssrc] = description.ssrc
                retransmissionMapping.originalSSRCs[rtx.ssrc] = description.ssrc
                retransmissionMapping.originalPayloadTypes[rtx.payloadType] = description.payloadType
            }
        }
        nextReport = now + configuration.rtcpInterval
        emit(.verificationAvailable(
            sas: shortAuthenticationString!, safetyNumber: safetyNumber, peer: handshake.peerStaticKey))
    }

    private static func urisByID(_ mappings: [HeaderExtensionMapping]) -> [UInt8: String] {
        Dictionary(mappings.map { ($0.id, $0.uri) }, uniquingKeysWith: { first, _ in first })
    }

    /// Makes the first key of a local stream, its contexts, and announces it.
    private func startSending(ssrc: SSRC, kind: MediaKind, now: MonotonicInstant) throws(SessionError) {
        do {
            let announcement = try schedule.startStream(ssrc: ssrc, mediaKind: kind, now: now)
            try install(sending: announcement)
            _ = try channel?.send(.senderKeyAnnouncement(announcement.serialize()), now: now)
        } catch {
            throw .crypto(error)
        }
    }

    /// Puts an announced (first) or acknowledged (later) key to use for sending.
    private func install(sending announcement: SenderKeyAnnouncement) throws(CryptoError) {
        guard let suite = SFrameCipherSuite(rawValue: announcement.sframeCipherSuite),
            let srtpSuite = SRTPSuite(protectionProfile: announcement.srtpProtectionProfile)
        else {
            throw .invalidKey(what: "sender key", reason: "unsupported suite")
        }
        func contexts(_ sframe: inout SFrameContext.Sender?, _ srtp: inout SRTPContext?) throws(CryptoError) {
            if let sender = sframe {
                try sender.rotate(toKeyID: announcement.keyID, baseKey: announcement.sframeBaseKey)
            } else {
                sframe = try SFrameContext.Sender(suite: suite, keyID: announcement.keyID, baseKey: announcement.sframeBaseKey)
            }
            if srtp == nil {
                do {
                    srtp = try SRTPContext(
                        direction: .outbound, suite: srtpSuite, masterKey: announcement.srtpMasterKey,
                        masterSalt: announcement.srtpMasterSalt, streams: .only([announcement.ssrc]))
                } catch {
                    throw .invalidKey(what: "SRTP context", reason: "\(error)")
                }
            }
        }
        if let stream = outgoing[announcement.ssrc] {
            try contexts(&stream.sframe, &stream.srtp)
        } else if let rtx = outgoingRetransmission, rtx.ssrc == announcement.ssrc {
            try contexts(&rtx.sframe, &rtx.srtp)
        }
    }

    // MARK: - Channel

    private func handleChannel(_ datagram: [UInt8], now: MonotonicInstant) {
        guard let channel else {
            counters.dropped.channelBeforeHandshake += 1
            return
        }
        let messages: [SessionMessage]
        do {
            messages = try channel.receive(datagram: datagram, now: now)
        } catch {
            // Counted by the channel (authentication, replay, malformed…).
            return
        }
        heard(now)
        for message in messages {
            handle(message, now: now)
            if state.isEnded { return }
        }
    }

    private func handle(_ message: SessionMessage, now: MonotonicInstant) {
        switch message {
        case .senderKeyAnnouncement(let body):
            installReceiving(body, now: now)
        case .senderKeyAcknowledgement(let ssrc, let keyID):
            if let activated = schedule.acknowledge(ssrc: ssrc, keyID: keyID, now: now) {
                do {
                    try install(sending: activated)
                } catch {
                    end(.failure("activating a rotated key: \(error)"))
                }
            }
        case .hangUp(let reason):
            flushChannel()
            end(.remoteHangUp(reason))
        case .mediaState(let mediaState):
            peerMediaState = mediaState
            emit(.peerMediaStateChanged(mediaState))
        }
    }

    /// Installs a peer's sender key (v1.md §2 rules) and acknowledges it.
    private func installReceiving(_ body: [UInt8], now: MonotonicInstant) {
        do {
            let announcement = try SenderKeyAnnouncement(parsing: body[...])
            let mediaSSRC = incomingRetransmission[announcement.ssrc] ?? announcement.ssrc
            guard let stream = incoming[mediaSSRC] else {
                throw CryptoError.rejected(reason: "stream \(announcement.ssrc) was not negotiated")
            }
            guard let srtpSuite = SRTPSuite(protectionProfile: announcement.srtpProtectionProfile) else {
                throw CryptoError.rejected(reason: "unsupported SRTP profile")
            }
            for keyID in try ring.install(announcement, now: now) {
                _ = sframeReceiver.removeKey(keyID: keyID)
            }
            try sframeReceiver.addKey(keyID: announcement.keyID, baseKey: announcement.sframeBaseKey)
            if announcement.ssrc == mediaSSRC, stream.srtp == nil {
                stream.srtp = try Self.inboundContext(srtpSuite, announcement)
            } else if announcement.ssrc != mediaSSRC, retransmissionContexts[announcement.ssrc] == nil {
                retransmissionContexts[announcement.ssrc] = try Self.inboundContext(srtpSuite, announcement)
            }
            _ = try channel?.send(.senderKeyAcknowledgement(ssrc: announcement.ssrc, keyID: announcement.keyID), now: now)
        } catch {
            counters.dropped.rejectedAnnouncements += 1
        }
    }

    private var retransmissionContexts: [SSRC: SRTPContext] = [:]

    private static func inboundContext(_ suite: SRTPSuite, _ announcement: SenderKeyAnnouncement) throws -> SRTPContext {
        try SRTPContext(
            direction: .inbound, suite: suite, masterKey: announcement.srtpMasterKey,
            masterSalt: announcement.srtpMasterSalt, streams: .only([announcement.ssrc]))
    }

    /// Sends whatever the channel has queued (used before ending, so an acknowledgement still leaves).
    private func flushChannel() {
        guard let channel else { return }
        while let datagram = channel.pollDatagram() {
            transmit(datagram)
        }
    }

    private func drainChannel(now: MonotonicInstant) {
        guard let channel else { return }
        while true {
            switch channel.pollOutput() {
            case .transmit(let datagram):
                transmit(datagram)
            case .event(.acknowledged(_, .hangUp)), .event(.deliveryFailed(_, .hangUp)):
                // The peer has the hang-up, or the channel stopped trying: either way the call is over.
                if state == .ending {
                    end(.hangUp)
                    return
                }
            case .event(.deliveryFailed(_, .senderKeyAnnouncement(let body))):
                if let announcement = try? SenderKeyAnnouncement(parsing: body[...]) {
                    schedule.abandonPending(ssrc: announcement.ssrc)
                }
            case .event(.acknowledged), .event(.deliveryFailed):
                break
            case .event(.sendCounterExhausted):
                end(.failure("the pairwise channel used its last counter"))
                return
            case .wait:
                return
            }
        }
    }

    private func rotateKeys(now: MonotonicInstant) {
        var counters: [SSRC: UInt64] = [:]
        for (ssrc, stream) in outgoing {
            counters[ssrc] = stream.sframe?.nextCounter ?? .max
        }
        for ssrc in schedule.streamsDueForRotation(now: now, counters: counters) {
            do {
                guard let next = try schedule.rotate(ssrc: ssrc) else { continue }
                _ = try channel?.send(.senderKeyAnnouncement(next.serialize()), now: now)
                self.counters.keyRotations += 1
            } catch {
                end(.failure("sender key rotation: \(error)"))
                return
            }
        }
    }

    // MARK: - SRTP and RTP

    private func handleSecureRTP(_ datagram: [UInt8], now: MonotonicInstant) {
        guard datagram.count >= 8 else {
            counters.dropped.malformed += 1
            return
        }
        if (192...223).contains(datagram[1]) {
            handleSecureRTCP(datagram, now: now)
            return
        }
        guard datagram.count >= 12 else {
            counters.dropped.malformed += 1
            return
        }
        let ssrc = SSRC(Self.bigEndian32(datagram, at: 8))
        if let mediaSSRC = incomingRetransmission[ssrc] {
            handleRetransmission(datagram, ssrc: ssrc, mediaSSRC: mediaSSRC, now: now)
            return
        }
        guard let stream = incoming[ssrc] else {
            counters.dropped.unknownSSRC += 1
            return
        }
        guard let srtp = stream.srtp else {
            counters.dropped.beforeKeys += 1
            return
        }
        guard let plain = try? srtp.unprotect(srtp: datagram) else { return }  // counted by the context
        heard(now)
        guard let packet = try? RTPPacket(parsing: plain) else {
            stream.statistics.malformedPackets += 1
            return
        }
        receive(packet, on: stream, arrival: now, isRetransmission: false)
    }

    private func handleRetransmission(_ datagram: [UInt8], ssrc: SSRC, mediaSSRC: SSRC, now: MonotonicInstant) {
        guard let stream = incoming[mediaSSRC] else { return }
        guard let srtp = retransmissionContexts[ssrc] else {
            counters.dropped.beforeKeys += 1
            return
        }
        guard let plain = try? srtp.unprotect(srtp: datagram) else { return }
        heard(now)
        guard let packet = try? RTPPacket(parsing: plain), let original = try? retransmissionMapping.unwrap(packet) else {
            stream.statistics.malformedPackets += 1
            return
        }
        receive(original, on: stream, arrival: now, isRetransmission: true)
    }

    private func receive(_ packet: RTPPacket, on stream: IncomingStream, arrival: MonotonicInstant, isRetransmission: Bool) {
        stream.statistics.packetsReceived += 1
        stream.statistics.bytesReceived += packet.payload.count
        stream.statistics.headerBytesReceived += packet.header.serializedSize
        stream.statistics.lastPacketReceived = arrival
        if !isRetransmission {
            _ = stream.reception.record(
                sequenceNumber: packet.header.sequenceNumber, timestamp: packet.header.timestamp, arrival: arrival)
        }
        if let audio = stream.audio {
            guard let opus = unprotectFrame(Array(packet.payload), on: stream) else { return }
            audio.insert(
                payload: opus, sequenceNumber: packet.header.sequenceNumber, timestamp: packet.header.timestamp,
                arrival: arrival)
        } else if stream.video != nil {
            let marking = try? peerExtensions.value(FrameMarking.self, in: packet.header.extensions)
            stream.video!.insert(packet, frameMarking: marking ?? nil, arrival: arrival, isRetransmission: isRetransmission)
        }
    }

    /// Removes SFrame from one frame of `stream`, checking that its KID belongs to the stream; a drop is
    /// counted by reason and gives nil.
    private func unprotectFrame(_ frame: [UInt8], on stream: IncomingStream) -> [UInt8]? {
        var reader = ByteReader(frame)
        guard let header = try? SFrameHeader(reading: &reader) else {
            stream.statistics.sframeMalformed += 1
            return nil
        }
        guard ring.key(forKeyID: header.keyID, ssrc: stream.description.ssrc) != nil else {
            if ring.key(forKeyID: header.keyID) != nil {
                stream.statistics.sframeWrongStream += 1
            } else {
                stream.statistics.sframeUnknownKey += 1
            }
            return nil
        }
        do {
            return try sframeReceiver.unprotect(frame)
        } catch {
            switch error {
            case .unknownKey: stream.statistics.sframeUnknownKey += 1
            case .replayed: stream.statistics.sframeReplays += 1
            case .malformed: stream.statistics.sframeMalformed += 1
            default: stream.statistics.sframeAuthenticationFailures += 1
            }
            return nil
        }
    }

    /// Protects and queues one RTP packet of a local stream.
    private func send(_ packet: RTPPacket, on stream: OutgoingStream, srtp: SRTPContext, now: MonotonicInstant) {
        guard let datagram = try? srtp.protect(packet) else { return }
        stream.statistics.packetsSent += 1
        stream.statistics.bytesSent += packet.payload.count
        stream.statistics.headerBytesSent += packet.header.serializedSize
        stream.lastTimestamp = packet.header.timestamp
        stream.lastSentAt = now
        transmit(datagram)
    }

    // MARK: - RTCP

    /// The SSRC this end's feedback and reports come from: its first local stream.
    private var feedbackSSRC: SSRC {
        outgoing.keys.min { $0.rawValue < $1.rawValue } ?? SSRC(0)
    }

    private func handleSecureRTCP(_ datagram: [UInt8], now: MonotonicInstant) {
        let ssrc = SSRC(Self.bigEndian32(datagram, at: 4))
        guard let stream = incoming[ssrc] else {
            counters.dropped.unknownSSRC += 1
            return
        }
        guard let srtp = stream.srtp else {
            counters.dropped.beforeKeys += 1
            return
        }
        guard let plain = try? srtp.unprotectRTCP(datagram) else { return }
        heard(now)
        guard let compound = try? RTCPCompoundPacket(parsing: plain) else {
            counters.dropped.malformedRTCP += 1
            return
        }
        counters.rtcpReceived += 1
        for packet in compound.packets {
            switch packet {
            case .senderReport(let report):
                incoming[report.ssrc]?.reception.recordSenderReport(ntpTimestamp: report.ntpTimestamp, arrival: now)
                handleReportBlocks(report.reportBlocks, now: now)
            case .receiverReport(let report):
                handleReportBlocks(report.reportBlocks, now: now)
            case .genericNACK(let nack):
                retransmit(nack, now: now)
            case .pictureLossIndication(let pli):
                keyFrameRequested(for: pli.mediaSSRC, now: now) { $0.pliCount += 1 }
            case .fullIntraRequest(let fir):
                for entry in fir.entries {
                    keyFrameRequested(for: entry.ssrc, now: now) { $0.firCount += 1 }
                }
            default:
                break
            }
        }
    }

    /// An RTCP loss fraction (1/256 units) folded into a running estimate (weight 1/4 per report).
    private static func smoothed(_ estimate: Double, _ fractionLost: UInt8) -> Double {
        estimate * 0.75 + Double(fractionLost) / 256 * 0.25
    }

    private func handleReportBlocks(_ blocks: [RTCPReportBlock], now: MonotonicInstant) {
        for block in blocks {
            guard let stream = outgoing[block.ssrc] else { continue }
            stream.peerReportedLoss = Self.smoothed(stream.peerReportedLoss, block.fractionLost)
        }
        measureRoundTrip(blocks, now: now)
    }

    private func measureRoundTrip(_ blocks: [RTCPReportBlock], now: MonotonicInstant) {
        for block in blocks where outgoing[block.ssrc] != nil && block.lastSenderReport != 0 {
            guard let sent = sentReports.last(where: { $0.compact == block.lastSenderReport }) else { continue }
            let held = Duration.nanoseconds(Int64(block.delaySinceLastSenderReport) * 1_000_000_000 / 65_536)
            let rtt = now - sent.sentAt - held
            guard rtt >= .zero else { continue }
            counters.roundTripTime = rtt
            counters.totalRoundTripTime += rtt.inSeconds
            counters.roundTripTimeMeasurements += 1
            for stream in incoming.values where stream.video != nil {
                stream.video!.setRoundTripTime(rtt)
            }
            return
        }
    }

    private func retransmit(_ nack: RTCPGenericNACK, now: MonotonicInstant) {
        guard let stream = outgoing[nack.mediaSSRC] else { return }
        stream.statistics.nackCount += 1
        guard let rtx = outgoingRetransmission, rtx.mediaSSRC == nack.mediaSSRC, let srtp = rtx.srtp else { return }
        for sequenceNumber in nack.lostSequenceNumbers {
            guard
                let original = history.retransmission(
                    of: sequenceNumber, now: now, roundTripTime: counters.roundTripTime)
            else { continue }
            let copies = stream.peerReportedLoss >= configuration.redundantRecoveryLossThreshold ? 2 : 1
            for copy in 0..<copies {
                let packet = RTXMapping.wrap(
                    original, ssrc: rtx.ssrc, payloadType: rtx.payloadType, sequenceNumber: rtx.sequenceNumber)
                rtx.sequenceNumber = rtx.sequenceNumber.advanced(by: 1)
                guard let datagram = try? srtp.protect(packet) else { continue }
                stream.statistics.retransmittedPacketsSent += 1
                stream.statistics.retransmittedBytesSent += original.payload.count
                if copy > 0 { stream.statistics.redundantRetransmissionsSent += 1 }
                transmit(datagram)
            }
        }
    }

    private func keyFrameRequested(
        for ssrc: SSRC, now: MonotonicInstant, count: (inout OutboundStreamStatistics) -> Void
    ) {
        guard let stream = outgoing[ssrc], stream.description.kind == .video else { return }
        count(&stream.statistics)
        if keyFrameLimiter.shouldHonour(requestAt: now) {
            stream.statistics.keyFrameRequestsHonoured += 1
            emit(.keyFrameRequested)
        } else {
            stream.statistics.keyFrameRequestsIgnored += 1
        }
    }

    /// Regular reports: a sender report per local stream that has sent (the first carries a report
    /// block per incoming stream), or a receiver report when nothing was sent yet.
    private func sendReports(now: MonotonicInstant) {
        let jitter = Double(Int64.random(in: 500...1_500, using: &generator)) / 1_000
        nextReport = now + configuration.rtcpInterval * jitter
        var blocks: [RTCPReportBlock] = []
        for stream in incoming.values.sorted(by: { $0.description.ssrc.rawValue < $1.description.ssrc.rawValue }) {
            guard let block = stream.reception.makeReportBlock(now: now) else { continue }
            blocks.append(block)
            stream.smoothedLoss = Self.smoothed(stream.smoothedLoss, block.fractionLost)
        }
        var packets: [RTCPPacket] = []
        let ntp = NTPTimestamp(now)
        for stream in outgoing.values.sorted(by: { $0.description.ssrc.rawValue < $1.description.ssrc.rawValue }) {
            guard stream.statistics.packetsSent > 0 else { continue }
            packets.append(.senderReport(RTCPSenderReport(
                ssrc: stream.description.ssrc, ntpTimestamp: ntp, rtpTimestamp: stream.timestamp(at: now),
                packetCount: UInt32(truncatingIfNeeded: stream.statistics.packetsSent),
                octetCount: UInt32(truncatingIfNeeded: stream.statistics.bytesSent),
                reportBlocks: packets.isEmpty ? blocks : [])))
        }
        if packets.isEmpty {
            guard !outgoing.isEmpty else { return }
            packets.append(.receiverReport(RTCPReceiverReport(ssrc: feedbackSSRC, reportBlocks: blocks)))
        } else {
            sentReports.append((ntp.compact, now))
            if sentReports.count > 32 { sentReports.removeFirst(sentReports.count - 32) }
        }
        sendCompound(RTCPCompoundPacket(packets))
    }

    private func sendFeedback(_ packet: RTCPPacket) {
        sendCompound(RTCPCompoundPacket([packet]))
    }

    /// Protects a compound with the context of its first packet's SSRC and queues it.
    private func sendCompound(_ compound: RTCPCompoundPacket) {
        guard let first = compound.packets.first else { return }
        let ssrc: SSRC
        switch first {
        case .senderReport(let report): ssrc = report.ssrc
        case .receiverReport(let report): ssrc = report.ssrc
        case .genericNACK(let nack): ssrc = nack.senderSSRC
        case .pictureLossIndication(let pli): ssrc = pli.senderSSRC
        default: return
        }
        guard let srtp = outgoing[ssrc]?.srtp, let datagram = try? srtp.protectRTCP(compound) else { return }
        counters.rtcpSent += 1
        transmit(datagram)
    }

    // MARK: - Pumping the receive paths

    /// Drains the channel and the video receivers after every input.
    private func pump(now: MonotonicInstant) {
        guard !state.isEnded else { return }
        drainChannel(now: now)
        guard !state.isEnded else { return }
        for (ssrc, stream) in incoming where stream.video != nil {
            drainVideo(stream, ssrc: ssrc, now: now)
        }
    }

    private func drainVideo(_ stream: IncomingStream, ssrc: SSRC, now: MonotonicInstant) {
        while true {
            switch stream.video!.pollOutput(now: now) {
            case .frame(let frame):
                if let payload = unprotectFrame(frame.data, on: stream) {
                    emit(.videoFrame(IncomingVideoFrame(ssrc: ssrc, payload: payload, received: frame)))
                } else {
                    stream.video!.frameUndecodable(frame, now: now)
                }
            case .nack(let sequenceNumbers):
                let nack = RTCPPacket.genericNACK(RTCPGenericNACK(
                    senderSSRC: feedbackSSRC, mediaSSRC: ssrc, lostSequenceNumbers: sequenceNumbers))
                sendFeedback(nack)
                if stream.smoothedLoss >= configuration.redundantRecoveryLossThreshold {
                    // A second SRTCP packet (its own index), so losing one NACK does not cost a round.
                    sendFeedback(nack)
                    stream.statistics.redundantNACKsSent += 1
                }
            case .keyFrameRequest:
                sendFeedback(.pictureLossIndication(.init(senderSSRC: feedbackSSRC, mediaSSRC: ssrc)))
            case .wait(let until):
                videoDeadlines[ssrc] = until
                return
            }
        }
    }

    // MARK: - Helpers

    private func heard(_ now: MonotonicInstant) {
        lastHeard = max(lastHeard, now)
        if isSilent {
            isSilent = false
            emit(.peerResumed)
        }
        if !peerAuthenticated {
            peerAuthenticated = true
            if state == .answering { setState(.active) }
        }
    }

    private func setState(_ newState: CallState) {
        guard newState != state else { return }
        state = newState
        emit(.stateChanged(newState))
        if newState == .active, outgoing.values.contains(where: { $0.description.kind == .video }) {
            // The encoder may have run before the call was up: the first frame the peer gets must be a key frame.
            emit(.keyFrameRequested)
        }
    }

    private func end(_ reason: CallEndReason) {
        guard !state.isEnded else { return }
        flushChannel()
        setState(.ended(reason))
        videoDeadlines.removeAll()
    }

    private func emit(_ event: CallEvent) {
        outputs.append(.event(event))
    }

    private func transmit(_ datagram: [UInt8]) {
        counters.datagramsSent += 1
        counters.bytesSent += datagram.count
        outputs.append(.transmit(datagram))
    }

    private static func bigEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }
}
