internal import CPulse
internal import Dispatch
internal import Glibc
internal import ParleyMedia
internal import ParleyWire

/// A connection to a PulseAudio server, on a thread of its own: device lists, hot-plug events, and the
/// context that `PulseAudioSource` and `PulseAudioSink` streams run on.
///
/// libpulse runs on a `pa_threaded_mainloop`: its callbacks happen on the loop's thread, and every call
/// Parley makes into libpulse holds the loop's lock for a few microseconds, so no method blocks its
/// caller's thread on the server; those that wait for an answer are `async`.
///
/// **Recovery.** When the server goes away (the daemon exits, crashes or restarts) the connection reports
/// `.connectionLost`, and its streams `.interrupted`; it then tries to reconnect after 50, 100, then every
/// 200 ms, so it is back at most 200 ms plus a round trip after the server accepts connections again. It then
/// reports `.reconnected(downtime:)`, and every open source and sink re-creates its stream on the same
/// device and reports `.resumed`. Devices that differ after the restart are reported as added or removed.
///
/// **Hot-plug.** The connection subscribes to source and sink changes: `.deviceAdded` and
/// `.deviceRemoved` arrive on every stream `events()` returned.
///
/// Close it with `close()` (or drop it): its sources and sinks keep it alive while they are open.
public final class PulseAudioConnection: Sendable {
    let core: PulseConnectionCore

    /// Connects to `server` (a libpulse server string such as `unix:/run/parley/pulse/native`), or when
    /// it is nil to the server libpulse finds itself (`$PULSE_SERVER`, then the user's session daemon).
    /// A daemon is never spawned.
    ///
    /// - Throws: `DeviceError.serverUnavailable` naming the server when none answers there.
    public init(server: String? = nil, applicationName: String = "Parley") async throws(DeviceError) {
        core = try PulseConnectionCore(server: server, applicationName: applicationName)
        do {
            try await core.connect()
        } catch {
            core.close()
            throw error
        }
    }

    /// The server, as named for errors: the one asked for, else `$PULSE_SERVER`, else "default server".
    public var server: String { core.serverName }

    /// True while the connection to the server is up.
    public var isConnected: Bool { core.isConnected }

    /// Every event from now on (device hot-plug, connection lost and back), until the connection closes.
    /// Each call returns a stream of its own; events are never dropped, so read the ones you ask for.
    public func events() -> AsyncStream<PulseAudioConnectionEvent> { core.events.subscribe() }

    /// The server's sources and sinks, with names and descriptions (sources include the sinks' monitors).
    ///
    /// - Throws: `DeviceError.disconnected` while the server is away.
    public func devices() async throws(DeviceError) -> [PulseAudioDevice] {
        try await core.listDevices()
    }

    /// The server's sources (microphones, inputs and monitors).
    public func sources() async throws(DeviceError) -> [PulseAudioDevice] {
        try await devices().filter { $0.kind == .source }
    }

    /// The server's sinks.
    public func sinks() async throws(DeviceError) -> [PulseAudioDevice] {
        try await devices().filter { $0.kind == .sink }
    }

    /// Disconnects and stops the connection's thread; its sources and sinks end. Idempotent.
    public func close() { core.close() }

    deinit { core.close() }
}

/// Told by the connection what happens to its context. Every method is called with the loop's lock held.
protocol PulseStreamClient: AnyObject, Sendable {
    /// The context is ready (again): create the stream on it.
    func connect(on context: OpaquePointer)
    /// The context failed: forget the stream (libpulse has failed it) and wait for `connect(on:)`.
    func contextLost(reason: String)
    /// The connection is closing: end for good.
    func connectionClosed()
}

/// The connection's state; every mutable field is guarded by the loop's lock.
final class PulseConnectionCore: @unchecked Sendable {
    private enum Phase {
        case idle
        case connecting
        case ready
        case lost(since: MonotonicInstant)
        case closed
    }

    private struct DeviceKey: Hashable {
        var kind: PulseAudioDevice.Kind
        var index: UInt32
    }

    let loop: PulseMainloop
    let serverName: String
    let events = PulseEventBroadcaster<PulseAudioConnectionEvent>()
    private let requestedServer: String?
    private let applicationName: String
    private let clock = SystemMediaClock()
    private let retryQueue = DispatchQueue(label: "parley.pulse.reconnect")

    // Guarded by the loop's lock.
    private var phase = Phase.idle
    private var context: OpaquePointer?
    private var initialWaiter: CheckedContinuation<DeviceError?, Never>?
    private var clients: [ObjectIdentifier: any PulseStreamClient] = [:]
    private var devices: [DeviceKey: PulseAudioDevice] = [:]
    private var retryDelay = Duration.milliseconds(50)

