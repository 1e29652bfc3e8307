/* Wrappers for libopus calls Swift cannot make directly: the ctl functions are variadic. */
#ifndef PARLEY_OPUS_H
#define PARLEY_OPUS_H
#include <opus.h>

/* opus_encoder_ctl(encoder, request, value) for every *_SET_* request taking one opus_int32. */
int parley_opus_encoder_set(OpusEncoder *encoder, int request, opus_int32 value);
/* opus_encoder_ctl(encoder, request, &value) for every *_GET_* request writing one opus_int32. */
int parley_opus_encoder_get(OpusEncoder *encoder, int request, opus_int32 *value);
/* opus_decoder_ctl(decoder, request, value) for every *_SET_* request taking one opus_int32. */
int parley_opus_decoder_set(OpusDecoder *decoder, int request, opus_int32 value);
/* opus_decoder_ctl(decoder, request, &value) for every *_GET_* request writing one opus_int32. */
int parley_opus_decoder_get(OpusDecoder *decoder, int request, opus_int32 *value);

#endif
