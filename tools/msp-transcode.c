/* msp-transcode: videos of the store (ids, job lines, or the queue) into
 * adaptive-bitrate HLS; or one file into a directory. See msp-transcode(1). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "blob.h"
#include "catalog.h"
#include "cli.h"
#include "dispatch.h"
#include "jobs.h"
#include "jsonl.h"
#include "queue.h"
#include "transcode.h"
#include "util.h"

#define LEASE_MS 120000L

enum { O_PENDING = 256, O_PROGRESS, O_STRICT, O_JOB, O_MEDIA, O_APPLY,
    O_EMIT, O_STATUS, O_REQUEUE, O_ATTEMPTS, O_NAME, O_DISPATCH, O_WORKER,
    O_LEASE, O_UNTIL_DONE, O_CHUNK, O_RCA, O_RCERT, O_RKEY };

static const struct msp_opt opts[] = {
	{ "store", 's', "DIR", "the store (default $MSP_STORE, ./msp-store)" },
	{ "ladder", 'l', "LIST", "rungs HEIGHT:RATE,... (default "
	    MSP_LADDER_DEFAULT ")" },
	{ "format", 'f', "FMT", "segment format: fmp4 (default) or ts" },
	{ "segment", 't', "SECONDS", "segment length (default 4)" },
	{ "preset", 'p', "NAME", "x264 preset (default veryfast)" },
	{ "jobs", 'j', "N", "transcode N videos at once (default 1)" },
	{ "pending", O_PENDING, NULL, "work the job queue until it is empty" },
	{ "progress", O_PROGRESS, NULL, "report progress on stderr" },
	{ "strict", O_STRICT, NULL, "stop at the first bad input line" },
	{ "input", 'i', "FILE", "transcode FILE, not a video of the store" },
	{ "output", 'o', "DIR", "where --input's HLS goes" },
	{ "job", O_JOB, "FILE", "do the job lines in FILE (- for stdin), no "
	    "store: print result lines" },
	{ "media", O_MEDIA, "DIR", "the media directory --job reads and "
	    "writes (default STORE/media)" },
	{ "emit", O_EMIT, "N", "dispatch up to N queued jobs as job lines "
	    "(0: all)" },
	{ "apply", O_APPLY, "FILE", "apply the result lines in FILE (- for "
	    "stdin) to the store" },
	{ "status", O_STATUS, NULL, "print the queue's state as JSON Lines" },
	{ "requeue", O_REQUEUE, NULL, "put the failed jobs named JOB-ID back "
	    "in the queue" },
	{ "attempts", O_ATTEMPTS, "N", "tries of a dispatched job before it "
	    "fails (default 3)" },
	{ "name", O_NAME, "NAME", "the worker's or dispatcher's name "
	    "(default HOST:PID, dispatch)" },
	{ "dispatch", O_DISPATCH, "URL", "push queued jobs to Redis at "
	    "redis[s]://HOST:PORT/DB and apply the results" },
	{ "worker", O_WORKER, "URL", "take jobs from Redis at URL, with no "
	    "store" },
	{ "lease", O_LEASE, "SECONDS", "a worker's claim lasts this long "
	    "without word from it (default 60)" },
	{ "chunk", O_CHUNK, "SECONDS", "dispatch long videos in chunks of "
	    "about SECONDS (default 90; 0: whole)" },
	{ "redis-ca", O_RCA, "FILE", "rediss://: the CA of the server's "
	    "certificate (default: the system's)" },
	{ "redis-cert", O_RCERT, "FILE", "rediss://: a client certificate "
	    "(PEM)" },
	{ "redis-key", O_RKEY, "FILE", "rediss://: its key (PEM)" },
	{ "until-done", O_UNTIL_DONE, NULL, "--dispatch: stop once no job is "
	    "queued or in flight" },
	{ "help", 'h', NULL, "show this help and exit" },
	{ "version", 'V', NULL, "show the version and exit" },
	{ NULL, 0, NULL, NULL }
};

static const struct msp_cli cli = {
	"msp-transcode",
	"[options] [ID...]\n[options] --pending\n[options] -i FILE -o DIR\n"
	"[options] --job FILE --media DIR\n[options] --emit N | --apply FILE | "
	"--status\n[options] --requeue JOB-ID...\n"
	"[options] --dispatch URL | --worker URL",
	opts
};

struct ctx {
	const char *store, *media;
	struct msp_run_conf run; /* --dispatch, --worker, --emit, --apply */
	struct msp_tc_opts o;
	int progress, strict, pending;
	long jobs;
	char worker[128];
	const char *label; /* what progress lines name */
};

