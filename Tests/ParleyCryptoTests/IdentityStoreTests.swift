import Foundation
import ParleyCrypto
import ParleyWire
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RFC 7748 §6.1: Alice's private key and the public key it has.
private let alicePrivateKey = hexBytes("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
private let alicePublicKey = hexBytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")

/// Alice's key pair as a key file, laid out by hand from Protocols/peer/identity.md §2.
private let aliceKeyFile: [UInt8] =
    Array("PARLEYID".utf8)  // magic
    + [0x01, 0x01, 0x00, 0x00]  // format version 1 | algorithm 1 (X25519) | reserved
    + alicePrivateKey  // bytes 12-43
    + alicePublicKey  // bytes 44-75

private func hexBytes(_ text: String) -> [UInt8] {
    [UInt8](hexString: text)!
}

/// Runs `body` with a fresh directory path under the temporary directory (not created), then removes it.
private func withScratch<T>(_ body: (String) throws -> T) rethrows -> T {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("parley-identity-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    return try body(root)
}

private func withScratch<T>(_ body: (String) async throws -> T) async rethrows -> T {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("parley-identity-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    return try await body(root)
}

/// (mode bits, owner uid, size) of `path`, not following a symbolic link.
private func fileStatus(_ path: String) -> (mode: UInt32, owner: UInt32, size: Int)? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return (UInt32(info.st_mode) & 0o7777, UInt32(info.st_uid), Int(info.st_size))
}

private func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    chmod(path, mode)
}

private func readFile(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}

/// The (path, reason) of the `.identityStorage` error `body` throws, or nil if it throws nothing or another error.
private func storageError(_ body: () throws -> Any?) -> (path: String, reason: String)? {
    do {
        _ = try body()
        return nil
    } catch let CryptoError.identityStorage(path, reason) {
        return (path, reason)
    } catch {
        return nil
    }
}

@Suite struct IdentityStoreTests {
    @Test func firstStartCreatesTheDirectoryAndKeyWithOwnerOnlyModes() throws {
        try withScratch { root in
            let directory = root + "/nested/state"
            let store = IdentityStore(directory: directory)
            #expect(try store.load() == nil)
            #expect(fileStatus(root) == nil, "load() must not create anything")

            let keyPair = try store.loadOrCreate()
            let directoryStatus = try #require(fileStatus(directory))
            let keyStatus = try #require(fileStatus(store.keyFilePath))
            #expect(directoryStatus.mode == 0o700)
            #expect(keyStatus.mode == 0o600)
            #expect(directoryStatus.owner == geteuid() && keyStatus.owner == geteuid())
            #expect(keyStatus.size == 76)
            #expect(store.keyFilePath == directory + "/identity.key")
            // Only the key file: the temporary file it was written to is gone.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["identity.key"])
            #expect(keyPair.description == "IdentityKeyPair(public: \(keyPair.publicKey.base64URL))")
        }
    }

    @Test func laterStartsLoadTheSameKey() throws {
        try withScratch { root in
            let created = try IdentityStore(directory: root).loadOrCreate()
            let bytes = readFile(root + "/identity.key")
            #expect(try IdentityStore(directory: root).loadOrCreate().publicKey == created.publicKey)
            #expect(try IdentityStore(directory: root + "/").load()?.publicKey == created.publicKey)
            #expect(readFile(root + "/identity.key") == bytes, "loading never rewrites the file")
        }
    }

    @Test func keyFileHasTheSpecifiedLayout() throws {
        try withScratch { root in
            let keyPair = try IdentityStore(directory: root).loadOrCreate()
            let bytes = try #require(readFile(root + "/identity.key"))
            #expect(Array(bytes[0..<12]) == Array("PARLEYID".utf8) + [1, 1, 0, 0])
            #expect(Array(bytes[44..<76]) == keyPair.publicKey.rawRepresentation)
        }
    }

    @Test func aKeyFileWrittenFromTheSpecificationLoads() throws {
        try withScratch { root in
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            writeFile(root + "/identity.key", aliceKeyFile)
            let keyPair = try IdentityStore(directory: root).loadOrCreate()
            #expect(keyPair.publicKey.rawRepresentation == alicePublicKey)
            #expect(readFile(root + "/identity.key") == aliceKeyFile, "an existing key is never overwritten")
            // The description shows the public key only.
            let privateText = Data(alicePrivateKey).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(keyPair.description.contains(keyPair.publicKey.base64URL) && !keyPair.description.contains(privateText))
        }
    }

    @Test func aKeyFileOpenToGroupOrOthersIsRefusedWithTheFix() throws {
        for mode: mode_t in [0o644, 0o640, 0o604, 0o666] {
            try withScratch { root in
                _ = try IdentityStore(directory: root).loadOrCreate()
                let path = root + "/identity.key"
                chmod(path, mode)
                let error = try #require(storageError { try IdentityStore(directory: root).loadOrCreate() })
                let shown = String(mode, radix: 8)
                #expect(error.path == path)
                #expect(error.reason.contains("mode 0\(shown), must be 0600"), "\(error.reason)")
                #expect(error.reason.contains("chmod 600 \(path)"), "\(error.reason)")
                #expect(storageError { try IdentityStore(directory: root).load() }?.path == path)
                #expect(fileStatus(path)?.mode == UInt32(mode), "the file is left as it was")
            }
        }
    }

    @Test func anOwnerOnlyReadOnlyKeyFileIsAccepted() throws {
        try withScratch { root in
            let created = try IdentityStore(directory: root).loadOrCreate()
            chmod(root + "/identity.key", 0o400)
            #expect(try IdentityStore(directory: root).loadOrCreate().publicKey == created.publicKey)
        }
    }

    @Test func aDirectoryOpenToGroupOrOthersIsRefusedWithTheFix() throws {
        for mode: mode_t in [0o755, 0o750, 0o701, 0o777] {
            try withScratch { root in
                _ = try IdentityStore(directory: root).loadOrCreate()
                chmod(root, mode)
                defer { chmod(root, 0o700) }
                let error = try #require(storageError { try IdentityStore(directory: root).loadOrCreate() })
                #expect(error.path == root)
                #expect(error.reason.contains("mode 0\(String(mode, radix: 8)), must be 0700"), "\(error.reason)")
                #expect(error.reason.contains("chmod 700 \(root)"), "\(error.reason)")
                #expect(storageError { try IdentityStore(directory: root).load() }?.path == root)
            }
        }
    }

    @Test func anExistingDirectoryOpenToOthersIsRefusedBeforeAnyKeyIsCreated() throws {
        try withScratch { root in
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false, attributes: nil)
            chmod(root, 0o755)
            #expect(storageError { try IdentityStore(directory: root).loadOrCreate() }?.path == root)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
        }
    }

    @Test func damagedKeyFilesAreRefusedAndLeftUntouched() throws {
        var flippedPrivate = aliceKeyFile
        flippedPrivate[20] ^= 0x01
        var flippedPublic = aliceKeyFile
        flippedPublic[75] ^= 0x40
        var reserved = aliceKeyFile
        reserved[11] = 1
        var version = aliceKeyFile
        version[8] = 2
        var algorithm = aliceKeyFile
        algorithm[9] = 2
        let cases: [(name: String, bytes: [UInt8], reason: String)] = [
            ("empty", [], "not a Parley identity key file"),
            ("truncated", Array(aliceKeyFile.dropLast()), "corrupt: 75 bytes"),
            ("extended", aliceKeyFile + [0], "corrupt: 77 bytes"),
            ("wrong magic", Array("PARLEYIE".utf8) + aliceKeyFile.dropFirst(8), "not a Parley identity key file"),
            ("text", Array(String(repeating: "not a key\n", count: 8).utf8), "not a Parley identity key file"),
            ("newer version", version, "format version 2 is not supported"),
            ("unknown algorithm", algorithm, "unknown key algorithm 2"),
            ("reserved bytes set", reserved, "reserved bytes"),
            ("private key bit flipped", flippedPrivate, "does not match"),
            ("public key bit flipped", flippedPublic, "does not match"),
        ]
        for damaged in cases {
            try withScratch { root in
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                let path = root + "/identity.key"
                writeFile(path, damaged.bytes)
                let error = try #require(storageError { try IdentityStore(directory: root).loadOrCreate() }, "\(damaged.name)")
                #expect(error.path == path, "\(damaged.name)")
                #expect(error.reason.contains(damaged.reason), "\(damaged.name): \(error.reason)")
                #expect(error.reason.contains("left untouched"), "\(damaged.name): \(error.reason)")
                #expect(readFile(path) == damaged.bytes, "\(damaged.name): never replaced")
                #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["identity.key"])
            }
        }
    }

    @Test func aSymbolicLinkInPlaceOfTheKeyFileIsRefused() throws {
        try withScratch { root in
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            writeFile(root + "/elsewhere.key", aliceKeyFile)
            symlink(root + "/elsewhere.key", root + "/identity.key")
            let error = try #require(storageError { try IdentityStore(directory: root).loadOrCreate() })
            #expect(error.path == root + "/identity.key")
            #expect(error.reason.contains("symbolic link"), "\(error.reason)")
        }
    }

    @Test func aKeyFileWithASecondHardLinkIsRefused() throws {
        try withScratch { root in
            let created = try IdentityStore(directory: root).loadOrCreate()
            let path = root + "/identity.key"
            let bytes = readFile(path)
            #expect(link(path, root + "/copy.key") == 0)
            let error = try #require(storageError { try IdentityStore(directory: root).loadOrCreate() })
            #expect(error.path == path)
            #expect(error.reason.contains("has 2 hard links, must have exactly 1"), "\(error.reason)")
            #expect(error.reason.contains("-samefile \(path)"), "\(error.reason)")
            #expect(storageError { try IdentityStore(directory: root).load() }?.path == path)
            #expect(readFile(path) == bytes, "the file is left as it was")
            // With the second name removed the key loads again.
            #expect(unlink(root + "/copy.key") == 0)
            #expect(try IdentityStore(directory: root).load()?.publicKey == created.publicKey)
        }
    }

    @Test func aStateDirectoryReplacedByASymbolicLinkIsRefused() throws {
        try withScratch { root in
            let directory = root + "/state"
            _ = try IdentityStore(directory: directory).loadOrCreate()
            // Swap the checked directory for a link to an equally safe one (mode 0700, our own, with a key).
            #expect(rename(directory, root + "/elsewhere") == 0)
            #expect(symlink(root + "/elsewhere", directory) == 0)
            for spelling in [directory, directory + "/"] {
                let error = try #require(storageError { try IdentityStore(directory: spelling).loadOrCreate() }, "\(spelling)")
                #expect(error.path == spelling)
                #expect(error.reason.contains("symbolic link"), "\(error.reason)")
                #expect(storageError { try IdentityStore(directory: spelling).load() }?.reason.contains("symbolic link") == true)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/elsewhere") == ["identity.key"], "nothing is written through the link")
        }
    }

    @Test func aDirectoryInPlaceOfTheKeyFileIsRefused() throws {
        try withScratch { root in
            try FileManager.default.createDirectory(atPath: root + "/identity.key", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            chmod(root, 0o700)
            let error = try #require(storageError { try IdentityStore(directory: root).loadOrCreate() })
            #expect(error.path == root + "/identity.key")
            #expect(error.reason.contains("not a regular file"), "\(error.reason)")
        }
    }

    @Test func aStatePathThatIsAFileIsRefused() throws {
        try withScratch { root in
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            writeFile(root + "/state", [1, 2, 3])
            let error = try #require(storageError { try IdentityStore(directory: root + "/state").loadOrCreate() })
            #expect(error.path == root + "/state")
            #expect(error.reason.contains("not a directory"), "\(error.reason)")
            #expect(readFile(root + "/state") == [1, 2, 3])
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to give files away"))
    func filesOfAnotherUserAreRefused() throws {
        try withScratch { root in
            _ = try IdentityStore(directory: root).loadOrCreate()
            let path = root + "/identity.key"
            chown(path, 4242, 4242)
            let fileError = try #require(storageError { try IdentityStore(directory: root).loadOrCreate() })
            #expect(fileError.path == path)
            #expect(fileError.reason.contains("owned by uid 4242"), "\(fileError.reason)")
            #expect(fileError.reason.contains("chown 0 \(path)"), "\(fileError.reason)")
            chown(path, 0, 0)
            chown(root, 4242, 4242)
            let directoryError = try #require(storageError { try IdentityStore(directory: root).load() })
            #expect(directoryError.path == root)
            #expect(directoryError.reason.contains("owned by uid 4242"), "\(directoryError.reason)")
        }
    }

    @Test func enginesStartingTogetherAgreeOnOneKey() async throws {
        await withScratch { root in
            let keys = await withTaskGroup(of: IdentityPublicKey?.self) { group in
                for _ in 0..<8 {
                    group.addTask { try? IdentityStore(directory: root).loadOrCreate().publicKey }
                }
                var keys: [IdentityPublicKey?] = []
                for await key in group { keys.append(key) }
                return keys
            }
            #expect(keys.count == 8)
            #expect(Set(keys).count == 1 && keys[0] != nil, "\(keys)")
            #expect((try? IdentityStore(directory: root).load())??.publicKey == keys[0])
            #expect((try? FileManager.default.contentsOfDirectory(atPath: root)) == ["identity.key"])
        }
    }

    @Test func pathsWithSpacesAreQuotedInTheFix() throws {
        try withScratch { root in
            let directory = root + "/my state"
            _ = try IdentityStore(directory: directory).loadOrCreate()
            chmod(directory + "/identity.key", 0o644)
            let error = try #require(storageError { try IdentityStore(directory: directory).load() })
            #expect(error.reason.contains("chmod 600 '\(directory)/identity.key'"), "\(error.reason)")
        }
    }
}
