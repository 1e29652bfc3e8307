public import ParleyCrypto
public import ParleyJitter
public import ParleySession
public import ParleyWire
import CParleyShims
import Dispatch
import Synchronization

/// One UDP socket serving many calls with the real clock: the layer that drives `CallSession`s
/// (ARCHITECTURE §3, §5).
///
/// The host owns the socket, a `DatagramRouter`, the engine identity with its `HandshakeResponder`, and
/// the live sessions. It routes each received datagram (an initiation to the responder and the
/// incoming-call policy, everything else to its session), fires the sessions' timers at the instants
/// they ask for, drains every session's `pollOutput()` after every input (sending to the peer's address,
/// raising events), binds a peer's address in the router once its channel authenticated a datagram from
/// it, and lets go of ended sessions once drained.
///
/// **Threading.** `start()` runs the loop on one dedicated thread, which waits for datagrams, timers and
/// commands. The socket, the router and the sessions (not `Sendable`) sit behind one lock: the loop
/// thread holds it while it works and never while it waits. The media methods — `sendAudio`,
/// `sendVideoFrame`, `pullAudio`, `videoFrameDecoded` — and the statistics run on the calling thread
/// under that lock and send what they produce themselves once they let go of it (`UDPSocket` is
/// `Sendable`; one `sendmmsg` per call), so a frame costs the loop thread no wake-up
/// (on a machine where a wake-up costs tens of microseconds, most of the network path's CPU); they wake
/// the loop only if they moved a session's next deadline before the loop's planned wake-up. The other
/// methods post a command to a lock-protected queue and wake the loop through a pipe; methods with a
/// result are `async` and resume when the loop has answered. The incoming-call policy runs on the loop
/// thread under the lock: it must decide quickly and must not call back into the host synchronously.
///
/// **Events.** `events` carries everything the sessions report, tagged with the call's handle, and the
/// incoming-call notifications. It buffers without bound: the owner should consume it. It finishes once
/// the host stopped.
public final class SessionHost: Sendable {
    /// The address the socket is bound to (with the port the kernel picked for port 0).
    public let localAddress: SocketAddress
    /// What the calls report, in order per call.
    public let events: AsyncStream<HostEvent>
    /// The addresses this host advertises in its offers and answers (each advertised IP with the bound
    /// port), in preference order.
    public let candidates: [SocketAddress]
    /// How long a ringing call is held after its caller's last initiation (a caller retries every 4 s
    /// at most, Protocols/peer/session.md §2).
    public static let ringingExpiry = Duration.seconds(6)
    private let shared: HostShared

    /// A host for `identity` on a socket bound to `address` (port 0: any free port); `start()` runs it.
    ///
    /// - Parameters:
    ///   - localCapabilities: what this engine answers incoming offers with.
    ///   - configuration: the tuning of every session.
    ///   - audioDecoderFactory: makes the decoder of each incoming audio stream (Opus in production).
    ///   - incomingPolicy: decides each authenticated incoming call, on the loop thread.
    ///   - advertising: the IP addresses to advertise as candidates (with the bound port) in answers;
    ///     they replace `localCapabilities.candidates`. Empty: advertise the bound address unless it is
    ///     a wildcard.
    /// - Throws: `RuntimeError` if the socket or the wake-up pipe cannot be made.
    public init(
        identity: IdentityKeyPair, bindTo address: SocketAddress, localCapabilities: LocalCallCapabilities,
        advertising: [IPAddress] = [],
        configuration: CallSessionConfiguration = .init(),
        audioDecoderFactory: @escaping @Sendable (_ channelCount: Int) throws -> any AudioPacketDecoding,
        incomingPolicy: @escaping @Sendable (IncomingCall) -> IncomingCallDecision
    ) throws(RuntimeError) {
        let socket = try UDPSocket(binding: address)
        // Room for bursts (the kernel caps it at net.core.rmem_max); the default is enough if refused.
        try? socket.setReceiveBufferSize(4 << 20)
        localAddress = socket.localAddress
        var advertised = advertising
        if advertised.isEmpty, socket.localAddress.ip != .anyV4, socket.localAddress.ip != .anyV6 {
            advertised = [socket.localAddress.ip]
        }
        candidates = advertised.prefix(8).map { SocketAddress($0, port: socket.localAddress.port) }
        var capabilities = localCapabilities
        capabilities.candidates = candidates.map(\.transportCandidate)
        let waker = try HostWaker()
        let (stream, continuation) = AsyncStream<HostEvent>.makeStream()
        events = stream
        let loop = HostLoop(
            socket: socket, identity: identity, capabilities: capabilities, configuration: configuration,
            makeDecoder: audioDecoderFactory, policy: incomingPolicy, events: continuation)
        shared = HostShared(waker: waker, loop: loop, socket: socket)
    }

