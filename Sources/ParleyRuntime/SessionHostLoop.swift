import CParleyShims
import Glibc
import ParleyCrypto
import ParleyJitter
import ParleySession
import ParleyWire

/// One call the loop holds.
private final class HostedCall {
    let handle: CallHandle
    var session: CallSession
    /// Where datagrams to the peer go: the dialled address or the initiation's source, then the address
    /// the channel last authenticated a datagram from; nil for an offer made out of band until its answer.
    var peerAddress: SocketAddress?
    /// When the session next needs `handleTimeout(now:)`.
    var deadline: MonotonicInstant?
    /// The first datagram the session produced (the initiation or the response, for out-of-band
    /// signalling).
    var firstDatagram: [UInt8]?

    init(handle: CallHandle, session: CallSession, peerAddress: SocketAddress?) {
        self.handle = handle
        self.session = session
        self.peerAddress = peerAddress
    }
}

/// The host's state and work: socket, router, responder, sessions. Not thread-safe: `HostShared` holds
/// it under a lock, taken by the loop thread for each turn and by other threads for the inputs they hand
/// over directly (media frames, audio pulls, statistics).
final class HostLoop {
    private let socket: UDPSocket
    private let batch = ReceiveBatch(capacity: 64, maximumDatagramSize: 2_048)
    private var router = DatagramRouter<CallHandle>()
    private let identity: IdentityKeyPair
    private let responder: HandshakeResponder
    private let capabilities: LocalCallCapabilities
    private let configuration: CallSessionConfiguration
    private let makeDecoder: @Sendable (Int) throws -> any AudioPacketDecoding
    private let policy: @Sendable (IncomingCall) -> IncomingCallDecision
    private let events: AsyncStream<HostEvent>.Continuation
    private var calls: [CallHandle: HostedCall] = [:]
    /// Where each call's decodable video frames go instead of `events` (`setVideoFrameHandler`).
    private var videoFrameHandlers: [CallHandle: @Sendable (IncomingVideoFrame) -> Void] = [:]
    private var ringing: [CallHandle: RingingCall] = [:]
    private var limiter = InitiationRateLimiter()
    private var counters = SessionHostStatistics()
    private var nextHandle: UInt64 = 1
    private var isStopping = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    private var random = SystemRandomNumberGenerator()

    /// Datagrams read per wake-up before timers get their turn.
    private static let receiveBudget = 1_024
    /// The longest single wait (a safety net: commands and datagrams wake the loop anyway).
    private static let longestWait = Duration.seconds(1)

    init(
        socket: UDPSocket, identity: IdentityKeyPair, capabilities: LocalCallCapabilities,
        configuration: CallSessionConfiguration, makeDecoder: @escaping @Sendable (Int) throws -> any AudioPacketDecoding,
        policy: @escaping @Sendable (IncomingCall) -> IncomingCallDecision, events: AsyncStream<HostEvent>.Continuation
    ) {
        self.socket = socket
        self.identity = identity
        responder = HandshakeResponder(identity: identity)
        self.capabilities = capabilities
        self.configuration = configuration
        self.makeDecoder = makeDecoder
        self.policy = policy
        self.events = events
    }

    /// The loop thread's nice value: the network path has little work and deadlines, so it goes ahead of
    /// the codecs when cores are scarce (applied only where permitted, e.g. as root).
    static let threadNice: Int32 = -10

    /// When the loop thread's current wait ends (nil while it works): an input handled on another thread
    /// that moves a session's deadline before it must wake the loop.
    private var plannedWake: MonotonicInstant?
    /// Set when such an input moved a deadline before `plannedWake`; taken by `takeWakeNeeded()`.
    private var wakeNeeded = false
    /// While another thread's input runs (`deferTransmits()`), what it would send, for that thread to
    /// send after it let go of the lock; nil: send at once.
    private var deferredTransmits: [(datagrams: [[UInt8]], address: SocketAddress)]?

