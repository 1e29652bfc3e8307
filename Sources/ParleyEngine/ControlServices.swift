import ParleyControl
import ParleyCrypto
import ParleyDevices
import ParleyMedia
import ParleyRuntime
import ParleySession
import ParleyWire

/// A method's parameters: refuses members the method does not take, and names fields in errors.
struct Parameters {
    let request: ControlRequest

    /// The request's parameters; `INVALID_ARGUMENT` naming the first member not in `allowed`.
    init(_ request: ControlRequest, allowed: Set<String>) throws(ControlError) {
        self.request = request
        for key in request.params.keys where !allowed.contains(key) {
            let known = allowed.isEmpty ? "takes no parameters" : "takes \(allowed.sorted().joined(separator: ", "))"
            throw .invalidArgument(field: "params.\(key)", reason: "unknown parameter; \(request.method.method) \(known)")
        }
    }

    subscript(key: String) -> JSONField { request.arguments[key] }

    /// The `call_id` parameter.
    func callID() throws(ControlError) -> String { try self["call_id"].string() }
}

extension ControlError {
    /// `NOT_FOUND` for an unknown call id.
    static func unknownCall(_ id: String) -> ControlError {
        .failed(status: .notFound, message: "no call \(id)", details: ["field": "params.call_id"])
    }

    /// `FAILED_PRECONDITION` with a message.
    static func precondition(_ message: String, field: String? = nil) -> ControlError {
        .failed(status: .failedPrecondition, message: message, details: field.map { ["field": .string($0)] })
    }

    /// `UNAVAILABLE` while the engine shuts down.
    static let shuttingDown = ControlError.failed(status: .unavailable, message: "the engine is shutting down")
}

/// The prefix byte of an out-of-band blob (services.md §4).
enum BlobKind: UInt8 {
    case offer = 1
    case answer = 2
}

extension Engine {
    /// Registers every method of services.md with the control server.
    func registerServices() {
        func unary(_ service: String, _ method: String, _ handler: @escaping ControlUnaryHandler) {
            guard let name = try? MethodName(service: service, method: method) else { preconditionFailure("bad method name") }
            server.register(name, unary: handler)
        }
        unary("Engine", "Version") { request throws(ControlError) in
            _ = try Parameters(request, allowed: [])
            return Self.versionResult
        }
        unary("Engine", "State") { [self] request throws(ControlError) in
            _ = try Parameters(request, allowed: [])
            return await stateSnapshot()
        }
        unary("Engine", "Shutdown") { [self] request throws(ControlError) in
            _ = try Parameters(request, allowed: [])
            try await requestShutdown()
            return [:]
        }
        unary("Identity", "Get") { [self] request throws(ControlError) in
            _ = try Parameters(request, allowed: [])
            return await renderIdentity()
        }
        unary("Calls", "Dial") { [self] request throws(ControlError) in try await dial(Parameters(request, allowed: ["peer", "address", "audio", "video", "timeout_ms", "wait"])) }
        unary("Calls", "CreateOffer") { [self] request throws(ControlError) in try await createOffer(Parameters(request, allowed: ["peer", "audio", "video", "ttl_ms"])) }
        unary("Calls", "AcceptOffer") { [self] request throws(ControlError) in try await acceptOffer(Parameters(request, allowed: ["offer", "audio", "video"])) }
        unary("Calls", "ApplyAnswer") { [self] request throws(ControlError) in try await applyAnswer(Parameters(request, allowed: ["call_id", "answer"])) }
        unary("Calls", "Accept") { [self] request throws(ControlError) in try await accept(Parameters(request, allowed: ["call_id", "audio", "video"])) }
        unary("Calls", "Reject") { [self] request throws(ControlError) in try await reject(Parameters(request, allowed: ["call_id", "reason"])) }
        unary("Calls", "Hangup") { [self] request throws(ControlError) in try await hangUp(Parameters(request, allowed: ["call_id"])) }
        unary("Calls", "Mute") { [self] request throws(ControlError) in try await setMuted(true, Parameters(request, allowed: ["call_id", "audio", "video"])) }
        unary("Calls", "Unmute") { [self] request throws(ControlError) in try await setMuted(false, Parameters(request, allowed: ["call_id", "audio", "video"])) }
        unary("Calls", "RequestKeyFrame") { [self] request throws(ControlError) in try await requestKeyFrame(Parameters(request, allowed: ["call_id"])) }
        unary("Calls", "SetVideo") { [self] request throws(ControlError) in
            try await setVideo(Parameters(request, allowed: ["call_id", "width", "height", "frame_rate", "max_bitrate"]))
        }
        unary("Calls", "List") { [self] request throws(ControlError) in
            _ = try Parameters(request, allowed: [])
            return ["calls": .array(await listCalls())]
        }
        unary("Calls", "Get") { [self] request throws(ControlError) in try await getCall(Parameters(request, allowed: ["call_id"])) }
        unary("Calls", "Stats") { [self] request throws(ControlError) in try await stats(Parameters(request, allowed: ["call_id"])) }
        unary("Calls", "MarkVerified") { [self] request throws(ControlError) in try await markVerified(Parameters(request, allowed: ["call_id", "verified"])) }
        unary("Calls", "Record") { [self] request throws(ControlError) in
            try await record(Parameters(request, allowed: Set(["call_id"] + CallRecordings.Stream.allCases.map(\.rawValue))))
        }
        unary("Devices", "List") { [self] request throws(ControlError) in
            _ = try Parameters(request, allowed: [])
            return await deviceList()
        }
        unary("Devices", "Select") { [self] request throws(ControlError) in
            try await selectDevices(Parameters(request, allowed: ["audio_source", "video_source", "audio_sink", "video_sink"]))
        }
        guard let watch = try? MethodName(service: "Calls", method: "Watch") else { preconditionFailure("bad method name") }
        server.register(watch, stream: { [self] request, sink throws(ControlError) in
            try await self.watch(Parameters(request, allowed: ["call_id", "stats_interval_ms", "snapshot"]), sink: sink)
        })
    }