    deinit {
        // Without a `stop()`, the loop still ends its calls and closes the socket on its own thread.
        shared.post(.stop(nil))
        shared.startIfNeeded()
    }

    /// Starts the loop thread; later calls do nothing.
    public func start() {
        shared.startIfNeeded()
    }

    /// Hangs up every call (each peer sees `remote_hangup` once the hang-up arrives), waits until each
    /// ended (acknowledged, or after `hangUpLinger`), then closes the socket and finishes `events`.
    /// Starts the loop first if it never ran.
    public func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !shared.post(.stop(continuation)) { continuation.resume() }
            shared.startIfNeeded()
        }
    }

    /// Places a call to `peer` at `address` with `offer`; the handle names it in events from now on.
    ///
    /// - Parameter handshakeTimeout: how long to wait for an answer before ending with
    ///   `handshake_timeout`; nil: the host configuration's.
    /// - Throws: `SessionHostError.stopped` once stopping; `.session` if the session cannot be made
    ///   (`offer` is not an offer).
    public func dial(
        peer: IdentityPublicKey, at address: SocketAddress, offer: CallParameters, handshakeTimeout: Duration? = nil
    ) async throws(SessionHostError) -> CallHandle {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<CallHandle, SessionHostError>, Never>) in
            if !shared.post(.dial(peer, address, offer, handshakeTimeout, continuation)) {
                continuation.resume(returning: .failure(.stopped))
            }
        }
        return try result.get()
    }

    /// Hangs up `call` (the peer is told reliably; the call closes once acknowledged or after
    /// `hangUpLinger`). An unknown handle is ignored.
    public func hangUp(_ call: CallHandle) {
        shared.post(.hangUp(call))
    }

    /// Sends one encoded Opus packet of `sampleCount` samples on `call`'s audio stream (counted and not
    /// sent unless the call is active).
    public func sendAudio(_ packet: [UInt8], sampleCount: Int, call: CallHandle) {
        shared.direct { $0.sendAudio(packet, sampleCount: sampleCount, call: call) }
    }

    /// Sends one encoded VP8 frame captured at `captureInstant` (a `HostClock.now()` instant) on `call`'s
    /// video stream.
    public func sendVideoFrame(_ frame: [UInt8], isKeyFrame: Bool, captureInstant: MonotonicInstant, call: CallHandle) {
        shared.direct { $0.sendVideoFrame(frame, isKeyFrame: isKeyFrame, captureInstant: captureInstant, call: call) }
    }

    /// The next `sampleCount` samples (per channel, 48 kHz) of `call`'s incoming audio, for playout now;
    /// nil for an unknown call or one without incoming audio.
    public func pullAudio(sampleCount: Int, call: CallHandle) async -> AudioPlayout? {
        pullAudioBlocking(sampleCount: sampleCount, call: call)
    }

    /// `pullAudio(sampleCount:call:)` for a dedicated playout thread: runs on the calling thread under the
    /// host's lock (it waits only while another thread holds it; decoding happens here). Never call it
    /// from the incoming-call policy or a video-frame handler: they run under that lock, and it would
    /// wait for itself.
    public func pullAudioBlocking(sampleCount: Int, call: CallHandle) -> AudioPlayout? {
        shared.direct { $0.pullAudio(sampleCount: sampleCount, call: call) }
    }

    /// Hands `call`'s decodable video frames straight to `handler` instead of `events` (as
    /// `.call(_, .videoFrame)`), from then until the call closes: a frame then reaches its decoder
    /// without waking the task that consumes `events`.
    ///
    /// `handler` runs on whichever thread drained the session, under the host's lock: it must only
    /// queue the frame, and must not call this host's media methods (`sendAudio`, `sendVideoFrame`,
    /// `pullAudio`, `videoFrameDecoded`, the statistics) synchronously. Frames drained before this
    /// call still go to `events`; an unknown or ended call is ignored.
    public func deliverVideoFrames(of call: CallHandle, to handler: @escaping @Sendable (IncomingVideoFrame) -> Void) {
        shared.direct { $0.setVideoFrameHandler(handler, call: call) }
    }

    /// Reports that the owner decoded a frame it got from a `.videoFrame` event of `call`.
    public func videoFrameDecoded(_ frame: IncomingVideoFrame, call: CallHandle) {
        shared.direct { $0.videoFrameDecoded(frame, call: call) }
    }

    /// Reports that a frame from a `.videoFrame` event of `call` could not be decoded (the receiver asks
    /// for a key frame).
    public func videoFrameUndecodable(_ frame: IncomingVideoFrame, call: CallHandle) {
        shared.post(.run({ loop in loop.videoFrameUndecodable(frame, call: call) }, abandon: {}))
    }

    /// Answers the ringing `call` (the policy said `.ring`); it then proceeds as any answered call, under
    /// the same handle, with a `.callAnswered` event.
    ///
    /// - Throws: `.unknownCall` if no call rings under `call`; `.session` if the answer cannot be made;
    ///   `.stopped`.
    public func answer(_ call: CallHandle) async throws(SessionHostError) {
        try await ask { loop in loop.answerRinging(call) }.get()
    }

    /// Declines the ringing `call` with `reason` (the caller ends with `declined`); the host closes it
    /// with `.callClosed(call, .declined(reason))`.
    ///
    /// - Throws: `.unknownCall` if no call rings under `call`; `.stopped`.
    public func decline(_ call: CallHandle, reason: DeclineReason) async throws(SessionHostError) {
        try await ask { loop in loop.declineRinging(call, reason: reason) }.get()
    }

    /// Makes an out-of-band offer to `peer`: a dialing session whose handshake initiation is handed back
    /// instead of sent (and never retried); the call ends with `handshake_timeout` unless an answer
    /// arrives (over UDP, or by `applyAnswer(_:call:)`) within `lifetime`.
    ///
    /// - Returns: the call's handle and the initiation datagram (Protocols/peer/handshake.md §3).
    /// - Throws: `.session` if `offer` is not an offer; `.stopped`.
    public func createOffer(
        to peer: IdentityPublicKey, offer: CallParameters, lifetime: Duration
    ) async throws(SessionHostError) -> (call: CallHandle, initiation: [UInt8]) {
        try await ask { loop in loop.createOffer(to: peer, offer: offer, lifetime: lifetime) }.get()
    }

    /// Answers an out-of-band offer (a handshake initiation that came through the front-ends): the
    /// response goes over UDP to the offer's first candidate and is handed back for the front-ends too.
    ///
    /// - Returns: the new call's handle, what the offer said, and the response datagram.
    /// - Throws: `.offerRejected` if the initiation is not for this engine, forged, replayed, too old, or
    ///   carries no candidate, or no answer can be built from this host's capabilities; `.stopped`.
    public func acceptOffer(
        _ initiation: [UInt8]
    ) async throws(SessionHostError) -> (call: CallHandle, incoming: IncomingCall, response: [UInt8]) {
        try await ask { loop in loop.acceptOffer(initiation) }.get()
    }

    /// Applies an out-of-band answer (a handshake response) to the offer `call` made. Succeeds without
    /// effect when the call already got its answer over UDP.
    ///
    /// - Throws: `.unknownCall`; `.invalidState` if `call` is not one this end dialled; `.answerRejected`
    ///   if the response does not complete the handshake; `.stopped`.
    public func applyAnswer(_ response: [UInt8], call: CallHandle) async throws(SessionHostError) {
        try await ask { loop in loop.applyAnswer(response, call: call) }.get()
    }

    /// Records whether the user verified the peer of `call` (raises `.verifiedChanged`).
    public func markVerified(_ verified: Bool, call: CallHandle) {
        shared.post(.run({ loop in loop.markVerified(verified, call: call) }, abandon: {}))
    }

    /// Tells the peer of `call` what this end sends (mute, video on/off).
    ///
    /// - Throws: `.unknownCall`; `.session` if the call cannot carry it now (not active); `.stopped`.
    public func setMediaState(_ state: SessionMessage.MediaState, call: CallHandle) async throws(SessionHostError) {
        try await ask { loop in loop.setMediaState(state, call: call) }.get()
    }

    /// Asks the peer of `call` for a video key frame (PLI).
    public func requestKeyFrame(call: CallHandle) {
        shared.post(.run({ loop in loop.requestKeyFrame(call: call) }, abandon: {}))
    }

    /// What the host knows of `call`; nil for an unknown (or closed) call and for a ringing one.
    public func callInfo(_ call: CallHandle) async -> HostCallInfo? {
        await ask(orElse: nil) { loop in loop.callInfo(call) }
    }

    /// Runs `body` on the loop thread and returns its result, or `fallback` if the host has closed.
    private func ask<T: Sendable>(orElse fallback: T, _ body: @escaping @Sendable (HostLoop) -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let posted = shared.post(
                .run({ loop in continuation.resume(returning: body(loop)) }, abandon: { continuation.resume(returning: fallback) }))
            if !posted { continuation.resume(returning: fallback) }
        }
    }

    /// `ask` for results that fail with `SessionHostError.stopped` once the host has closed.
    private func ask<T: Sendable>(
        _ body: @escaping @Sendable (HostLoop) -> Result<T, SessionHostError>
    ) async -> Result<T, SessionHostError> {
        await ask(orElse: .failure(.stopped), body)
    }

    /// The host's counters (zero-valued once stopped).
    public func statistics() async -> SessionHostStatistics {
        shared.direct { $0.statistics }
    }

    /// A snapshot of `call`'s counters; nil for an unknown call.
    public func callStatistics(_ call: CallHandle) async -> CallStatistics? {
        shared.direct { $0.callStatistics(call) }
    }
}