    /// One turn of the loop thread: the datagrams waiting (if the socket was readable), due timers and
    /// queued commands. Returns how long to wait for the next input, or nil once stopped with every call
    /// ended.
    func turn(socketReadable: Bool, commands: [HostCommand]) -> Duration? {
        plannedWake = nil
        wakeNeeded = false
        if socketReadable { receiveWaiting() }
        fireTimers()
        for command in commands {
            execute(command)
        }
        if isStopping, calls.isEmpty { return nil }
        let now = HostClock.now()
        var wait = Self.longestWait
        if let deadline = earliestDeadline() { wait = min(wait, max(.zero, deadline - now)) }
        plannedWake = now + wait
        return wait
    }

    /// The loop's last act: the commands that came after it stopped, the stop waiters, the end of `events`.
    func finish(commands: [HostCommand]) {
        plannedWake = nil
        for command in commands {
            execute(command)
        }
        for waiter in stopWaiters { waiter.resume() }
        stopWaiters.removeAll()
        events.finish()
    }

    /// From now on, collects what would be sent instead of sending it (until `takeDeferredTransmits()`).
    func deferTransmits() {
        deferredTransmits = []
    }

    /// What was collected since `deferTransmits()`, in order; sending goes back to immediate.
    func takeDeferredTransmits() -> [(datagrams: [[UInt8]], address: SocketAddress)] {
        defer { deferredTransmits = nil }
        return deferredTransmits ?? []
    }

    /// Counts datagrams the kernel refused when they were sent outside the lock.
    func countSendFailures(_ count: Int) {
        counters.sendFailures += count
    }

    /// Whether an input handled on another thread since the loop thread began its wait needs it sooner
    /// (and forgets it).
    func takeWakeNeeded() -> Bool {
        defer { wakeNeeded = false }
        return wakeNeeded
    }

    /// The earliest instant a session or a ringing call needs the loop (nil: none).
    private func earliestDeadline() -> MonotonicInstant? {
        var earliest = calls.values.lazy.compactMap(\.deadline).min()
        for held in ringing.values {
            let expiry = held.lastSeen + SessionHost.ringingExpiry
            if earliest.map({ expiry < $0 }) ?? true { earliest = expiry }
        }
        return earliest
    }

    // MARK: - Commands

    private func execute(_ command: HostCommand) {
        let now = HostClock.now()
        switch command {
        case .dial(let peer, let address, let offer, let handshakeTimeout, let continuation):
            guard !isStopping else {
                continuation.resume(returning: .failure(.stopped))
                return
            }
            let session: CallSession
            do {
                var tuning = configuration
                if let handshakeTimeout { tuning.handshakeTimeout = handshakeTimeout }
                session = try CallSession(
                    dialing: peer, identity: identity, offer: offer, localIndex: freshIndex(),
                    wallClock: HostClock.wallClock(), now: now, configuration: tuning,
                    audioDecoderFactory: makeDecoder)
            } catch {
                continuation.resume(returning: .failure(.session(error)))
                return
            }
            let call = adopt(session, peerAddress: address)
            continuation.resume(returning: .success(call.handle))
            drain(call)
        case .run(let body, _):
            body(self)
        case .hangUp(let handle):
            guard let call = calls[handle] else { return }
            call.session.hangUp(now: now)
            drain(call)
        case .stop(let continuation):
            if let continuation { stopWaiters.append(continuation) }
            guard !isStopping else { return }
            isStopping = true
            for handle in Array(ringing.keys) {
                _ = declineRinging(handle, reason: .busy)
            }
            for call in Array(calls.values) {
                call.session.hangUp(now: now)
                drain(call)
            }
        }
    }

    // MARK: - Receiving

    private func receiveWaiting() {
        var budget = Self.receiveBudget
        while budget > 0 {
            let count: Int
            do {
                count = try socket.receive(into: batch)
            } catch {
                counters.receiveFailures += 1
                return
            }
            guard count > 0 else { return }
            budget -= count
            let now = HostClock.now()
            for index in 0..<count {
                counters.datagramsReceived += 1
                guard !batch.wasTruncated(at: index) else {
                    counters.datagramsTruncated += 1
                    continue
                }
                handle(batch.bytes(at: index), from: batch.source(at: index), now: now)
            }
        }
    }

    private func handle(_ datagram: [UInt8], from source: SocketAddress, now: MonotonicInstant) {
        switch router.route(datagram, from: source) {
        case .drop:
            return  // counted by the router
        case .newCall:
            handleInitiation(datagram, from: source, now: now)
        case .session(let handle):
            guard let call = calls[handle] else {
                counters.datagramsForClosedCalls += 1
                return
            }
            deliver(datagram, from: source, to: call, now: now)
        }
    }

