/* Where the distribution archive is: the environment, the configuration,
 * or the host's apt sources. */
#pragma once

#include "context.h"

/* The base URI of the archive serving suite (e.g. "http://host/debian", no
 * trailing slash): DIRACOS_MIRROR, else configured (platform.mirror; may be
 * NULL), else the host's apt sources (/etc/apt/sources.list and
 * sources.list.d/ *.list and *.sources): the first "deb" entry listing
 * suite with a "main" component, else the first listing suite, else the
 * first whose suites are Debian's (not a third-party repository). NULL,
 * with an error, when there is none. */
char *dos_mirror_for(struct dos_ctx *ctx, const char *configured, const char *suite);

/* The URI serving <suite>-security: DIRACOS_SECURITY_MIRROR, else the host's
 * entry for <suite>-security, else derived from main_mirror
 * (".../debian" -> ".../debian-security"). NULL, with an error, when none
 * of these gives one. */
char *dos_mirror_security_for(struct dos_ctx *ctx, const char *main_mirror, const char *suite);

/* The same two, reading the apt sources under apt_dir (which holds
 * sources.list and sources.list.d/) and ignoring the environment. */
char *dos_mirror_from_sources_dir(struct dos_ctx *ctx, const char *apt_dir, const char *suite);
char *dos_mirror_security_from_sources_dir(struct dos_ctx *ctx, const char *apt_dir,
					   const char *main_mirror, const char *suite);
