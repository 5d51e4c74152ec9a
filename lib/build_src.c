/* build_src.c: not written yet. */
#include "context.h"