    init(server: String?, applicationName: String) throws(DeviceError) {
        loop = try PulseMainloop()
        requestedServer = server
        self.applicationName = applicationName
        if let server {
            serverName = server
        } else if let environment = getenv("PULSE_SERVER"), environment.pointee != 0 {
            serverName = String(cString: environment)
        } else {
            serverName = "default server"
        }
    }

    deinit {
        // `close()` ran already (the connection's deinit or an explicit call); this frees what is left.
        if let context {
            pa_context_set_state_callback(context, nil, nil)
            pa_context_set_subscribe_callback(context, nil, nil)
            pa_context_unref(context)
        }
    }

    var isConnected: Bool {
        loop.withLock {
            if case .ready = phase { return true }
            return false
        }
    }

    /// The ready context, or nil while the server is away. Lock held.
    var readyContext: OpaquePointer? {
        if case .ready = phase { return context }
        return nil
    }

    // MARK: Connecting.

    /// The first connection: returns when the context is ready, throws when it fails.
    func connect() async throws(DeviceError) {
        let failure: DeviceError? = await withCheckedContinuation { continuation in
            loop.withLock {
                phase = .connecting
                initialWaiter = continuation
                if let error = startContext() {
                    initialWaiter = nil
                    phase = .idle
                    continuation.resume(returning: error)
                }
            }
        }
        if let failure { throw failure }
    }

    /// Creates a context and starts connecting it; returns an error if that fails at once. Lock held.
    private func startContext() -> DeviceError? {
        guard let context = pa_context_new(loop.api, applicationName) else {
            return .system(call: "pa_context_new", code: 0, detail: "out of memory")
        }
        self.context = context
        let me = Unmanaged.passUnretained(self).toOpaque()
        pa_context_set_state_callback(
            context,
            { context, userdata in
                guard let context, let userdata else { return }
                Unmanaged<PulseConnectionCore>.fromOpaque(userdata).takeUnretainedValue().stateChanged(context)
            }, me)
        pa_context_set_subscribe_callback(
            context,
            { context, type, index, userdata in
                guard let context, let userdata else { return }
                Unmanaged<PulseConnectionCore>.fromOpaque(userdata).takeUnretainedValue()
                    .subscriptionEvent(context, type: type, index: index)
            }, me)
        // libpulse may report the failure through the state callback before `pa_context_connect` returns,
        // and that callback drops the context: hold a reference across the call.
        pa_context_ref(context)
        defer { pa_context_unref(context) }
        if pa_context_connect(context, requestedServer, PA_CONTEXT_NOAUTOSPAWN, nil) < 0 {
            guard self.context == context else { return nil }  // already handled by `contextFailed`
            let reason = pulseErrorText(pa_context_errno(context))
            dropContext()
            return .serverUnavailable(server: serverName, reason: reason)
        }
        return nil
    }

    /// Forgets the current context (its callbacks first, so a dying context reports nothing). Lock held.
    private func dropContext() {
        guard let context else { return }
        self.context = nil
        pa_context_set_state_callback(context, nil, nil)
        pa_context_set_subscribe_callback(context, nil, nil)
        pa_context_disconnect(context)
        pa_context_unref(context)
    }

    /// The context's state changed (loop thread). Failing contexts are dropped inside their own callback:
    /// libpulse holds a reference around it.
    private func stateChanged(_ context: OpaquePointer) {
        guard context == self.context else { return }
        switch pa_context_get_state(context) {
        case PA_CONTEXT_READY:
            contextReady(context)
        case PA_CONTEXT_FAILED, PA_CONTEXT_TERMINATED:
            contextFailed(reason: pulseErrorText(pa_context_errno(context)))
        default:
            break
        }
    }

    private func contextReady(_ context: OpaquePointer) {
        let previous = phase
        phase = .ready
        retryDelay = .milliseconds(50)
        let mask = pa_subscription_mask_t(
            rawValue: PA_SUBSCRIPTION_MASK_SINK.rawValue | PA_SUBSCRIPTION_MASK_SOURCE.rawValue)
        if let operation = pa_context_subscribe(context, mask, nil, nil) { pa_operation_unref(operation) }
        switch previous {
        case .connecting:
            refreshDevices(on: context, reportChanges: false)
            initialWaiter?.resume(returning: nil)
            initialWaiter = nil
        case .lost(let since):
            events.yield(.reconnected(downtime: clock.now() - since))
            refreshDevices(on: context, reportChanges: true)
            for client in clients.values { client.connect(on: context) }
        default:
            break
        }
    }

