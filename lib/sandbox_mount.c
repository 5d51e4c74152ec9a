/* sandbox_mount.c: not written yet. */
#include "context.h"
