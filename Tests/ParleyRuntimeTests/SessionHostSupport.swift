import ParleyCrypto
import ParleyMedia
import ParleyRuntime
import ParleySession
import ParleyWire
import Synchronization

/// Everything a host reported, collected as it arrives.
final class SessionHostEventLog: Sendable {
    private let events = Mutex<[HostEvent]>([])

    /// Starts collecting `host`'s events; the task ends when the host stopped.
    func follow(_ host: SessionHost) -> Task<Void, Never> {
        Task {
            for await event in host.events {
                events.withLock { $0.append(event) }
            }
        }
    }

    /// Everything so far.
    var all: [HostEvent] { events.withLock { $0 } }

    /// Waits (up to `timeout` of real time) until `condition` holds for the events; whether it did.
    func waitUntil(timeout: Duration = .seconds(3), _ condition: ([HostEvent]) -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            if condition(all) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(all)
    }
}

extension [HostEvent] {
    /// The states `call` went through.
    func states(of call: CallHandle) -> [CallState] {
        compactMap { if case .call(call, .stateChanged(let state)) = $0 { state } else { nil } }
    }

    /// Whether `call` reached `.active`.
    func isActive(_ call: CallHandle) -> Bool { states(of: call).contains(.active) }

    /// Why `call` closed, once it did.
    func closeReason(of call: CallHandle) -> CallEndReason? {
        lazy.compactMap { if case .callClosed(call, let reason) = $0 { reason } else { nil } }.first
    }

    /// The latest short authentication string `call` reported.
    func shortAuthenticationString(of call: CallHandle) -> ShortAuthenticationString? {
        compactMap { if case .call(call, .verificationAvailable(let sas, _, _)) = $0 { sas } else { nil } }.last
    }

    /// The incoming calls answered, in order (a replacement appears again with its handle).
    var answered: [CallHandle] {
        compactMap { if case .callAnswered(let call, _) = $0 { call } else { nil } }
    }

    /// The video frames `call` delivered.
    func videoFrames(of call: CallHandle) -> [IncomingVideoFrame] {
        compactMap { if case .call(call, .videoFrame(let frame)) = $0 { frame } else { nil } }
    }
}

/// One host on loopback with its identity and event log.
struct HostUnderTest {
    static let ssrcsA = (audio: SSRC(0xA0D1_0001), video: SSRC(0xA71D_0001), rtx: SSRC(0xA7A7_0001))
    static let ssrcsB = (audio: SSRC(0xB0D1_0002), video: SSRC(0xB71D_0002), rtx: SSRC(0xB7A7_0002))

    let identity: IdentityKeyPair
    let host: SessionHost
    let log = SessionHostEventLog()
    let follower: Task<Void, Never>
    let streams: [MediaStreamDescription]

    /// A started host on `ip` (any free port) that sends `ssrcs` and answers every call.
    init(
        _ ip: IPAddress, ssrcs: (audio: SSRC, video: SSRC, rtx: SSRC),
        policy: @escaping @Sendable (IncomingCall) -> IncomingCallDecision = { _ in .accept }
    ) throws {
        identity = IdentityKeyPair()
        streams = [
            .opus(ssrc: ssrcs.audio),
            .vp8(ssrc: ssrcs.video, retransmission: RetransmissionStream(ssrc: ssrcs.rtx, payloadType: 97)),
        ]
        host = try SessionHost(
            identity: identity, bindTo: SocketAddress(ip, port: 0),
            localCapabilities: LocalCallCapabilities(streams: streams),
            audioDecoderFactory: { channels in try OpusDecoder(channelCount: channels) }, incomingPolicy: policy)
        follower = log.follow(host)
        host.start()
    }

    /// This host's offer.
    func offer() throws -> CallParameters {
        try CallParameters.offer(streams: streams)
    }

    /// Stops the host and waits for its event stream to finish.
    func stop() async {
        await host.stop()
        await follower.value
    }
}

/// `caller` dials `callee`; returns both handles once both ends are active (nil if they never were).
func connect(_ caller: HostUnderTest, _ callee: HostUnderTest) async throws -> (caller: CallHandle, callee: CallHandle)? {
    let outgoing = try await caller.host.dial(
        peer: callee.identity.publicKey, at: callee.host.localAddress, offer: caller.offer())
    guard await callee.log.waitUntil({ $0.answered.first.map($0.isActive) == true }),
        await caller.log.waitUntil({ $0.isActive(outgoing) }), let incoming = callee.log.all.answered.first
    else { return nil }
    return (outgoing, incoming)
}
