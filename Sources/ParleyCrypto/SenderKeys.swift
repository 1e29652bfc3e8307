internal import Crypto
public import ParleyWire

/// What kind of media a stream carries (announced with its keys).
public enum MediaKind: UInt8, Sendable, Equatable, CaseIterable {
    /// Opus audio.
    case audio = 1
    /// VP8 video.
    case video = 2
}

/// The keys a sender announces for one of its outgoing streams (ARCHITECTURE §4 "sender keys").
///
/// Each stream has a hop-by-hop SRTP master key and salt, and an end-to-end SFrame base key with a key
/// id (KID). A sender announces them over the pairwise channel before using them; a new KID (a new
/// base key) is announced on rotation. The suite ids are the IANA ones: SFrame cipher suites of RFC 9605
/// §8.1 and DTLS-SRTP protection profiles of RFC 5764 / RFC 7714.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  version = 1  |  media kind   |       SFrame cipher suite     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                             SSRC                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          KID (64 bits)                        |
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     SRTP protection profile   | base key len  | SRTP key len  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | SRTP salt len |  SFrame base key … | SRTP master key … | SRTP master salt …
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct SenderKeyAnnouncement: Equatable, Sendable {
    /// The only version defined.
    public static let version: UInt8 = 1

    /// What the stream carries.
    public var mediaKind: MediaKind
    /// The stream's SSRC.
    public var ssrc: SSRC
    /// The SFrame KID of `sframeBaseKey`.
    public var keyID: UInt64
    /// IANA SFrame cipher suite id (RFC 9605 §8.1); 4 is AES_128_GCM_SHA256_128, Parley's default.
    public var sframeCipherSuite: UInt16
    /// The SFrame base key for `keyID` (RFC 9605 §4.4.2; 32 bytes from Parley senders).
    public var sframeBaseKey: [UInt8]
    /// IANA DTLS-SRTP protection profile (RFC 5764 §4.1.2, RFC 7714 §14.2); 7 is AEAD_AES_128_GCM.
    public var srtpProtectionProfile: UInt16
    /// The SRTP master key of the stream.
    public var srtpMasterKey: [UInt8]
    /// The SRTP master salt of the stream.
    public var srtpMasterSalt: [UInt8]

    /// An announcement with the given fields.
    public init(
        mediaKind: MediaKind, ssrc: SSRC, keyID: UInt64, sframeCipherSuite: UInt16, sframeBaseKey: [UInt8],
        srtpProtectionProfile: UInt16, srtpMasterKey: [UInt8], srtpMasterSalt: [UInt8]
    ) {
        self.mediaKind = mediaKind
        self.ssrc = ssrc
        self.keyID = keyID
        self.sframeCipherSuite = sframeCipherSuite
        self.sframeBaseKey = sframeBaseKey
        self.srtpProtectionProfile = srtpProtectionProfile
        self.srtpMasterKey = srtpMasterKey
        self.srtpMasterSalt = srtpMasterSalt
    }

    /// Parses an announcement from a session message body.
    ///
    /// - Throws: `CryptoError.malformed` naming the field, for an unknown version or media kind, an
    ///   empty key, or lengths that disagree with the bytes.
    public init(parsing bytes: ArraySlice<UInt8>) throws(CryptoError) {
        do {
            var reader = ByteReader(bytes)
            let version = try reader.readUInt8("announcement version")
            guard version == Self.version else {
                throw WireError.invalidValue(field: "announcement version", reason: "must be 1, got \(version)")
            }
            let kind = try reader.readUInt8("media kind")
            guard let mediaKind = MediaKind(rawValue: kind) else {
                throw WireError.invalidValue(field: "media kind", reason: "unknown kind \(kind)")
            }
            self.mediaKind = mediaKind
            sframeCipherSuite = try reader.readUInt16("SFrame cipher suite")
            ssrc = SSRC(try reader.readUInt32("SSRC"))
            keyID = try reader.readUInt64("KID")
            srtpProtectionProfile = try reader.readUInt16("SRTP protection profile")
            let baseKeyLength = Int(try reader.readUInt8("base key length"))
            let srtpKeyLength = Int(try reader.readUInt8("SRTP key length"))
            let srtpSaltLength = Int(try reader.readUInt8("SRTP salt length"))
            for (field, length) in [("base key length", baseKeyLength), ("SRTP key length", srtpKeyLength)] where length == 0 {
                throw WireError.invalidValue(field: field, reason: "must not be 0")
            }
            sframeBaseKey = Array(try reader.readBytes(baseKeyLength, "SFrame base key"))
            srtpMasterKey = Array(try reader.readBytes(srtpKeyLength, "SRTP master key"))
            srtpMasterSalt = Array(try reader.readBytes(srtpSaltLength, "SRTP master salt"))
            guard reader.isAtEnd else {
                throw WireError.lengthMismatch(
                    field: "sender key announcement", declared: bytes.count - reader.remaining, actual: bytes.count)
            }
            try validateForVersion1()
        } catch let error as WireError {
            throw .malformed(error)
        } catch {
            throw .malformed(.invalidValue(field: "sender key announcement", reason: "\(error)"))
        }
    }

    /// What version 1 allows (Protocols/peer/v1.md §2): SFrame suite 4, a 32-byte base key, a supported
    /// SRTP profile with exactly its key and salt lengths.
    private func validateForVersion1() throws(WireError) {
        guard sframeCipherSuite == SuiteIdentifier.sframeAES128GCM else {
            throw .invalidValue(field: "SFrame cipher suite", reason: "version 1 uses suite 4, got \(sframeCipherSuite)")
        }
        guard sframeBaseKey.count == 32 else {
            throw .invalidValue(field: "base key length", reason: "must be 32, got \(sframeBaseKey.count)")
        }
        guard let (keyLength, saltLength) = SuiteIdentifier.srtpKeyAndSaltLength(ofProfile: srtpProtectionProfile) else {
            throw .invalidValue(field: "SRTP protection profile", reason: "unsupported profile \(srtpProtectionProfile)")
        }
        guard srtpMasterKey.count == keyLength, srtpMasterSalt.count == saltLength else {
            throw .invalidValue(
                field: "SRTP key length",
                reason: "profile \(srtpProtectionProfile) needs a \(keyLength)-byte key and \(saltLength)-byte salt")
        }
    }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int {
        21 + sframeBaseKey.count + srtpMasterKey.count + srtpMasterSalt.count
    }

    /// The announcement as a session message body.
    ///
    /// - Precondition: each key or salt is 1…255 bytes (keys are made by `SenderKeySchedule`).
    public func serialize() -> [UInt8] {
        precondition((1...255).contains(sframeBaseKey.count) && (1...255).contains(srtpMasterKey.count)
            && srtpMasterSalt.count <= 255, "key lengths must fit one byte")
        var writer = ByteWriter(capacity: serializedSize)
        writer.writeUInt8(Self.version)
        writer.writeUInt8(mediaKind.rawValue)
        writer.writeUInt16(sframeCipherSuite)
        writer.writeUInt32(ssrc.rawValue)
        writer.writeUInt64(keyID)
        writer.writeUInt16(srtpProtectionProfile)
        writer.writeUInt8(UInt8(sframeBaseKey.count))
        writer.writeUInt8(UInt8(srtpMasterKey.count))
        writer.writeUInt8(UInt8(srtpMasterSalt.count))
        writer.writeBytes(sframeBaseKey)
        writer.writeBytes(srtpMasterKey)
        writer.writeBytes(srtpMasterSalt)
        return writer.bytes
    }
}

