import Foundation
import ParleyControl
import ParleyTestSupport
import Testing

/// Protocols/control/schemas/methods/, found from this file's path in the repository.
let methodSchemaDirectory = schemaDirectory.appendingPathComponent("methods")

/// The method schema files' names (`Calls.Dial.json`…), sorted.
func methodSchemaFiles() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: methodSchemaDirectory.path).filter { $0.hasSuffix(".json") }.sorted()
}

/// The file holding `method`'s schema: `parley.v1.Calls/Dial` → `methods/Calls.Dial.json`.
func schemaFile(of method: MethodName) -> String {
    "methods/\(method.service).\(method.method).json"
}

/// A schema file of the repository, as text and parsed.
func schemaText(_ file: String) throws -> String {
    try String(contentsOf: schemaDirectory.appendingPathComponent(file), encoding: .utf8)
}

func parsedSchema(_ file: String) throws -> JSONObject {
    guard case .object(let object) = try JSONValue(parsing: try schemaText(file)) else {
        throw SchemaFixtureError.notAnObject(file)
    }
    return object
}

enum SchemaFixtureError: Error {
    case notAnObject(String)
}

/// Every `$ref` inside `value`, depth first.
func references(in value: JSONValue) -> [String] {
    switch value {
    case .object(let object):
        object.flatMap { key, member -> [String] in
            if key == "$ref", case .string(let reference) = member { return [reference] }
            return references(in: member)
        }
    case .array(let elements): elements.flatMap(references(in:))
    default: []
    }
}

/// The violations of `value` against method `name`'s file (e.g. "Calls.Get"), or the part at `pointer`.
func violations(of value: JSONValue, method name: String, pointer: String? = nil) -> [String] {
    schemaChecker.violations(of: value, against: "methods/\(name).json", pointer: pointer)
}

/// The violations of `value` against the shared object `name` (e.g. "Call") of objects.json.
func violations(of value: JSONValue, object name: String) -> [String] {
    schemaChecker.violations(of: value, against: "objects.json", pointer: "/$defs/\(name)")
}

// MARK: - Fixtures: the examples of services.md §1.1 and §1.2

