#include <srtp2/srtp.h>
#include <srtp2/crypto_types.h>
