import Glibc
import ParleyRuntime
import ParleySession

/// The machine's own IP addresses, for the candidates an engine advertises.
enum InterfaceAddresses {
    /// What to advertise for a socket bound to `bound`: that address if it is not a wildcard; else every
    /// up interface's IPv4 and global IPv6 addresses (no link-local ones), loopback last, at most 8.
    static func advertisable(bound: IPAddress) -> [IPAddress] {
        if bound != .anyV4, bound != .anyV6 { return [bound] }
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [.loopbackV4] }
        defer { freeifaddrs(head) }
        var routable: [IPAddress] = []
        var loopback: [IPAddress] = []
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            let flags = current.pointee.ifa_flags
            guard flags & UInt32(IFF_UP) != 0, let address = current.pointee.ifa_addr else { continue }
            let ip: IPAddress?
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
                    .v4(UInt32(bigEndian: inet.pointee.sin_addr.s_addr))
                }
            case AF_INET6 where bound == .anyV6:
                ip = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { inet6 in
                    let bytes = withUnsafeBytes(of: inet6.pointee.sin6_addr) { Array($0) }
                    return IPAddress(bytes: bytes)
                }
            default:
                ip = nil
            }
            guard let ip else { continue }
            if case .v6(let high, _) = ip, high >> 54 == 0x3FA { continue }  // fe80::/10, link-local
            if flags & UInt32(IFF_LOOPBACK) != 0 {
                loopback.append(ip)
            } else {
                routable.append(ip)
            }
        }
        // IPv4 first within each group: reachable on more networks.
        func ordered(_ list: [IPAddress]) -> [IPAddress] {
            list.filter { if case .v4 = $0 { true } else { false } } + list.filter { if case .v6 = $0 { true } else { false } }
        }
        let all = ordered(routable) + ordered(loopback)
        return all.isEmpty ? [.loopbackV4] : Array(all.prefix(8))
    }
}