    /// Hands a routed datagram to its session; if it authenticated the peer (a handshake response that
    /// completed the handshake, a channel datagram that passed its tag), the source becomes the peer's
    /// address, for sending and for routing SRTP.
    private func deliver(_ datagram: [UInt8], from source: SocketAddress, to call: HostedCall, now: MonotonicInstant) {
        let session = call.session
        let wasDialing = session.state == .dialing
        let isChannel = datagram.first == 0x06
        let channelBefore = isChannel ? session.statistics.channel.datagramsReceived : 0
        session.handle(datagram: datagram, now: now)
        let authenticated = if isChannel {
            session.statistics.channel.datagramsReceived > channelBefore
        } else {
            datagram.first == 0x05 && wasDialing && session.state == .active
        }
        if authenticated {
            call.peerAddress = source
            router.bindAddress(source, to: call.handle)
        }
        drain(call)
    }

    /// An initiation: rate limit, authenticate, then replace an answering session of the same call, or
    /// ask the policy about a new one (session.md §2).
    private func handleInitiation(_ datagram: [UInt8], from source: SocketAddress, now: MonotonicInstant) {
        guard !isStopping else {
            counters.initiationsIgnored += 1
            return
        }
        guard limiter.admit(source.ip, now: now) else {
            counters.initiationsRateLimited += 1
            return
        }
        let pending: HandshakeResponder.PendingAnswer
        let offer: CallParameters
        do {
            pending = try responder.receive(datagram: datagram[...], now: HostClock.wallClock())
            offer = try CallParameters(parsing: pending.offer)
        } catch {
            counters.initiationsRejected += 1
            return
        }
        let incoming = IncomingCall(peer: pending.initiatorStaticKey, callID: pending.callID, offer: offer, source: source)
        if let existing = calls.values.first(where: {
            !$0.session.isInitiator && $0.session.callID == pending.callID && $0.session.peerKey == pending.initiatorStaticKey
        }) {
            replace(existing, with: pending, incoming: incoming, now: now)
            return
        }
        if let held = ringing.values.first(where: {
            $0.incoming.callID == pending.callID && $0.incoming.peer == pending.initiatorStaticKey
        }) {
            // The caller retried while ringing: keep its latest initiation, the one it awaits an answer to.
            held.pending.reject()
            held.pending = pending
            held.incoming = incoming
            held.lastSeen = now
            return
        }
        var decision = policy(incoming)
        if decision == .ring {
            let handle = CallHandle(rawValue: nextHandle)
            nextHandle += 1
            ringing[handle] = RingingCall(pending: pending, incoming: incoming, lastSeen: now)
            events.yield(.callRinging(handle, incoming))
            return
        }
        var answer: CallParameters?
        if decision == .accept {
            do {
                let built = try CallParameters.answer(to: offer, with: capabilities)
                if let reason = built.declineReason { decision = .decline(reason) } else { answer = built }
            } catch {
                decision = .decline(.rejected)
            }
        }
        if let answer, let session = answeringSession(pending, answer: answer, now: now) {
            let call = adopt(session, peerAddress: source)
            counters.callsAnswered += 1
            events.yield(.callAnswered(call.handle, incoming))
            drain(call)
            return
        }
        refuse(pending, incoming: incoming, decision: decision == .accept ? .decline(.rejected) : decision)
    }

    // MARK: - Ringing calls and out-of-band signalling

    /// Answers a ringing call's latest initiation under its handle.
    func answerRinging(_ handle: CallHandle) -> Result<Void, SessionHostError> {
        guard let held = ringing[handle] else { return .failure(.unknownCall(handle)) }
        let now = HostClock.now()
        let answer: CallParameters
        do {
            answer = try CallParameters.answer(to: held.incoming.offer, with: capabilities)
        } catch {
            return .failure(.session(.invalidArgument(field: "offer", reason: "\(error)")))
        }
        if let reason = answer.declineReason {
            _ = declineRinging(handle, reason: reason)
            return .failure(.invalidState("the offer cannot be answered: \(reason)"))
        }
        let session: CallSession
        do {
            session = try CallSession(
                answering: held.pending, identity: identity, answer: answer, localIndex: freshIndex(), now: now,
                configuration: configuration, audioDecoderFactory: makeDecoder)
        } catch {
            return .failure(.session(error))
        }
        ringing[handle] = nil
        let call = adopt(session, peerAddress: held.incoming.source, handle: handle)
        counters.callsAnswered += 1
        events.yield(.callAnswered(handle, held.incoming))
        drain(call)
        return .success(())
    }