    static let engineVersion = "0.6.0"

    static let versionResult: JSONValue = [
        "engine": .string(engineVersion), "control_protocol": 1, "peer_protocol": 1,
        "codecs": ["opus": "libopus", "vp8": "libvpx", "srtp": "libsrtp2"],
    ]

    // MARK: - Engine

    func stateSnapshot() async -> JSONValue {
        let host = await self.host.statistics()
        let engine: JSONObject = [
            "version": .string(Self.engineVersion), "uptime_ms": json(uptimeMilliseconds()),
            "state_directory": .string(configuration.stateDirectory), "control_socket": .string(configuration.socketPath),
            "udp": [
                "bound": .string(localAddress.description), "port": json(Int(localAddress.port)),
                "addresses": .array(advertisedAddresses.map { .string($0.description) }),
            ],
            "auto_answer": .bool(configuration.autoAnswer),
        ]
        let counters: JSONObject = [
            "datagrams_received": json(host.datagramsReceived), "datagrams_dropped": json(host.totalDropped),
            "calls_answered": json(host.callsAnswered), "calls_refused": json(host.callsRefused),
            "initiations_rate_limited": json(host.initiationsRateLimited), "initiations_rejected": json(host.initiationsRejected),
            "control_connections": json(server.statistics.openConnections),
        ]
        return [
            "engine": .object(engine), "identity": renderIdentity(), "devices": await deviceList(),
            "calls": .array(listCalls()), "counters": .object(counters),
        ]
    }

    func requestShutdown() throws(ControlError) {
        guard !isShuttingDown else { throw .shuttingDown }
        logger.notice("shutdown requested over the control socket")
        Task { await self.shutdown() }
    }

    // MARK: - Calls: setting up

    /// The peer named by `field` (a `parley:` URI or a bare key) and the URI's address, if any.
    func peer(_ field: JSONField) throws(ControlError) -> (key: IdentityPublicKey, address: IdentityURI.Address?) {
        let text = try field.string()
        let uri: IdentityURI
        do {
            if text.hasPrefix(IdentityURI.scheme + ":") {
                uri = try IdentityURI(parsing: text)
            } else {
                uri = IdentityURI(publicKey: try IdentityPublicKey(base64URL: text))
            }
        } catch {
            throw .invalidArgument(field: field.path, reason: "not a parley: URI or a 43-character base64url key: \(error)")
        }
        guard uri.publicKey != identity.publicKey else {
            throw .invalidArgument(field: field.path, reason: "that is this engine's own key")
        }
        return (uri.publicKey, uri.address)
    }