static int
on_progress(const struct msp_tc_progress *p, void *arg)
{
	struct ctx *c = arg;

	fprintf(stderr, "%s: %s: progress percent=%.1f fps=%.1f speed=%.2f "
	    "elapsed=%.2f playable=%d\n", cli.prog, c->label, p->percent,
	    p->fps, p->speed, p->elapsed, p->playable);
	return 0;
}

static int
status_of(int code)
{
	return code == 0 ? 0 : msp_err_exit(code);
}

static int
one_file(struct ctx *c, const char *in, const char *outdir)
{
	struct msp_err e = { 0 };
	struct msp_blob *b = NULL;
	json_object *d = NULL, *o;
	int rc;

	c->label = in;
	if ((rc = msp_blob_open(&b, outdir, NULL, &e)) == 0)
		rc = msp_transcode_file(in, b, "", &c->o, &d, &e);
	msp_blob_close(b);
	if (rc != 0) {
		msp_warn("%s: %s", in, e.msg);
		return status_of(rc);
	}
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("transcode"));
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "input", json_object_new_string(in));
	json_object_object_add(o, "output", json_object_new_string(outdir));
	json_object_object_add(o, "details", d);
	msp_cli_emit(o);
	json_object_put(o);
	return 0;
}

static int
one_video(struct ctx *c, struct msp_store *st, const char *id,
    json_object *job)
{
	struct msp_err e = { 0 };
	json_object *rec = NULL, *j = job, *x;
	const char *jid = NULL;
	MDB_txn *t;
	int rc;

	/* an unknown id must not leave a job behind */
	if ((rc = msp_txn_begin(st, 0, &t, &e)) == 0) {
		rc = msp_video_get(st, t, id, &rec, &e);
		msp_txn_abort(st, t);
		json_object_put(rec);
		rec = NULL;
	}
	if (rc != 0) {
		msp_warn("%s: %s", id, e.msg);
		return status_of(rc);
	}
	if (j == NULL && (rc = msp_job_claim_video(st, id, c->worker,
	    LEASE_MS, &j, &e)) != 0) {
		msp_warn("%s: %s", id, e.msg);
		return status_of(rc);
	}
	if (json_object_object_get_ex(j, "id", &x))
		jid = json_object_get_string(x);
	c->label = id;
	rc = msp_transcode_video(st, id, jid, c->worker, &c->o, &rec, &e);
	if (j != job)
		json_object_put(j);
	if (rc != 0) {
		msp_warn("%s: %s", id, e.msg);
		return status_of(rc);
	}
	msp_cli_emit(rec);
	json_object_put(rec);
	return 0;
}

static int
worst(int a, int b)
{
	return a > b ? a : b;
}

