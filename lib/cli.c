#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "jsonl.h"
#include "store.h"

static const struct msp_cli *cur;

static void
on_signal(int sig)
{
	(void)sig;
	msp_stop_request();
}

const char *
msp_cli_prog(void)
{
	return cur != NULL ? cur->prog : "msp";
}

void
msp_cli_init(const struct msp_cli *c)
{
	struct sigaction sa;

	cur = c;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (sodium_init() < 0)
		msp_die(3, "libsodium failed to initialise");
}

void
msp_cli_usage(const struct msp_cli *c, FILE *f)
{
	const struct msp_opt *o;
	const char *s = c->synopsis, *nl;
	int first = 1;

	while (*s != '\0') {
		nl = strchr(s, '\n');
		if (nl == NULL)
			nl = s + strlen(s);
		fprintf(f, "%s %s %.*s\n", first ? "usage:" : "      ", c->prog,
		    (int)(nl - s), s);
		first = 0;
		s = *nl ? nl + 1 : nl;
	}
	fputs("options:\n", f);
	for (o = c->opts; o->name != NULL; o++) {
		char left[80];
		if (o->key < 256)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->key,
			    o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name,
			    o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
}

const char *
msp_cli_optname(const struct msp_cli *c, int key)
{
	const struct msp_opt *o;

	for (o = c->opts; o->name != NULL; o++)
		if (o->key == key)
			return o->name;
	return "?";
}

int
msp_cli_getopt(const struct msp_cli *c, int argc, char **argv)
{
	static struct option *lo;
	static char *so;
	const struct msp_opt *o;
	size_t n = 0, i, j = 0;
	int k;

	if (lo == NULL) {
		for (o = c->opts; o->name != NULL; o++)
			n++;
		lo = calloc(n + 1, sizeof(*lo));
		so = calloc(3 * n + 2, 1);
		if (lo == NULL || so == NULL)
			msp_die(3, "out of memory");
		so[j++] = ':'; /* report missing arguments as ':' */
		for (i = 0, o = c->opts; o->name != NULL; o++, i++) {
			lo[i].name = o->name;
			lo[i].has_arg = o->arg ? required_argument : no_argument;
			lo[i].val = o->key;
			if (o->key < 256) {
				so[j++] = (char)o->key;
				if (o->arg)
					so[j++] = ':';
			}
		}
	}
	opterr = 0;
	k = getopt_long(argc, argv, so, lo, NULL);
	switch (k) {
	case 'h':
		msp_cli_usage(c, stdout);
		msp_cli_exit(0);
	case 'V':
		printf("%s %s\n", c->prog, MSP_VERSION);
		msp_cli_exit(0);
	case ':':
		msp_cli_usage_error("option '%s' needs an argument",
		    argv[optind - 1]);
	case '?':
		if (optopt != 0 && optopt < 256)
			msp_cli_usage_error("unknown option '-%c'", optopt);
		msp_cli_usage_error("unknown option '%s'", argv[optind - 1]);
	default:
		return k;
	}
}

void
msp_cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", msp_cli_prog());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cur != NULL)
		msp_cli_usage(cur, stderr);
	exit(2);
}

void
msp_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", msp_cli_prog());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
msp_die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", msp_cli_prog());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	msp_cli_exit(status);
}

static void
out_failed(void)
{
	if (errno == EPIPE)
		_exit(0);
	fprintf(stderr, "%s: stdout: %s\n", msp_cli_prog(), strerror(errno));
	_exit(3);
}

void
msp_cli_emit(json_object *o)
{
	struct msp_err e;

	if (msp_jsonl_write(stdout, o, &e) != 0)
		out_failed();
}

void
msp_cli_exit(int status)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		out_failed();
	if (fclose(stdout) == EOF)
		out_failed();
	exit(status);
}

int
msp_cli_readline(char **line, size_t *cap)
{
	ssize_t n = getline(line, cap, stdin);

	if (n < 0)
		return 0;
	if (n > 0 && (*line)[n - 1] == '\n')
		(*line)[--n] = '\0';
	return 1;
}
