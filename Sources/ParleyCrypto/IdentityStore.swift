#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Keeps an engine's identity key pair in its state directory (Protocols/peer/identity.md §2).
///
/// - The directory must belong to the engine's user and give no access to group or others (0700 when
///   created); the key file `identity.key` likewise (0600 when created).
/// - The directory is opened once (`O_DIRECTORY | O_NOFOLLOW`) and checked through that descriptor
///   (`fstat`); every later step acts relative to it (`openat`, `linkat`, `unlinkat`), so what was
///   checked is what is used, even if the path is changed meanwhile.
/// - `loadOrCreate()` creates the directory (mode 0700) and the key (mode 0600) on first start: the key is
///   written to a new temporary file opened with `O_CREAT | O_EXCL` and mode 0600 — never readable by
///   anyone else, not even briefly — synced, then hard-linked to `identity.key`. `link(2)` fails if the
///   name exists, so an existing key is never overwritten, not even by a second engine starting at the
///   same moment (that one loads the winner's key).
/// - A wrong mode or owner, a symbolic link (for the directory or the file), a key file with more than one
///   hard link, or a damaged file is refused with
///   `CryptoError.identityStorage(path:reason:)` naming the path and the fix. A damaged key is never
///   replaced: peers know the engine by it, so a new key must be a person's decision.
///
/// Blocking file I/O: call it at start-up, off any latency-sensitive thread.
public struct IdentityStore: Sendable {
    /// The key file's name inside the state directory.
    public static let keyFileName = "identity.key"

    /// The state directory.
    public let directory: String

    /// The path of the key file.
    public var keyFilePath: String {
        directory.hasSuffix("/") ? directory + Self.keyFileName : directory + "/" + Self.keyFileName
    }

    /// A store for the state directory `directory` (created by `loadOrCreate()` when missing).
    public init(directory: String) {
        self.directory = directory
    }

    /// The stored key pair, or nil when there is none yet (no directory or no key file).
    /// Throws `.identityStorage` when the directory or the file is unsafe or the file is damaged.
    public func load() throws(CryptoError) -> IdentityKeyPair? {
        guard let directoryDescriptor = try openDirectory(mustExist: false) else { return nil }
        defer { close(directoryDescriptor) }
        return try readKeyFile(in: directoryDescriptor)
    }

    /// The stored key pair, created (with the directory) if there is none yet.
    public func loadOrCreate() throws(CryptoError) -> IdentityKeyPair {
        try createDirectoryIfMissing(directory)
        guard let directoryDescriptor = try openDirectory(mustExist: true) else {
            throw .identityStorage(path: directory, reason: "the state directory vanished right after it was created")
        }
        defer { close(directoryDescriptor) }
        if let keyPair = try readKeyFile(in: directoryDescriptor) {
            return keyPair
        }
        let created = IdentityKeyPair()
        try writeNewKeyFile(IdentityKeyFile.encode(created), in: directoryDescriptor)
        // Read back what is now on disk: ours, or another engine's that won the race.
        guard let stored = try readKeyFile(in: directoryDescriptor) else {
            throw .identityStorage(path: keyFilePath, reason: "the key file vanished right after it was created")
        }
        return stored
    }

    // MARK: - Directory

