internal import CParleyShims
internal import CSRTP
public import ParleyRTP
public import ParleyWire

/// One direction of SRTP/SRTCP protection (RFC 3711, RFC 7714) over libsrtp2.
///
/// A call has one context per direction and per sender key: the outbound context protects what this
/// engine sends under its own master key; an inbound context unprotects what one peer sends under the
/// key that peer announced. The context is made once (libsrtp derives the session keys then, RFC 3711
/// §4.3 with key derivation rate 0) and keeps per-SSRC state: the rollover counter (ROC) that extends
/// 16-bit sequence numbers across wraps, and the replay window.
///
/// Each call copies the packet once into its output (with room for the trailer, since libsrtp works
/// in place) and allocates nothing else; the `inPlace` variants allocate nothing when the buffer has
/// room. Wire input never traps: sizes and the RTP/RTCP header are checked before libsrtp sees the
/// bytes, and every failure is a typed `SRTPError`, counted in `statistics`.
///
/// Not thread-safe: a context belongs to one actor (or one thread) at a time, which is why it is a
/// class that is not `Sendable`.
public final class SRTPContext {
    /// Which way a context's packets travel.
    public enum Direction: Sendable, Hashable {
        /// Packets this engine sends: `protect(rtp:)` and `protectRTCP(_:)`.
        case outbound
        /// Packets this engine receives: `unprotect(srtp:)` and `unprotectRTCP(_:)`.
        case inbound
    }

    /// The RTP streams (SSRCs) a context serves.
    public enum Streams: Sendable, Hashable {
        /// Any SSRC: libsrtp makes the state for a new SSRC the first time one protects, or the first time
        /// one authenticates on receive (a forged packet never creates state).
        case any
        /// Only these SSRCs; others fail with `SRTPError.unknownSSRC`.
        case only([SSRC])
    }

    /// What a context has done, counted per outcome. Receive failures are counted by kind so forged,
    /// replayed and damaged traffic can be told apart in stats.
    public struct Statistics: Equatable, Sendable {
        /// RTP and RTCP packets protected.
        public var protected = 0
        /// RTP and RTCP packets unprotected (authenticated and decrypted).
        public var unprotected = 0
        /// Packets whose tag did not verify (altered, or from another key).
        public var authenticationFailures = 0
        /// Packets refused as replays (index seen before, or older than the window). libsrtp checks the
        /// index before the tag, so a forgery that reuses an old index is counted here too.
        public var replays = 0
        /// Packets refused before libsrtp saw them (too short, wrong version…) or that libsrtp could not parse.
        public var malformed = 0
        /// Packets for an SSRC the context does not serve.
        public var unknownSSRC = 0
        /// Every other failure (a reused index on protect, key exhaustion, internal libsrtp errors).
        public var otherFailures = 0

        /// Statistics with every count at zero.
        public init() {}

        /// Every failure counted.
        public var failures: Int { authenticationFailures + replays + malformed + unknownSSRC + otherFailures }
    }

    /// The largest packet a context accepts, protected or not (RTP over UDP never comes near it).
    public static let maximumPacketSize = 65_535

    /// The default replay window, in packets: wide enough for video reordering (libwebrtc uses the same).
    public static let defaultReplayWindow = 1_024

    /// The replay windows libsrtp accepts.
    public static let replayWindowRange = 64...32_767

    /// The way this context's packets travel.
    public let direction: Direction
    /// The protection profile.
    public let suite: SRTPSuite
    /// The streams this context serves.
    public let streams: Streams
    /// Counts of what this context has done.
    public private(set) var statistics = Statistics()

    /// The libsrtp session; assigned last in `init`, so a failing `init` never reaches `deinit`.
    private let session: OpaquePointer

    /// Room libsrtp may write after an RTP packet (SRTP_MAX_TRAILER_LEN: tag plus the largest MKI).
    private static let rtpTrailerRoom = Int(SRTP_MAX_TAG_LEN) + Int(SRTP_MAX_MKI_LEN)
    /// Room libsrtp may write after an RTCP packet: the same plus the 4-byte E‖index word.
    private static let rtcpTrailerRoom = rtpTrailerRoom + 4

