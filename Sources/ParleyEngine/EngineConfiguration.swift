public import ParleyRuntime
public import ParleySession

/// Everything an engine is started with: `parleyd`'s flags and config file, or a test's choice.
public struct EngineConfiguration: Sendable, Equatable {
    /// The control socket's path.
    public var socketPath: String
    /// The directory of the identity key and other state (created 0700 when missing).
    public var stateDirectory: String
    /// The UDP address to bind: `::` (every interface, IPv4 and IPv6) by default.
    public var bindAddress: IPAddress
    /// The UDP port; 0 lets the kernel choose.
    public var port: UInt16
    /// The addresses to advertise in offers, answers and the identity URI; empty: the bound address if
    /// it is not a wildcard, else the machine's interface addresses (loopback last).
    public var advertisedAddresses: [IPAddress]
    /// Answer every incoming call without asking a front-end (kiosks); otherwise calls ring.
    public var autoAnswer: Bool
    /// The default video sending parameters of new calls.
    public var video: VideoSettings
    /// The default devices (ids as `Devices/List` names them).
    public var devices: DeviceSelection

    /// The default socket path of Protocols/control/v1.md §1.
    public static func defaultSocketPath(environment: [String: String]) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return runtime + "/parley/control.sock" }
        return "/run/parley/control.sock"
    }

    /// The default state directory: `$XDG_STATE_HOME/parley`, else `$HOME/.local/state/parley`, else
    /// `/var/lib/parley`.
    public static func defaultStateDirectory(environment: [String: String]) -> String {
        if let state = environment["XDG_STATE_HOME"], !state.isEmpty { return state + "/parley" }
        if let home = environment["HOME"], !home.isEmpty, home != "/" { return home + "/.local/state/parley" }
        return "/var/lib/parley"
    }

    /// The default UDP port.
    public static let defaultPort: UInt16 = 47_000

    /// A configuration with the defaults for `environment`.
    public init(environment: [String: String] = [:]) {
        socketPath = Self.defaultSocketPath(environment: environment)
        stateDirectory = Self.defaultStateDirectory(environment: environment)
        bindAddress = .anyV6
        port = Self.defaultPort
        advertisedAddresses = []
        autoAnswer = false
        video = VideoSettings()
        devices = DeviceSelection()
    }
}

/// How a call's video is sent: what `Calls/SetVideo` changes.
public struct VideoSettings: Sendable, Equatable {
    /// Width in pixels (even, 16…3840).
    public var width: Int = 640
    /// Height in pixels (even, 16…2160).
    public var height: Int = 480
    /// Frames per second (1…60).
    public var frameRate: Int = 30
    /// The encoder's bitrate ceiling, bits per second.
    public var maximumBitrate: Int = 1_000_000

    /// The defaults: VGA at 30 fps, 1 Mbit/s.
    public init() {}

    /// Settings with these values (checked by `validate()`).
    public init(width: Int, height: Int, frameRate: Int, maximumBitrate: Int) {
        self.width = width
        self.height = height
        self.frameRate = frameRate
        self.maximumBitrate = maximumBitrate
    }

    /// The first rule these settings break, as (field, reason); nil when valid.
    public func violation() -> (field: String, reason: String)? {
        if !(16...3_840).contains(width) || !width.isMultiple(of: 2) { return ("width", "must be even, 16-3840, got \(width)") }
        if !(16...2_160).contains(height) || !height.isMultiple(of: 2) { return ("height", "must be even, 16-2160, got \(height)") }
        if !(1...60).contains(frameRate) { return ("frame_rate", "must be 1-60, got \(frameRate)") }
        if !(50_000...10_000_000).contains(maximumBitrate) {
            return ("max_bitrate", "must be 50000-10000000, got \(maximumBitrate)")
        }
        return nil
    }
}

/// Which devices new calls use.
public struct DeviceSelection: Sendable, Equatable {
    /// The microphone (a source id).
    public var audioSource = DeviceCatalog.syntheticMicrophone
    /// The camera (a source id).
    public var videoSource = DeviceCatalog.syntheticCamera
    /// Where received audio goes (a sink id).
    public var audioSink = DeviceCatalog.analysisAudio
    /// Where received video goes (a sink id).
    public var videoSink = DeviceCatalog.analysisVideo