    /// Opens the directory once — `O_DIRECTORY | O_NOFOLLOW`, so a symbolic link is refused, not followed —
    /// and checks its type, owner and mode through that descriptor; every later step acts relative to it.
    /// Nil if it does not exist (and may not need to). The caller closes the descriptor.
    private func openDirectory(mustExist: Bool) throws(CryptoError) -> Int32? {
        guard !directory.isEmpty else {
            throw .identityStorage(path: directory, reason: "the state directory path is empty")
        }
        // A trailing slash would make open(2) follow a symbolic link in the last component.
        var openPath = Substring(directory)
        while openPath.count > 1, openPath.hasSuffix("/") { openPath = openPath.dropLast() }
        let descriptor = open(String(openPath), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT, !mustExist { return nil }
            if code == ELOOP || code == ENOTDIR {
                // Only to name the problem: nothing is used by this path.
                var info = stat()
                if lstat(String(openPath), &info) == 0, info.st_mode & Self.typeMask == Self.typeSymbolicLink {
                    throw .identityStorage(
                        path: directory,
                        reason: "is a symbolic link; Parley uses the state directory itself: configure the directory "
                            + "the link points to, or replace the link with that directory")
                }
                if code == ENOTDIR {
                    throw .identityStorage(path: directory, reason: "exists but is not a directory")
                }
            }
            throw .identityStorage(path: directory, reason: "cannot open the state directory: \(Self.describe(code))")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let code = errno
            close(descriptor)
            throw .identityStorage(path: directory, reason: "cannot examine the state directory: \(Self.describe(code))")
        }
        do throws(CryptoError) {
            guard info.st_mode & Self.typeMask == Self.typeDirectory else {
                throw .identityStorage(path: directory, reason: "exists but is not a directory")
            }
            try Self.checkOwnerAndMode(info, path: directory, wanted: 0o700)
        } catch {
            close(descriptor)
            throw error
        }
        return descriptor
    }

