import ParleyCrypto
import ParleyRuntime
import ParleySession
import ParleyWire

/// What the engine keeps of one call for the control protocol (services.md §1.1).
struct CallRecord {
    /// How the call was set up.
    enum Signalling: String {
        case dial, offer, incoming
    }

    /// The call id the control protocol uses.
    let id: String
    /// The host's handle.
    let handle: CallHandle
    /// Whether this end dialled (or made the offer).
    let isOutgoing: Bool
    var signalling: Signalling
    /// `ringing`, `offered`, `dialing`, `answering`, `active`, `ending`, `ended`.
    var state: String
    var endReason: String?
    var endDetail: String?
    let peerKey: IdentityPublicKey
    var peerFingerprint: String
    var peerAddress: SocketAddress?
    var safetyNumber: SafetyNumber
    var shortAuthenticationString: ShortAuthenticationString?
    var isVerified = false
    var sendsAudio: Bool
    var sendsVideo: Bool
    var peerMedia: SessionMessage.MediaState?
    var video: VideoSettings
    let createdAt: MonotonicInstant
    var activeAt: MonotonicInstant?
    var endedAt: MonotonicInstant?
    /// This end rejected the call while it rang.
    var rejectedHere = false
    var pipeline: CallMediaPipeline?
    /// Totals taken every `Engine.rateSampleInterval` over the last seconds, oldest first: bitrates
    /// and frame rates are measured against them, so every client sees the same rates.
    var rateSamples: [RateSample] = []

    /// Whether the call is over.
    var isEnded: Bool { state == "ended" }

    /// The control protocol's name for a session state.
    static func stateName(_ state: CallState) -> String {
        switch state {
        case .dialing: "dialing"
        case .answering: "answering"
        case .active: "active"
        case .ending: "ending"
        case .ended: "ended"
        }
    }

    /// The end reason's code and detail for `reason`, as services.md §1.1 names them.
    func endDescription(_ reason: CallEndReason) -> (code: String, detail: String?) {
        switch reason {
        case .declined(let decline) where rejectedHere: ("rejected", decline.description)
        case .declined(let decline): ("declined", decline.description)
        case .remoteHangUp(let why): ("remote_hangup", why == .normal ? nil : why.description)
        case .failure(let text): ("failure", text)
        case .handshakeTimeout where isOutgoing:
            (
                "handshake_timeout",
                "no answer from \(peerAddress.map(String.init(describing:)) ?? "the peer"): nobody is there, the peer "
                    + "did not answer, or its key is not \(peerKey.base64URL) (a handshake to a wrong key cannot be told "
                    + "apart from silence)"
            )
        case .handshakeTimeout: ("handshake_timeout", "the caller gave up")
        default: (reason.code, nil)
        }
    }
}

/// A call's running totals at one instant, for rates.
struct RateSample {
    var instant: MonotonicInstant
    var bytesSent: Int
    var bytesReceived: Int
    var framesEncoded: Int
    var framesDecoded: Int

    /// The sample in `samples` closest to one second before `now` but at least 200 ms old.
    static func baseline(in samples: [RateSample], now: MonotonicInstant) -> RateSample? {
        samples.filter { now - $0.instant >= .milliseconds(200) }
            .min { abs((now - $0.instant).inSeconds - 1) < abs((now - $1.instant).inSeconds - 1) }
    }
}