    /// A context for `direction` under `suite`, keyed by `masterKey` and `masterSalt`.
    ///
    /// - Parameters:
    ///   - masterKey: `suite.masterKeyLength` bytes (16, or 32 for AEAD_AES_256_GCM).
    ///   - masterSalt: `suite.masterSaltLength` bytes (12 for GCM, 14 for AES-CM).
    ///   - streams: the SSRCs served; `.any` by default.
    ///   - replayWindow: packets behind the newest that may still arrive (RTP; libsrtp's SRTCP window is
    ///     fixed at 128). Only used inbound; within `replayWindowRange`.
    /// - Throws: `SRTPError.invalidConfiguration` for wrong lengths, an empty SSRC list or a window out of
    ///   range; `SRTPError.libsrtp` if libsrtp refuses.
    public init(
        direction: Direction, suite: SRTPSuite = .default, masterKey: [UInt8], masterSalt: [UInt8],
        streams: Streams = .any, replayWindow: Int = SRTPContext.defaultReplayWindow
    ) throws(SRTPError) {
        guard masterKey.count == suite.masterKeyLength else {
            throw .invalidConfiguration(
                field: "masterKey", reason: "\(suite) needs \(suite.masterKeyLength) bytes, got \(masterKey.count)")
        }
        guard masterSalt.count == suite.masterSaltLength else {
            throw .invalidConfiguration(
                field: "masterSalt", reason: "\(suite) needs \(suite.masterSaltLength) bytes, got \(masterSalt.count)")
        }
        guard Self.replayWindowRange.contains(replayWindow) else {
            throw .invalidConfiguration(
                field: "replayWindow", reason: "must be in \(Self.replayWindowRange), got \(replayWindow)")
        }
        var ssrcs: [SSRC] = []
        if case .only(let list) = streams {
            var seen = Set<SSRC>()
            ssrcs = list.filter { seen.insert($0).inserted }
            guard !ssrcs.isEmpty else {
                throw .invalidConfiguration(field: "streams", reason: "the SSRC list is empty")
            }
        }
        try Libsrtp.initialize()
        self.direction = direction
        self.suite = suite
        self.streams = ssrcs.isEmpty ? .any : .only(ssrcs)
        session = try Libsrtp.createSession(
            suite: suite, keyAndSalt: masterKey + masterSalt, direction: direction, ssrcs: ssrcs,
            replayWindow: replayWindow)
    }

    deinit {
        srtp_dealloc(session)
    }

    // MARK: - RTP

    /// `packet` (a whole RTP packet) protected as SRTP: the payload encrypted and the tag appended.
    ///
    /// - Throws: `SRTPError.malformed` if it is not an RTP packet, `.unknownSSRC`, `.alreadyProtected`
    ///   if its index was protected before, `.keyExhausted`, `.libsrtp`.
    public func protect(rtp packet: ArraySlice<UInt8>) throws(SRTPError) -> [UInt8] {
        requireDirection(.outbound, "protect(rtp:)")
        try check(PacketChecks.rtpHeaderLength(packet))
        return try transform(packet, room: Self.rtpTrailerRoom, .protectRTP)
    }

    /// `packet` (a whole RTP packet) protected as SRTP.
    public func protect(rtp packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try protect(rtp: packet[...])
    }

    /// `packet` serialized and protected as SRTP, in one buffer.
    public func protect(_ packet: RTPPacket) throws(SRTPError) -> [UInt8] {
        var bytes = Self.serialized(size: packet.serializedSize, room: Self.rtpTrailerRoom) { packet.serialize(into: &$0) }
        try protect(rtpInPlace: &bytes)
        return bytes
    }

    /// Protects the RTP packet in `packet` in place, growing it by the suite's trailer. No allocation
    /// when its capacity has `SRTP_MAX_TRAILER_LEN` (144) bytes to spare. On failure the bytes may have
    /// changed; the length has not.
    public func protect(rtpInPlace packet: inout [UInt8]) throws(SRTPError) {
        requireDirection(.outbound, "protect(rtpInPlace:)")
        try check(PacketChecks.rtpHeaderLength(packet[...]))
        try transformInPlace(&packet, room: Self.rtpTrailerRoom, .protectRTP)
    }

    /// The RTP packet inside the SRTP packet `packet`: authenticated, checked against replay, decrypted.
    ///
    /// - Throws: `SRTPError.malformed`, `.authenticationFailed`, `.replayed`, `.unknownSSRC`, `.libsrtp`;
    ///   each is counted in `statistics`.
    public func unprotect(srtp packet: ArraySlice<UInt8>) throws(SRTPError) -> [UInt8] {
        requireDirection(.inbound, "unprotect(srtp:)")
        try check(PacketChecks.srtpLength(packet, tagLength: suite.rtpTagLength))
        return try transform(packet, room: 0, .unprotectRTP)
    }