/// What the owner asks of the loop; the continuations are resumed on the loop thread.
enum HostCommand: Sendable {
    case dial(IdentityPublicKey, SocketAddress, CallParameters, Duration?, CheckedContinuation<Result<CallHandle, SessionHostError>, Never>)
    case hangUp(CallHandle)
    case stop(CheckedContinuation<Void, Never>?)
    /// Runs `body` on the loop thread; `abandon` instead if the loop will never run it.
    case run(@Sendable (HostLoop) -> Void, abandon: @Sendable () -> Void)

    /// Answers a command the loop will never execute (the host closed).
    func abandon() {
        switch self {
        case .run(_, let abandon): abandon()
        case .dial(_, _, _, _, let continuation): continuation.resume(returning: .failure(.stopped))
        case .stop(let continuation): continuation?.resume()
        case .hangUp: break
        }
    }
}

/// What the public face and the loop thread share: the command queue, the wake-up pipe, and the loop's
/// state behind its lock.
final class HostShared: Sendable {
    private struct Inbox {
        var commands: [HostCommand] = []
        var wakePending = false
        var isClosed = false
        var isStarted = false
    }

    let waker: HostWaker
    private let inbox = Mutex(Inbox())
    private let loop: LockedHostLoop
    /// The loop's socket: the loop thread waits on it, and direct inputs send on it after the lock.
    private let socket: UDPSocket

