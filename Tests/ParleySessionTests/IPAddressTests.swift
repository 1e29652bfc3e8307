import ParleySession
import Testing

@Suite struct IPAddressTests {
    /// RFC 5952 §4 text, as inet_ntop writes it.
    static let texts: [(IPAddress, String)] = [
        (.v4(0xC000_0207), "192.0.2.7"),  // a dotted quad
        (.anyV6, "::"),  // all zero: one run of eight
        (.loopbackV6, "::1"),  // a leading run
        (.v6(high: 0x0001_0000_0000_0000, low: 0), "1::"),  // a trailing run
        (.v6(high: 0x2001_0DB8_0000_0000, low: 1), "2001:db8::1"),  // leading zeros of a group dropped
        (.v6(high: 0x2001_0DB8_0000_0000, low: 0x0001_0000_0000_0001), "2001:db8::1:0:0:1"),  // the first of equal runs
        (.v6(high: 0x2001_0000_0000_0001, low: 0x0000_0000_0000_0001), "2001:0:0:1::1"),  // the longest run
        (.v6(high: 0x2001_0DB8_0000_0001, low: 0x0001_0001_0001_0001), "2001:db8:0:1:1:1:1:1"),  // one zero group stays
        (.v6(high: 0xFE80_0000_0000_0000, low: 0xABCD), "fe80::abcd"),  // lower-case hex
        (.v6(high: 0, low: 0xFFFF_C000_0201), "::ffff:192.0.2.1"),  // IPv4-mapped
        (.v6(high: 0, low: 0xC000_0201), "::192.0.2.1"),  // IPv4-compatible
    ]

    @Test(arguments: texts)
    func textIsTheRFC5952Form(address: IPAddress, text: String) {
        #expect(address.description == text)
    }

    @Test func candidateTextBracketsIPv6() {
        #expect(TransportCandidate(address: .loopbackV6, port: 5004).description == "[::1]:5004")
        #expect(TransportCandidate(address: .loopbackV4, port: 5004).description == "127.0.0.1:5004")
    }

    @Test func bytesRoundTripAndOtherLengthsAreRefused() {
        for (address, _) in Self.texts {
            #expect(IPAddress(bytes: address.bytes) == address)
        }
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress(bytes: []) == nil)
    }
}
