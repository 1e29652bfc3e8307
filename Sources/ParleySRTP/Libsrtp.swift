internal import CParleyShims
internal import CSRTP
internal import ParleyWire
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// libsrtp's process-wide status after `srtp_init()`, which runs once, the first time any context is
/// made (a Swift global is initialised lazily and exactly once, whatever the thread).
private let libsrtpInitStatus: UInt32 = UInt32(srtp_init().rawValue)

/// The calls that set libsrtp up: process initialisation and session creation.
enum Libsrtp {
    /// Initialises libsrtp once per process; later calls only report the first result.
    ///
    /// If other code in the process called `srtp_init()` first, libsrtp 2.5 answers a second call with
    /// `bad_param` (its debug module is already registered) although the library is ready: that is
    /// accepted. Were libsrtp really unusable, `srtp_create` would fail next with its own status.
    static func initialize() throws(SRTPError) {
        guard libsrtpInitStatus == UInt32(srtp_err_status_ok.rawValue)
            || libsrtpInitStatus == UInt32(srtp_err_status_bad_param.rawValue)
        else {
            throw .libsrtp(operation: "srtp_init", status: Int32(bitPattern: libsrtpInitStatus))
        }
    }

    /// A libsrtp session with one policy per SSRC in `ssrcs` (or one wildcard policy when it is empty),
    /// all keyed by `keyAndSalt` (master key ‖ master salt).
    static func createSession(
        suite: SRTPSuite, keyAndSalt: [UInt8], direction: SRTPContext.Direction, ssrcs: [SSRC],
        replayWindow: Int
    ) throws(SRTPError) -> OpaquePointer {
        // libsrtp reads master key ‖ salt from one buffer and keeps no pointer to it after srtp_create.
        let key = UnsafeMutablePointer<UInt8>.allocate(capacity: Int(SRTP_MAX_KEY_LEN))
        key.initialize(repeating: 0, count: Int(SRTP_MAX_KEY_LEN))
        keyAndSalt.withUnsafeBufferPointer { key.update(from: $0.baseAddress!, count: $0.count) }
        defer {
            wipe(key, count: Int(SRTP_MAX_KEY_LEN))
            key.deallocate()
        }

        let count = max(ssrcs.count, 1)
        let policies = UnsafeMutablePointer<srtp_policy_t>.allocate(capacity: count)
        policies.initialize(repeating: srtp_policy_t(), count: count)
        defer {
            policies.deinitialize(count: count)
            policies.deallocate()
        }
        for index in 0..<count {
            setCryptoPolicies(suite, &policies[index])
            if ssrcs.isEmpty {
                policies[index].ssrc.type = direction == .outbound ? ssrc_any_outbound : ssrc_any_inbound
            } else {
                policies[index].ssrc.type = ssrc_specific
                policies[index].ssrc.value = ssrcs[index].rawValue
            }
            policies[index].key = key
            policies[index].window_size = UInt(replayWindow)
            // Never re-protect an index: with GCM that would reuse a nonce.
            policies[index].allow_repeat_tx = 0
            policies[index].next = index + 1 < count ? policies + index + 1 : nil
        }

        var session: OpaquePointer?
        let status = srtp_create(&session, policies)
        guard status == srtp_err_status_ok, let session else {
            throw .libsrtp(operation: "srtp_create", status: Int32(bitPattern: UInt32(status.rawValue)))
        }
        return session
    }

    /// Zeroes `count` bytes at `pointer` in a way the optimiser may not remove.
    private static func wipe(_ pointer: UnsafeMutablePointer<UInt8>, count: Int) {
        #if canImport(Glibc)
        explicit_bzero(pointer, count)
        #else
        _ = memset_s(pointer, count, 0, count)
        #endif
    }

    /// Sets the SRTP and SRTCP crypto policies of `suite` (libsrtp's macros, wrapped in CParleyShims).
    private static func setCryptoPolicies(_ suite: SRTPSuite, _ policy: inout srtp_policy_t) {
        switch suite {
        case .aeadAES128GCM:
            parley_srtp_policy_aead_aes_128_gcm(&policy.rtp)
            parley_srtp_policy_aead_aes_128_gcm(&policy.rtcp)
        case .aeadAES256GCM:
            parley_srtp_policy_aead_aes_256_gcm(&policy.rtp)
            parley_srtp_policy_aead_aes_256_gcm(&policy.rtcp)
        case .aesCM128HMACSHA1_80:
            parley_srtp_policy_aes_cm_128_hmac_sha1_80(&policy.rtp)
            parley_srtp_policy_aes_cm_128_hmac_sha1_80(&policy.rtcp)
        case .aesCM128HMACSHA1_32:
            // RFC 3711 §5.2 / RFC 4568 §6.2.1: the 32-bit tag is for RTP only; SRTCP keeps 80 bits.
            parley_srtp_policy_aes_cm_128_hmac_sha1_32(&policy.rtp)
            parley_srtp_policy_aes_cm_128_hmac_sha1_80(&policy.rtcp)
        }
    }
}
