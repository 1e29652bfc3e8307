public import Logging
public import ParleyControl
import ParleyCrypto
import ParleyDevices
import ParleyJitter
import ParleyMedia
public import ParleyRuntime
import ParleySession
import ParleyWire

/// Why an engine could not start.
public enum EngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The state directory or the identity key could not be made or read.
    case identity(String)
    /// The UDP socket could not be bound.
    case network(String)
    /// The control socket could not be served.
    case control(String)

    /// What failed, for people.
    public var description: String {
        switch self {
        case .identity(let text): "identity: \(text)"
        case .network(let text): "UDP: \(text)"
        case .control(let text): "control socket: \(text)"
        }
    }
}

/// The engine: one identity, one UDP socket serving every call, a control socket for front-ends, and
/// the media pipelines of the calls (ARCHITECTURE §2 layer 5).
///
/// `start(_:logger:)` loads (or creates) the identity, binds the UDP socket, starts the host loop and
/// serves the control protocol (Protocols/control/services.md). `shutdown()` hangs up every call,
/// waits for the hang-ups to be acknowledged (bounded by the session's linger), stops the control
/// server and returns; `waitUntilStopped()` returns once that happened, whoever asked.
public actor Engine {
    /// The configuration the engine runs with.
    public nonisolated let configuration: EngineConfiguration
    /// The UDP address actually bound (with the port the kernel chose for 0).
    public nonisolated let localAddress: SocketAddress
    /// The addresses advertised to peers.
    public nonisolated let advertisedAddresses: [SocketAddress]
    nonisolated let identity: IdentityKeyPair
    nonisolated let ownFingerprint: String
    nonisolated let host: SessionHost
    nonisolated let server: ControlServer
    nonisolated let logger: Logger
    nonisolated let startedAt: MonotonicInstant
    nonisolated let localStreams: [MediaStreamDescription]
    /// The PulseAudio server, if one answered at start (its devices join Devices/List).
    nonisolated let pulse: PulseAudioConnection?

    var calls: [String: CallRecord] = [:]
    var callIDs: [CallHandle: String] = [:]
    var devices: DeviceSelection
    var watchers: [UInt64: Watcher] = [:]
    var nextWatcher: UInt64 = 1
    var isShuttingDown = false
    var isStopped = false
    var stopWaiters: [CheckedContinuation<Void, Never>] = []
    var eventTask: Task<Void, Never>?
    var safetyNumbers: [IdentityPublicKey: SafetyNumber] = [:]
    var fingerprints: [IdentityPublicKey: String] = [:]

    /// How long ended calls stay in `Calls/List`.
    static let endedCallRetention = Duration.seconds(60)
    /// Silence after which a call ends with `peer_timeout` (services.md: a dead peer is noticed in
    /// under 10 s).
    static let peerTimeout = Duration.seconds(8)

    private init(
        configuration: EngineConfiguration, identity: IdentityKeyPair, host: SessionHost, server: ControlServer,
        advertised: [SocketAddress], streams: [MediaStreamDescription], pulse: PulseAudioConnection?, logger: Logger
    ) {
        self.pulse = pulse
        self.configuration = configuration
        self.identity = identity
        self.host = host
        self.server = server
        self.logger = logger
        localAddress = host.localAddress
        advertisedAddresses = advertised
        localStreams = streams
        devices = configuration.devices
        startedAt = HostClock.now()
        ownFingerprint = Self.displayFingerprint(identity.publicKey)
    }

    /// Starts an engine: identity, UDP socket, host loop, control socket.
    ///
    /// - Throws: `EngineError` naming what could not be set up.
    public static func start(_ configuration: EngineConfiguration, logger: Logger) async throws(EngineError) -> Engine {
        let identity: IdentityKeyPair
        do {
            identity = try IdentityStore(directory: configuration.stateDirectory).loadOrCreate()
        } catch {
            throw .identity("\(configuration.stateDirectory): \(error)")
        }
        var random = SystemRandomNumberGenerator()
        let streams: [MediaStreamDescription] = [
            .opus(ssrc: SSRC(UInt32.random(in: 1...UInt32.max, using: &random))),
            .vp8(
                ssrc: SSRC(UInt32.random(in: 1...UInt32.max, using: &random)),
                retransmission: RetransmissionStream(ssrc: SSRC(UInt32.random(in: 1...UInt32.max, using: &random)), payloadType: 97)),
        ]
        let decision: IncomingCallDecision = configuration.autoAnswer ? .accept : .ring
        let policy: @Sendable (IncomingCall) -> IncomingCallDecision = { _ in decision }
        var tuning = CallSessionConfiguration()
        tuning.peerTimeout = peerTimeout
        let advertisedIPs = configuration.advertisedAddresses.isEmpty
            ? InterfaceAddresses.advertisable(bound: configuration.bindAddress) : configuration.advertisedAddresses
        let host: SessionHost
        do {
            host = try SessionHost(
                identity: identity, bindTo: SocketAddress(configuration.bindAddress, port: configuration.port),
                localCapabilities: LocalCallCapabilities(streams: streams), advertising: advertisedIPs,
                configuration: tuning, audioDecoderFactory: { channels in try OpusDecoder(channelCount: channels) },
                incomingPolicy: policy)
        } catch {
            throw .network("cannot bind \(SocketAddress(configuration.bindAddress, port: configuration.port)): \(error)")
        }
        let server = ControlServer(socketPath: configuration.socketPath)
        let pulse: PulseAudioConnection?
        do {
            pulse = try await PulseAudioConnection(applicationName: "parleyd")
        } catch {
            logger.info("no PulseAudio server: only the synthetic microphone and the analysis sink", metadata: ["reason": "\(error)"])
            pulse = nil
        }
        let engine = Engine(
            configuration: configuration, identity: identity, host: host, server: server, advertised: host.candidates,
            streams: streams, pulse: pulse, logger: logger)
        await engine.registerServices()
        do {
            try await server.start()
        } catch {
            await host.stop()
            throw .control("\(configuration.socketPath): \(error)")
        }
        host.start()
        await engine.followHost()
        logger.info(
            "engine started",
            metadata: [
                "fingerprint": "\(engine.ownFingerprint)", "udp": "\(host.localAddress)",
                "advertised": "\(host.candidates.map(\.description).joined(separator: ","))",
                "control": "\(configuration.socketPath)", "auto_answer": "\(configuration.autoAnswer)",
            ])
        return engine
    }

    private func followHost() {
        eventTask = Task { [host] in
            for await event in host.events {
                await self.handle(event)
            }
        }
        samplerTask = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.rateSampleInterval)
                await self.sampleRates()
            }
        }
    }

    /// Hangs up every call, stops media, the host and the control server. Later calls wait for the first.
    public func shutdown() async {
        if isStopped { return }
        if isShuttingDown {
            await waitUntilStopped()
            return
        }
        isShuttingDown = true
        logger.info("shutting down: hanging up every call", metadata: ["calls": "\(calls.values.filter { !$0.isEnded }.count)"])
        await host.stop()
        await eventTask?.value
        samplerTask?.cancel()
        for id in Array(calls.keys) {
            if let pipeline = calls[id]?.pipeline {
                calls[id]?.pipeline = nil
                await pipeline.stop()
            }
        }
        for watcher in watchers.values { watcher.continuation.finish() }
        watchers.removeAll()
        await server.stop()
        pulse?.close()
        isStopped = true
        logger.info("engine stopped")
        for waiter in stopWaiters { waiter.resume() }
        stopWaiters.removeAll()
    }

    /// Returns once the engine has stopped.
    public func waitUntilStopped() async {
        if isStopped { return }
        await withCheckedContinuation { stopWaiters.append($0) }
    }

    /// Seconds since start, as milliseconds.
    func uptimeMilliseconds(at instant: MonotonicInstant = HostClock.now()) -> Int64 {
        Int64((instant - startedAt).totalNanoseconds / 1_000_000)
    }

    // MARK: - Host events

    private func handle(_ event: HostEvent) async {
        switch event {
        case .callRinging(let handle, let incoming):
            let id = adoptCall(handle, isOutgoing: false, signalling: .incoming, state: "ringing", peer: incoming.peer, address: incoming.source)
            logger.info("incoming call ringing", metadata: ["call": "\(id)", "peer": "\(fingerprint(of: incoming.peer))"])
            if let record = calls[id] { broadcast(["type": "incoming_call", "call": render(record)], call: id) }
        case .callAnswered(let handle, let incoming):
            if let id = callIDs[handle] {
                guard calls[id]?.state == "ringing" || calls[id]?.state == "answering" else { return }
                calls[id]?.peerAddress = incoming.source
                setState(id, "answering")
            } else {
                let id = adoptCall(handle, isOutgoing: false, signalling: .incoming, state: "answering", peer: incoming.peer, address: incoming.source)
                logger.info("incoming call answered", metadata: ["call": "\(id)", "peer": "\(fingerprint(of: incoming.peer))"])
                if let record = calls[id] { broadcast(["type": "call_added", "call": render(record)], call: id) }
            }
            startPipeline(handle)
        case .callRefused(let incoming, let decision):
            logger.info("incoming call refused", metadata: ["peer": "\(fingerprint(of: incoming.peer))", "decision": "\(decision)"])
        case .call(let handle, let callEvent):
            guard let id = callIDs[handle] else { return }
            await handleCallEvent(callEvent, of: id)
        case .callClosed(let handle, let reason):
            guard let id = callIDs.removeValue(forKey: handle), var record = calls[id] else { return }
            let (code, detail) = record.endDescription(reason)
            record.state = "ended"
            record.endReason = code
            record.endDetail = detail
            record.endedAt = HostClock.now()
            let pipeline = record.pipeline
            record.pipeline = nil
            calls[id] = record
            logger.info("call ended", metadata: ["call": "\(id)", "reason": "\(code)"])
            broadcast(["type": "state_changed", "call": render(record), "state": "ended", "reason": .string(code)], call: id)
            if let pipeline {
                // Keep the final media counters for Calls/Stats of the ended call.
                await pipeline.stop()
                finalMedia[id] = pipeline.snapshot
            }
        }
    }

    private func handleCallEvent(_ event: CallEvent, of id: String) async {
        switch event {
        case .stateChanged(let state):
            let name = CallRecord.stateName(state)
            guard name != "ended" else { return }  // reported with its reason by .callClosed
            if name == "dialing", calls[id]?.state == "offered" { return }
            setState(id, name)
            if state == .active, let record = calls[id] {
                calls[id]?.activeAt = HostClock.now()
                if let info = await host.callInfo(record.handle) { calls[id]?.peerAddress = info.peerAddress }
                record.pipeline?.startSending()
                // Tell the peer what this end sends, so its `peer_media` is known from the start.
                try? await host.setMediaState(
                    SessionMessage.MediaState(audioMuted: !record.sendsAudio, videoEnabled: record.sendsVideo), call: record.handle)
                logger.info("call active", metadata: ["call": "\(id)"])
            }
        case .verificationAvailable(let sas, let safetyNumber, _):
            calls[id]?.shortAuthenticationString = sas
            calls[id]?.safetyNumber = safetyNumber
            broadcast(
                ["type": "verification", "call_id": .string(id), "sas": render(sas), "safety_number": .string(safetyNumber.displayString)],
                call: id)
        case .verifiedChanged(let verified):
            calls[id]?.isVerified = verified
            broadcast(["type": "verified_changed", "call_id": .string(id), "verified": .bool(verified)], call: id)
        case .peerMediaStateChanged(let media):
            calls[id]?.peerMedia = media
            broadcastMediaState(id)
        case .peerSilent:
            broadcast(["type": "peer_silent", "call_id": .string(id)], call: id)
        case .peerResumed:
            broadcast(["type": "peer_resumed", "call_id": .string(id)], call: id)
        case .keyFrameRequested:
            calls[id]?.pipeline?.forceKeyFrame()
        case .videoFrame(let frame):
            calls[id]?.pipeline?.deliver(frame)
        }
    }

    /// Ended calls' final media counters (the pipeline is gone).
    var finalMedia: [String: MediaCounters] = [:]
    /// The last Stats object rendered for each call (what `Calls/Stats` answers once it ended).
    var lastStatistics: [String: JSONObject] = [:]
    var samplerTask: Task<Void, Never>?
    /// How often the rates' samples are taken.
    static let rateSampleInterval = Duration.milliseconds(250)

    func setState(_ id: String, _ state: String) {
        guard let current = calls[id], current.state != state, !current.isEnded else { return }
        calls[id]?.state = state
        if let record = calls[id] {
            broadcast(["type": "state_changed", "call": render(record), "state": .string(state)], call: id)
        }
    }

    func broadcastMediaState(_ id: String) {
        guard let record = calls[id] else { return }
        broadcast(
            [
                "type": "media_state", "call_id": .string(id), "local": renderLocalMedia(record),
                "peer": record.peerMedia.map(renderMedia) ?? .null,
            ], call: id)
    }

    /// Records a new call under `handle`; returns its id.
    func adoptCall(
        _ handle: CallHandle, isOutgoing: Bool, signalling: CallRecord.Signalling, state: String, peer: IdentityPublicKey,
        address: SocketAddress?, sendsAudio: Bool = true, sendsVideo: Bool = true
    ) -> String {
        if let existing = callIDs[handle] { return existing }
        let id = "call-\(handle.rawValue)"
        callIDs[handle] = id
        calls[id] = CallRecord(
            id: id, handle: handle, isOutgoing: isOutgoing, signalling: signalling, state: state, peerKey: peer,
            peerFingerprint: fingerprint(of: peer), peerAddress: address, safetyNumber: safetyNumber(with: peer),
            sendsAudio: sendsAudio, sendsVideo: sendsVideo, video: configuration.video, createdAt: HostClock.now())
        purgeEndedCalls()
        return id
    }

    /// Starts the receiving half of a call's media (the sending half starts once the call is active).
    func startPipeline(_ handle: CallHandle) {
        guard let id = callIDs[handle], let record = calls[id], record.pipeline == nil else { return }
        let pipeline = CallMediaPipeline(
            call: handle, host: host, video: record.video, sendsAudio: record.sendsAudio, sendsVideo: record.sendsVideo,
            audioSource: AudioEndpoint(id: devices.audioSource), audioSink: AudioEndpoint(id: devices.audioSink), pulse: pulse,
            videoSource: devices.videoSource,
            onVideoSourceLost: { [weak self] device, error in
                Task { await self?.videoSourceLost(handle, device: device, error: error) }
            },
            logger: logger)
        calls[id]?.pipeline = pipeline
        pipeline.start()
        // Frames go from the session to the decode queue without a hop through this actor.
        host.deliverVideoFrames(of: handle) { frame in pipeline.deliver(frame) }
    }

    /// The camera of a call went away: the call goes on with video off, the peer is told, and front-ends
    /// get `device_lost` and `media_state`.
    func videoSourceLost(_ handle: CallHandle, device: String, error: DeviceError) async {
        guard let id = callIDs[handle], let record = calls[id], !record.isEnded else { return }
        logger.warning("camera lost: the call goes on without video", metadata: ["call": "\(id)", "device": "\(device)", "error": "\(error)"])
        calls[id]?.sendsVideo = false
        record.pipeline?.setSending(video: false)
        broadcast(["type": "device_lost", "call_id": .string(id), "device": .string(device), "reason": .string("\(error)")], call: id)
        if record.state == "active" {
            try? await host.setMediaState(SessionMessage.MediaState(audioMuted: !record.sendsAudio, videoEnabled: false), call: handle)
        }
        broadcastMediaState(id)
    }

    func purgeEndedCalls() {
        let now = HostClock.now()
        for (id, record) in calls {
            if let endedAt = record.endedAt, now - endedAt > Self.endedCallRetention {
                calls[id] = nil
                finalMedia[id] = nil
                lastStatistics[id] = nil
            }
        }
    }

    func safetyNumber(with peer: IdentityPublicKey) -> SafetyNumber {
        if let known = safetyNumbers[peer] { return known }
        let number = SafetyNumber(identity.publicKey, peer)
        safetyNumbers[peer] = number
        return number
    }

    func fingerprint(of key: IdentityPublicKey) -> String {
        if let known = fingerprints[key] { return known }
        let value = Self.displayFingerprint(key)
        fingerprints[key] = value
        return value
    }

    /// A key's fingerprint (its half of every safety number it is part of) as 6 groups of 5 digits.
    static func displayFingerprint(_ key: IdentityPublicKey) -> String {
        let digits = Array(SafetyNumber.fingerprint(of: key))
        return stride(from: 0, to: digits.count, by: 5).map { String(digits[$0..<min($0 + 5, digits.count)]) }.joined(separator: " ")
    }

    // MARK: - Watchers

    struct Watcher {
        let callID: String?
        let continuation: AsyncStream<JSONObject>.Continuation
    }

    /// A stream of events (services.md §4 `Calls/Watch`), for `callID` or every call.
    func subscribe(callID: String?) -> (id: UInt64, events: AsyncStream<JSONObject>)? {
        guard !isShuttingDown else { return nil }
        let (stream, continuation) = AsyncStream<JSONObject>.makeStream(bufferingPolicy: .bufferingNewest(4_096))
        let id = nextWatcher
        nextWatcher += 1
        watchers[id] = Watcher(callID: callID, continuation: continuation)
        return (id, stream)
    }

    func unsubscribe(_ id: UInt64) {
        watchers.removeValue(forKey: id)?.continuation.finish()
    }

    func broadcast(_ event: JSONObject, call id: String) {
        for watcher in watchers.values where watcher.callID == nil || watcher.callID == id {
            watcher.continuation.yield(event)
        }
    }
}
