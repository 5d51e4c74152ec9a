#include "builtin.h"
#include "cmd.h"

#include <jansson.h>
#include <stdio.h>

int cmd_load_config(struct cmd_args *args, const char *path)
{
	if (path)
		return dos_config_load_file(args->ctx, path, &args->cfg);
	return dos_builtin_load(args->ctx, &args->cfg);
}

void cmd_print_json(const void *json_value)
{
	json_dumpf((const json_t *)json_value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	fflush(stdout);
}

void cmd_emit_json(struct cmd_args *args, const char *key, void *json_value)
{
	json_t *doc = args->json_doc, *j = json_value;

	if (!doc)
		cmd_print_json(j);
	else if (key)
		json_object_set(doc, key, j);
	else
		json_object_update(doc, j);
}
