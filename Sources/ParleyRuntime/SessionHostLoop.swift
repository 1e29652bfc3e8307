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
    /// the channel last authenticated a datagram from.
    var peerAddress: SocketAddress
    /// When the session next needs `handleTimeout(now:)`.
    var deadline: MonotonicInstant?

    init(handle: CallHandle, session: CallSession, peerAddress: SocketAddress) {
        self.handle = handle
        self.session = session
        self.peerAddress = peerAddress
    }
}

/// The loop thread's state and work: socket, router, responder, sessions. Touched by one thread only.
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

    /// Runs until stopped and every call ended; then refuses further commands and finishes `events`.
    func run(_ shared: HostShared) {
        while true {
            shared.waker.drain()
            for command in shared.takeCommands() {
                execute(command)
            }
            if isStopping, calls.isEmpty { break }
            let deadline = calls.values.lazy.compactMap(\.deadline).min()
            var wait = Self.longestWait
            if let deadline { wait = min(wait, max(.zero, deadline - HostClock.now())) }
            if shared.waker.wait(with: socket, timeout: wait) {
                receiveWaiting()
            }
            fireTimers()
        }
        for command in shared.close() {
            execute(command)
        }
        for waiter in stopWaiters { waiter.resume() }
        stopWaiters.removeAll()
        events.finish()
    }

    // MARK: - Commands

    private func execute(_ command: HostCommand) {
        let now = HostClock.now()
        switch command {
        case .dial(let peer, let address, let offer, let continuation):
            guard !isStopping else {
                continuation.resume(returning: .failure(.stopped))
                return
            }
            let session: CallSession
            do {
                session = try CallSession(
                    dialing: peer, identity: identity, offer: offer, localIndex: freshIndex(),
                    wallClock: HostClock.wallClock(), now: now, configuration: configuration,
                    audioDecoderFactory: makeDecoder)
            } catch {
                continuation.resume(returning: .failure(.session(error)))
                return
            }
            let call = adopt(session, peerAddress: address)
            continuation.resume(returning: .success(call.handle))
            drain(call)
        case .hangUp(let handle):
            guard let call = calls[handle] else { return }
            call.session.hangUp(now: now)
            drain(call)
        case .sendAudio(let packet, let sampleCount, let handle):
            guard let call = calls[handle] else { return }
            call.session.sendAudio(packet, sampleCount: sampleCount, now: now)
            drain(call)
        case .sendVideo(let frame, let isKeyFrame, let captureInstant, let handle):
            guard let call = calls[handle] else { return }
            call.session.sendVideoFrame(frame, isKeyFrame: isKeyFrame, captureInstant: captureInstant, now: now)
            drain(call)
        case .pullAudio(let sampleCount, let handle, let continuation):
            guard let call = calls[handle] else {
                continuation.resume(returning: nil)
                return
            }
            continuation.resume(returning: call.session.pullAudio(sampleCount: sampleCount, now: now))
            drain(call)
        case .videoFrameDecoded(let frame, let handle):
            guard let call = calls[handle] else { return }
            call.session.videoFrameDecoded(frame, now: now)
            drain(call)
        case .statistics(let continuation):
            var snapshot = counters
            snapshot.routeDrops = router.drops
            snapshot.liveCalls = calls.count
            continuation.resume(returning: snapshot)
        case .callStatistics(let handle, let continuation):
            continuation.resume(returning: calls[handle]?.session.statistics)
        case .stop(let continuation):
            if let continuation { stopWaiters.append(continuation) }
            guard !isStopping else { return }
            isStopping = true
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
        var decision = policy(incoming)
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

    private func adopt(_ session: CallSession, peerAddress: SocketAddress) -> HostedCall {
        let handle = CallHandle(rawValue: nextHandle)
        nextHandle += 1
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
        draining: while true {
            switch call.session.pollOutput() {
            case .transmit(let datagram):
                transmit(datagram, to: call.peerAddress)
            case .event(let event):
                events.yield(.call(call.handle, event))
            case .wait(let until):
                call.deadline = until
                break draining
            }
        }
        if case .ended(let reason) = call.session.state, calls[call.handle] === call {
            calls[call.handle] = nil
            router.unregister(session: call.handle)
            events.yield(.callClosed(call.handle, reason))
        }
    }

    private func fireTimers() {
        let now = HostClock.now()
        let due = calls.values.filter { $0.deadline.map { $0 <= now } ?? false }
        for call in due {
            call.deadline = nil
            call.session.handleTimeout(now: now)
            drain(call)
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
    func wait(with socket: UDPSocket, timeout: Duration) -> Bool {
        let milliseconds = Int32(clamping: (timeout.totalNanoseconds + 999_999) / 1_000_000)
        var entries = [
            pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0),
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

/// Runs `body` on a new detached POSIX thread.
func startThread(_ body: @escaping @Sendable () -> Void) {
    final class Entry: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let entry = Unmanaged.passRetained(Entry(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { raw in
        guard let raw else { return nil }
        Unmanaged<Entry>.fromOpaque(raw).takeRetainedValue().body()
        return nil
    }, entry)
    if result == 0 {
        pthread_detach(thread)
    } else {
        // No thread: run nothing, but do not leak the entry.
        Unmanaged<Entry>.fromOpaque(entry).release()
    }
}
