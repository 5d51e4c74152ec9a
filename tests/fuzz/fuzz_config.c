/* The bundle description: jansson's parse, then ours (jsonpos.c finds each
 * value's line and column, config.c checks types and inherits options),
 * then the effective configuration built back from it. */
#include "fuzz.h"

#include "config.h"
#include "jsonpos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dos_ctx ctx;
	struct dos_config *cfg = NULL;
	struct jsonpos pos = { 0 };
	char *text = fuzz_strndup(data, size);
	int line, col;

	fuzz_ctx(&ctx);
	/* jsonpos is documented for text jansson accepted, but must not
	 * misbehave on anything: it scans the raw file too when jansson fails. */
	jsonpos_scan(&pos, text, size);
	jsonpos_lookup(&pos, "", &line, &col);
	jsonpos_lookup(&pos, "/bundle/name", &line, &col);
	for (size_t i = 0; i < pos.n; i++)
		FUZZ_ASSERT(jsonpos_lookup(&pos, pos.v[i].pointer, &line, &col) == 1 &&
			    line >= 1 && col >= 1);
	jsonpos_release(&pos);

	if (dos_config_load_text(&ctx, text, size, "fuzz.json", "/nonexistent", &cfg) == 0) {
		json_t *eff = dos_config_effective(cfg);
		char *dump = json_dumps(eff, JSON_COMPACT);
		free(dump);
		json_decref(eff);
		for (size_t i = 0; i < cfg->n_packages; i++)
			FUZZ_ASSERT(dos_config_find_package(cfg, cfg->packages[i].name));
		dos_config_free(cfg);
	} else {
		FUZZ_ASSERT(ctx.code < 0 && ctx.msg[0]);
	}
	free(text);
	return 0;
}
