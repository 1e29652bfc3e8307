import ParleyControl
import ParleyCrypto
import ParleyJitter
import ParleyRuntime
import ParleySession
import ParleyWire

/// JSON numbers from Swift numbers (non-finite doubles become 0: JSON has no NaN).
func json(_ value: Int) -> JSONValue { .number(JSONNumber(Int64(value))) }
func json(_ value: Int64) -> JSONValue { .number(JSONNumber(value)) }
func json(_ value: Double) -> JSONValue { .number(JSONNumber(value) ?? JSONNumber(0)) }

extension Engine {
    /// The Call object of services.md §1.1.
    func render(_ record: CallRecord) -> JSONValue {
        let peerURI = IdentityURI(
            publicKey: record.peerKey,
            address: record.peerAddress.flatMap { try? IdentityURI.Address(parsing: $0.description) })
        let video: JSONObject = [
            "width": json(record.video.width), "height": json(record.video.height),
            "frame_rate": json(record.video.frameRate), "max_bitrate": json(record.video.maximumBitrate),
        ]
        let object: JSONObject = [
            "call_id": .string(record.id),
            "direction": .string(record.isOutgoing ? "outgoing" : "incoming"),
            "state": .string(record.state),
            "end_reason": record.endReason.map(JSONValue.string) ?? .null,
            "end_detail": record.endDetail.map(JSONValue.string) ?? .null,
            "peer": [
                "key": .string(record.peerKey.base64URL), "uri": .string(peerURI.description),
                "fingerprint": .string(record.peerFingerprint),
            ],
            "peer_address": record.peerAddress.map { .string($0.description) } ?? .null,
            "safety_number": .string(record.safetyNumber.displayString),
            "sas": record.shortAuthenticationString.map(render) ?? .null,
            "verified": .bool(record.isVerified),
            "local_media": renderLocalMedia(record),
            "peer_media": record.peerMedia.map(renderMedia) ?? .null,
            "video": .object(video),
            "signalling": .string(record.signalling.rawValue),
            "started_ms": json(uptimeMilliseconds(at: record.createdAt)),
            "active_ms": record.activeAt.map { json(uptimeMilliseconds(at: $0)) } ?? .null,
        ]
        return .object(object)
    }

    func render(_ sas: ShortAuthenticationString) -> JSONValue {
        ["words": .array(sas.words.map(JSONValue.string)), "emoji": .array(sas.emoji.map(JSONValue.string))]
    }

    func renderLocalMedia(_ record: CallRecord) -> JSONValue {
        ["audio": .bool(record.sendsAudio), "video": .bool(record.sendsVideo)]
    }

    func renderMedia(_ media: SessionMessage.MediaState) -> JSONValue {
        ["audio": .bool(!media.audioMuted), "video": .bool(media.videoEnabled)]
    }

    /// The identity object of `Identity/Get`.
    func renderIdentity() -> JSONValue {
        let uri = IdentityURI(
            publicKey: identity.publicKey,
            address: advertisedAddresses.first.flatMap { try? IdentityURI.Address(parsing: $0.description) })
        return [
            "key": .string(identity.publicKey.base64URL), "uri": .string(uri.description),
            "fingerprint": .string(ownFingerprint), "addresses": .array(advertisedAddresses.map { .string($0.description) }),
        ]
    }

    /// Takes a rate sample of every active call (the sampler task calls this every
    /// `rateSampleInterval`), keeping the last two seconds.
    func sampleRates() async {
        for (id, record) in calls where record.state == "active" {
            guard let session = await host.callStatistics(record.handle) else { continue }
            let media = calls[id]?.pipeline?.snapshot ?? MediaCounters()
            let now = HostClock.now()
            let sample = RateSample(
                instant: now, bytesSent: session.bytesSent, bytesReceived: session.bytesReceived,
                framesEncoded: media.videoFramesEncoded, framesDecoded: media.videoFramesDecoded)
            calls[id]?.rateSamples.removeAll { now - $0.instant > .seconds(2) }
            calls[id]?.rateSamples.append(sample)
        }
    }