extension SenderKeyAnnouncement: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The announcement without its keys, so logs never hold key material.
    public var description: String {
        "SenderKeyAnnouncement(\(mediaKind) \(ssrc), KID \(keyID), SFrame suite \(sframeCipherSuite), "
            + "SRTP profile \(srtpProtectionProfile), keys redacted)"
    }

    /// The same as `description`: keys are never printed.
    public var debugDescription: String { description }

    /// A mirror without the keys, so `dump` and interpolation of containing values stay key-free.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "mediaKind": mediaKind, "ssrc": ssrc, "keyID": keyID, "sframeCipherSuite": sframeCipherSuite,
                "srtpProtectionProfile": srtpProtectionProfile,
            ], displayStyle: .struct)
    }
}

/// IANA identifiers of the suites Parley uses.
public enum SuiteIdentifier {
    /// SFrame AES_128_GCM_SHA256_128 (RFC 9605 §8.1), Parley's default.
    public static let sframeAES128GCM: UInt16 = 0x0004
    /// SRTP AEAD_AES_128_GCM (RFC 7714 §14.2), Parley's default: 16-byte key, 12-byte salt.
    public static let srtpAEADAES128GCM: UInt16 = 0x0007
    /// SRTP AES_CM_128_HMAC_SHA1_80 (RFC 5764 §4.1.2): 16-byte key, 14-byte salt.
    public static let srtpAESCM128HMACSHA1_80: UInt16 = 0x0001