    /// Declines a ringing call (a declining answer to its latest initiation) and closes it.
    func declineRinging(_ handle: CallHandle, reason: DeclineReason) -> Result<Void, SessionHostError> {
        guard let held = ringing.removeValue(forKey: handle) else { return .failure(.unknownCall(handle)) }
        refuse(held.pending, incoming: held.incoming, decision: .decline(reason))
        events.yield(.callClosed(handle, .declined(reason)))
        return .success(())
    }

    /// Closes ringing calls whose caller stopped retrying.
    private func expireRinging(now: MonotonicInstant) {
        for (handle, held) in ringing where now - held.lastSeen >= SessionHost.ringingExpiry {
            ringing[handle] = nil
            held.pending.reject()
            events.yield(.callClosed(handle, .handshakeTimeout))
        }
    }

    /// A dialing session whose initiation is handed back, not sent, and never retried.
    func createOffer(
        to peer: IdentityPublicKey, offer: CallParameters, lifetime: Duration
    ) -> Result<(call: CallHandle, initiation: [UInt8]), SessionHostError> {
        guard !isStopping else { return .failure(.stopped) }
        var tuning = configuration
        tuning.handshakeTimeout = lifetime
        tuning.handshakeRetryInterval = lifetime * 2
        let now = HostClock.now()
        let session: CallSession
        do {
            session = try CallSession(
                dialing: peer, identity: identity, offer: offer, localIndex: freshIndex(),
                wallClock: HostClock.wallClock(), now: now, configuration: tuning, audioDecoderFactory: makeDecoder)
        } catch {
            return .failure(.session(error))
        }
        let call = adopt(session, peerAddress: nil)
        drain(call)
        guard let initiation = call.firstDatagram else {
            return .failure(.invalidState("the session produced no initiation"))
        }
        return .success((call.handle, initiation))
    }

    /// Answers an initiation that came through the front-ends; the response also goes over UDP to the
    /// offer's first candidate.
    func acceptOffer(
        _ initiation: [UInt8]
    ) -> Result<(call: CallHandle, incoming: IncomingCall, response: [UInt8]), SessionHostError> {
        guard !isStopping else { return .failure(.stopped) }
        guard initiation.first == HandshakeInitiation.type else {
            return .failure(.offerRejected("not a handshake initiation (type byte \(initiation.first.map(String.init) ?? "missing"))"))
        }
        let pending: HandshakeResponder.PendingAnswer
        let offer: CallParameters
        do {
            pending = try responder.receive(datagram: initiation[...], now: HostClock.wallClock())
        } catch {
            counters.initiationsRejected += 1
            return .failure(.offerRejected("\(error)"))
        }
        do {
            offer = try CallParameters(parsing: pending.offer)
        } catch {
            pending.reject()
            return .failure(.offerRejected("the offer's parameters: \(error)"))
        }
        guard let candidate = offer.candidates.first else {
            pending.reject()
            return .failure(.offerRejected("the offer carries no address to answer to"))
        }
        let source = SocketAddress(candidate)
        let incoming = IncomingCall(peer: pending.initiatorStaticKey, callID: pending.callID, offer: offer, source: source)
        let answer: CallParameters
        do {
            answer = try CallParameters.answer(to: offer, with: capabilities)
        } catch {
            pending.reject()
            return .failure(.offerRejected("no answer can be made: \(error)"))
        }
        if let reason = answer.declineReason {
            pending.reject()
            return .failure(.offerRejected("no answer can be made: \(reason)"))
        }
        let session: CallSession
        do {
            session = try CallSession(
                answering: pending, identity: identity, answer: answer, localIndex: freshIndex(), now: HostClock.now(),
                configuration: configuration, audioDecoderFactory: makeDecoder)
        } catch {
            return .failure(.session(error))
        }
        let call = adopt(session, peerAddress: source)
        counters.callsAnswered += 1
        events.yield(.callAnswered(call.handle, incoming))
        drain(call)
        guard let response = call.firstDatagram else {
            return .failure(.invalidState("the session produced no response"))
        }
        return .success((call.handle, incoming, response))
    }

