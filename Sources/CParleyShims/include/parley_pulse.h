/* libpulse is called from Swift directly; this header only makes it part of the shim module. */
#ifndef PARLEY_PULSE_H
#define PARLEY_PULSE_H
#include <pulse/pulseaudio.h>
#endif
