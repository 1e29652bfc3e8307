#!/usr/bin/env bash
# Regenerates the GStreamer fixtures in this directory (format: README.md).
# Needs: apt-get install -y gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
#          gstreamer1.0-plugins-bad   (GStreamer 1.22 on Debian 12), and perl. The tests never need GStreamer.
# rtpstreampay frames each RTP/RTCP packet as RFC 4571 does: a 2-byte big-endian length, then the packet.
set -euo pipefail
cd "$(dirname "$0")"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# VP8: 60 frames of a moving zone plate, 320x240 at 30 fps, a key frame every 30 frames, packetized by
# rtpvp8pay at an 800-byte MTU with 15-bit PictureIDs. The offsets make the sequence number, the
# PictureID and the timestamp all wrap inside the recording. The encoder's own frames go to
# vp8-frames.bin so tests can compare the reassembled frames byte for byte.
gst-launch-1.0 -q videotestsrc num-buffers=60 pattern=zone-plate kx2=20 ky2=20 kt=1 \
  ! video/x-raw,width=320,height=240,framerate=30/1 \
  ! vp8enc deadline=1 threads=1 target-bitrate=400000 keyframe-max-dist=30 \
  ! tee name=frames \
  ! queue ! rtpvp8pay mtu=800 picture-id-mode=15-bit picture-id-offset=32730 pt=96 ssrc=0x5041524c \
      seqnum-offset=65400 timestamp-offset=4294960000 \
  ! rtpstreampay ! filesink location=vp8-rtp.bin \
  frames. ! queue ! multifilesink location="$scratch/frame-%05d.vp8"
perl -e 'binmode STDOUT; for my $f (sort @ARGV) { open my $h, "<:raw", $f or die "$f: $!"; local $/;
  my $d = <$h>; die "$f is over 65535 bytes" if length $d > 65535; print pack("n", length $d), $d }' \
  "$scratch"/frame-*.vp8 > vp8-frames.bin

# Opus: 2 s of a 440 Hz sine, mono, 20 ms frames at 32 kbit/s, packetized by rtpopuspay; the sequence
# number and the timestamp wrap inside the recording.
gst-launch-1.0 -q audiotestsrc num-buffers=100 samplesperbuffer=960 wave=sine freq=440 \
  ! audio/x-raw,rate=48000,channels=1 ! opusenc bitrate=32000 frame-size=20 \
  ! rtpopuspay pt=111 ssrc=0x4f505553 seqnum-offset=65500 timestamp-offset=4294900000 \
  ! rtpstreampay ! filesink location=opus-rtp.bin

# RTCP: two rtpbins on loopback (avpf profile) exchanging VP8, with 3 % of RTP packets dropped (at random:
# these recordings are not reproducible bit for bit) so the receiver sends NACK and PLI. Both
# directions' RTCP is recorded in the order it was sent; the sender's video ends before the recording
# does, so its BYE is in it.
#   rtcp-rtpbin.bin       20 s: SR, RR with report blocks, SDES, NACK, PLI, BYE.
#   rtcp-rtpbin-twcc.bin  8 s with the transport-wide-cc header extension negotiated: mostly TWCC
#                         feedback sent alone (reduced-size RTCP, RFC 5506), plus the above.
record_rtcp() {  # output file, seconds of video, extra RTP caps
  local output=$1 frames=$(($2 * 30)) caps=$3
  rm -f "$output"
  timeout -s INT $(($2 + 3)) gst-launch-1.0 \
    rtpbin name=tx rtp-profile=avpf \
    videotestsrc is-live=true num-buffers=$frames pattern=zone-plate kx2=20 ky2=20 kt=1 \
    ! video/x-raw,width=320,height=240,framerate=30/1 \
    ! vp8enc deadline=1 target-bitrate=400000 keyframe-max-dist=60 \
    ! rtpvp8pay picture-id-mode=15-bit ssrc=0x5041524c pt=96 ! "application/x-rtp$caps" \
    ! tx.send_rtp_sink_0 \
    tx.send_rtp_src_0 ! identity drop-probability=0.03 ! udpsink host=127.0.0.1 port=45000 sync=false async=false \
    tx.send_rtcp_src_0 ! tee name=senderrtcp ! queue ! udpsink host=127.0.0.1 port=45001 sync=false async=false \
    udpsrc port=45005 caps=application/x-rtcp ! tee name=receiverrtcp ! queue ! tx.recv_rtcp_sink_0 \
    rtpbin name=rx rtp-profile=avpf do-retransmission=true latency=200 \
    udpsrc port=45000 \
      caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96,rtcp-fb-nack-pli=true$caps" \
    ! rx.recv_rtp_sink_0 \
    udpsrc port=45001 caps=application/x-rtcp ! rx.recv_rtcp_sink_0 \
    rx. ! rtpvp8depay request-keyframe=true ! fakesink \
    rx.send_rtcp_src_0 ! udpsink host=127.0.0.1 port=45005 sync=false async=false \
    funnel name=capture ! rtpstreampay ! filesink buffer-mode=unbuffered location="$output" \
    senderrtcp. ! queue ! capture. \
    receiverrtcp. ! queue ! capture. \
    > "$scratch/rtcp.log" 2>&1 || true   # stopped by SIGINT
  test -s "$output" || { cat "$scratch/rtcp.log" >&2; exit 1; }
}
record_rtcp rtcp-rtpbin.bin 20 ""
record_rtcp rtcp-rtpbin-twcc.bin 8 ",extmap-5=(string)http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

ls -l ./*.bin
