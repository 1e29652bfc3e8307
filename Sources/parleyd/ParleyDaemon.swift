import ArgumentParser
import CParleyShims
import Dispatch
import Foundation
import Glibc
import Logging
import ParleyEngine
import ParleyRuntime
import ParleySession

/// `parleyd`: the Parley call engine daemon.
@main
struct ParleyDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parleyd",
        abstract: "The Parley call engine: end-to-end encrypted voice and video calls, driven over a control socket.",
        discussion: """
            Front-ends talk to it over the control socket (Protocols/control/v1.md); peers over UDP
            (Protocols/peer/v1.md). Flags override the configuration file, which holds `key = value` lines
            with the flags' names (socket, state-dir, bind, port, advertise, auto-answer, video-size,
            frame-rate, video-bitrate, audio-source, video-source, audio-sink, video-sink).
            SIGTERM or SIGINT hangs up every call (the peers see remote_hangup), then exits 0.
            """
    )

    @Option(help: "The control socket's path (default: $XDG_RUNTIME_DIR/parley/control.sock, else /run/parley/control.sock).")
    var socket: String?

    @Option(name: .customLong("state-dir"), help: "The state directory holding the identity key (created 0700).")
    var stateDirectory: String?

    @Option(help: "The UDP port (0: any free port; default \(EngineConfiguration.defaultPort)).")
    var port: UInt16?

    @Option(help: "The IP address to bind the UDP socket to (default ::, every interface).")
    var bind: String?

    @Option(help: "An IP address to advertise to peers (repeatable; default: the bound address or the interfaces').")
    var advertise: [String] = []

    @Option(help: "A configuration file of `key = value` lines.")
    var config: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Flag(name: .customLong("auto-answer"), help: "Answer every incoming call without a front-end (kiosks).")
    var autoAnswer = false

    @Flag(
        name: .customLong("exit-with-parent"),
        help: "Hang up and exit when the process that started this one dies (for front-ends that spawn their engine).")
    var exitWithParent = false

    @Option(name: .customLong("video-size"), help: "Video size of new calls, WIDTHxHEIGHT (default 640x480).")
    var videoSize: String?

    @Option(name: .customLong("frame-rate"), help: "Video frame rate of new calls (default 30).")
    var frameRate: String?

    @Option(name: .customLong("video-bitrate"), help: "Video bitrate ceiling of new calls, bit/s (default 1000000).")
    var videoBitrate: String?

    @Option(name: .customLong("audio-source"), help: "The microphone of new calls: synthetic-microphone, or pulse:<source name>.")
    var audioSource: String?

    @Option(name: .customLong("audio-sink"), help: "Where received audio plays: analysis-audio, or pulse:<sink name>.")
    var audioSink: String?

    @Option(name: .customLong("video-source"), help: "The camera of new calls: synthetic-camera, or v4l2:<device path>.")
    var videoSource: String?

    mutating func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: \(logLevel) is not one of trace, debug, info, notice, warning, error, critical")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "parleyd")
        let configuration = try resolvedConfiguration()

        // Signals are taken by a dispatch source, not the default action.
        if exitWithParent {
            // The parent's death arrives as SIGTERM: the same graceful hang-up.
            guard parley_signal_on_parent_death(SIGTERM) == 0, getppid() != 1 else {
                throw ValidationError("--exit-with-parent: the parent is already gone, or the kernel refused")
            }
        }
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)

        let engine: Engine
        do {
            engine = try await Engine.start(configuration, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                logger.notice("signal received: hanging up every call", metadata: ["signal": "\(number == SIGTERM ? "SIGTERM" : "SIGINT")"])
                Task { await engine.shutdown() }
            }
            source.resume()
            sources.append(source)
        }
        await engine.waitUntilStopped()
        sources.forEach { $0.cancel() }
    }

    /// Defaults, then the configuration file, then the flags.
    func resolvedConfiguration() throws -> EngineConfiguration {
        var configuration = EngineConfiguration(environment: ProcessInfo.processInfo.environment)
        if let config {
            guard let text = Self.readFile(config) else { throw ValidationError("--config: cannot read \(config)") }
            do {
                try configuration.apply(configurationFile: text, name: config)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        let settings: [(String, String?)] = [
            ("socket", socket), ("state-dir", stateDirectory), ("port", port.map(String.init)), ("bind", bind),
            ("video-size", videoSize), ("frame-rate", frameRate), ("video-bitrate", videoBitrate),
            ("audio-source", audioSource), ("audio-sink", audioSink), ("video-source", videoSource),
        ]
        do {
            for case (let key, let value?) in settings {
                try configuration.set(key, to: value)
            }
            if autoAnswer { try configuration.set("auto-answer", to: "true") }
        } catch {
            throw ValidationError("--\(error)")
        }
        if !advertise.isEmpty {
            configuration.advertisedAddresses = try advertise.map { text in
                guard let address = IPAddress(text) else { throw ValidationError("--advertise: not an IP address: \(text)") }
                return address
            }
        }
        return configuration
    }

    static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}