    /// SRTP master key and salt lengths of a protection profile, or `nil` if Parley does not support it.
    public static func srtpKeyAndSaltLength(ofProfile profile: UInt16) -> (key: Int, salt: Int)? {
        switch profile {
        case 0x0001, 0x0002: (16, 14)
        case 0x0007: (16, 12)
        case 0x0008: (32, 12)
        default: nil
        }
    }
}

/// The sending side of sender keys: makes, announces and rotates the keys of each outgoing stream.
///
/// Sans-IO: `now` is an input; rotation is due at `nextDeadline`. A new key is announced first and used
/// only once the peer acknowledged it (`acknowledge(ssrc:keyID:)`), so the receiver always has the key
/// before the first frame it protects; until then the previous key stays in use. KIDs come from one
/// counter per sender and are never reused, and every KID has a fresh random base key, so
/// (key, KID, CTR) never repeats. A stream's SRTP key stays for the stream's lifetime (libsrtp's own
/// limit is 2^48 packets).
public struct SenderKeySchedule: Sendable {
    /// When keys rotate.
    public struct Configuration: Equatable, Sendable {
        /// A stream's SFrame key is replaced after this long.
        public var rotationInterval: Duration
        /// IANA SFrame cipher suite for new keys.
        public var sframeCipherSuite: UInt16
        /// IANA SRTP protection profile for new streams.
        public var srtpProtectionProfile: UInt16
        /// A key whose next SFrame CTR reaches this is rotated, long before CTRs could run out.
        public var rotationCounterThreshold: UInt64

        /// Rotation every 10 minutes or at CTR 2^48, AES-128-GCM for both layers.
        public init(
            rotationInterval: Duration = .seconds(600), sframeCipherSuite: UInt16 = SuiteIdentifier.sframeAES128GCM,
            srtpProtectionProfile: UInt16 = SuiteIdentifier.srtpAEADAES128GCM, rotationCounterThreshold: UInt64 = 1 << 48
        ) {
            self.rotationInterval = rotationInterval
            self.sframeCipherSuite = sframeCipherSuite
            self.srtpProtectionProfile = srtpProtectionProfile
            self.rotationCounterThreshold = rotationCounterThreshold
        }
    }

    /// The keys of one outgoing stream.
    public struct Stream: Equatable, Sendable {
        /// The key in use for protecting frames.
        public var active: SenderKeyAnnouncement
        /// A newer key announced but not yet acknowledged.
        public var pending: SenderKeyAnnouncement?
        /// When `active` became active, for the rotation timer.
        public var activatedAt: MonotonicInstant
    }

    /// The settings.
    public let configuration: Configuration
    /// The streams by SSRC.
    public private(set) var streams: [SSRC: Stream] = [:]
    private var nextKeyID: UInt64 = 0

    /// A schedule with `configuration`.
    ///
    /// - Throws: `CryptoError.invalidKey` for an SRTP profile Parley does not support.
    public init(configuration: Configuration = .init()) throws(CryptoError) {
        guard SuiteIdentifier.srtpKeyAndSaltLength(ofProfile: configuration.srtpProtectionProfile) != nil else {
            throw .invalidKey(what: "SRTP protection profile", reason: "unsupported profile \(configuration.srtpProtectionProfile)")
        }
        self.configuration = configuration
    }

    /// Starts an outgoing stream: makes its keys and returns the announcement to send (and to use at once:
    /// no media flows on the stream before the peer has it, so nothing needs to wait).
    ///
    /// - Throws: `CryptoError.invalidState` if the SSRC already has keys; `.keyExhausted` if KIDs ran out.
    public mutating func startStream(ssrc: SSRC, mediaKind: MediaKind, now: MonotonicInstant) throws(CryptoError) -> SenderKeyAnnouncement {
        guard streams[ssrc] == nil else {
            throw .invalidState(what: "sender keys", reason: "stream \(ssrc) already started")
        }
        let (keyLength, saltLength) = SuiteIdentifier.srtpKeyAndSaltLength(ofProfile: configuration.srtpProtectionProfile)!
        let announcement = SenderKeyAnnouncement(
            mediaKind: mediaKind, ssrc: ssrc, keyID: try takeKeyID(), sframeCipherSuite: configuration.sframeCipherSuite,
            sframeBaseKey: Self.randomBytes(32), srtpProtectionProfile: configuration.srtpProtectionProfile,
            srtpMasterKey: Self.randomBytes(keyLength), srtpMasterSalt: Self.randomBytes(saltLength))
        streams[ssrc] = Stream(active: announcement, pending: nil, activatedAt: now)
        return announcement
    }