    func socketAddress(_ address: IdentityURI.Address, field: String) throws(ControlError) -> SocketAddress {
        switch address.host {
        case .name(let name):
            throw .invalidArgument(field: field, reason: "\(name) is a DNS name; give an IP address (names are not resolved)")
        default:
            do {
                return try SocketAddress(parsing: address.description)
            } catch {
                throw .invalidArgument(field: field, reason: "\(error)")
            }
        }
    }

    func offer() throws(ControlError) -> CallParameters {
        do {
            return try CallParameters.offer(streams: localStreams, candidates: advertisedAddresses.map(\.transportCandidate))
        } catch {
            throw .failed(status: .internal, message: "cannot build the offer: \(error)")
        }
    }

    func dial(_ params: Parameters) async throws(ControlError) -> JSONValue {
        guard !isShuttingDown else { throw .shuttingDown }
        let (key, uriAddress) = try peer(params["peer"])
        let address: SocketAddress
        if let text = try params["address"].optionalString() {
            do {
                address = try socketAddress(IdentityURI.Address(parsing: text), field: "params.address")
            } catch let error as ControlError {
                throw error
            } catch {
                throw .invalidArgument(field: "params.address", reason: "\(error)")
            }
        } else if let uriAddress {
            address = try socketAddress(uriAddress, field: "params.peer")
        } else {
            throw .invalidArgument(field: "params.address", reason: "missing: the peer URI carries no address, so give one")
        }
        let sendsAudio = try params["audio"].optionalBool() ?? true
        let sendsVideo = try params["video"].optionalBool() ?? true
        let timeout = try params["timeout_ms"].isPresent ? params["timeout_ms"].int64(in: 1_000...120_000) : 20_000
        let waits = try params["wait"].optionalBool() ?? false
        let offer = try offer()
        let handle: CallHandle
        do {
            handle = try await host.dial(peer: key, at: address, offer: offer, handshakeTimeout: .milliseconds(timeout))
        } catch {
            throw hostError(error, field: "params.peer")
        }
        let id = adoptCall(handle, isOutgoing: true, signalling: .dial, state: "dialing", peer: key, address: address, sendsAudio: sendsAudio, sendsVideo: sendsVideo)
        startPipeline(handle)
        logger.info("dialing", metadata: ["call": "\(id)", "peer": "\(fingerprint(of: key))", "address": "\(address)"])
        guard let record = calls[id] else { throw .failed(status: .internal, message: "call \(id) vanished") }
        broadcast(["type": "call_added", "call": render(record)], call: id)
        return waits ? try await waitUntilSettled(id) : render(record)
    }

    /// Waits until call `id` is active (its Call) or ended (an error by its end reason). Subscribes
    /// before any suspension, so no state change can slip past.
    func waitUntilSettled(_ id: String) async throws(ControlError) -> JSONValue {
        guard let (watcher, events) = subscribe(callID: id) else { throw .shuttingDown }
        defer { unsubscribe(watcher) }
        for await _ in events {
            guard let record = calls[id] else { break }
            if record.state == "active" { return render(record) }
            if record.isEnded { break }
        }
        if Task.isCancelled { throw .failed(status: .cancelled, message: "cancelled") }
        guard let record = calls[id] else { throw .unknownCall(id) }
        if record.state == "active" { return render(record) }
        let detail = record.endDetail.map { ": \($0)" } ?? ""
        let status: ControlStatus = switch record.endReason {
        case "handshake_timeout": .unavailable
        case "declined": .aborted
        default: .failedPrecondition
        }
        throw .failed(
            status: status, message: "\(id) ended (\(record.endReason ?? "?"))\(detail)",
            details: ["call_id": .string(id), "end_reason": .string(record.endReason ?? "")])
    }