    init(waker: HostWaker, loop: sending HostLoop, socket: UDPSocket) {
        self.waker = waker
        self.loop = LockedHostLoop(loop)
        self.socket = socket
    }

    /// Queues `command` and wakes the loop; false (nothing queued) once the host closed.
    @discardableResult
    func post(_ command: HostCommand) -> Bool {
        let needsWake: Bool? = inbox.withLock { inbox in
            guard !inbox.isClosed else { return nil }
            inbox.commands.append(command)
            defer { inbox.wakePending = true }
            return !inbox.wakePending
        }
        guard let needsWake else { return false }
        if needsWake { waker.wake() }
        return true
    }

    /// Runs `body` on the loop's state on the calling thread, under its lock; then, without the lock,
    /// sends what it produced (so other threads wait only for the session work, not for the kernel) and
    /// wakes the loop thread if `body` moved a deadline before the loop's planned wake-up.
    func direct<Result: Sendable>(_ body: (HostLoop) -> Result) -> Result {
        let (result, wake, transmits) = loop.withLoop { loop in
            loop.deferTransmits()
            let result = body(loop)
            return (result, loop.takeWakeNeeded(), loop.takeDeferredTransmits())
        }
        var failures = 0
        for (datagrams, address) in transmits {
            do {
                failures += try socket.send(batch: datagrams, to: address).failed
            } catch {
                failures += datagrams.count
            }
        }
        if failures > 0 { loop.withLoop { $0.countSendFailures(failures) } }
        if wake { waker.wake() }
        return result
    }