    /// Announces a new SFrame key for `ssrc` (on the timer, on demand, or when the active key's CTR
    /// runs out); returns the announcement to send, or `nil` if one is already pending.
    public mutating func rotate(ssrc: SSRC) throws(CryptoError) -> SenderKeyAnnouncement? {
        guard var stream = streams[ssrc] else {
            throw .invalidState(what: "sender keys", reason: "no stream \(ssrc)")
        }
        guard stream.pending == nil else { return nil }
        var next = stream.active
        next.keyID = try takeKeyID()
        next.sframeBaseKey = Self.randomBytes(32)
        next.sframeCipherSuite = configuration.sframeCipherSuite
        stream.pending = next
        streams[ssrc] = stream
        return next
    }

    /// The peer acknowledged `keyID` for `ssrc`: if it is the pending key, it becomes active and is
    /// returned (the caller switches its SFrame context to it); otherwise `nil`.
    public mutating func acknowledge(ssrc: SSRC, keyID: UInt64, now: MonotonicInstant) -> SenderKeyAnnouncement? {
        guard var stream = streams[ssrc], let pending = stream.pending, pending.keyID == keyID else { return nil }
        stream.active = pending
        stream.pending = nil
        stream.activatedAt = now
        streams[ssrc] = stream
        return pending
    }

    /// The announcement of `ssrc` still waiting for its acknowledgement, to send again.
    public func pendingAnnouncement(of ssrc: SSRC) -> SenderKeyAnnouncement? {
        streams[ssrc]?.pending
    }

    /// Gives up a pending rotation of `ssrc` (the channel reported its delivery failed), so the next
    /// rotation announces a fresh key instead of waiting forever. The abandoned KID is never used.
    public mutating func abandonPending(ssrc: SSRC) {
        streams[ssrc]?.pending = nil
    }

    /// Streams whose key is due for rotation at `now` (and has no rotation pending): by age, or because
    /// the next SFrame CTR of their key (`counters[ssrc]`) reached `rotationCounterThreshold`.
    public func streamsDueForRotation(now: MonotonicInstant, counters: [SSRC: UInt64] = [:]) -> [SSRC] {
        streams.filter { ssrc, stream in
            guard stream.pending == nil else { return false }
            return now - stream.activatedAt >= configuration.rotationInterval
                || (counters[ssrc] ?? 0) >= configuration.rotationCounterThreshold
        }.keys.sorted()
    }

    /// When the next rotation falls due, if any stream exists.
    public var nextDeadline: MonotonicInstant? {
        // Asked after every input: a plain loop, no intermediate arrays.
        var soonest: MonotonicInstant?
        for stream in streams.values where stream.pending == nil {
            let due = stream.activatedAt + configuration.rotationInterval
            if soonest.map({ due < $0 }) ?? true { soonest = due }
        }
        return soonest
    }

    private mutating func takeKeyID() throws(CryptoError) -> UInt64 {
        guard nextKeyID < UInt64.max else { throw .keyExhausted(what: "sender KIDs") }
        defer { nextKeyID += 1 }
        return nextKeyID
    }

    /// `count` bytes from the system's cryptographically secure generator.
    static func randomBytes(_ count: Int) -> [UInt8] {
        SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { Array($0) }
    }
}

/// The receiving side of sender keys: the keys a peer announced, by SSRC and KID, with a bounded grace
/// period for keys that were replaced.
///
/// When a newer KID arrives for a stream, the older ones stay usable for `gracePeriod` (frames protected
/// with them may still be in flight or in the jitter buffer), then `expire(now:)` drops them. At most
/// `maximumKeysPerStream` keys are kept per stream (the oldest go first), so a peer cannot make the
/// receiver hold unbounded state.
public struct ReceiverKeyRing: Sendable {
    /// How long a replaced key stays usable.
    public let gracePeriod: Duration
    /// Keys kept per stream at most.
    public let maximumKeysPerStream: Int

    private struct Entry: Sendable {
        var announcement: SenderKeyAnnouncement
        var replacedAt: MonotonicInstant?
    }

    private var entries: [SSRC: [Entry]] = [:]
    /// Every KID this peer announced, with its stream: a KID belongs to one stream for the whole call.
    private var streamOfKeyID: [UInt64: SSRC] = [:]

