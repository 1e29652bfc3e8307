/* Wrappers for libv4l2's variadic calls. */
#ifndef PARLEY_V4L2_H
#define PARLEY_V4L2_H
#include <linux/videodev2.h>
#include <libv4l2.h>

/* v4l2_open(path, flags) without a mode; returns -1 and sets errno on failure. */
int parley_v4l2_open(const char *path, int flags);
/* v4l2_ioctl(fd, request, argument); returns -1 and sets errno on failure. */
int parley_v4l2_ioctl(int fd, unsigned long request, void *argument);

#endif