    func createOffer(_ params: Parameters) async throws(ControlError) -> JSONValue {
        guard !isShuttingDown else { throw .shuttingDown }
        let (key, _) = try peer(params["peer"])
        let sendsAudio = try params["audio"].optionalBool() ?? true
        let sendsVideo = try params["video"].optionalBool() ?? true
        let lifetime = try params["ttl_ms"].isPresent ? params["ttl_ms"].int64(in: 1_000...300_000) : 120_000
        let offer = try offer()
        let made: (call: CallHandle, initiation: [UInt8])
        do {
            made = try await host.createOffer(to: key, offer: offer, lifetime: .milliseconds(lifetime))
        } catch {
            throw hostError(error, field: "params.peer")
        }
        let id = adoptCall(made.call, isOutgoing: true, signalling: .offer, state: "offered", peer: key, address: nil, sendsAudio: sendsAudio, sendsVideo: sendsVideo)
        startPipeline(made.call)
        guard let record = calls[id] else { throw .failed(status: .internal, message: "call \(id) vanished") }
        broadcast(["type": "call_added", "call": render(record)], call: id)
        return ["call": render(record), "offer": .string(Base64URL.encode([BlobKind.offer.rawValue] + made.initiation))]
    }

    func acceptOffer(_ params: Parameters) async throws(ControlError) -> JSONValue {
        guard !isShuttingDown else { throw .shuttingDown }
        let initiation = try blob(params["offer"], kind: .offer)
        let sendsAudio = try params["audio"].optionalBool() ?? true
        let sendsVideo = try params["video"].optionalBool() ?? true
        let accepted: (call: CallHandle, incoming: IncomingCall, response: [UInt8])
        do {
            accepted = try await host.acceptOffer(initiation)
        } catch {
            throw hostError(error, field: "params.offer")
        }
        let id = adoptCall(
            accepted.call, isOutgoing: false, signalling: .offer, state: "answering", peer: accepted.incoming.peer,
            address: accepted.incoming.source, sendsAudio: sendsAudio, sendsVideo: sendsVideo)
        calls[id]?.signalling = .offer
        calls[id]?.sendsAudio = sendsAudio
        calls[id]?.sendsVideo = sendsVideo
        startPipeline(accepted.call)
        guard let record = calls[id] else { throw .failed(status: .internal, message: "call \(id) vanished") }
        return ["call": render(record), "answer": .string(Base64URL.encode([BlobKind.answer.rawValue] + accepted.response))]
    }

    func applyAnswer(_ params: Parameters) async throws(ControlError) -> JSONValue {
        let id = try params.callID()
        guard let record = calls[id] else { throw .unknownCall(id) }
        guard record.signalling == .offer, record.isOutgoing else {
            throw .precondition("\(id) was not made by CreateOffer", field: "params.call_id")
        }
        let response = try blob(params["answer"], kind: .answer)
        guard !record.isEnded else { throw .precondition("\(id) has ended (\(record.endReason ?? "?"))", field: "params.call_id") }
        do {
            try await host.applyAnswer(response, call: record.handle)
        } catch {
            throw hostError(error, field: "params.answer")
        }
        if let info = await host.callInfo(record.handle) {
            calls[id]?.peerAddress = info.peerAddress
            if calls[id]?.state == "offered", info.state == .active { setState(id, "active") }
        }
        return calls[id].map(render) ?? .null
    }

    /// The datagram in a base64url blob of `kind`.
    func blob(_ field: JSONField, kind: BlobKind) throws(ControlError) -> [UInt8] {
        let text = try field.string()
        let bytes: [UInt8]
        do {
            bytes = try Base64URL.decode(Array(text.utf8), field: field.path)
        } catch {
            throw .invalidArgument(field: field.path, reason: "not base64url: \(error)")
        }
        guard bytes.first == kind.rawValue, bytes.count > 1 else {
            throw .invalidArgument(field: field.path, reason: "not an \(kind == .offer ? "offer" : "answer") blob (its first byte must be \(kind.rawValue))")
        }
        return Array(bytes.dropFirst())
    }

    func accept(_ params: Parameters) async throws(ControlError) -> JSONValue {
        let id = try params.callID()
        guard let record = calls[id] else { throw .unknownCall(id) }
        guard record.state == "ringing" else { throw .precondition("\(id) is \(record.state), not ringing", field: "params.call_id") }
        if let audio = try params["audio"].optionalBool() { calls[id]?.sendsAudio = audio }
        if let video = try params["video"].optionalBool() { calls[id]?.sendsVideo = video }
        do {
            try await host.answer(record.handle)
        } catch {
            throw hostError(error, field: "params.call_id")
        }
        setState(id, "answering")
        startPipeline(record.handle)
        return calls[id].map(render) ?? .null
    }

