/// An SRTP protection profile: the cipher, the authentication and the sizes they imply.
///
/// | suite                     | master key | master salt | RTP trailer | SRTCP trailer       |
/// |---------------------------|-----------:|------------:|------------:|---------------------|
/// | `AEAD_AES_128_GCM`        | 16         | 12          | 16 (tag)    | 16 (tag) + 4 (E‖index) |
/// | `AEAD_AES_256_GCM`        | 32         | 12          | 16 (tag)    | 16 (tag) + 4 (E‖index) |
/// | `AES_CM_128_HMAC_SHA1_80` | 16         | 14          | 10 (tag)    | 4 (E‖index) + 10 (tag) |
/// | `AES_CM_128_HMAC_SHA1_32` | 16         | 14          | 4 (tag)     | 4 (E‖index) + 10 (tag) |
///
/// GCM suites follow RFC 7714 (the RTP header, or the first 8 SRTCP bytes plus the E‖index word, is
/// the associated data; the tag follows the ciphertext; the SRTCP E‖index word comes last). The
/// AES-CM suites follow RFC 3711 (HMAC-SHA1 over the packet and the ROC, truncated; SRTCP always uses
/// the 80-bit tag, RFC 3711 §5.2 and RFC 4568 §6.2.1). Session keys come from the master key and salt
/// through the RFC 3711 §4.3 AES-CM key derivation (key derivation rate 0), done by libsrtp.
public enum SRTPSuite: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// RFC 7714 AES-128-GCM with a 16-byte tag: Parley's default.
    case aeadAES128GCM = "AEAD_AES_128_GCM"
    /// RFC 7714 AES-256-GCM with a 16-byte tag.
    case aeadAES256GCM = "AEAD_AES_256_GCM"
    /// RFC 3711 AES-128 counter mode with an 80-bit HMAC-SHA1 tag.
    case aesCM128HMACSHA1_80 = "AES_CM_128_HMAC_SHA1_80"
    /// RFC 3711 AES-128 counter mode with a 32-bit HMAC-SHA1 tag on RTP (80-bit on SRTCP).
    case aesCM128HMACSHA1_32 = "AES_CM_128_HMAC_SHA1_32"

    /// The suite Parley uses unless told otherwise.
    public static let `default`: SRTPSuite = .aeadAES128GCM

    /// The suite of an IANA DTLS-SRTP protection profile (RFC 5764 §4.1.2, RFC 7714 §14.2), as sender
    /// key announcements carry it; `nil` for a profile Parley does not support.
    public init?(protectionProfile: UInt16) {
        switch protectionProfile {
        case 0x0001: self = .aesCM128HMACSHA1_80
        case 0x0002: self = .aesCM128HMACSHA1_32
        case 0x0007: self = .aeadAES128GCM
        case 0x0008: self = .aeadAES256GCM
        default: return nil
        }
    }

    /// The IANA DTLS-SRTP protection profile of this suite.
    public var protectionProfile: UInt16 {
        switch self {
        case .aesCM128HMACSHA1_80: 0x0001
        case .aesCM128HMACSHA1_32: 0x0002
        case .aeadAES128GCM: 0x0007
        case .aeadAES256GCM: 0x0008
        }
    }

    /// Bytes of master key.
    public var masterKeyLength: Int {
        switch self {
        case .aeadAES256GCM: 32
        case .aeadAES128GCM, .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32: 16
        }
    }

    /// Bytes of master salt.
    public var masterSaltLength: Int {
        switch self {
        case .aeadAES128GCM, .aeadAES256GCM: 12
        case .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32: 14
        }
    }

    /// Bytes of authentication tag on an SRTP packet.
    public var rtpTagLength: Int {
        switch self {
        case .aeadAES128GCM, .aeadAES256GCM: 16
        case .aesCM128HMACSHA1_80: 10
        case .aesCM128HMACSHA1_32: 4
        }
    }

    /// Bytes of authentication tag on an SRTCP packet.
    public var rtcpTagLength: Int {
        switch self {
        case .aeadAES128GCM, .aeadAES256GCM: 16
        case .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32: 10
        }
    }

    /// Bytes `SRTPContext.protect(rtp:)` adds to an RTP packet (no MKI is used).
    public var rtpOverhead: Int { rtpTagLength }

    /// Bytes `SRTPContext.protectRTCP(_:)` adds to an RTCP packet: the tag and the 4-byte E‖SRTCP-index word.
    public var rtcpOverhead: Int { rtcpTagLength + 4 }

    /// Whether the suite is an AEAD (GCM) suite.
    public var isAEAD: Bool {
        switch self {
        case .aeadAES128GCM, .aeadAES256GCM: true
        case .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32: false
        }
    }

    /// The name used in SDP and RFC 7714 / RFC 4568, e.g. `AEAD_AES_128_GCM`.
    public var description: String { rawValue }
}