    /// The Stats object of services.md §1.2 for call `id`; nil for an unknown call. An ended call
    /// gets the last statistics taken while it ran.
    func statistics(of id: String) async -> JSONObject? {
        guard let record = calls[id] else { return nil }
        guard !record.isEnded, let session = await host.callStatistics(record.handle) else { return lastStatistics[id] }
        let media = calls[id]?.pipeline?.snapshot ?? finalMedia[id] ?? MediaCounters()
        let now = HostClock.now()
        var transport: JSONObject = [
            "packetsSent": json(session.datagramsSent), "packetsReceived": json(session.datagramsReceived),
            "bytesSent": json(session.bytesSent), "bytesReceived": json(session.bytesReceived),
            "totalRoundTripTime": json(session.totalRoundTripTime),
            "roundTripTimeMeasurements": json(session.roundTripTimeMeasurements),
        ]
        if let rtt = session.roundTripTime { transport["roundTripTime"] = json(rtt.inSeconds) }
        let current = RateSample(
            instant: now, bytesSent: session.bytesSent, bytesReceived: session.bytesReceived,
            framesEncoded: media.videoFramesEncoded, framesDecoded: media.videoFramesDecoded)
        let baseline = RateSample.baseline(in: record.rateSamples, now: now)
        let elapsed = baseline.map { (now - $0.instant).inSeconds } ?? 0
        if let baseline {
            transport["sendBitrate"] = json((Double(current.bytesSent - baseline.bytesSent) * 8 / elapsed).rounded())
            transport["receiveBitrate"] = json((Double(current.bytesReceived - baseline.bytesReceived) * 8 / elapsed).rounded())
        }

        let outbound: [JSONValue] = session.outbound.map { stream in
            var entry: JSONObject = [
                "kind": .string(stream.kind == .audio ? "audio" : "video"), "ssrc": json(Int64(stream.ssrc.rawValue)),
                "packetsSent": json(stream.packetsSent), "bytesSent": json(stream.bytesSent),
                "headerBytesSent": json(stream.headerBytesSent), "framesSent": json(stream.framesSent),
                "nackCount": json(stream.nackCount), "pliCount": json(stream.pliCount), "firCount": json(stream.firCount),
                "retransmittedPacketsSent": json(stream.retransmittedPacketsSent),
                "retransmittedBytesSent": json(stream.retransmittedBytesSent),
                "fractionLost": json(stream.peerReportedLoss),
            ]
            if stream.kind == .video {
                entry["framesEncoded"] = json(media.videoFramesEncoded)
                entry["keyFramesEncoded"] = json(media.keyFramesEncoded)
                entry["frameWidth"] = json(media.sentWidth)
                entry["frameHeight"] = json(media.sentHeight)
                entry["targetBitrate"] = json(media.targetBitrate)
                if let baseline {
                    entry["framesPerSecond"] = json(Double(current.framesEncoded - baseline.framesEncoded) / elapsed)
                }
            } else {
                entry["framesEncoded"] = json(media.audioFramesEncoded)
                entry["targetBitrate"] = json(48_000)
            }
            return .object(entry)
        }
        let inbound: [JSONValue] = session.inbound.map { stream in
            var entry: JSONObject = [
                "kind": .string(stream.kind == .audio ? "audio" : "video"), "ssrc": json(Int64(stream.ssrc.rawValue)),
                "packetsReceived": json(stream.packetsReceived), "bytesReceived": json(stream.bytesReceived),
                "headerBytesReceived": json(stream.headerBytesReceived), "packetsLost": json(stream.packetsLost),
                "jitter": json(stream.jitter),
            ]
            if let audio = stream.audio {
                entry["jitterBufferDelay"] = json(audio.jitterBufferDelay)
                entry["jitterBufferTargetDelay"] = json(audio.jitterBufferTargetDelay)
                entry["jitterBufferMinimumDelay"] = json(audio.jitterBufferMinimumDelay)
                entry["jitterBufferEmittedCount"] = json(audio.jitterBufferEmittedCount)
                entry["totalSamplesReceived"] = json(audio.totalSamplesReceived)
                entry["concealedSamples"] = json(audio.concealedSamples)
                entry["silentConcealedSamples"] = json(audio.silentConcealedSamples)
                entry["concealmentEvents"] = json(audio.concealmentEvents)
                entry["insertedSamplesForDeceleration"] = json(audio.insertedSamplesForDeceleration)
                entry["removedSamplesForAcceleration"] = json(audio.removedSamplesForAcceleration)
                entry["packetsDiscarded"] = json(audio.packetsDiscarded)
                entry["fecPacketsReceived"] = json(audio.fecPacketsReceived)
                entry["fecPacketsDiscarded"] = json(audio.fecPacketsDiscarded)
            }
            if let video = stream.video {
                entry["framesReceived"] = json(video.framesReceived)
                entry["framesDecoded"] = json(video.framesDecoded)
                entry["keyFramesDecoded"] = json(video.keyFramesDecoded)
                entry["framesDropped"] = json(video.framesDropped)
                entry["freezeCount"] = json(video.freezeCount)
                entry["totalFreezesDuration"] = json(video.totalFreezesDuration)
                entry["pauseCount"] = json(video.pauseCount)
                entry["totalPausesDuration"] = json(video.totalPausesDuration)
                entry["jitterBufferDelay"] = json(video.jitterBufferDelay)
                entry["jitterBufferTargetDelay"] = json(video.jitterBufferTargetDelay)
                entry["jitterBufferEmittedCount"] = json(video.jitterBufferEmittedCount)
                entry["nackCount"] = json(video.nackCount)
                entry["pliCount"] = json(video.pliCount)
                entry["retransmittedPacketsReceived"] = json(video.retransmittedPacketsReceived)
                entry["frameWidth"] = json(media.decodedWidth)
                entry["frameHeight"] = json(media.decodedHeight)
                if let baseline {
                    entry["framesPerSecond"] = json(Double(current.framesDecoded - baseline.framesDecoded) / elapsed)
                }
            }
            return .object(entry)
        }
        let stampCount = max(1, media.stampsRead)
        let mediaObject: JSONObject = [
            "video_frames_decoded": json(media.videoFramesDecoded),
            "video_decode_failures": json(media.videoDecodeFailures),
            "video_frames_dropped_by_queue": json(media.videoFramesDroppedByQueue),
            "video_stamps_read": json(media.stampsRead), "video_stamps_out_of_order": json(media.stampsOutOfOrder),
            "video_stamp_failures": json(media.stampFailures),
            "video_latency_ms": media.stampsRead == 0
                ? .null
                : [
                    "last": json(Double(media.latencyLastMicroseconds) / 1_000),
                    "mean": json(Double(media.latencyTotalMicroseconds) / Double(stampCount) / 1_000),
                    "max": json(Double(media.latencyMaximumMicroseconds) / 1_000),
                ],
            "video_frames_skipped": json(media.videoFramesSkipped),
            "audio_samples_played": json(media.audioSamplesPlayed), "audio_markers_heard": json(media.audioMarkersHeard),
            "encode_failures": json(media.encodeFailures),
        ]
        let drops = dropReasons(session)
        let stats: JSONObject = [
            "call_id": .string(id), "timestamp_ms": json(uptimeMilliseconds(at: now)), "state": .string(record.state),
            "transport": .object(transport), "outbound": .array(outbound), "inbound": .array(inbound),
            "media": .object(mediaObject),
            "dropped": ["total": json(drops.reduce(0) { $0 + $1.1 }), "by_reason": .object(JSONObject(drops.map { ($0.0, json($0.1)) }))],
        ]
        lastStatistics[id] = stats
        return stats
    }