    /// Creates `path` and any missing parents with mode 0700.
    private func createDirectoryIfMissing(_ path: String) throws(CryptoError) {
        var info = stat()
        if stat(path, &info) == 0 { return }
        guard errno == ENOENT else { return }  // checkDirectory reports it
        let parent = Self.parent(of: path)
        if let parent { try createDirectoryIfMissing(parent) }
        if mkdir(path, 0o700) != 0 {
            let code = errno
            guard code == EEXIST else {
                throw .identityStorage(path: path, reason: "cannot create the directory: \(Self.describe(code))")
            }
            return  // someone else made it: checked like any existing one
        }
        // mkdir applies the umask; make the mode exactly 0700 (through a descriptor: no link is followed).
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return }  // the directory check reports it
        _ = fchmod(descriptor, 0o700)
        close(descriptor)
    }

    // MARK: - Key file

    /// The key pair in the key file, nil if there is none; refuses unsafe or damaged files.
    private func readKeyFile(in directoryDescriptor: Int32) throws(CryptoError) -> IdentityKeyPair? {
        let path = keyFilePath
        // O_NOFOLLOW: a symbolic link is refused, not followed; O_NONBLOCK: a FIFO does not hang us.
        let descriptor = openat(directoryDescriptor, Self.keyFileName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT { return nil }
            if code == ELOOP {
                throw .identityStorage(path: path, reason: "is a symbolic link; Parley uses the key file itself: replace the link with the file")
            }
            throw .identityStorage(path: path, reason: "cannot open the identity key file: \(Self.describe(code))")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw .identityStorage(path: path, reason: "cannot examine the identity key file: \(Self.describe(errno))")
        }
        guard info.st_mode & Self.typeMask == Self.typeRegular else {
            throw .identityStorage(path: path, reason: "is not a regular file")
        }
        try Self.checkOwnerAndMode(info, path: path, wanted: 0o600)
        // Exactly one name: another hard link could let its directory's users read or swap the key.
        // An engine creating the key in this directory right now holds a second link for an instant
        // (between linkat and unlinkat of its temporary name), so give that a moment to go away.
        var waits = 0
        while info.st_nlink > 1, waits < Self.linkCountWaits {
            usleep(10_000)
            waits += 1
            guard fstat(descriptor, &info) == 0 else {
                throw .identityStorage(path: path, reason: "cannot examine the identity key file: \(Self.describe(errno))")
            }
        }
        guard info.st_nlink == 1 else {
            if info.st_nlink == 0 {
                throw .identityStorage(path: path, reason: "was deleted while it was being read: start the engine again")
            }
            throw .identityStorage(
                path: path,
                reason: "has \(info.st_nlink) hard links, must have exactly 1 (another name for the file could expose or "
                    + "replace the key): find them with find / -xdev -samefile \(Self.shellQuoted(path)) and remove every "
                    + "name but this one (a leftover .\(Self.keyFileName).*.tmp in the directory may be deleted)")
        }

        // Read at most one byte more than a key file holds, so an over-long file is seen as such.
        var bytes = [UInt8](repeating: 0, count: IdentityKeyFile.size + 1)
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw .identityStorage(path: path, reason: "cannot read the identity key file: \(Self.describe(code))")
            }
            if count == 0 { break }
            filled += count
        }
        bytes.removeLast(bytes.count - filled)
        do {
            return try IdentityKeyFile.decode(bytes)
        } catch {
            throw .identityStorage(
                path: path,
                reason: "\(error.reason). It was left untouched: restore it from a backup, or move it aside to "
                    + "create a new identity (peers will then see a new safety number)")
        }
    }

    /// Writes `bytes` as the key file, never replacing an existing one.
    private func writeNewKeyFile(_ bytes: [UInt8], in directoryDescriptor: Int32) throws(CryptoError) {
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let temporaryName = ".\(Self.keyFileName).\(suffix).tmp"
        let temporaryPath = (directory.hasSuffix("/") ? directory : directory + "/") + temporaryName
        let descriptor = openat(
            directoryDescriptor, temporaryName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw .identityStorage(path: temporaryPath, reason: "cannot create the new identity key file: \(Self.describe(errno))")
        }
        var written = 0
        var failure: Int32 = 0
        // The umask can only have removed bits; make it exactly 0600 before any secret is written.
        if fchmod(descriptor, 0o600) != 0 { failure = errno }
        while failure == 0, written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                failure = errno
            } else {
                written += count
            }
        }
        if failure == 0, fsync(descriptor) != 0 { failure = errno }
        if close(descriptor) != 0, failure == 0 { failure = errno }
        guard failure == 0 else {
            unlinkat(directoryDescriptor, temporaryName, 0)
            throw .identityStorage(path: temporaryPath, reason: "cannot write the new identity key file: \(Self.describe(failure))")
        }
        let linked = linkat(directoryDescriptor, temporaryName, directoryDescriptor, Self.keyFileName, 0)
        let linkError = errno
        unlinkat(directoryDescriptor, temporaryName, 0)
        if linked != 0, linkError != EEXIST {
            throw .identityStorage(path: keyFilePath, reason: "cannot create the identity key file: \(Self.describe(linkError))")
        }
        // Make the new directory entry durable (best effort: the key's data is already synced).
        _ = fsync(directoryDescriptor)
    }

    // MARK: - Helpers

    private static let typeMask: mode_t = 0o170000
    private static let typeDirectory: mode_t = 0o040000
    private static let typeRegular: mode_t = 0o100000
    private static let typeSymbolicLink: mode_t = 0o120000

    /// How many times (10 ms apart) a key file with a second hard link is looked at again before it is refused.
    private static let linkCountWaits = 50

    /// Refuses `info` unless it belongs to this process's user and gives group and others no access.
    private static func checkOwnerAndMode(_ info: stat, path: String, wanted: mode_t) throws(CryptoError) {
        let user = geteuid()
        guard info.st_uid == user else {
            throw .identityStorage(
                path: path,
                reason: "owned by uid \(info.st_uid), but the engine runs as uid \(user): chown \(user) \(shellQuoted(path)) "
                    + "(or run the engine as uid \(info.st_uid))")
        }
        let mode = info.st_mode & 0o7777
        guard mode & 0o077 == 0 else {
            throw .identityStorage(
                path: path,
                reason: "mode \(octal(mode)), must be \(octal(wanted)) (no access for group or others): "
                    + "chmod \(String(wanted, radix: 8)) \(shellQuoted(path))")
        }
    }

    /// `mode` as four octal digits, e.g. "0644".
    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// `path` as a shell word: unchanged if it is plain, else in single quotes.
    static func shellQuoted(_ path: String) -> String {
        let plain = path.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return "/._-+,:@%".utf8.contains(byte)
            }
        }
        if plain, !path.isEmpty { return path }
        return "'" + path.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// The parent directory of `path`, or nil for "/" or a single relative component.
    static func parent(of path: String) -> String? {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return nil }
        if slash == trimmed.startIndex { return trimmed.count > 1 ? "/" : nil }
        return String(trimmed[..<slash])
    }

    /// The text of a POSIX error number.
    private static func describe(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return "\(String(cString: text)) (errno \(code))"
    }
}