/* ids[k], ids[k + step], ... or the queue when ids is NULL */
static int
work(struct ctx *c, char **ids, size_t n, size_t k, size_t step)
{
	struct msp_store *st = NULL;
	struct msp_blob *media;
	struct msp_err e = { 0 };
	int status = 0, rc;

	snprintf(c->worker + strlen(c->worker), sizeof(c->worker) -
	    strlen(c->worker), ":%ld", (long)getpid());
	if ((rc = msp_store_open(&st, c->store, MSP_STORE_EXISTING, &e)) != 0)
		msp_die(msp_err_exit(rc) == 1 ? 3 : msp_err_exit(rc), "%s",
		    e.msg);
	/* the media (a bucket is checked now, before a job is claimed) */
	if ((rc = msp_blob_store(st, &media, &e)) != 0)
		msp_die(3, "%s", e.msg);
	if (ids != NULL) {
		for (; k < n && !msp_stop_requested(); k += step) {
			status = worst(status, one_video(c, st, ids[k], NULL));
			if (status == 3)
				break;
		}
	} else {
		while (!msp_stop_requested()) {
			json_object *job = NULL, *vid;
			rc = msp_job_claim(st, c->worker, LEASE_MS, &job, &e);
			if (rc == MSP_ENOTFOUND)
				break;
			if (rc != 0) {
				msp_warn("%s", e.msg);
				status = worst(status, status_of(rc));
				break;
			}
			if (!json_object_object_get_ex(job, "videoId", &vid)) {
				json_object_put(job);
				msp_warn("job without a videoId");
				status = worst(status, 1);
				continue;
			}
			status = worst(status, one_video(c, st,
			    json_object_get_string(vid), job));
			json_object_put(job);
			if (status == 3)
				break;
		}
	}
	msp_store_close(st);
	if (msp_stop_requested())
		status = worst(status, 1);
	return status;
}

/* Fork jobs workers; each takes every jobs'th id (or claims from the
 * queue); the worst status wins. */
static int
run_all(struct ctx *c, char **ids, size_t n)
{
	size_t k, w = (size_t)c->jobs;
	int status = 0, s, told = 0;
	pid_t pid, kids[64];

	if (ids != NULL && w > n)
		w = n;
	if (w <= 1)
		return work(c, ids, n, 0, 1);
	fflush(stdout);
	for (k = 0; k < w; k++) {
		if ((pid = fork()) < 0)
			msp_die(3, "fork: %s", strerror(errno));
		if (pid == 0)
			msp_cli_exit(work(c, ids, n, k, w));
		kids[k] = pid;
	}
	while ((pid = wait(&s)) > 0 || (pid < 0 && errno == EINTR)) {
		if (pid > 0) {
			status = worst(status, WIFEXITED(s) ?
			    WEXITSTATUS(s) : 3);
			for (k = 0; k < w; k++)
				if (kids[k] == pid)
					kids[k] = 0;
		} else if (msp_stop_requested() && !told) {
			/* a stop for the parent alone: the workers too */
			for (k = 0; k < w; k++)
				if (kids[k] > 0)
					(void)kill(kids[k], SIGTERM);
			told = 1;
		}
	}
	return status;
}

