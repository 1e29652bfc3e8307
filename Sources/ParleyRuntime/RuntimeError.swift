import Glibc

/// Everything that can go wrong in the runtime layer: a malformed address, or a socket call the kernel
/// refused (with the operation and `errno`).
public enum RuntimeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `text` is not an address and port; `problem` says what is wrong with it.
    case invalidAddress(String, problem: AddressProblem)
    /// An IPv6 destination was given to a socket bound to an IPv4 address.
    case familyMismatch(destination: SocketAddress)
    /// The kernel refused `operation` with `errno`.
    case system(operation: SocketOperation, errno: Int32)

    /// What is wrong with a socket-address text.
    public enum AddressProblem: Equatable, Sendable, CustomStringConvertible {
        /// The text is empty.
        case empty
        /// No `:port` follows the host.
        case missingPort
        /// An IPv6 host opens `[` but never closes it with `]`.
        case unclosedBracket
        /// An IPv6 host is not written in brackets (`[::1]:5000`).
        case unbracketedIPv6
        /// The host is not a dotted-quad IPv4 address.
        case invalidIPv4(String)
        /// The bracketed host is not an IPv6 address (zone ids such as `%eth0` are not supported).
        case invalidIPv6(String)
        /// The port is not a decimal number from 0 to 65 535.
        case invalidPort(String)

        /// One sentence naming the problem.
        public var description: String {
            switch self {
            case .empty: "the address is empty"
            case .missingPort: "no ':port' after the host"
            case .unclosedBracket: "'[' is never closed with ']'"
            case .unbracketedIPv6: "an IPv6 host must be written in brackets, as in [::1]:5000"
            case .invalidIPv4(let host): "'\(host)' is not an IPv4 address"
            case .invalidIPv6(let host): "'\(host)' is not an IPv6 address"
            case .invalidPort(let port): "port '\(port)' is not a number from 0 to 65535"
            }
        }
    }

    /// The socket call that failed.
    public enum SocketOperation: String, Equatable, Sendable {
        /// `socket(2)`.
        case open = "socket"
        /// `setsockopt(2)`.
        case setOption = "setsockopt"
        /// `getsockopt(2)`.
        case getOption = "getsockopt"
        /// `bind(2)`.
        case bind
        /// `getsockname(2)`.
        case localAddress = "getsockname"
        /// `sendto(2)`.
        case send = "sendto"
        /// `recvfrom(2)`.
        case receive = "recvfrom"
        /// `poll(2)`.
        case poll
    }

    /// A readable account, with the system's text for `errno`.
    public var description: String {
        switch self {
        case .invalidAddress(let text, let problem):
            return "invalid address '\(text)': \(problem)"
        case .familyMismatch(let destination):
            return "cannot send to \(destination) from an IPv4 socket"
        case .system(let operation, let code):
            return "\(operation.rawValue) failed: \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}
