/* plan.c: not written yet. */
#include "context.h"
