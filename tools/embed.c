/* Turns a file into a C string constant: embed NAME INPUT OUTPUT. */
#include <stdio.h>

int main(int argc, char **argv)
{
	FILE *in, *out;
	int c, col = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: embed NAME INPUT OUTPUT\n");
		return 2;
	}
	in = fopen(argv[2], "rb");
	out = fopen(argv[3], "wb");
	if (!in || !out) {
		perror("embed");
		return 1;
	}
	fprintf(out, "/* Generated from %s. */\nconst char %s[] = {\n", argv[2], argv[1]);
	while ((c = fgetc(in)) != EOF) {
		fprintf(out, "0x%02x,%s", c, ++col % 16 ? "" : "\n");
	}
	fprintf(out, "0x00};\n");
	if (fclose(out) != 0) {
		perror("embed");
		return 1;
	}
	fclose(in);
	return 0;
}
