import Glibc
import ParleyRuntime
import ParleySession
import ParleyWire
import Testing

@Suite struct SocketAddressTests {
    /// Texts that parse, and the address each names.
    static let good: [(String, SocketAddress)] = [
        ("127.0.0.1:5000", SocketAddress(.v4(0x7F00_0001), port: 5000)),
        ("0.0.0.0:0", SocketAddress(.anyV4, port: 0)),
        ("255.255.255.255:65535", SocketAddress(.v4(0xFFFF_FFFF), port: 65_535)),
        ("[::1]:5000", SocketAddress(.v6(high: 0, low: 1), port: 5000)),
        ("[::]:1", SocketAddress(.anyV6, port: 1)),
        ("[2001:db8::8:800:200c:417a]:443", SocketAddress(.v6(high: 0x2001_0DB8_0000_0000, low: 0x0000_0008_0800_200C_417A), port: 443)),
        ("[::ffff:10.0.0.1]:9", SocketAddress(.v6(high: 0, low: 0xFFFF_0A00_0001), port: 9)),
        ("10.1.2.3:007", SocketAddress(.v4(0x0A01_0203), port: 7)),
    ]

    @Test(arguments: good)
    func wellFormedTextParsesToItsAddress(text: String, expected: SocketAddress) throws {
        #expect(try SocketAddress(parsing: text) == expected)
    }

    /// Texts that do not parse, and the problem each error must name.
    static let bad: [(String, RuntimeError.AddressProblem)] = [
        ("", .empty),
        ("127.0.0.1", .missingPort),
        ("[::1]", .missingPort),
        ("[::1]5000", .missingPort),
        ("[::1:5000", .unclosedBracket),
        ("::1:5000", .unbracketedIPv6),
        ("localhost:5000", .invalidIPv4("localhost")),
        ("256.0.0.1:5000", .invalidIPv4("256.0.0.1")),
        ("127.1:5000", .invalidIPv4("127.1")),
        (":5000", .invalidIPv4("")),
        ("[127.0.0.1]:5000", .invalidIPv6("127.0.0.1")),
        ("[fe80::1%eth0]:5000", .invalidIPv6("fe80::1%eth0")),
        ("[1::2::3]:5000", .invalidIPv6("1::2::3")),
        ("127.0.0.1:", .invalidPort("")),
        ("127.0.0.1:65536", .invalidPort("65536")),
        ("127.0.0.1:-1", .invalidPort("-1")),
        ("127.0.0.1:+80", .invalidPort("+80")),
        ("127.0.0.1:80a", .invalidPort("80a")),
        ("[::1]:123456", .invalidPort("123456")),
        ("127.0.0.1:٣", .invalidPort("٣")),  // a non-ASCII digit
    ]

    @Test(arguments: bad)
    func malformedTextIsRefusedNamingTheProblem(text: String, problem: RuntimeError.AddressProblem) {
        #expect(throws: RuntimeError.invalidAddress(text, problem: problem)) {
            try SocketAddress(parsing: text)
        }
    }

    @Test func errorDescriptionQuotesTheTextAndTheProblem() {
        let error = RuntimeError.invalidAddress("127.0.0.1:99999", problem: .invalidPort("99999"))
        #expect(error.description == "invalid address '127.0.0.1:99999': port '99999' is not a number from 0 to 65535")
    }

    @Test func descriptionIsTheCanonicalTextAndParsesBack() throws {
        let cases: [(SocketAddress, String)] = [
            (.loopbackV4(port: 5000), "127.0.0.1:5000"),
            (.loopbackV6(port: 5000), "[::1]:5000"),
            (SocketAddress(.v6(high: 0x2001_0DB8_0000_0000, low: 1), port: 80), "[2001:db8::1]:80"),
            (SocketAddress(.v6(high: 0, low: 0xFFFF_7F00_0001), port: 1), "[::ffff:127.0.0.1]:1"),
        ]
        for (address, text) in cases {
            #expect(address.description == text)
            #expect(try SocketAddress(parsing: text) == address)
        }
    }

    @Test func addressTextIsWhatInetNtopWritesForAddressesFullOfZeroRuns() {
        var generator = SplitMix64(seed: 5952)
        for _ in 0..<3_000 {
            // Each group zero half of the time, so runs of every length and position occur.
            let groups = (0..<8).map { _ in
                UInt64.random(in: 0...1, using: &generator) == 0 ? 0 : UInt64.random(in: 1...0xFFFF, using: &generator)
            }
            let high = groups[0..<4].reduce(0) { $0 << 16 | $1 }
            var low = groups[4..<8].reduce(0) { $0 << 16 | $1 }
            // Now and then an IPv4-mapped or IPv4-compatible address, which inet_ntop writes with a dotted quad.
            switch UInt64.random(in: 0..<8, using: &generator) {
            case 0: low = 0xFFFF_0000_0000 | (low & 0xFFFF_FFFF)
            case 1: low &= 0xFFFF_FFFF
            default: break
            }
            let address = IPAddress.v6(high: high & (low >> 32 == 0xFFFF || low >> 32 == 0 ? 0 : .max), low: low)
            var raw = address.bytes
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
            let expected = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            #expect(address.description == expected)
            #expect(IPAddress(expected) == address)
        }
    }

    @Test func ipv4MappedAddressesUnmapAndMapBack() {
        let mapped = IPAddress.v6(high: 0, low: 0xFFFF_7F00_0001)
        #expect(mapped.unmapped == .loopbackV4)
        #expect(IPAddress.loopbackV4.v4Mapped == mapped)
        #expect(IPAddress.loopbackV6.unmapped == .loopbackV6)  // not mapped: unchanged
        #expect(IPAddress.loopbackV6.v4Mapped == .loopbackV6)
    }

    @Test func bytesRoundTripAndOtherLengthsAreRefused() {
        #expect(IPAddress.loopbackV4.bytes == [127, 0, 0, 1])
        #expect(IPAddress.loopbackV6.bytes == [UInt8](repeating: 0, count: 15) + [1])
        #expect(IPAddress(bytes: [10, 0, 0, 1]) == .v4(0x0A00_0001))
        #expect(IPAddress(bytes: IPAddress.loopbackV6.bytes) == .loopbackV6)
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress(bytes: []) == nil)
        #expect(IPAddress("::1") == .loopbackV6)
        #expect(IPAddress("1.2.3.4") == .v4(0x0102_0304))
        #expect(IPAddress("1.2.3") == nil)
    }

    @Test func sockaddrStorageRoundTripsBothFamilies() throws {
        for address in [SocketAddress.loopbackV4(port: 5000), .loopbackV6(port: 65_535), try SocketAddress(parsing: "[2001:db8::1]:1")] {
            let (storage, length) = address.storage
            #expect(Int(length) == (address.ip.bytes.count == 4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size))
            #expect(SocketAddress(storage: storage) == address)
        }
        #expect(SocketAddress(storage: sockaddr_storage()) == nil)  // AF_UNSPEC
    }
}
