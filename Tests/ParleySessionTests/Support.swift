import ParleyCrypto

/// The handshake's payload limits, in one place for the tests.
enum HandshakeLimits {
    static let maximumOfferSize = HandshakeInitiation.maximumOfferSize
    static let maximumAnswerSize = HandshakeResponse.maximumAnswerSize
}