    private func contextFailed(reason: String) {
        dropContext()
        switch phase {
        case .connecting:
            phase = .idle
            initialWaiter?.resume(returning: .serverUnavailable(server: serverName, reason: reason))
            initialWaiter = nil
        case .ready:
            phase = .lost(since: clock.now())
            events.yield(.connectionLost(reason: reason))
            for client in clients.values { client.contextLost(reason: reason) }
            scheduleReconnect()
        case .lost:
            scheduleReconnect()
        case .idle, .closed:
            break
        }
    }

    /// Tries again after the current delay, which doubles up to 200 ms. Lock held.
    private func scheduleReconnect() {
        let delay = retryDelay
        retryDelay = min(retryDelay * 2, .milliseconds(200))
        retryQueue.asyncAfter(deadline: .now() + .nanoseconds(Int(delay.totalNanoseconds))) { [weak self] in
            self?.attemptReconnect()
        }
    }

    private func attemptReconnect() {
        loop.withLock {
            guard case .lost = phase, context == nil else { return }
            if startContext() != nil { scheduleReconnect() }
        }
    }

    // MARK: Streams.

    /// Adds a stream client; returns the ready context to create its stream on, or nil while the server
    /// is away (the client is told when it is back). Lock held.
    func register(_ client: any PulseStreamClient) throws(DeviceError) -> OpaquePointer? {
        switch phase {
        case .closed, .idle, .connecting:
            throw .disconnected("PulseAudio connection to \(serverName) (closed)")
        case .ready, .lost:
            clients[ObjectIdentifier(client)] = client
            return readyContext
        }
    }

    /// Removes a stream client. Lock held.
    func unregister(_ client: any PulseStreamClient) {
        clients.removeValue(forKey: ObjectIdentifier(client))
    }

    /// Ends every stream, disconnects, stops the loop's thread. Idempotent; never on the loop's thread.
    func close() {
        let closing: Bool = loop.withLock {
            if case .closed = phase { return false }
            phase = .closed
            let ending = clients.values
            clients = [:]
            for client in ending { client.connectionClosed() }
            dropContext()
            initialWaiter?.resume(returning: .disconnected("PulseAudio connection to \(serverName) (closed)"))
            initialWaiter = nil
            return true
        }
        guard closing else { return }
        loop.stop()
        events.finish()
    }

    // MARK: Devices.

    func listDevices() async throws(DeviceError) -> [PulseAudioDevice] {
        let result: Result<[PulseAudioDevice], DeviceError> = await withCheckedContinuation { continuation in
            loop.withLock {
                guard let context = readyContext else {
                    continuation.resume(returning: .failure(.disconnected("PulseAudio server \(serverName)")))
                    return
                }
                PulseDeviceListRequest.listAll(on: context) { result in
                    continuation.resume(returning: result.map { $0.map(\.device) })
                }
            }
        }
        return try result.get()
    }

    /// Re-reads the device map; after a reconnection, reports the devices that differ by name. Lock held.
    private func refreshDevices(on context: OpaquePointer, reportChanges: Bool) {
        PulseDeviceListRequest.listAll(on: context) { [self] result in
            guard case .success(let list) = result, context == self.context else { return }
            let before = Set(devices.values.map { DeviceName(kind: $0.kind, name: $0.name) })
            var after: [DeviceKey: PulseAudioDevice] = [:]
            for entry in list { after[DeviceKey(kind: entry.device.kind, index: entry.index)] = entry.device }
            let afterNames = Set(after.values.map { DeviceName(kind: $0.kind, name: $0.name) })
            if reportChanges {
                for device in devices.values where !afterNames.contains(DeviceName(kind: device.kind, name: device.name)) {
                    events.yield(.deviceRemoved(device))
                }
                for device in after.values where !before.contains(DeviceName(kind: device.kind, name: device.name)) {
                    events.yield(.deviceAdded(device))
                }
            }
            devices = after
        }
    }

    private struct DeviceName: Hashable {
        var kind: PulseAudioDevice.Kind
        var name: String
    }

    /// A sink or source appeared or went (loop thread).
    private func subscriptionEvent(_ context: OpaquePointer, type: pa_subscription_event_type_t, index: UInt32) {
        guard context == self.context else { return }
        let facility = type.rawValue & PA_SUBSCRIPTION_EVENT_FACILITY_MASK.rawValue
        let kind: PulseAudioDevice.Kind
        switch facility {
        case PA_SUBSCRIPTION_EVENT_SINK.rawValue: kind = .sink
        case PA_SUBSCRIPTION_EVENT_SOURCE.rawValue: kind = .source
        default: return
        }
        let key = DeviceKey(kind: kind, index: index)
        switch type.rawValue & PA_SUBSCRIPTION_EVENT_TYPE_MASK.rawValue {
        case PA_SUBSCRIPTION_EVENT_NEW.rawValue:
            PulseDeviceListRequest.lookUp(on: context, kind: kind, index: index) { [self] result in
                guard case .success(let found) = result, let entry = found.first, devices[key] == nil else { return }
                devices[key] = entry.device
                events.yield(.deviceAdded(entry.device))
            }
        case PA_SUBSCRIPTION_EVENT_REMOVE.rawValue:
            if let device = devices.removeValue(forKey: key) { events.yield(.deviceRemoved(device)) }
        default:
            break
        }
    }
}

