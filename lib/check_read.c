/* check_read.c: not written yet. */
#include "context.h"