    /// Feeds an out-of-band response to the offer `handle` made.
    func applyAnswer(_ response: [UInt8], call handle: CallHandle) -> Result<Void, SessionHostError> {
        guard let call = calls[handle] else { return .failure(.unknownCall(handle)) }
        guard call.session.isInitiator else { return .failure(.invalidState("the call was not dialled here")) }
        guard call.session.state == .dialing else { return .success(()) }
        guard response.first == HandshakeResponse.type else {
            return .failure(.answerRejected("not a handshake response (type byte \(response.first.map(String.init) ?? "missing"))"))
        }
        call.session.handle(datagram: response, now: HostClock.now())
        if call.session.state == .dialing {
            return .failure(.answerRejected("the response does not complete this call's handshake"))
        }
        if call.peerAddress == nil, let candidate = call.session.peerParameters?.candidates.first {
            call.peerAddress = SocketAddress(candidate)
        }
        drain(call)
        return .success(())
    }

    // MARK: - Pass-throughs

    func markVerified(_ verified: Bool, call handle: CallHandle) {
        guard let call = calls[handle] else { return }
        call.session.markVerified(verified)
        drain(call)
    }

    func setMediaState(_ state: SessionMessage.MediaState, call handle: CallHandle) -> Result<Void, SessionHostError> {
        guard let call = calls[handle] else { return .failure(.unknownCall(handle)) }
        do {
            try call.session.setMediaState(state, now: HostClock.now())
        } catch {
            return .failure(.session(error))
        }
        drain(call)
        return .success(())
    }

    func requestKeyFrame(call handle: CallHandle) {
        guard let call = calls[handle] else { return }
        call.session.requestKeyFrame(now: HostClock.now())
        drain(call)
    }

    func sendAudio(_ packet: [UInt8], sampleCount: Int, call handle: CallHandle) {
        guard let call = calls[handle] else { return }
        call.session.sendAudio(packet, sampleCount: sampleCount, now: HostClock.now())
        drain(call)
    }

    func sendVideoFrame(_ frame: [UInt8], isKeyFrame: Bool, captureInstant: MonotonicInstant, call handle: CallHandle) {
        guard let call = calls[handle] else { return }
        call.session.sendVideoFrame(frame, isKeyFrame: isKeyFrame, captureInstant: captureInstant, now: HostClock.now())
        drain(call)
    }

    func setVideoFrameHandler(_ handler: @escaping @Sendable (IncomingVideoFrame) -> Void, call handle: CallHandle) {
        guard calls[handle] != nil else { return }
        videoFrameHandlers[handle] = handler
    }

    func videoFrameDecoded(_ frame: IncomingVideoFrame, call handle: CallHandle) {
        guard let call = calls[handle] else { return }
        call.session.videoFrameDecoded(frame, now: HostClock.now())
        drain(call)
    }

    var statistics: SessionHostStatistics {
        var snapshot = counters
        snapshot.routeDrops = router.drops
        snapshot.liveCalls = calls.count
        snapshot.ringingCalls = ringing.count
        return snapshot
    }

    func callStatistics(_ handle: CallHandle) -> CallStatistics? {
        calls[handle]?.session.statistics
    }

    func pullAudio(sampleCount: Int, call handle: CallHandle) -> AudioPlayout? {
        guard let call = calls[handle] else { return nil }
        let playout = call.session.pullAudio(sampleCount: sampleCount, now: HostClock.now())
        drain(call)
        return playout
    }

    func videoFrameUndecodable(_ frame: IncomingVideoFrame, call handle: CallHandle) {
        guard let call = calls[handle] else { return }
        call.session.videoFrameUndecodable(frame, now: HostClock.now())
        drain(call)
    }

