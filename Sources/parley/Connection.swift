import ArgumentParser
import Foundation
import Glibc
import ParleyControl

/// The global `--socket` option: where `parleyd`'s control socket is.
///
/// Resolution order: `--socket`, then `$PARLEY_SOCKET`, then the protocol's default
/// (v1.md §1): `$XDG_RUNTIME_DIR/parley/control.sock`, else `/run/parley/control.sock`.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The engine's control socket (default: $PARLEY_SOCKET, else $XDG_RUNTIME_DIR/parley/control.sock, else /run/parley/control.sock).",
            valueName: "path"))
    var socket: String?

    /// The socket path to connect to.
    var socketPath: String {
        if let socket { return socket }
        return ConnectionOptions.defaultSocketPath(environment: ProcessInfo.processInfo.environment)
    }

    /// The default path for an environment (`PARLEY_SOCKET`, `XDG_RUNTIME_DIR`), as v1.md §1 says.
    static func defaultSocketPath(environment: [String: String]) -> String {
        if let explicit = environment["PARLEY_SOCKET"], !explicit.isEmpty { return explicit }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return "\(runtime)/parley/control.sock" }
        return "/run/parley/control.sock"
    }
}

/// The `--json` flag of read commands: print the raw result instead of the human summary.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print the JSON the engine sent (one compact object per line) instead of a summary.")
    var json = false
}

/// The control methods the CLI calls (Protocols/control/services.md).
enum Method {
    static let health = v1("Engine", "Health")
    static let state = v1("Engine", "State")
    static let shutdown = v1("Engine", "Shutdown")
    static let identity = v1("Identity", "Get")
    static let dial = v1("Calls", "Dial")
    static let accept = v1("Calls", "Accept")
    static let reject = v1("Calls", "Reject")
    static let hangup = v1("Calls", "Hangup")
    static let mute = v1("Calls", "Mute")
    static let unmute = v1("Calls", "Unmute")
    static let list = v1("Calls", "List")
    static let get = v1("Calls", "Get")
    static let stats = v1("Calls", "Stats")
    static let markVerified = v1("Calls", "MarkVerified")
    static let watch = v1("Calls", "Watch")

    private static func v1(_ service: String, _ method: String) -> MethodName {
        guard let name = try? MethodName(service: service, method: method) else {
            preconditionFailure("malformed method name \(service)/\(method)")
        }
        return name
    }
}

/// A failure the CLI reports itself: `message` goes to stderr, the process exits with `exitCode`.
struct CLIFailure: Error {
    /// What went wrong, for people (no "parley:" prefix; the reporter adds it).
    var message: String
    /// The process's exit status.
    var exitCode: Int32 = 1

    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
}

/// One connection to `parleyd`'s control socket, with the CLI's conventions: every unary call carries
/// a deadline, and a call the engine does not answer at all gives up a little after it.
struct EngineConnection: Sendable {
    /// The client all calls go through.
    let client: ControlClient
    /// Where it is connected.
    let socketPath: String

    /// Connects to `socketPath`; a failure becomes a `CLIFailure` naming the path.
    static func open(_ socketPath: String) throws(CLIFailure) -> EngineConnection {
        do {
            return EngineConnection(client: try ControlClient(connectingTo: socketPath), socketPath: socketPath)
        } catch {
            throw CLIFailure(describeConnectFailure(error, path: socketPath))
        }
    }

    /// Connects, runs `body`, then closes the connection whatever happened.
    static func with<T: Sendable>(
        _ options: ConnectionOptions, _ body: (EngineConnection) async throws -> T
    ) async throws -> T {
        let connection = try open(options.socketPath)
        defer { connection.close() }
        return try await body(connection)
    }

    /// Calls unary `method`; the engine gets `timeout` as its deadline. If no answer arrives within
    /// `timeout` plus 2 s the connection is closed and the call fails with a `CLIFailure`.
    func call(_ method: MethodName, _ params: JSONObject = [:], timeout: Duration = .seconds(10))
        async throws -> JSONView
    {
        let client = self.client
        return try await withThrowingTaskGroup(of: JSONValue.self) { group in
            group.addTask { try await client.call(method, params: params, deadline: timeout) }
            group.addTask {
                try await Task.sleep(for: timeout + .seconds(2))
                throw CLIFailure("\(method) got no answer from the engine in \(timeout + .seconds(2))")
            }
            do {
                guard let value = try await group.next() else { throw CLIFailure("\(method): no answer") }
                group.cancelAll()
                return JSONView(value)
            } catch let failure as CLIFailure {
                client.close()  // the engine is stuck: stop waiting for the call
                throw failure
            }
        }
    }

    /// Opens the `Calls/Watch` stream with `params`.
    func watch(_ params: JSONObject = [:]) -> AsyncThrowingStream<JSONValue, any Error> {
        client.stream(Method.watch, params: params)
    }

    /// Closes the connection.
    func close() { client.close() }
}

/// A human sentence for a failed connect to the control socket at `path`.
func describeConnectFailure(_ error: ControlClientError, path: String) -> String {
    switch error {
    case .system(let call, let code) where code == ENOENT || code == ECONNREFUSED:
        return "no engine is listening at \(path) (\(call): \(errnoText(code))); is parleyd running?"
    case .system(let call, let code):
        return "cannot connect to \(path): \(call): \(errnoText(code))"
    case .invalidPath(let text):
        return "invalid socket path \"\(text)\""
    default:
        return "cannot connect to \(path): \(error)"
    }
}

/// `strerror` for `code`.
func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// Runs a command's body with the CLI's error conventions:
/// - an error the engine answered (`ControlClientError.status`) prints `CODE: message` and exits 2;
/// - a `CLIFailure` prints `parley: message` and exits with its code (1 by default);
/// - a lost connection or a malformed reply prints `parley: …` and exits 1;
/// - an interrupted command (Ctrl-C) exits 130.
/// Argument errors (`ValidationError`, `ExitCode`) pass through to swift-argument-parser.
func runCommand(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ControlClientError {
        switch error {
        case .status(let status, let message, _):
            Terminal.error("\(status.name): \(message)")
            throw ExitCode(2)
        case .connectionClosed:
            Terminal.error("parley: the engine closed the control connection")
        case .requestTooLarge(let limit):
            Terminal.error("parley: request longer than the \(limit)-byte frame limit")
        case .invalidReply(let reason):
            Terminal.error("parley: malformed reply from the engine: \(reason)")
        case .invalidPath(let path):
            Terminal.error("parley: invalid socket path \"\(path)\"")
        case .system(let call, let code):
            Terminal.error("parley: \(call): \(errnoText(code))")
        }
        throw ExitCode(1)
    } catch let failure as CLIFailure {
        Terminal.error("parley: \(failure.message)")
        throw ExitCode(failure.exitCode)
    } catch is CancellationError {
        throw ExitCode(130)
    }
}