    func reject(_ params: Parameters) async throws(ControlError) -> JSONValue {
        let id = try params.callID()
        guard let record = calls[id] else { throw .unknownCall(id) }
        let reason: DeclineReason
        switch try params["reason"].optionalString() ?? "declined" {
        case "declined": reason = .rejected
        case "busy": reason = .busy
        case let other: throw .invalidArgument(field: "params.reason", reason: "must be busy or declined, got \(other)")
        }
        guard record.state == "ringing" else { throw .precondition("\(id) is \(record.state), not ringing", field: "params.call_id") }
        calls[id]?.rejectedHere = true
        do {
            try await host.decline(record.handle, reason: reason)
        } catch {
            throw hostError(error, field: "params.call_id")
        }
        return [:]
    }

    func hangUp(_ params: Parameters) async throws(ControlError) -> JSONValue {
        let id = try params.callID()
        guard let record = calls[id] else { throw .unknownCall(id) }
        guard !record.isEnded else { throw .precondition("\(id) has already ended (\(record.endReason ?? "?"))", field: "params.call_id") }
        if record.state == "ringing" {
            calls[id]?.rejectedHere = true
            try? await host.decline(record.handle, reason: .rejected)
        } else {
            host.hangUp(record.handle)
        }
        logger.info("hanging up", metadata: ["call": "\(id)"])
        return [:]
    }

    // MARK: - Calls: in progress

    func setMuted(_ muted: Bool, _ params: Parameters) async throws(ControlError) -> JSONValue {
        let id = try params.callID()
        let audio = try params["audio"].optionalBool() ?? false
        let video = try params["video"].optionalBool() ?? false
        guard audio || video else {
            throw .invalidArgument(field: "params", reason: "name at least one medium: \"audio\": true or \"video\": true")
        }
        guard let record = calls[id] else { throw .unknownCall(id) }
        guard !record.isEnded else { throw .precondition("\(id) has ended", field: "params.call_id") }
        if audio { calls[id]?.sendsAudio = !muted }
        if video { calls[id]?.sendsVideo = !muted }
        guard let updated = calls[id] else { throw .unknownCall(id) }
        updated.pipeline?.setSending(audio: updated.sendsAudio, video: updated.sendsVideo)
        if updated.state == "active" {
            do {
                try await host.setMediaState(
                    SessionMessage.MediaState(audioMuted: !updated.sendsAudio, videoEnabled: updated.sendsVideo), call: updated.handle)
            } catch {
                throw hostError(error, field: "params.call_id")
            }
        }
        broadcastMediaState(id)
        return calls[id].map(render) ?? .null
    }

    func requestKeyFrame(_ params: Parameters) throws(ControlError) -> JSONValue {
        let id = try params.callID()
        guard let record = calls[id] else { throw .unknownCall(id) }
        guard record.state == "active" else { throw .precondition("\(id) is \(record.state), not active", field: "params.call_id") }
        host.requestKeyFrame(call: record.handle)
        return [:]
    }

    func setVideo(_ params: Parameters) throws(ControlError) -> JSONValue {
        let id = try params.callID()
        let current = calls[id]?.video ?? configuration.video
        var settings = current
        if params["width"].isPresent { settings.width = Int(try params["width"].int64(in: 16...3_840)) }
        if params["height"].isPresent { settings.height = Int(try params["height"].int64(in: 16...2_160)) }
        if params["frame_rate"].isPresent { settings.frameRate = Int(try params["frame_rate"].int64(in: 1...60)) }
        if params["max_bitrate"].isPresent { settings.maximumBitrate = Int(try params["max_bitrate"].int64(in: 50_000...10_000_000)) }
        if let (field, reason) = settings.violation() { throw .invalidArgument(field: "params.\(field)", reason: reason) }
        if devices.videoSource == DeviceCatalog.syntheticCamera, !VideoStamp.fits(width: settings.width, height: settings.height) {
            throw .invalidArgument(
                field: "params.width",
                reason: "the synthetic camera cannot stamp \(settings.width)x\(settings.height) (it needs at least 64 pixels of width and its stamp rows in the top half)")
        }
        guard let record = calls[id] else { throw .unknownCall(id) }
        guard !record.isEnded else { throw .precondition("\(id) has ended", field: "params.call_id") }
        calls[id]?.video = settings
        record.pipeline?.setVideo(settings)
        return calls[id].map(render) ?? .null
    }

