public import ParleyWire

/// A message one engine sends the other over the pairwise channel (Protocols/peer/channel.md §5).
///
/// Every case is *reliable*: the channel gives it a `SessionMessageID`, retransmits it until the peer
/// acknowledges it, and the peer delivers it once. Keep-alives and acknowledgements are the channel's
/// own records (`SessionMessageRecord`) and never reach the owner.
public enum SessionMessage: Equatable, Sendable {
    /// A sender key announcement; the body is opaque to the channel (its format is Protocols/peer/v1.md
    /// §2, `SenderKeyAnnouncement`).
    case senderKeyAnnouncement([UInt8])
    /// The receiver installed the key announced for stream `ssrc` with SFrame key id `keyID`.
    case senderKeyAcknowledgement(ssrc: SSRC, keyID: UInt64)
    /// The sender ends the call.
    case hangUp(HangUpReason)
    /// The sender's media state: delivered only if newer than the last one delivered (a retransmitted
    /// older state never overrides a newer one).
    case mediaState(MediaState)

    /// Why a call ended. Codes not listed here are carried as they are (later versions may add some).
    public struct HangUpReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code as sent.
        public var rawValue: UInt16

        /// The reason with code `rawValue`.
        public init(rawValue: UInt16) {
            self.rawValue = rawValue
        }

        /// The user hung up (code 0).
        public static let normal = HangUpReason(rawValue: 0)
        /// The callee is in another call (code 1).
        public static let busy = HangUpReason(rawValue: 1)
        /// The callee declined the call (code 2).
        public static let declined = HangUpReason(rawValue: 2)
        /// No one answered in time (code 3).
        public static let unanswered = HangUpReason(rawValue: 3)
        /// The engine could not go on (a media or security failure) (code 4).
        public static let failure = HangUpReason(rawValue: 4)

        public var description: String {
            switch rawValue {
            case 0: "normal"
            case 1: "busy"
            case 2: "declined"
            case 3: "unanswered"
            case 4: "failure"
            default: "reason \(rawValue)"
            }
        }
    }

    /// What a sender currently sends: its microphone may be muted and its camera on or off.
    public struct MediaState: Hashable, Sendable {
        /// The sender's audio is muted (it sends no audio, or silence).
        public var audioMuted: Bool
        /// The sender sends video.
        public var videoEnabled: Bool

        /// A state with the given flags.
        public init(audioMuted: Bool, videoEnabled: Bool) {
            self.audioMuted = audioMuted
            self.videoEnabled = videoEnabled
        }
    }
}

/// The id a channel gives each reliable message it sends: 0, 1, 2… per direction, never reused or
/// wrapped. Acknowledgements name it, and the receiver removes duplicates by it.
public struct SessionMessageID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id as sent.
    public var rawValue: UInt32

    /// The id `rawValue`.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// The id `value`.
    public init(_ value: UInt32) {
        rawValue = value
    }

    public static func < (lhs: SessionMessageID, rhs: SessionMessageID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "#\(rawValue)" }
}

extension SessionMessage: CustomStringConvertible, CustomReflectable {
    /// The message without key material: an announcement shows only its size.
    public var description: String {
        switch self {
        case .senderKeyAnnouncement(let body): "senderKeyAnnouncement(\(body.count) bytes, redacted)"
        case .senderKeyAcknowledgement(let ssrc, let keyID): "senderKeyAcknowledgement(\(ssrc), KID \(keyID))"
        case .hangUp(let reason): "hangUp(\(reason))"
        case .mediaState(let state): "mediaState(\(state))"
        }
    }

    /// A mirror without key material, so `dump` and interpolation of events stay key-free.
    public var customMirror: Mirror {
        Mirror(self, children: ["message": description], displayStyle: .enum)
    }
}