    /// The queued commands, in order (the loop calls this after draining the pipe).
    private func takeCommands() -> [HostCommand] {
        inbox.withLock { inbox in
            inbox.wakePending = false
            defer { inbox.commands.removeAll() }
            return inbox.commands
        }
    }

    /// Refuses further commands and hands back those still queued.
    private func close() -> [HostCommand] {
        inbox.withLock { inbox in
            inbox.isClosed = true
            defer { inbox.commands.removeAll() }
            return inbox.commands
        }
    }

    /// Starts the loop thread the first time.
    func startIfNeeded() {
        let first = inbox.withLock { inbox in
            defer { inbox.isStarted = true }
            return !inbox.isStarted
        }
        guard first else { return }
        startDetachedThread(name: "parley-host") { [self] in run() }
    }

    /// The loop thread: turns (datagrams, timers, commands) under the lock, waits without it, until
    /// stopped with every call ended; then refuses further commands and finishes the events.
    private func run() {
        _ = parley_set_thread_nice(HostLoop.threadNice)
        var readable = false
        while true {
            waker.drain()
            let commands = takeCommands()
            guard let wait = loop.withLoop({ $0.turn(socketReadable: readable, commands: commands) }) else { break }
            readable = waker.wait(withSocket: socket.descriptor, timeout: wait)
        }
        let remaining = close()
        loop.withLoop { $0.finish(commands: remaining) }
    }
}

/// The loop's state and the lock every access takes.
private final class LockedHostLoop: @unchecked Sendable {
    // @unchecked: `loop` is only touched inside `withLoop`, under `lock`.
    private let lock = Mutex(())
    private let loop: HostLoop

    init(_ loop: sending HostLoop) {
        self.loop = loop
    }

    func withLoop<Result>(_ body: (HostLoop) -> Result) -> Result {
        lock.withLock { _ in body(loop) }
    }
}