    func callInfo(_ handle: CallHandle) -> HostCallInfo? {
        guard let call = calls[handle] else { return nil }
        let session = call.session
        return HostCallInfo(
            state: session.state, isInitiator: session.isInitiator, peerKey: session.peerKey, peerAddress: call.peerAddress,
            shortAuthenticationString: session.shortAuthenticationString, safetyNumber: session.safetyNumber,
            isVerified: session.isVerified, peerMediaState: session.peerMediaState)
    }

    /// A retried initiation of a call this host answered: while still answering (the caller never heard
    /// the response), a new session replaces the old one under the same handle; later it is ignored.
    private func replace(
        _ call: HostedCall, with pending: HandshakeResponder.PendingAnswer, incoming: IncomingCall, now: MonotonicInstant
    ) {
        guard call.session.state == .answering, let answer = try? CallParameters.answer(to: incoming.offer, with: capabilities),
            answer.declineReason == nil, let session = answeringSession(pending, answer: answer, now: now)
        else {
            pending.reject()
            counters.initiationsIgnored += 1
            return
        }
        router.unregister(session: call.handle)
        _ = router.register(index: session.localIndex, session: call.handle)
        call.session = session
        call.peerAddress = incoming.source
        call.deadline = nil
        counters.answeringSessionsReplaced += 1
        events.yield(.callAnswered(call.handle, incoming))
        drain(call)
    }

    private func answeringSession(
        _ pending: HandshakeResponder.PendingAnswer, answer: CallParameters, now: MonotonicInstant
    ) -> CallSession? {
        try? CallSession(
            answering: pending, identity: identity, answer: answer, localIndex: freshIndex(), now: now,
            configuration: configuration, audioDecoderFactory: makeDecoder)
    }

    /// Declines (a declining answer, under an index no session holds) or ignores (nothing sent).
    private func refuse(_ pending: HandshakeResponder.PendingAnswer, incoming: IncomingCall, decision: IncomingCallDecision) {
        counters.callsRefused += 1
        if case .decline(let reason) = decision, !pending.isDecided,
            let (response, _) = try? pending.accept(answer: CallParameters.decline(reason).serialize(), responderIndex: freshIndex())
        {
            transmit(response, to: incoming.source)
        } else {
            pending.reject()
        }
        events.yield(.callRefused(incoming, decision))
    }

    // MARK: - Sessions

    private func adopt(_ session: CallSession, peerAddress: SocketAddress?, handle given: CallHandle? = nil) -> HostedCall {
        let handle = given ?? CallHandle(rawValue: nextHandle)
        if given == nil { nextHandle += 1 }
        let call = HostedCall(handle: handle, session: session, peerAddress: peerAddress)
        calls[handle] = call
        _ = router.register(index: session.localIndex, session: handle)
        return call
    }

    /// A random session index, nonzero and unused by any live session.
    private func freshIndex() -> UInt32 {
        while true {
            let index = UInt32.random(in: 1...UInt32.max, using: &random)
            if router.session(forIndex: index) == nil { return index }
        }
    }

    /// Drains the session's output (ARCHITECTURE §3); an ended session is let go of afterwards.
    private func drain(_ call: HostedCall) {
        // Sent together at the end: one system call for a frame's packets, one wake-up at the peer.
        var outgoing: [[UInt8]] = []
        draining: while true {
            switch call.session.pollOutput() {
            case .transmit(let datagram):
                if call.firstDatagram == nil { call.firstDatagram = datagram }
                if call.peerAddress != nil { outgoing.append(datagram) }
            case .event(.videoFrame(let frame)) where videoFrameHandlers[call.handle] != nil:
                videoFrameHandlers[call.handle]?(frame)
            case .event(let event):
                events.yield(.call(call.handle, event))
            case .wait(let until):
                call.deadline = until
                if let until, let plannedWake, until < plannedWake { wakeNeeded = true }
                break draining
            }
        }
        if let address = call.peerAddress, !outgoing.isEmpty { transmit(outgoing, to: address) }
        if case .ended(let reason) = call.session.state, calls[call.handle] === call {
            calls[call.handle] = nil
            videoFrameHandlers[call.handle] = nil
            router.unregister(session: call.handle)
            events.yield(.callClosed(call.handle, reason))
        }
    }

    private func fireTimers() {
        let now = HostClock.now()
        expireRinging(now: now)
        let due = calls.values.filter { $0.deadline.map { $0 <= now } ?? false }
        for call in due {
            call.deadline = nil
            call.session.handleTimeout(now: now)
            drain(call)
        }
    }