/* An id from a stdin line: a bare id, or a JSON job or video line. */
static int
line_id(const char *line, char **id, struct msp_err *e)
{
	json_object *o, *x;
	const char *s;
	int rc = 0;

	*id = NULL;
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line != '{') {
		if (!msp_id_valid(line))
			return msp_err_set(e, MSP_EINVAL, "'%s': not a video id "
			    "or a JSON line", line);
		*id = msp_strdup(line);
		return *id ? 0 : msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	if ((o = json_tokener_parse(line)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return msp_err_set(e, MSP_EINVAL, "not a JSON object");
	}
	if (json_object_object_get_ex(o, "videoId", &x) ||
	    (json_object_object_get_ex(o, "type", &x) &&
	    (s = json_object_get_string(x)) != NULL &&
	    strcmp(s, "video") == 0 && json_object_object_get_ex(o, "id", &x))) {
		s = json_object_get_string(x);
		if (!json_object_is_type(x, json_type_string) ||
		    !msp_id_valid(s))
			rc = msp_err_set(e, MSP_EINVAL, "field 'videoId': not "
			    "a video id");
		else if ((*id = msp_strdup(s)) == NULL)
			rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
	} else {
		rc = msp_err_set(e, MSP_EINVAL, "field 'videoId': missing");
	}
	json_object_put(o);
	return rc;
}

static struct msp_store *
open_store(struct ctx *c)
{
	struct msp_store *st = NULL;
	struct msp_err e = { 0 };
	int rc;

	if ((rc = msp_store_open(&st, c->store, MSP_STORE_EXISTING, &e)) != 0)
		msp_die(msp_err_exit(rc) == 1 ? 3 : msp_err_exit(rc), "%s",
		    e.msg);
	return st;
}

static FILE *
open_in(const char *name)
{
	FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");

	if (f == NULL)
		msp_die(3, "%s: %s", name, strerror(errno));
	return f;
}

/* --job: job lines in, result lines out; no store */
static int
jobs_stateless(struct ctx *c, const char *name)
{
	struct msp_jsonl *r;
	struct msp_err e = { 0 };
	json_object *job, *res;
	FILE *f = open_in(name);
	int rc, status = 0;

	if (msp_jsonl_open(&r, f, name, &e) != 0)
		msp_die(3, "%s", e.msg);
	while (!msp_stop_requested() && (rc = msp_jsonl_read(r, &job, &e))
	    != 0) {
		if (rc < 0) {
			msp_warn("%s", e.msg);
			if (rc != MSP_EINVAL)
				msp_die(3, "%s", e.msg);
			status = 1;
			if (c->strict)
				break;
			continue;
		}
		c->label = msp_json_sget(job, "videoId");
		if (c->label == NULL)
			c->label = msp_jsonl_where(r);
		rc = msp_tc_job_run(c->media, job, c->worker, c->o.progress,
		    c->o.arg, &res, &e);
		json_object_put(job);
		if (rc == MSP_EAGAIN)
			break;
		if (rc != 0) {
			msp_warn("%s: %s", msp_jsonl_where(r), e.msg);
			status = worst(status, status_of(rc));
			if (c->strict || status == 3)
				break;
			continue;
		}
		msp_cli_emit(res);
		json_object_put(res);
	}
	msp_jsonl_close(r);
	if (f != stdin)
		fclose(f);
	return msp_stop_requested() ? worst(status, 1) : status;
}

/* --apply: result lines into the store */
static int
results_apply(struct ctx *c, const char *name)
{
	static const char *const said[] = { "applied", "already applied",
	    "stale: a later attempt replaced it" };
	struct msp_store *st = open_store(c);
	struct msp_jsonl *r;
	struct msp_err e = { 0 };
	json_object *res, *v;
	FILE *f = open_in(name);
	int rc, status = 0, how;

	if (msp_jsonl_open(&r, f, name, &e) != 0)
		msp_die(3, "%s", e.msg);
	while ((rc = msp_jsonl_read(r, &res, &e)) != 0) {
		if (rc < 0) {
			msp_warn("%s", e.msg);
			if (rc != MSP_EINVAL)
				msp_die(3, "%s", e.msg);
			status = 1;
			if (c->strict)
				break;
			continue;
		}
		rc = msp_dispatch_apply(st, &c->run.d, res, &how, &v, &e);
		json_object_put(res);
		if (rc != 0) {
			msp_warn("%s: %s", msp_jsonl_where(r), e.msg);
			status = worst(status, msp_err_exit(rc) == 3 ? 3 : 1);
			if (c->strict || status == 3)
				break;
			continue;
		}
		if (how != MSP_APPLIED)
			msp_warn("%s: %s, nothing changed", msp_jsonl_where(r),
			    said[how]);
		if (v != NULL)
			msp_cli_emit(v);
		json_object_put(v);
	}
	msp_jsonl_close(r);
	if (f != stdin)
		fclose(f);
	msp_store_close(st);
	return status;
}

/* --emit N: dispatch queued jobs as job lines */
static int
jobs_emit(struct ctx *c, long n)
{
	struct msp_store *st = open_store(c);
	struct msp_err e = { 0 };
	json_object *l;
	long k;
	int rc = 0;

	c->run.d.via = "lines";
	for (k = 0; (n == 0 || k < n) && !msp_stop_requested(); k++) {
		size_t i;
		if ((rc = msp_dispatch_next(st, &c->run.d, &l, &e)) != 0)
			break;
		for (i = 0; i < json_object_array_length(l); i++)
			msp_cli_emit(json_object_array_get_idx(l, i));
		json_object_put(l);
	}
	msp_store_close(st);
	if (rc != 0 && rc != MSP_ENOTFOUND) {
		msp_warn("%s", e.msg);
		return status_of(rc) == 1 ? 3 : status_of(rc);
	}
	return 0;
}

static void
say_line(void *arg, const char *msg)
{
	(void)arg;
	msp_warn("%s", msg);
}

static void
emit_video(void *arg, json_object *v)
{
	(void)arg;
	msp_cli_emit(v);
}

static struct msp_queue *
queue_open(struct ctx *c)
{
	struct msp_queue *q;
	struct msp_err e = { 0 };

	c->run.q.password = getenv("MSP_REDIS_PASSWORD");
	if (msp_queue_open(&q, &c->run.q, &e) != 0)
		msp_cli_usage_error("redis: %s", e.msg);
	return q;
}

/* --dispatch, --worker */
static int
redis_run(struct ctx *c, int dispatcher, int until_done)
{
	struct msp_run_opts r;
	struct msp_err e = { 0 };
	struct msp_queue *q = queue_open(c);
	struct msp_store *st = NULL;
	int rc;

	msp_run_opts_init(&r, &c->run, dispatcher ? "dispatch" : c->worker);
	r.until_done = until_done;
	r.say = say_line;
	r.emit = emit_video;
	if (dispatcher) {
		st = open_store(c);
		rc = msp_dispatch_run(st, q, &c->run.d, &r, &e);
		msp_store_close(st);
	} else {
		rc = msp_tc_worker_run(q, c->media, &r, &e);
	}
	msp_queue_close(q);
	if (rc != 0) {
		msp_warn("%s", e.msg);
		return 3;
	}
	return msp_stop_requested() ? 1 : 0;
}

static int
status_line(json_object *l, void *arg)
{
	(void)arg;
	msp_cli_emit(l);
	return 0;
}

static int
queue_status(struct ctx *c)
{
	struct msp_store *st = open_store(c);
	struct msp_err e = { 0 };
	struct msp_qstats qs;
	struct msp_queue *q;
	json_object *l;
	int rc;

	rc = msp_dispatch_status(st, status_line, NULL, &e);
	msp_store_close(st);
	if (rc != 0) {
		msp_warn("%s", e.msg);
		return 3;
	}
	if (c->run.q.url == NULL)
		return 0;
	q = queue_open(c);
	rc = msp_queue_stats(q, &qs, &e);
	if (rc != 0) {
		msp_warn("%s", e.msg);
		msp_queue_close(q);
		return 3;
	}
	l = json_object_new_object();
	json_object_object_add(l, "type", json_object_new_string("redis"));
	json_object_object_add(l, "v", json_object_new_int(1));
	json_object_object_add(l, "url", json_object_new_string(
	    msp_queue_where(q)));
	json_object_object_add(l, "waiting", json_object_new_int64(qs.waiting));
	json_object_object_add(l, "pending", json_object_new_int64(qs.pending));
	json_object_object_add(l, "results", json_object_new_int64(qs.results));
	json_object_object_add(l, "dead", json_object_new_int64(qs.dead));
	json_object_object_add(l, "consumers",
	    json_object_new_int64(qs.workers));
	msp_cli_emit(l);
	json_object_put(l);
	msp_queue_close(q);
	return 0;
}

static int
requeue(struct ctx *c, int argc, char **argv)
{
	struct msp_store *st = open_store(c);
	struct msp_err e = { 0 };
	int k, rc, status = 0;

	for (k = 0; k < argc; k++) {
		if ((rc = msp_dispatch_requeue(st, argv[k], &e)) != 0) {
			msp_warn("%s: %s", argv[k], e.msg);
			status = worst(status, status_of(rc));
		}
	}
	msp_store_close(st);
	return status;
}

/* The modes of the tool: each goes alone; ids: it takes video ids. */
struct mode {
	const char *opts;
	int on, ids;
};

static void
modes_check(const struct mode *m, size_t n, int nids)
{
	size_t k, on = 0;
	const char *first = NULL;

	for (k = 0; k < n; k++)
		if (m[k].on) {
			if (on++ > 0)
				msp_cli_usage_error("%s and %s go alone", first,
				    m[k].opts);
			first = m[k].opts;
			if (nids > 0 && !m[k].ids)
				msp_cli_usage_error("%s takes no ids", m[k].opts);
		}
}

int
main(int argc, char **argv)
{
	struct ctx c;
	struct msp_err e = { 0 };
	const char *in = NULL, *outdir = NULL, *ladder = NULL;
	const char *jobfile = NULL, *applyfile = NULL;
	const char *dispatch = NULL, *worker = NULL;
	long emit = -1;
	int qstatus = 0, requeue_ = 0, until_done = 0;
	char **ids = NULL, *line = NULL;
	size_t n = 0, cap = 0, lcap = 0;
	long long v;
	int k, status = 0, bad = 0;
	long lineno = 0;

	msp_cli_init(&cli);
	memset(&c, 0, sizeof(c));
	msp_tc_opts_init(&c.o);
	msp_run_conf_init(&c.run, &c.o);
	c.jobs = 1;
	while ((k = msp_cli_getopt(&cli, argc, argv)) != -1) {
		switch (k) {
		case 's':
			c.store = optarg;
			break;
		case 'l':
			ladder = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "fmp4") == 0)
				c.o.format = MSP_TC_FMP4;
			else if (strcmp(optarg, "ts") == 0)
				c.o.format = MSP_TC_TS;
			else
				msp_cli_usage_error("--format '%s': expected "
				    "fmp4 or ts", optarg);
			break;
		case 't': {
			char *end;
			errno = 0;
			c.o.segment = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(c.o.segment >= 0.5 && c.o.segment <= 60))
				msp_cli_usage_error("--segment '%s': expected "
				    "seconds from 0.5 to 60", optarg);
			break;
		}
		case 'p':
			c.o.preset = optarg;
			break;
		case 'j':
			if (msp_parse_int(optarg, 1, 64, &v) != 0)
				msp_cli_usage_error("--jobs '%s': expected a "
				    "number from 1 to 64", optarg);
			c.jobs = (long)v;
			break;
		case O_PENDING:
			c.pending = 1;
			break;
		case O_PROGRESS:
			c.progress = 1;
			break;
		case O_STRICT:
			c.strict = 1;
			break;
		case 'i':
			in = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		case O_JOB:
			jobfile = optarg;
			break;
		case O_MEDIA:
			c.media = optarg;
			break;
		case O_APPLY:
			applyfile = optarg;
			break;
		case O_EMIT:
			if (msp_parse_int(optarg, 0, 1000000000, &v) != 0)
				msp_cli_usage_error("--emit '%s': expected a "
				    "number of jobs", optarg);
			emit = (long)v;
			break;
		case O_STATUS:
			qstatus = 1;
			break;
		case O_REQUEUE:
			requeue_ = 1;
			break;
		case O_UNTIL_DONE:
			until_done = 1;
			break;
		case O_DISPATCH: case O_WORKER: case O_ATTEMPTS: case O_LEASE:
		case O_CHUNK: case O_NAME: case O_RCA: case O_RCERT: case O_RKEY:
			/* the settings a dispatcher or worker shares with
			 * msp-serve's */
			if (msp_run_conf_set(&c.run, msp_cli_optname(&cli, k),
			    optarg, &e) != 0)
				msp_cli_usage_error("--%s: %s",
				    msp_cli_optname(&cli, k), e.msg);
			if (k == O_DISPATCH)
				dispatch = optarg;
			else if (k == O_WORKER)
				worker = optarg;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	if (ladder != NULL && msp_hls_ladder_parse(ladder, &c.o.ladder, &e))
		msp_cli_usage_error("--ladder: %s", e.msg);
	av_log_set_level(AV_LOG_QUIET);
	if (c.progress) {
		c.o.progress = on_progress;
		c.o.arg = &c;
	}
	if (gethostname(c.worker, sizeof(c.worker) - 24) != 0)
		snprintf(c.worker, sizeof(c.worker), "localhost");
	c.worker[sizeof(c.worker) - 24] = '\0';
	if (dispatch != NULL && worker != NULL)
		msp_cli_usage_error("--dispatch and --worker go alone");
	if (msp_run_conf_check(&c.run, &e) != 0)
		msp_cli_usage_error("%s", e.msg);
	{
		const struct mode m[] = {
			{ "--job", jobfile != NULL, 0 },
			{ "--worker", worker != NULL, 0 },
			{ "--apply", applyfile != NULL, 0 },
			{ "--emit", emit >= 0, 0 },
			{ "--status", qstatus, 0 },
			/* --dispatch alone, or the Redis of --status */
			{ "--dispatch", dispatch != NULL && !qstatus, 0 },
			{ "--requeue", requeue_, 1 },
			{ "--input", in != NULL || outdir != NULL, 0 },
			{ "--pending", c.pending, 0 },
		};
		modes_check(m, sizeof(m) / sizeof(m[0]), argc);
	}
	if (jobfile != NULL || worker != NULL) {
		char media[4096];
		if (c.media == NULL) {
			const char *s = c.store ? c.store : getenv("MSP_STORE");
			snprintf(media, sizeof(media), "%s/media",
			    s && *s ? s : MSP_STORE_DEFAULT);
			c.media = media;
		}
		if (c.run.name != NULL)
			snprintf(c.worker, sizeof(c.worker), "%s", c.run.name);
		else
			snprintf(c.worker + strlen(c.worker), sizeof(c.worker) -
			    strlen(c.worker), ":%ld", (long)getpid());
		if (worker != NULL)
			msp_cli_exit(redis_run(&c, 0, 0));
		msp_cli_exit(jobs_stateless(&c, jobfile));
	}
	if (applyfile != NULL)
		msp_cli_exit(results_apply(&c, applyfile));
	if (emit >= 0)
		msp_cli_exit(jobs_emit(&c, emit));
	if (qstatus)
		msp_cli_exit(queue_status(&c));
	if (dispatch != NULL)
		msp_cli_exit(redis_run(&c, 1, until_done));
	if (requeue_) {
		if (argc == 0)
			msp_cli_usage_error("--requeue: name the jobs");
		msp_cli_exit(requeue(&c, argc, argv));
	}

	if (in != NULL || outdir != NULL) {
		if (in == NULL || outdir == NULL)
			msp_cli_usage_error("--input and --output go together");
		msp_cli_exit(one_file(&c, in, outdir));
	}
	if (c.pending) {
		msp_cli_exit(run_all(&c, NULL, 0));
	}
	if (argc > 0) {
		for (k = 0; k < argc; k++)
			if (!msp_id_valid(argv[k])) {
				msp_warn("%s: not a video id", argv[k]);
				status = 1;
			}
		if (status != 0)
			msp_cli_exit(status);
		msp_cli_exit(run_all(&c, argv, (size_t)argc));
	}
	while (msp_cli_readline(&line, &lcap)) {
		char *id;
		lineno++;
		if (line[0] == '\0')
			continue;
		if (line_id(line, &id, &e) != 0) {
			msp_warn("-:%ld: %s", lineno, e.msg);
			bad = 1;
			if (c.strict)
				break;
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **p = realloc(ids, nc * sizeof(*p));
			if (p == NULL)
				msp_die(3, "out of memory");
			ids = p;
			cap = nc;
		}
		ids[n++] = id;
	}
	free(line);
	if (!(bad && c.strict) && n > 0)
		status = run_all(&c, ids, n);
	for (; n > 0; n--)
		free(ids[n - 1]);
	free(ids);
	msp_cli_exit(worst(status, bad));
}