    func listCalls() -> [JSONValue] {
        purgeEndedCalls()
        return calls.values.sorted { $0.handle.rawValue < $1.handle.rawValue }.map(render)
    }

    func getCall(_ params: Parameters) throws(ControlError) -> JSONValue {
        let id = try params.callID()
        guard let record = calls[id] else { throw .unknownCall(id) }
        return render(record)
    }

    func stats(_ params: Parameters) async throws(ControlError) -> JSONValue {
        let id = try params.callID()
        guard calls[id] != nil else { throw .unknownCall(id) }
        guard let stats = await statistics(of: id) else {
            throw .precondition("\(id) has no statistics (it ended before any were taken)", field: "params.call_id")
        }
        return .object(stats)
    }

    func markVerified(_ params: Parameters) throws(ControlError) -> JSONValue {
        let id = try params.callID()
        let verified = try params["verified"].optionalBool() ?? true
        guard let record = calls[id] else { throw .unknownCall(id) }
        guard record.shortAuthenticationString != nil else {
            throw .precondition("\(id) has no SAS yet: the handshake has not completed", field: "params.call_id")
        }
        guard !record.isEnded else { throw .precondition("\(id) has ended", field: "params.call_id") }
        host.markVerified(verified, call: record.handle)
        calls[id]?.isVerified = verified
        return calls[id].map(render) ?? .null
    }

    func record(_ params: Parameters) throws(ControlError) -> JSONValue {
        let id = try params.callID()
        var changes: [(CallRecordings.Stream, String?)] = []
        for stream in CallRecordings.Stream.allCases {
            let field = params[stream.rawValue]
            guard field.isPresent else { continue }
            if field.value == .null {
                changes.append((stream, nil))
                continue
            }
            let path = try field.string()
            guard path.hasPrefix("/") else { throw .invalidArgument(field: field.path, reason: "must be an absolute path, got \(path)") }
            changes.append((stream, path))
        }
        guard !changes.isEmpty else {
            throw .invalidArgument(field: "params", reason: "name at least one of received_video, received_audio, local_video, local_audio")
        }
        guard let record = calls[id] else { throw .unknownCall(id) }
        guard !record.isEnded, let pipeline = record.pipeline else {
            throw .precondition("\(id) is \(record.state): nothing to record", field: "params.call_id")
        }
        for (stream, path) in changes {
            do {
                try pipeline.recordings.set(stream, to: path)
            } catch {
                throw .precondition("cannot record into \(path ?? "?"): \(error)", field: "params.\(stream.rawValue)")
            }
        }
        logger.info("recording changed", metadata: ["call": "\(id)", "streams": "\(changes.map(\.0.rawValue))"])
        return renderRecordings(id, pipeline.recordings)
    }

    func renderRecordings(_ id: String, _ recordings: CallRecordings) -> JSONValue {
        let summary = recordings.summary()
        var object = JSONObject()
        for stream in CallRecordings.Stream.allCases {
            if let entry = summary[stream] ?? nil {
                object[stream.rawValue] = [
                    "path": .string(entry.path), "frames_written": json(entry.written), "frames_skipped": json(entry.skipped),
                ]
            } else {
                object[stream.rawValue] = .null
            }
        }
        return ["call_id": .string(id), "recording": .object(object)]
    }

    // MARK: - Watch

