/// What the device layer reports: a device or server that is missing, busy or gone, named.
public enum DeviceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The PulseAudio server could not be reached (`server` names where it was looked for).
    case serverUnavailable(server: String, reason: String)
    /// No device has this name or path.
    case notFound(String)
    /// The device exists but another program holds it (EBUSY).
    case busy(String)
    /// The device went away (ENODEV, EIO) or the server connection broke.
    case disconnected(String)
    /// The device cannot do what was asked (format, size, rate).
    case unsupported(device: String, reason: String)
    /// A system or library call failed.
    case system(call: String, code: Int32, detail: String)

    /// What went wrong, for people.
    public var description: String {
        switch self {
        case .serverUnavailable(let server, let reason): "PulseAudio server \(server) unavailable: \(reason)"
        case .notFound(let name): "no device \(name)"
        case .busy(let name): "\(name) is busy (another program uses it)"
        case .disconnected(let name): "\(name) disconnected"
        case .unsupported(let device, let reason): "\(device): \(reason)"
        case .system(let call, let code, let detail): "\(call) failed (\(code)): \(detail)"
        }
    }
}