    /// Every datagram of the call dropped, by reason (only reasons that occurred).
    private func dropReasons(_ session: CallStatistics) -> [(String, Int)] {
        var counts: [(String, Int)] = [
            ("malformed", session.dropped.malformed), ("unknown_ssrc", session.dropped.unknownSSRC),
            ("before_keys", session.dropped.beforeKeys), ("unexpected_type", session.dropped.unexpectedType),
            ("handshake_response_rejected", session.dropped.handshakeResponsesRejected),
            ("channel_before_handshake", session.dropped.channelBeforeHandshake),
            ("malformed_rtcp", session.dropped.malformedRTCP), ("rejected_key_announcement", session.dropped.rejectedAnnouncements),
            ("channel_authentication", session.channel.authenticationFailures), ("channel_replay", session.channel.replays),
            ("channel_malformed", session.channel.malformed),
        ]
        for stream in session.inbound {
            counts += [
                ("srtp_authentication", stream.srtp.authenticationFailures + stream.retransmissionSRTP.authenticationFailures),
                ("srtp_replay", stream.srtp.replays + stream.retransmissionSRTP.replays),
                ("srtp_malformed", stream.srtp.malformed + stream.retransmissionSRTP.malformed),
                ("sframe_authentication", stream.sframeAuthenticationFailures), ("sframe_replay", stream.sframeReplays),
                ("sframe_unknown_key", stream.sframeUnknownKey), ("sframe_malformed", stream.sframeMalformed),
                ("rtp_malformed", stream.malformedPackets),
            ]
        }
        var merged: [(String, Int)] = []
        var totals: [String: Int] = [:]
        for (reason, count) in counts { totals[reason, default: 0] += count }
        for (reason, _) in counts where totals[reason] ?? 0 > 0 {
            if let total = totals.removeValue(forKey: reason) { merged.append((reason, total)) }
        }
        return merged
    }
}

extension JSONObject {
    /// An object with `members` in order.
    init(_ members: [(String, JSONValue)]) {
        self.init()
        for (key, value) in members { self[key] = value }
    }
}