    /// The synthetic sources and the analysis sinks.
    public init() {}
}

/// What a configuration file or a flag got wrong.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Where: `file:line` or the flag.
    public var location: String
    /// What is wrong.
    public var reason: String

    /// An error at `location`.
    public init(location: String, reason: String) {
        self.location = location
        self.reason = reason
    }

    /// `location: reason`.
    public var description: String { "\(location): \(reason)" }
}

extension EngineConfiguration {
    /// The keys a configuration file may set, each as `key = value` on its own line (`#` starts a
    /// comment; values may be quoted). The same names as `parleyd`'s long flags.
    public static let fileKeys = [
        "socket", "state-dir", "bind", "port", "advertise", "auto-answer", "video-size", "frame-rate",
        "video-bitrate", "audio-source", "video-source", "audio-sink", "video-sink",
    ]

    /// Applies a configuration file's text (named `name` in errors) on top of this configuration.
    ///
    /// - Throws: `ConfigurationError` naming the line for an unknown key, a malformed line or a bad value.
    public mutating func apply(configurationFile text: String, name: String) throws(ConfigurationError) {
        var advertised: [IPAddress] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let location = "\(name):\(number + 1)"
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw ConfigurationError(location: location, reason: "expected `key = value`, got `\(trimmed)`")
            }
            let key = String(trimmed[..<equals].trimmingSpaces())
            var value = trimmed[trimmed.index(after: equals)...].trimmingSpaces()
            if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
            if key == "advertise" {
                guard let address = IPAddress(String(value)) else {
                    throw ConfigurationError(location: location, reason: "advertise: not an IP address: \(value)")
                }
                advertised.append(address)
                continue
            }
            do {
                try set(key, to: String(value))
            } catch {
                throw ConfigurationError(location: location, reason: "\(error.location): \(error.reason)")
            }
        }
        if !advertised.isEmpty { advertisedAddresses = advertised }
    }

    /// Sets one setting by its flag name (`port`, `video-size`…) from text.
    ///
    /// - Throws: `ConfigurationError` (location: the key) for an unknown key or a bad value.
    public mutating func set(_ key: String, to value: String) throws(ConfigurationError) {
        func fail(_ reason: String) -> ConfigurationError { ConfigurationError(location: key, reason: reason) }
        switch key {
        case "socket":
            guard !value.isEmpty else { throw fail("must not be empty") }
            socketPath = value
        case "state-dir":
            guard !value.isEmpty else { throw fail("must not be empty") }
            stateDirectory = value
        case "bind":
            guard let address = IPAddress(value) else { throw fail("not an IP address: \(value)") }
            bindAddress = address
        case "port":
            guard let number = UInt16(value) else { throw fail("must be 0-65535, got \(value)") }
            port = number
        case "advertise":
            guard let address = IPAddress(value) else { throw fail("not an IP address: \(value)") }
            advertisedAddresses = [address]
        case "auto-answer":
            switch value {
            case "true", "yes", "1": autoAnswer = true
            case "false", "no", "0": autoAnswer = false
            default: throw fail("must be true or false, got \(value)")
            }
        case "video-size":
            let parts = value.split(separator: "x")
            guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]) else {
                throw fail("must be WIDTHxHEIGHT, got \(value)")
            }
            var settings = video
            settings.width = width
            settings.height = height
            if let (_, reason) = settings.violation() { throw fail(reason) }
            video = settings
        case "frame-rate":
            guard let rate = Int(value), (1...60).contains(rate) else { throw fail("must be 1-60, got \(value)") }
            video.frameRate = rate
        case "video-bitrate":
            guard let bitrate = Int(value), (50_000...10_000_000).contains(bitrate) else {
                throw fail("must be 50000-10000000, got \(value)")
            }
            video.maximumBitrate = bitrate
        case "audio-source": devices.audioSource = value
        case "video-source": devices.videoSource = value
        case "audio-sink": devices.audioSink = value
        case "video-sink": devices.videoSink = value
        default:
            throw fail("unknown setting (known: \(Self.fileKeys.joined(separator: ", ")))")
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingSpaces() -> SubSequence {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
