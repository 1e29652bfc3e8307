/* Wrappers for libsrtp2's policy-setting macros. */
#ifndef PARLEY_SRTP_H
#define PARLEY_SRTP_H
#include <srtp2/srtp.h>
#include <srtp2/crypto_types.h>

/* AES_CM_128_HMAC_SHA1_80 (RFC 3711), a macro in libsrtp2. */
void parley_srtp_policy_aes_cm_128_hmac_sha1_80(srtp_crypto_policy_t *policy);
/* AES_CM_128_HMAC_SHA1_32 (RFC 3711), for RTP only. */
void parley_srtp_policy_aes_cm_128_hmac_sha1_32(srtp_crypto_policy_t *policy);
/* AEAD_AES_128_GCM (RFC 7714), 16-byte tag. */
void parley_srtp_policy_aead_aes_128_gcm(srtp_crypto_policy_t *policy);
/* AEAD_AES_256_GCM (RFC 7714), 16-byte tag. */
void parley_srtp_policy_aead_aes_256_gcm(srtp_crypto_policy_t *policy);

#endif
