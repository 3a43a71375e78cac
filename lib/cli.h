/* cli: what every tool does the same way: the option table, usage, messages,
 * signals, and checked output to stdout. Only tools include this. */
#ifndef MSP_CLI_H
#define MSP_CLI_H

#include <stdio.h>
#include <json.h>

#define MSP_VERSION "0.1.0"

/* One row per option: the usage text, getopt_long, the man page and the
 * completions all follow this table (tests/options.bats checks the last
 * two against `--help`). */
struct msp_opt {
	const char *name;  /* long name, without the dashes */
	int key;           /* short letter, or a value >= 256 for long-only */
	const char *arg;   /* argument name, or NULL for a flag */
	const char *help;
};

struct msp_cli {
	const char *prog;
	const char *synopsis; /* one or more lines, each after "usage: PROG " */
	const struct msp_opt *opts; /* ends with a row whose name is NULL */
};

/* Line-buffer stdout, ignore SIGPIPE, route SIGINT/SIGTERM to
 * msp_stop_request(), initialise libsodium. */
void msp_cli_init(const struct msp_cli *c);
/* getopt_long over the table. Handles -h (usage on stdout, exit 0), -V and
 * unknown options (usage on stderr, exit 2). Returns the key, or -1. */
int msp_cli_getopt(const struct msp_cli *c, int argc, char **argv);
void msp_cli_usage(const struct msp_cli *c, FILE *f);
/* The long name of the option with key ("?" when none). */
const char *msp_cli_optname(const struct msp_cli *c, int key);
/* "usage error": message and usage on stderr, exit 2. */
void msp_cli_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* "prog: message" on stderr. */
void msp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print and exit with status. */
void msp_die(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* One JSON line to stdout; a closed pipe exits quietly (status 0), any
 * other write error prints and exits 3. */
void msp_cli_emit(json_object *o);
/* Flush and close stdout (checked), then exit with status. */
void msp_cli_exit(int status) __attribute__((noreturn));
/* Read one line a time from stdin into *line (no newline); 1 got, 0 end. */
int msp_cli_readline(char **line, size_t *cap);
const char *msp_cli_prog(void);

#endif
