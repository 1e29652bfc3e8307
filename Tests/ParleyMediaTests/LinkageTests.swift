import CParleyShims
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Every C library Parley binds links and answers a real call.
@Suite struct LinkageTests {
    @Test func allFiveLibrariesLinkAndReportThemselves() {
        #expect(String(cString: opus_get_version_string()).hasPrefix("libopus 1."))
        #expect(String(cString: vpx_codec_version_str()).hasPrefix("v1."))
        #expect(String(cString: srtp_get_version_string()).contains("libsrtp2"))
        #expect(String(cString: pa_get_library_version()).first?.isNumber == true)
        // libv4l2 has no version call; opening a missing device through it fails cleanly with ENOENT.
        let descriptor = parley_v4l2_open("/dev/parley-no-such-camera", O_RDWR)
        let error = errno
        #expect(descriptor == -1)
        #expect(error == ENOENT)
    }

    @Test func srtpPolicyWrappersSetTheSuites() {
        var policy = srtp_crypto_policy_t()
        parley_srtp_policy_aead_aes_128_gcm(&policy)
        #expect(policy.cipher_type == SRTP_AES_GCM_128)
        #expect(policy.auth_tag_len == 16)
        parley_srtp_policy_aes_cm_128_hmac_sha1_80(&policy)
        #expect(policy.cipher_type == SRTP_AES_ICM_128)
        #expect(policy.auth_tag_len == 10)
    }
}