/// One enumeration: all sinks and sources, or one device by index. Lives on the loop's thread: libpulse
/// holds it (retained once per pending operation) until each operation's final callback.
final class PulseDeviceListRequest: @unchecked Sendable {
    typealias Entry = (device: PulseAudioDevice, index: UInt32)
    private var entries: [Entry] = []
    private var pending = 0
    private var failure: DeviceError?
    private let completion: (Result<[Entry], DeviceError>) -> Void

    private init(completion: @escaping (Result<[Entry], DeviceError>) -> Void) {
        self.completion = completion
    }

    /// Lists every sink and source with its index. Lock held; `completion` runs on the loop's thread.
    static func listAll(on context: OpaquePointer, completion: @escaping (Result<[Entry], DeviceError>) -> Void) {
        let request = PulseDeviceListRequest(completion: completion)
        request.pending = 2
        let sinks = pa_context_get_sink_info_list(context, sinkCallback, Unmanaged.passRetained(request).toOpaque())
        request.issued(sinks, context: context)
        let sources = pa_context_get_source_info_list(
            context, sourceCallback, Unmanaged.passRetained(request).toOpaque())
        request.issued(sources, context: context)
    }

    /// Looks one device up by index (after a hot-plug event).
    static func lookUp(
        on context: OpaquePointer, kind: PulseAudioDevice.Kind, index: UInt32,
        completion: @escaping (Result<[Entry], DeviceError>) -> Void
    ) {
        let request = PulseDeviceListRequest(completion: completion)
        request.pending = 1
        let userdata = Unmanaged.passRetained(request).toOpaque()
        let operation =
            kind == .sink
            ? pa_context_get_sink_info_by_index(context, index, sinkCallback, userdata)
            : pa_context_get_source_info_by_index(context, index, sourceCallback, userdata)
        request.issued(operation, context: context)
    }

    /// Accounts for an operation libpulse did not start (its callback never comes).
    private func issued(_ operation: OpaquePointer?, context: OpaquePointer) {
        if let operation {
            pa_operation_unref(operation)
        } else {
            Unmanaged.passUnretained(self).release()
            finishOne(error: .system(
                call: "pa_context_get_info", code: pa_context_errno(context),
                detail: pulseErrorText(pa_context_errno(context))))
        }
    }

    private func finishOne(error: DeviceError?) {
        if let error, failure == nil { failure = error }
        pending -= 1
        guard pending == 0 else { return }
        if let failure { completion(.failure(failure)) } else { completion(.success(entries)) }
    }

    private static let sinkCallback: pa_sink_info_cb_t = { _, info, eol, userdata in
        guard let userdata else { return }
        let request = Unmanaged<PulseDeviceListRequest>.fromOpaque(userdata)
        if eol != 0 {
            request.takeUnretainedValue().finishOne(error: eol < 0 ? .notFound("sink") : nil)
            request.release()
        } else if let info = info?.pointee {
            let device = PulseAudioDevice(
                kind: .sink, name: PulseDeviceListRequest.string(info.name),
                description: PulseDeviceListRequest.string(info.description),
                sampleRate: Int(info.sample_spec.rate), channelCount: Int(info.sample_spec.channels))
            request.takeUnretainedValue().entries.append((device, info.index))
        }
    }

    private static let sourceCallback: pa_source_info_cb_t = { _, info, eol, userdata in
        guard let userdata else { return }
        let request = Unmanaged<PulseDeviceListRequest>.fromOpaque(userdata)
        if eol != 0 {
            request.takeUnretainedValue().finishOne(error: eol < 0 ? .notFound("source") : nil)
            request.release()
        } else if let info = info?.pointee {
            let monitorOf = info.monitor_of_sink != UInt32.max ? info.monitor_of_sink_name.map { String(cString: $0) } : nil
            let device = PulseAudioDevice(
                kind: .source, name: PulseDeviceListRequest.string(info.name),
                description: PulseDeviceListRequest.string(info.description), monitorOf: monitorOf,
                sampleRate: Int(info.sample_spec.rate), channelCount: Int(info.sample_spec.channels))
            request.takeUnretainedValue().entries.append((device, info.index))
        }
    }

    private static func string(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }
}