/// services.md §1.1's Call, its placeholders ("<base64url>", "…") filled with Bob's key of
/// Protocols/peer/identity.md §5 and the safety number and SAS vectors of verification.md §5.
let exampleCall = try! JSONValue(parsing: #"""
    {"call_id": "call-1", "direction": "outgoing", "state": "active",
     "end_reason": null, "end_detail": null,
     "peer": {"key": "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08",
              "uri": "parley:3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08@127.0.0.1:5000",
              "fingerprint": "69837 00818 24749 79774 81810 43688"},
     "peer_address": "127.0.0.1:5000",
     "safety_number": "07529 90604 70638 84672 71921 09166 69837 00818 24749 79774 81810 43688",
     "sas": {"words": ["sun", "gem", "earth", "monkey"], "emoji": ["🌞", "💎", "🌍", "🐵"]},
     "verified": false,
     "local_media": {"audio": true, "video": true},
     "peer_media": {"audio": true, "video": true},
     "video": {"width": 640, "height": 480, "frame_rate": 30, "max_bitrate": 1000000},
     "signalling": "dial", "started_ms": 1234, "active_ms": 1300}
    """#)

/// services.md §1.2's Stats, verbatim.
let exampleStats = try! JSONValue(parsing: #"""
    {"call_id": "call-1", "timestamp_ms": 5234, "state": "active",
     "transport": {"packetsSent": 0, "packetsReceived": 0, "bytesSent": 0, "bytesReceived": 0,
                   "roundTripTime": 0.0012, "totalRoundTripTime": 0.02, "roundTripTimeMeasurements": 17,
                   "sendBitrate": 512000, "receiveBitrate": 498000},
     "outbound": [{"kind": "audio", "ssrc": 1, "packetsSent": 0, "bytesSent": 0, "headerBytesSent": 0,
                   "framesSent": 0, "framesEncoded": 0, "keyFramesEncoded": 0, "nackCount": 0,
                   "pliCount": 0, "firCount": 0, "retransmittedPacketsSent": 0,
                   "retransmittedBytesSent": 0, "targetBitrate": 48000, "frameWidth": 640,
                   "frameHeight": 480, "framesPerSecond": 30, "fractionLost": 0}],
     "inbound":  [{"kind": "video", "ssrc": 2, "packetsReceived": 0, "bytesReceived": 0,
                   "packetsLost": 0, "jitter": 0.001, "framesReceived": 0, "framesDecoded": 0,
                   "keyFramesDecoded": 0, "framesDropped": 0, "freezeCount": 0,
                   "totalFreezesDuration": 0, "pauseCount": 0, "totalPausesDuration": 0,
                   "jitterBufferDelay": 0, "jitterBufferTargetDelay": 0, "jitterBufferEmittedCount": 0,
                   "nackCount": 0, "pliCount": 0, "framesPerSecond": 30,
                   "frameWidth": 640, "frameHeight": 480}],
     "media": {"video_stamps_read": 0, "video_stamps_out_of_order": 0, "video_stamp_failures": 0,
               "video_latency_ms": {"last": 0, "mean": 0, "max": 0},
               "audio_samples_played": 0, "audio_markers_heard": 0},
     "dropped": {"total": 0, "by_reason": {"srtp_authentication": 0}}}
    """#)

/// `value` with `member` set to `newValue` (an object's member; a programming error otherwise).
func replacing(_ member: String, in value: JSONValue, with newValue: JSONValue?) -> JSONValue {
    guard case .object(var object) = value else { preconditionFailure("not an object") }
    object[member] = newValue
    return .object(object)
}

@Suite struct MethodSchemaTests {
    // MARK: The files

    @Test func everyCatalogMethodHasASchemaFileAndEveryFileNamesACatalogMethod() throws {
        let files = try methodSchemaFiles()
        let expected = ControlCatalog.version1.map { schemaFile(of: $0.name).replacingOccurrences(of: "methods/", with: "") }
        #expect(files == expected.sorted())
        #expect(files.count == 25)  // v1.md §9: 24 methods of issue 6, and Calls/Record
    }

    @Test func everySchemaFileUsesOnlyKeywordsTheCheckerUnderstandsAndEveryRefResolves() throws {
        let envelopes = ["request", "cancel", "reply", "error", "event", "end"].map { "\($0).json" }
        let files = ["objects.json"] + envelopes + (try methodSchemaFiles()).map { "methods/\($0)" }
        for file in files {
            #expect(schemaChecker.schemaProblems(in: file) == [], "\(file)")
        }
    }

    @Test func eachMethodFileHoldsClosedParamsAnOpenResultAndAnEventExactlyForStreams() throws {
        for (method, kind) in ControlCatalog.version1 {
            let file = try parsedSchema(schemaFile(of: method))
            guard case .object(let parts)? = file["properties"], case .object(let params)? = parts["params"] else {
                Issue.record("\(method): no params schema")
                continue
            }
            #expect(file["title"] == .string(method.description), "\(method)")
            #expect(file["additionalProperties"] == false, "\(method)")
            #expect(parts.keys == (kind == .serverStreaming ? ["params", "result", "event"] : ["params", "result"]), "\(method)")
            #expect(params["additionalProperties"] == false, "\(method): params must be closed")
            if case .object(let result)? = parts["result"] {
                #expect(result["additionalProperties"] == nil, "\(method): results stay open to new members")
            }
        }
    }

    /// Describe serves each method file's parts on their own, so a method file may refer only into
    /// objects.json (which Describe serves as `objects`), never to a place in itself.
    @Test func methodFilesReferOnlyToSharedObjects() throws {
        let definitions = try parsedSchema("objects.json")["$defs"]
        guard case .object(let shared)? = definitions else {
            Issue.record("objects.json has no $defs")
            return
        }
        for file in try methodSchemaFiles() {
            for reference in references(in: .object(try parsedSchema("methods/\(file)"))) {
                let prefix = "../objects.json#/$defs/"
                #expect(reference.hasPrefix(prefix), "\(file): \(reference)")
                #expect(shared[String(reference.dropFirst(prefix.count))] != nil, "\(file): \(reference)")
            }
        }
    }

    // MARK: services.md's examples

    @Test func theCallExampleOfServicesValidates() {
        #expect(violations(of: exampleCall, object: "Call") == [])
        #expect(violations(of: ["params": ["call_id": "call-1"], "result": exampleCall], method: "Calls.Get") == [])
        #expect(violations(of: ["result": ["calls": [exampleCall]]], method: "Calls.List") == [])
    }

    @Test func aRingingCallBeforeTheHandshakeValidates() {
        var call = exampleCall
        for (member, value) in [
            ("direction", "incoming"), ("state", "ringing"), ("peer_address", "[2001:db8::1]:443"), ("sas", .null),
            ("peer_media", .null), ("signalling", "incoming"), ("active_ms", .null),
        ] as [(String, JSONValue)] {
            call = replacing(member, in: call, with: value)
        }
        #expect(violations(of: ["type": "incoming_call", "call": call], method: "Calls.Watch", pointer: "/properties/event") == [])
        let ended = replacing("end_reason", in: replacing("state", in: call, with: "ended"), with: "declined")
        #expect(schemaChecker.violations(of: ended, against: "objects.json", pointer: "#/$defs/Call") == [])
    }

    @Test func theStatsExampleOfServicesValidates() {
        #expect(violations(of: exampleStats, object: "Stats") == [])
        #expect(violations(of: ["params": ["call_id": "call-1"], "result": exampleStats], method: "Calls.Stats") == [])
        #expect(violations(of: ["event": ["type": "stats", "stats": exampleStats]], method: "Calls.Watch") == [])
    }

    @Test func everyKindOfWatchEventValidates() {
        let sas: JSONValue = ["words": ["turtle", "tower", "lemon", "umbrella"], "emoji": ["🐢", "🗼", "🍋", "☔"]]
        let events: [JSONValue] = [
            ["type": "snapshot", "calls": [exampleCall]],
            ["type": "call_added", "call": exampleCall],
            ["type": "state_changed", "call": exampleCall, "state": "ended", "reason": "remote_hangup"],
            ["type": "verification", "call_id": "call-1", "sas": sas, "safety_number": exampleCall.member("safety_number")],
            ["type": "verified_changed", "call_id": "call-1", "verified": true],
            ["type": "media_state", "call_id": "call-1", "local": ["audio": false, "video": true], "peer": .null],
            ["type": "peer_silent", "call_id": "call-1"],
            ["type": "peer_resumed", "call_id": "call-1", "since_ms": 2000],  // unknown members are allowed
            ["type": "stats", "stats": exampleStats],
        ]
        for event in events {
            #expect(violations(of: ["event": event], method: "Calls.Watch") == [], "\(event.serialized())")
        }
    }

    @Test func wellFormedParamsOfSeveralMethodsValidate() {
        let key = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"
        let cases: [(String, JSONValue)] = [
            ("Calls.Dial", ["peer": .string(key), "address": "192.0.2.1:7000", "video": false]),
            ("Calls.Dial", ["peer": .string("parley:\(key)@[2001:db8::1]:443")]),
            ("Calls.CreateOffer", ["peer": .string(key), "ttl_ms": 600_000]),
            ("Calls.AcceptOffer", ["offer": "AQIDBA-_"]),
            ("Calls.Reject", ["call_id": "call-3", "reason": "busy"]),
            ("Calls.Mute", ["call_id": "call-3", "audio": false, "video": true]),
            ("Calls.SetVideo", ["call_id": "call-3", "width": 1280, "height": 720, "frame_rate": 60, "max_bitrate": 50000]),
            ("Calls.Watch", ["stats_interval_ms": 100, "snapshot": false]),
            ("Devices.Select", ["video_source": "synthetic-camera", "audio_sink": "analysis-audio"]),
            ("Engine.Health", [:]),
        ]
        for (method, params) in cases {
            #expect(violations(of: ["params": params], method: method) == [], "\(method) \(params.serialized())")
        }
    }

    // MARK: Violations are caught, at the right path

    @Test func aMissingCallIDIsNamedAtItsPath() {
        #expect(violations(of: ["params": [:]], method: "Calls.Get") == ["$.params.call_id: missing"])
    }

    @Test func anUnknownParameterIsRefused() {
        #expect(
            violations(of: ["params": ["call_id": "call-1", "callid": "call-1"]], method: "Calls.Get")
                == ["$.params.callid: unexpected member"])
    }

    @Test func aStateOutsideTheEnumIsCaughtInsideTheSharedCall() {
        let call = replacing("state", in: exampleCall, with: "paused")
        #expect(violations(of: ["result": call], method: "Calls.Get") == [#"$.result.state: "paused" not in enum"#])
        #expect(
            violations(of: ["result": ["calls": [exampleCall, call]]], method: "Calls.List")
                == [#"$.result.calls[1].state: "paused" not in enum"#])
    }

    @Test func aValueOfTheWrongTypeIsCaught() {
        let params: JSONValue = ["peer": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "address": "192.0.2.1:7000", "audio": "yes"]
        #expect(violations(of: ["params": params], method: "Calls.Dial") == ["$.params.audio: expected boolean, found a string"])
        #expect(
            violations(of: ["result": replacing("end_detail", in: exampleCall, with: 7)], method: "Calls.Get")
                == ["$.result.end_detail: expected string or null, found a number"])
    }

    @Test func rangesAndEvenSizesAreChecked() {
        #expect(
            violations(of: ["params": ["call_id": "call-1", "height": 481, "frame_rate": 61]], method: "Calls.SetVideo")
                == ["$.params.height: 481 is not a multiple of 2", "$.params.frame_rate: 61 above maximum 60"])
        #expect(
            violations(
                of: ["params": ["peer": "parley:hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo@192.0.2.1:7", "ttl_ms": 999]],
                method: "Calls.CreateOffer")
                == ["$.params.ttl_ms: 999 below minimum 1000"])
    }

    @Test func muteNeedsOneMediumAndDialNeedsAnAddress() {
        #expect(
            violations(of: ["params": ["call_id": "call-1", "audio": false]], method: "Calls.Mute")
                == [#"$.params: matches none of anyOf; closest, choice 1: $.params.audio: false is not true"#])
        #expect(
            violations(of: ["params": ["peer": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"]], method: "Calls.Dial")
                == ["$.params: matches none of anyOf; closest, choice 1: $.params.address: missing"])
    }

    @Test func aWatchEventMissingItsMemberIsTracedToTheMatchingType() {
        // `stats` is the 11th kind of event (device_lost, issue 7, came before it).
        #expect(
            violations(of: ["event": ["type": "stats"]], method: "Calls.Watch")
                == ["$.event: matches none of oneOf; closest, choice 11: $.event.stats: missing"])
    }

    @Test func statsEntriesAcceptNewNumericMembersOnly() {
        guard case .array(let inbound)? = exampleStats.objectValue?["inbound"] else {
            Issue.record("no inbound")
            return
        }
        let withNumber = replacing(
            "inbound", in: exampleStats, with: .array([replacing("totalInterFrameDelay", in: inbound[0], with: 1.5)]))
        #expect(violations(of: withNumber, object: "Stats") == [])
        let withText = replacing("inbound", in: exampleStats, with: .array([replacing("codecId", in: inbound[0], with: "VP8")]))
        #expect(
            violations(of: withText, object: "Stats")
                == ["$.inbound[0].codecId: expected number, found a string"])
        let withoutSSRC = replacing("inbound", in: exampleStats, with: .array([replacing("ssrc", in: inbound[0], with: nil)]))
        #expect(violations(of: withoutSSRC, object: "Stats") == ["$.inbound[0].ssrc: missing"])
    }

    // MARK: The checker itself

    @Test func theCheckerRefusesKeywordsItDoesNotUnderstand() {
        let checker = JSONSchemaChecker(documents: [
            "x.json": ["type": "object", "properties": ["n": ["type": "integer", "exclusiveMinimum": 0]]]
        ])
        #expect(checker.violations(of: ["n": 1], against: "x.json") == ["$.n: checker does not understand keyword exclusiveMinimum"])
        #expect(
            checker.schemaProblems(in: "x.json")
                == ["x.json#/properties/n/exclusiveMinimum: checker does not understand keyword exclusiveMinimum"])
    }

    @Test func theCheckerReportsMalformedRulesAndDanglingRefs() {
        let checker = JSONSchemaChecker(documents: [
            "dir/a.json": ["properties": ["b": ["$ref": "../b.json#/$defs/B"], "c": ["$ref": "#/$defs/Nope"], "d": ["minLength": -1]]],
            "b.json": ["$defs": ["B": ["type": ["string", "null"], "maxLength": 2]]],
        ])
        #expect(
            checker.schemaProblems(in: "dir/a.json") == [
                "dir/a.json#/properties/c/$ref: $ref #/$defs/Nope: dir/a.json#/$defs/Nope does not resolve",
                "dir/a.json#/properties/d/minLength: malformed keyword minLength",
            ])
        #expect(checker.violations(of: ["b": "abc"], against: "dir/a.json") == ["$.b: 3 characters, more than 2"])
        #expect(checker.violations(of: ["b": .null], against: "dir/a.json") == [])
        #expect(checker.violations(of: "abc", againstSchema: ["$ref": "b.json#/$defs/B"]) == ["$: 3 characters, more than 2"])
        #expect(schemaChecker.violations(of: exampleCall, againstSchema: ["$ref": "../objects.json#/$defs/Call"], in: "methods/x.json") == [])
    }

    // MARK: The schemas embedded for Engine/Describe

    @Test func theEmbeddedSchemasAreTheFilesByteForByte() throws {
        let hint = "run python3 Scripts/generate-control-schemas.py to regenerate Sources/ParleyControl/ControlSchemas.swift"
        #expect(ControlSchemas.objects == (try schemaText("objects.json")), "objects.json differs: \(hint)")
        let expectedNames = ControlCatalog.version1.map(\.name.description).sorted()
        #expect(ControlSchemas.methods.keys.sorted() == expectedNames, "\(hint)")
        for (method, _) in ControlCatalog.version1 {
            #expect(ControlSchemas.methods[method.description] == (try schemaText(schemaFile(of: method))), "\(method) differs: \(hint)")
        }
    }

    @Test func theEmbeddedSchemasStandOnTheirOwn() throws {
        var documents: [String: JSONValue] = ["objects.json": try JSONValue(parsing: ControlSchemas.objects)]
        for (method, _) in ControlCatalog.version1 {
            documents[schemaFile(of: method)] = try JSONValue(parsing: ControlSchemas.methods[method.description] ?? "")
        }
        let embedded = JSONSchemaChecker(documents: documents)
        #expect(embedded.violations(of: ["params": ["call_id": "call-1"], "result": exampleCall], against: "methods/Calls.Get.json") == [])
        #expect(embedded.violations(of: ["params": [:]], against: "methods/Calls.Get.json") == ["$.params.call_id: missing"])
    }
}

/// Engine/Describe serves the schemas (a server in a temporary directory; no timing involved).
@Suite(.timeLimit(.minutes(1))) struct DescribeSchemaTests {
    @Test func describeCarriesTheSchemaOfCallsDialWhenDialIsRegistered() async throws {
        let server = try await TestServer()
        server.server.register(dial, unary: { _ throws(ControlError) in [:] })
        let client = try ControlClient(connectingTo: server.path)
        defer { client.close() }
        let description = try await client.call(testMethod("Describe", service: "Engine"))
        await server.stop()

        let dialFile = try parsedSchema("methods/Calls.Dial.json")
        guard case .object(let parts)? = dialFile["properties"] else {
            Issue.record("Calls.Dial.json has no properties")
            return
        }
        let calls = description.objectValue?["services"]?.arrayValue?.first { $0.objectValue?["name"] == "parley.v1.Calls" }
        let dialEntry = calls?.objectValue?["methods"]?.arrayValue?.first { $0.objectValue?["name"] == "Dial" }
        #expect(dialEntry?.objectValue?["full_name"] == "parley.v1.Calls/Dial")
        #expect(dialEntry?.objectValue?["schema"] == ["params": parts["params"] ?? .null, "result": parts["result"] ?? .null])
        #expect(description.objectValue?["objects"] == (try parsedSchema("objects.json"))["$defs"])
        #expect(violations(of: ["result": description], method: "Engine.Describe") == [])
    }

    @Test func describeLeavesTheSchemaOutForMethodsTheProtocolDoesNotSpecify() async throws {
        let server = try await TestServer()
        let client = try ControlClient(connectingTo: server.path)
        defer { client.close() }
        let description = try await client.call(testMethod("Describe", service: "Engine"))
        await server.stop()
        let test = description.objectValue?["services"]?.arrayValue?.first { $0.objectValue?["name"] == "parley.v1.Test" }
        let echo = test?.objectValue?["methods"]?.arrayValue?.first { $0.objectValue?["name"] == "Echo" }
        #expect(echo == ["name": "Echo", "full_name": "parley.v1.Test/Echo", "kind": "unary"])
        let engine = description.objectValue?["services"]?.arrayValue?.first
        let health = engine?.objectValue?["methods"]?.arrayValue?.first
        let healthFile = try parsedSchema("methods/Engine.Health.json")
        #expect(health?.objectValue?["schema"]?.objectValue?["result"] == healthFile["properties"]?.objectValue?["result"])
    }
}

extension JSONValue {
    /// The object, when this is one.
    var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    /// The elements, when this is an array.
    var arrayValue: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// An object's member, or `null` (fixtures only).
    func member(_ name: String) -> JSONValue {
        objectValue?[name] ?? .null
    }
}