    /// A ring keeping replaced keys for `gracePeriod` (default 5 s), at most `maximumKeysPerStream` per stream.
    public init(gracePeriod: Duration = .seconds(5), maximumKeysPerStream: Int = 4) {
        precondition(maximumKeysPerStream >= 2, "a ring must hold a key and its successor")
        self.gracePeriod = gracePeriod
        self.maximumKeysPerStream = maximumKeysPerStream
    }

    /// Installs an announced key; keys the stream had before enter their grace period. Announcing a KID
    /// again (a retransmission) changes nothing.
    ///
    /// - Returns: KIDs dropped because the stream now holds more than `maximumKeysPerStream` keys: the
    ///   caller removes them from its SFrame receiver, as for `expire(now:)`.
    /// - Throws: `CryptoError.rejected` if the KID was used on another stream or re-announced with other
    ///   keys, the stream changes media kind or SRTP key, or the KID is older than the stream's newest.
    @discardableResult
    public mutating func install(_ announcement: SenderKeyAnnouncement, now: MonotonicInstant) throws(CryptoError) -> [UInt64] {
        if let owner = streamOfKeyID[announcement.keyID], owner != announcement.ssrc {
            throw .rejected(reason: "KID \(announcement.keyID) already belongs to stream \(owner)")
        }
        var list = entries[announcement.ssrc] ?? []
        if let existing = list.first(where: { $0.announcement.keyID == announcement.keyID }) {
            guard existing.announcement == announcement else {
                throw .rejected(reason: "KID \(announcement.keyID) re-announced with different keys")
            }
            return []
        }
        if streamOfKeyID[announcement.keyID] != nil {
            throw .rejected(reason: "KID \(announcement.keyID) was already used and forgotten")
        }
        if let newest = list.last?.announcement {
            guard announcement.keyID > newest.keyID else {
                throw .rejected(reason: "KID \(announcement.keyID) is older than \(newest.keyID)")
            }
            guard announcement.mediaKind == newest.mediaKind, announcement.srtpMasterKey == newest.srtpMasterKey,
                announcement.srtpMasterSalt == newest.srtpMasterSalt,
                announcement.srtpProtectionProfile == newest.srtpProtectionProfile
            else {
                throw .rejected(reason: "stream \(announcement.ssrc) changed its media kind or SRTP key")
            }
        }
        for index in list.indices where list[index].replacedAt == nil {
            list[index].replacedAt = now
        }
        list.append(Entry(announcement: announcement, replacedAt: nil))
        streamOfKeyID[announcement.keyID] = announcement.ssrc
        var evicted: [UInt64] = []
        if list.count > maximumKeysPerStream {
            evicted = list.prefix(list.count - maximumKeysPerStream).map(\.announcement.keyID)
            list.removeFirst(list.count - maximumKeysPerStream)
        }
        entries[announcement.ssrc] = list
        return evicted
    }

    /// The key announced for `keyID` on stream `ssrc`, if it is still usable. A frame whose KID belongs
    /// to another stream gets `nil`: frames cannot be moved between streams.
    public func key(forKeyID keyID: UInt64, ssrc: SSRC) -> SenderKeyAnnouncement? {
        entries[ssrc]?.first { $0.announcement.keyID == keyID }?.announcement
    }

    /// The key announced for `keyID` on any stream of this peer, if it is still usable.
    public func key(forKeyID keyID: UInt64) -> SenderKeyAnnouncement? {
        guard let ssrc = streamOfKeyID[keyID] else { return nil }
        return key(forKeyID: keyID, ssrc: ssrc)
    }

    /// The newest key of `ssrc`.
    public func currentKey(of ssrc: SSRC) -> SenderKeyAnnouncement? {
        entries[ssrc]?.last?.announcement
    }

    /// Drops keys whose grace period ended; returns their KIDs (the caller removes them from SFrame).
    public mutating func expire(now: MonotonicInstant) -> [UInt64] {
        var expired: [UInt64] = []
        for (ssrc, list) in entries {
            let kept = list.filter { entry in
                guard let replacedAt = entry.replacedAt, now - replacedAt >= gracePeriod else { return true }
                expired.append(entry.announcement.keyID)
                return false
            }
            entries[ssrc] = kept
        }
        return expired.sorted()
    }

    /// When the next replaced key expires, if any.
    public var nextDeadline: MonotonicInstant? {
        var oldest: MonotonicInstant?
        for list in entries.values {
            for entry in list {
                guard let replaced = entry.replacedAt else { continue }
                if oldest.map({ replaced < $0 }) ?? true { oldest = replaced }
            }
        }
        return oldest.map { $0 + gracePeriod }
    }
}
