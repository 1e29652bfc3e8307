// recvmmsg(2) and sendmmsg(2) are GNU extensions: declared only with _GNU_SOURCE, which must come before any include.
#define _GNU_SOURCE
#include "parley_opus.h"
#include "parley_vpx.h"
#include "parley_srtp.h"
#include "parley_v4l2.h"

int parley_opus_encoder_set(OpusEncoder *encoder, int request, opus_int32 value) {
    return opus_encoder_ctl(encoder, request, value);
}
int parley_opus_encoder_get(OpusEncoder *encoder, int request, opus_int32 *value) {
    return opus_encoder_ctl(encoder, request, value);
}
int parley_opus_decoder_set(OpusDecoder *decoder, int request, opus_int32 value) {
    return opus_decoder_ctl(decoder, request, value);
}
int parley_opus_decoder_get(OpusDecoder *decoder, int request, opus_int32 *value) {
    return opus_decoder_ctl(decoder, request, value);
}

vpx_codec_err_t parley_vp8_encoder_default_config(vpx_codec_enc_cfg_t *config) {
    return vpx_codec_enc_config_default(vpx_codec_vp8_cx(), config, 0);
}
vpx_codec_err_t parley_vp8_encoder_init(vpx_codec_ctx_t *context, const vpx_codec_enc_cfg_t *config,
                                        vpx_codec_flags_t flags) {
    return vpx_codec_enc_init(context, vpx_codec_vp8_cx(), config, flags);
}
vpx_codec_err_t parley_vp8_decoder_init(vpx_codec_ctx_t *context, unsigned int threads,
                                        vpx_codec_flags_t flags) {
    vpx_codec_dec_cfg_t config = {.threads = threads, .w = 0, .h = 0};
    return vpx_codec_dec_init(context, vpx_codec_vp8_dx(), &config, flags);
}
vpx_codec_err_t parley_vpx_control_int(vpx_codec_ctx_t *context, int control, int value) {
    return vpx_codec_control_(context, control, value);
}
vpx_codec_err_t parley_vpx_control_int_pointer(vpx_codec_ctx_t *context, int control, int *value) {
    return vpx_codec_control_(context, control, value);
}

void parley_srtp_policy_aes_cm_128_hmac_sha1_80(srtp_crypto_policy_t *policy) {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(policy);
}
void parley_srtp_policy_aes_cm_128_hmac_sha1_32(srtp_crypto_policy_t *policy) {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(policy);
}
void parley_srtp_policy_aead_aes_128_gcm(srtp_crypto_policy_t *policy) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(policy);
}
void parley_srtp_policy_aead_aes_256_gcm(srtp_crypto_policy_t *policy) {
    srtp_crypto_policy_set_aes_gcm_256_16_auth(policy);
}

int parley_v4l2_open(const char *path, int flags) {
    return v4l2_open(path, flags);
}
int parley_v4l2_ioctl(int fd, unsigned long request, void *argument) {
    return v4l2_ioctl(fd, request, argument);
}

#include <sys/socket.h>
#include <time.h>
#include "parley_socket.h"

int parley_recvmmsg(int descriptor, void *messages, unsigned int count, int flags, struct timespec *timeout) {
    return recvmmsg(descriptor, (struct mmsghdr *)messages, count, flags, timeout);
}

int parley_sendmmsg(int descriptor, void *messages, unsigned int count, int flags) {
    return sendmmsg(descriptor, (struct mmsghdr *)messages, count, flags);
}

#include <pthread.h>
#include <string.h>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int parley_set_thread_nice(int nice_value) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice_value);
}

int parley_signal_on_parent_death(int signal_number) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal_number, 0, 0, 0);
}

int parley_set_thread_name(const char *name) {
    char cut[16];
    strncpy(cut, name, sizeof cut - 1);
    cut[sizeof cut - 1] = 0;
    return pthread_setname_np(pthread_self(), cut);
}