    /// The RTP packet inside the SRTP packet `packet`.
    public func unprotect(srtp packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try unprotect(srtp: packet[...])
    }

    /// Unprotects the SRTP packet in `packet` in place, shrinking it to the RTP packet. Never allocates
    /// when `packet` is uniquely referenced. On failure the bytes may have changed; the length has not.
    public func unprotect(srtpInPlace packet: inout [UInt8]) throws(SRTPError) {
        requireDirection(.inbound, "unprotect(srtpInPlace:)")
        try check(PacketChecks.srtpLength(packet[...], tagLength: suite.rtpTagLength))
        try transformInPlace(&packet, room: 0, .unprotectRTP)
    }

    // MARK: - RTCP

    /// `packet` (a whole RTCP compound packet) protected as SRTCP: encrypted after the first 8 bytes,
    /// with the E‖SRTCP-index word and the tag appended.
    public func protectRTCP(_ packet: ArraySlice<UInt8>) throws(SRTPError) -> [UInt8] {
        requireDirection(.outbound, "protectRTCP(_:)")
        try check(PacketChecks.rtcpHeader(packet, trailerLength: 0))
        return try transform(packet, room: Self.rtcpTrailerRoom, .protectRTCP)
    }

    /// `packet` (a whole RTCP compound packet) protected as SRTCP.
    public func protectRTCP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try protectRTCP(packet[...])
    }

    /// `compound` serialized and protected as SRTCP, in one buffer.
    public func protectRTCP(_ compound: RTCPCompoundPacket) throws(SRTPError) -> [UInt8] {
        var bytes = Self.serialized(size: compound.serializedSize, room: Self.rtcpTrailerRoom) {
            compound.serialize(into: &$0)
        }
        try protectRTCP(inPlace: &bytes)
        return bytes
    }

    /// Protects the RTCP packet in `packet` in place, growing it by the SRTCP trailer.
    public func protectRTCP(inPlace packet: inout [UInt8]) throws(SRTPError) {
        requireDirection(.outbound, "protectRTCP(inPlace:)")
        try check(PacketChecks.rtcpHeader(packet[...], trailerLength: 0))
        try transformInPlace(&packet, room: Self.rtcpTrailerRoom, .protectRTCP)
    }

    /// The RTCP compound packet inside the SRTCP packet `packet`.
    ///
    /// - Throws: as `unprotect(srtp:)`.
    public func unprotectRTCP(_ packet: ArraySlice<UInt8>) throws(SRTPError) -> [UInt8] {
        requireDirection(.inbound, "unprotectRTCP(_:)")
        try check(PacketChecks.rtcpHeader(packet, trailerLength: 4 + suite.rtcpTagLength))
        return try transform(packet, room: 0, .unprotectRTCP)
    }

    /// The RTCP compound packet inside the SRTCP packet `packet`.
    public func unprotectRTCP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try unprotectRTCP(packet[...])
    }

    /// Unprotects the SRTCP packet in `packet` in place, shrinking it to the RTCP packet.
    public func unprotectRTCP(inPlace packet: inout [UInt8]) throws(SRTPError) {
        requireDirection(.inbound, "unprotectRTCP(inPlace:)")
        try check(PacketChecks.rtcpHeader(packet[...], trailerLength: 4 + suite.rtcpTagLength))
        try transformInPlace(&packet, room: 0, .unprotectRTCP)
    }

    // MARK: - State

    /// The rollover counter of `ssrc`'s RTP stream (how many times its sequence number has wrapped), or
    /// nil if the context has no state for it yet.
    public func rolloverCounter(for ssrc: SSRC) -> UInt32? {
        var roc: UInt32 = 0
        guard srtp_get_stream_roc(session, ssrc.rawValue, &roc) == srtp_err_status_ok else { return nil }
        return roc
    }

    // MARK: - Internals

    private func requireDirection(_ expected: Direction, _ operation: StaticString) {
        precondition(direction == expected, "\(operation) called on an \(direction) SRTPContext")
    }

    /// Runs a header check, counting and wrapping its failure.
    private func check<T>(_ result: @autoclosure () throws(WireError) -> T) throws(SRTPError) {
        do {
            _ = try result()
        } catch {
            statistics.malformed += 1
            throw .malformed(error)
        }
    }

    /// A buffer holding what `write` serializes, with `room` spare capacity for the trailer.
    private static func serialized(size: Int, room: Int, _ write: (inout ByteWriter) -> Void) -> [UInt8] {
        var writer = ByteWriter(capacity: size + room)
        write(&writer)
        return writer.bytes
    }

    /// Copies `input` into a new buffer with `room` bytes to spare and runs `operation` on it.
    private func transform(_ input: ArraySlice<UInt8>, room: Int, _ operation: Operation) throws(SRTPError) -> [UInt8] {
        try checkSize(input.count)
        var status = srtp_err_status_ok
        let output = [UInt8](unsafeUninitializedCapacity: input.count + room) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            input.withUnsafeBufferPointer { source in
                if let sourceBase = source.baseAddress {
                    base.initialize(from: sourceBase, count: source.count)
                }
            }
            var length = Int32(input.count)
            status = operation.run(session, base, &length)
            initialized = status == srtp_err_status_ok ? Int(length) : 0
        }
        try finish(status, operation, ssrcFrom: input)
        return output
    }

    /// Runs `operation` on `packet` where it lies, first growing it by `room` bytes.
    private func transformInPlace(_ packet: inout [UInt8], room: Int, _ operation: Operation) throws(SRTPError) {
        try checkSize(packet.count)
        let original = packet.count
        if room > 0 {
            packet.append(contentsOf: repeatElement(0, count: room))
        }
        var length = Int32(original)
        let status = packet.withUnsafeMutableBufferPointer { buffer in
            operation.run(session, buffer.baseAddress!, &length)
        }
        let kept = status == srtp_err_status_ok ? Int(length) : original
        packet.removeLast(packet.count - kept)
        try finish(status, operation, ssrcFrom: packet[...])
    }

    private func checkSize(_ count: Int) throws(SRTPError) {
        guard count <= Self.maximumPacketSize else {
            statistics.malformed += 1
            throw .malformed(.lengthMismatch(field: "packet length", declared: Self.maximumPacketSize, actual: count))
        }
    }

    /// Counts the outcome of `operation`; throws its error if it failed.
    private func finish(_ status: srtp_err_status_t, _ operation: Operation, ssrcFrom packet: ArraySlice<UInt8>) throws(SRTPError) {
        if status == srtp_err_status_ok {
            if operation.isProtect {
                statistics.protected += 1
            } else {
                statistics.unprotected += 1
            }
            return
        }
        switch status {
        case srtp_err_status_auth_fail, srtp_err_status_cant_check:
            // cant_check: an AES-CM SRTCP packet whose E flag disagrees with the suite, which only an
            // altered or foreign packet has.
            statistics.authenticationFailures += 1
            throw .authenticationFailed
        case srtp_err_status_replay_fail, srtp_err_status_replay_old:
            if operation.isProtect {
                statistics.otherFailures += 1
                throw .alreadyProtected
            }
            statistics.replays += 1
            throw .replayed
        case srtp_err_status_no_ctx:
            statistics.unknownSSRC += 1
            throw .unknownSSRC(PacketChecks.ssrc(of: packet, rtcp: operation.isRTCP))
        case srtp_err_status_bad_param, srtp_err_status_parse_err:
            statistics.malformed += 1
            throw .malformed(.invalidValue(
                field: operation.isRTCP ? "SRTCP packet" : "SRTP packet",
                reason: "libsrtp could not parse it (status \(status.rawValue))"))
        case srtp_err_status_key_expired:
            statistics.otherFailures += 1
            throw .keyExhausted
        default:
            statistics.otherFailures += 1
            throw .libsrtp(operation: operation.name, status: Int32(bitPattern: UInt32(status.rawValue)))
        }
    }
}

/// The four libsrtp packet calls.
private enum Operation {
    case protectRTP, unprotectRTP, protectRTCP, unprotectRTCP

    var isProtect: Bool { self == .protectRTP || self == .protectRTCP }
    var isRTCP: Bool { self == .protectRTCP || self == .unprotectRTCP }

    var name: String {
        switch self {
        case .protectRTP: "srtp_protect"
        case .unprotectRTP: "srtp_unprotect"
        case .protectRTCP: "srtp_protect_rtcp"
        case .unprotectRTCP: "srtp_unprotect_rtcp"
        }
    }

    func run(_ session: OpaquePointer, _ buffer: UnsafeMutablePointer<UInt8>, _ length: inout Int32) -> srtp_err_status_t {
        switch self {
        case .protectRTP: srtp_protect(session, buffer, &length)
        case .unprotectRTP: srtp_unprotect(session, buffer, &length)
        case .protectRTCP: srtp_protect_rtcp(session, buffer, &length)
        case .unprotectRTCP: srtp_unprotect_rtcp(session, buffer, &length)
        }
    }
}
