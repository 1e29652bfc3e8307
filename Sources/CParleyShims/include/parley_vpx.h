/* Wrappers for libvpx macros and variadic calls Swift cannot make directly. */
#ifndef PARLEY_VPX_H
#define PARLEY_VPX_H
#include <vpx/vpx_encoder.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>

/* The VP8 encoder's default configuration for real-time use (usage 0). */
vpx_codec_err_t parley_vp8_encoder_default_config(vpx_codec_enc_cfg_t *config);
/* vpx_codec_enc_init (a macro) for the VP8 encoder. */
vpx_codec_err_t parley_vp8_encoder_init(vpx_codec_ctx_t *context, const vpx_codec_enc_cfg_t *config,
                                        vpx_codec_flags_t flags);
/* vpx_codec_dec_init (a macro) for the VP8 decoder; threads 0 means libvpx's default. */
vpx_codec_err_t parley_vp8_decoder_init(vpx_codec_ctx_t *context, unsigned int threads,
                                        vpx_codec_flags_t flags);
/* vpx_codec_control (a variadic macro) for controls that take one int. */
vpx_codec_err_t parley_vpx_control_int(vpx_codec_ctx_t *context, int control, int value);
/* vpx_codec_control for controls that write one int through a pointer. */
vpx_codec_err_t parley_vpx_control_int_pointer(vpx_codec_ctx_t *context, int control, int *value);
/* The kind of an encoder output packet (a union tag Swift reads awkwardly). */
static inline int parley_vpx_packet_is_frame(const vpx_codec_cx_pkt_t *packet) {
    return packet->kind == VPX_CODEC_CX_FRAME_PKT;
}

#endif