    func watch(_ params: Parameters, sink: ControlEventSink) async throws(ControlError) {
        let filter = try params["call_id"].optionalString()
        if let filter, calls[filter] == nil { throw .unknownCall(filter) }
        let interval = try params["stats_interval_ms"].isPresent ? params["stats_interval_ms"].int64(in: 100...60_000) : nil
        let wantsSnapshot = try params["snapshot"].optionalBool() ?? true
        guard let (watcher, events) = subscribe(callID: filter) else { throw .shuttingDown }
        if wantsSnapshot {
            let snapshot = filter.flatMap { calls[$0] }.map { [render($0)] } ?? listCalls()
            sink.send(event: ["type": "snapshot", "calls": .array(snapshot)])
        }
        let ticker: Task<Void, Never>? = interval.map { milliseconds in
            Task { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(milliseconds))
                    if Task.isCancelled { return }
                    for id in await activeCallIDs(filter) {
                        if let stats = await statistics(of: id) { sink.send(event: ["type": "stats", "stats": .object(stats)]) }
                    }
                }
            }
        }
        for await event in events {
            if !sink.send(event: event) { break }
        }
        ticker?.cancel()
        unsubscribe(watcher)
        if isShuttingDown, !Task.isCancelled { throw .shuttingDown }
    }

    func activeCallIDs(_ filter: String?) -> [String] {
        calls.values.filter { $0.state == "active" && (filter == nil || filter == $0.id) }.map(\.id).sorted()
    }

    // MARK: - Devices

    /// Every device the engine can use now: the built-in ones, PulseAudio's, V4L2 cameras.
    func availableDevices() async -> (sources: [Device], sinks: [Device]) {
        var sources = DeviceCatalog.sources
        var sinks = DeviceCatalog.sinks
        if let pulse, let devices = try? await pulse.devices() {
            for device in devices {
                let entry = Device(
                    id: DeviceCatalog.pulsePrefix + device.name, kind: .audio, name: "PulseAudio: \(device.description)",
                    isSynthetic: false)
                if device.kind == .source { sources.append(entry) } else { sinks.append(entry) }
            }
        }
        for camera in V4L2Devices.captureDevices() {
            sources.append(
                Device(id: DeviceCatalog.v4l2Prefix + camera.path, kind: .video, name: "V4L2: \(camera.card) (\(camera.path))", isSynthetic: false))
        }
        return (sources, sinks)
    }

    func deviceList() async -> JSONValue {
        func render(_ device: Device, selected: Bool) -> JSONValue {
            [
                "id": .string(device.id), "kind": .string(device.kind.rawValue), "name": .string(device.name),
                "synthetic": .bool(device.isSynthetic), "selected": .bool(selected),
            ]
        }
        let chosen: Set = [devices.audioSource, devices.videoSource, devices.audioSink, devices.videoSink]
        let (sources, sinks) = await availableDevices()
        return [
            "sources": .array(sources.map { render($0, selected: chosen.contains($0.id)) }),
            "sinks": .array(sinks.map { render($0, selected: chosen.contains($0.id)) }),
        ]
    }

    func selectDevices(_ params: Parameters) async throws(ControlError) -> JSONValue {
        var selection = devices
        let (sources, sinks) = await availableDevices()
        let slots: [(String, [Device], Device.Kind, WritableKeyPath<DeviceSelection, String>)] = [
            ("audio_source", sources, .audio, \.audioSource), ("video_source", sources, .video, \.videoSource),
            ("audio_sink", sinks, .audio, \.audioSink), ("video_sink", sinks, .video, \.videoSink),
        ]
        for (name, candidates, kind, path) in slots {
            guard let id = try params[name].optionalString() else { continue }
            guard let device = candidates.first(where: { $0.id == id }) else {
                throw .failed(status: .notFound, message: "no device \(id) among the \(name.hasSuffix("source") ? "sources" : "sinks")", details: ["field": .string("params.\(name)")])
            }
            guard device.kind == kind else {
                throw .invalidArgument(field: "params.\(name)", reason: "\(id) is a \(device.kind.rawValue) device, not \(kind.rawValue)")
            }
            selection[keyPath: path] = id
        }
        devices = selection
        return await deviceList()
    }

    // MARK: - Errors

    func hostError(_ error: SessionHostError, field: String) -> ControlError {
        switch error {
        case .stopped: return .shuttingDown
        case .unknownCall(let handle): return .unknownCall(callIDs[handle] ?? "call-\(handle.rawValue)")
        case .invalidState(let text): return .precondition(text, field: field)
        case .offerRejected(let text), .answerRejected(let text): return .invalidArgument(field: field, reason: text)
        case .session(.invalidArgument(let name, let reason)): return .invalidArgument(field: field, reason: "\(name): \(reason)")
        case .session(.invalidState(let operation, let state)):
            return .precondition("\(operation) is not possible while the call is \(state)", field: field)
        case .session(.crypto(let crypto)): return .failed(status: .internal, message: "cryptographic set-up failed: \(crypto)")
        }
    }
}
