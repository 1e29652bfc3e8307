import Glibc
import ParleyControl

/// Why the call could not be measured.
struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A `parleyd` this benchmark started: its own state directory, control socket and log under the run's
/// temporary directory, UDP on 127.0.0.1 with any free port.
final class Daemon {
    let name: String
    let pid: pid_t
    let socketPath: String
    let logPath: String
    private(set) var client: ControlClient?
    private var exited = false

    /// Starts `executable` as `name` with `arguments` appended to the common ones.
    init(name: String, executable: String, directory: String, arguments: [String]) throws {
        self.name = name
        let stateDirectory = "\(directory)/\(name)"
        guard mkdir(stateDirectory, 0o700) == 0 else { throw BenchmarkFailure("cannot create \(stateDirectory)") }
        socketPath = "\(directory)/\(name).sock"
        logPath = "\(directory)/\(name).log"
        let argv =
            [
                executable, "--socket", socketPath, "--state-dir", stateDirectory, "--port", "0", "--bind", "127.0.0.1",
                "--log-level", "warning",
            ] + arguments

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, &cArguments, environ)
        guard status == 0 else { throw BenchmarkFailure("cannot start \(executable): \(String(cString: strerror(status)))") }
        self.pid = pid
    }

    /// Waits (at most `timeout`) until the daemon answers `Engine/Health` with SERVING.
    func waitUntilServing(timeout: Duration = .seconds(15)) async throws {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            guard !hasExited() else { throw BenchmarkFailure("parleyd \(name) exited while starting; see \(logPath)") }
            if let client = try? ControlClient(connectingTo: socketPath) {
                if let health = try? await client.call(MethodName.v1("Engine/Health"), deadline: .seconds(2)),
                    health["status"]?.text == "SERVING"
                {
                    self.client = client
                    return
                }
                client.close()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchmarkFailure("parleyd \(name) did not answer Engine/Health within \(timeout)")
    }

    /// Calls `name` (e.g. `Calls/Stats`) on the daemon's control socket.
    func call(_ name: String, _ params: JSONObject = [:], deadline: Duration = .seconds(10)) async throws -> JSONValue {
        guard let client else { throw BenchmarkFailure("parleyd \(self.name) is not connected") }
        do {
            return try await client.call(MethodName.v1(name), params: params, deadline: deadline)
        } catch {
            throw BenchmarkFailure("parleyd \(self.name): \(name) failed: \(error)")
        }
    }

    /// Whether the process has ended (reaps it).
    func hasExited() -> Bool {
        if exited { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        return exited
    }

    /// Stops the daemon: `Engine/Shutdown` and up to 5 s to exit, then SIGTERM, then SIGKILL. Returns how
    /// it went, for the report.
    @discardableResult
    func stop() async -> String {
        var how = "exited after Engine/Shutdown"
        if !hasExited() {
            if (try? await call("Engine/Shutdown", deadline: .seconds(3))) == nil { how = "Engine/Shutdown failed" }
            if !(await waitForExit(.seconds(5))) {
                kill(pid, SIGTERM)
                how += "; SIGTERM"
                if !(await waitForExit(.seconds(5))) {
                    kill(pid, SIGKILL)
                    how += "; SIGKILL"
                    _ = await waitForExit(.seconds(5))
                }
            }
        }
        client?.close()
        client = nil
        return how
    }

    private func waitForExit(_ timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            if hasExited() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return hasExited()
    }
}