    private func transmit(_ datagrams: [[UInt8]], to address: SocketAddress) {
        if deferredTransmits != nil {
            deferredTransmits?.append((datagrams, address))
            return
        }
        do {
            counters.sendFailures += try socket.send(batch: datagrams, to: address).failed
        } catch {
            counters.sendFailures += datagrams.count
        }
    }

    private func transmit(_ datagram: [UInt8], to address: SocketAddress) {
        do {
            try socket.send(datagram, to: address)
        } catch {
            counters.sendFailures += 1
        }
    }
}

/// An incoming call held for the owner's decision: the caller's latest initiation.
private final class RingingCall {
    var pending: HandshakeResponder.PendingAnswer
    var incoming: IncomingCall
    /// When the latest initiation arrived.
    var lastSeen: MonotonicInstant

    init(pending: HandshakeResponder.PendingAnswer, incoming: IncomingCall, lastSeen: MonotonicInstant) {
        self.pending = pending
        self.incoming = incoming
        self.lastSeen = lastSeen
    }
}

/// At most `limit` initiations per `window` from one IP address, checked before any cryptography.
///
/// Keyed by IP address (not port), so a flood from many ports of one host counts as one source. At most
/// `maximumSources` addresses are tracked; when every tracked one is still inside its window, initiations
/// from new addresses are refused until a window ends.
struct InitiationRateLimiter {
    var limit = 10
    var window = Duration.seconds(1)
    var maximumSources = 4_096
    private var sources: [IPAddress: (start: MonotonicInstant, count: Int)] = [:]

    /// Whether an initiation from `address` at `now` may go on (and counts it).
    mutating func admit(_ address: IPAddress, now: MonotonicInstant) -> Bool {
        if var entry = sources[address], now - entry.start < window {
            guard entry.count < limit else { return false }
            entry.count += 1
            sources[address] = entry
            return true
        }
        if sources[address] == nil, sources.count >= maximumSources {
            sources = sources.filter { now - $0.value.start < window }
            guard sources.count < maximumSources else { return false }
        }
        sources[address] = (now, 1)
        return true
    }
}

/// Wakes the loop thread from any thread: a non-blocking pipe whose read end the loop polls beside its
/// socket. One byte is in flight at most (the command queue remembers whether a wake-up is pending).
final class HostWaker: Sendable {
    private let readEnd: Int32
    private let writeEnd: Int32

    init() throws(RuntimeError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw .system(operation: .open, errno: errno) }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// Makes the loop's wait return (a full pipe already does).
    func wake() {
        var byte: UInt8 = 1
        while write(writeEnd, &byte, 1) < 0, errno == EINTR {}
    }

    /// Empties the pipe.
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readEnd, &buffer, buffer.count) > 0 {}
    }

    /// Waits until `socket` has a datagram, a wake-up arrives, or `timeout` passed (rounded up to whole
    /// milliseconds); true when the socket is readable.
    func wait(withSocket descriptor: Int32, timeout: Duration) -> Bool {
        let milliseconds = Int32(clamping: (timeout.totalNanoseconds + 999_999) / 1_000_000)
        var entries = [
            pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let ready = poll(&entries, 2, max(0, milliseconds))
            if ready >= 0 { return entries[0].revents != 0 }
            // EINTR: wait again; any other failure: report the socket readable so a receive shows it.
            if errno != EINTR { return true }
        }
    }
}

/// Runs `body` on a new detached POSIX thread named `name` (its first 15 bytes; shown by `top -H`).
///
/// For work that must not share Swift's cooperative pool: the host's loop, media capture and codecs.
public func startDetachedThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Entry: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, _ body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let entry = Unmanaged.passRetained(Entry(name: name, body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { raw in
        guard let raw else { return nil }
        let entry = Unmanaged<Entry>.fromOpaque(raw).takeRetainedValue()
        _ = parley_set_thread_name(entry.name)
        entry.body()
        return nil
    }, entry)
    if result == 0 {
        pthread_detach(thread)
    } else {
        // No thread: run nothing, but do not leak the entry.
        Unmanaged<Entry>.fromOpaque(entry).release()
    }
}
