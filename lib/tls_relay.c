/* tls_relay: a TLS client connection relayed to a socket pair. See
 * tls_relay.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls_relay.h"

struct msp_tls_ctx {
	SSL_CTX *ctx;
};

struct msp_tls_relay {
	SSL *ssl;
	int tcp;        /* the TLS connection's socket */
	int pair;       /* the relay's end of the socket pair */
	pthread_t thread;
	char why[256];  /* why TLS ended, once has_why is set */
	int has_why;
};

/* OpenSSL's last error, for a message */
static const char *
ssl_why(char *buf, size_t len)
{
	unsigned long x = ERR_get_error();
	const char *r;

	if (x == 0)
		return "unknown error";
	if (ERR_SYSTEM_ERROR(x))
		snprintf(buf, len, "%s", strerror(ERR_GET_REASON(x)));
	else if ((r = ERR_reason_error_string(x)) != NULL)
		snprintf(buf, len, "%s", r);
	else
		ERR_error_string_n(x, buf, len);
	ERR_clear_error();
	return buf;
}

int
msp_tls_ctx_new(struct msp_tls_ctx **cp, const char *ca, const char *cert,
    const char *key, struct msp_err *e)
{
	struct msp_tls_ctx *c;
	char why[256];
	int rc = 0;

	*cp = NULL;
	if ((cert == NULL) != (key == NULL))
		return msp_err_set(e, MSP_EINVAL, "a client certificate and "
		    "its key go together");
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		free(c);
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (ca != NULL) {
		if (SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1)
			rc = msp_err_set(e, MSP_EINVAL, "CA file '%s': %s", ca,
			    ssl_why(why, sizeof(why)));
	} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		rc = msp_err_set(e, MSP_EINVAL, "the system's CAs: %s",
		    ssl_why(why, sizeof(why)));
	}
	if (rc == 0 && cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(c->ctx, cert) != 1)
			rc = msp_err_set(e, MSP_EINVAL, "certificate file '%s': "
			    "%s", cert, ssl_why(why, sizeof(why)));
		else if (SSL_CTX_use_PrivateKey_file(c->ctx, key,
		    SSL_FILETYPE_PEM) != 1 && ERR_GET_REASON(ERR_peek_error())
		    == X509_R_KEY_VALUES_MISMATCH)
			rc = msp_err_set(e, MSP_EINVAL, "key file '%s': not "
			    "the key of '%s'", key, cert);
		else if (ERR_peek_error() != 0)
			rc = msp_err_set(e, MSP_EINVAL, "key file '%s': %s",
			    key, ssl_why(why, sizeof(why)));
		else if (SSL_CTX_check_private_key(c->ctx) != 1)
			rc = msp_err_set(e, MSP_EINVAL, "key file '%s': not "
			    "the key of '%s'", key, cert);
	}
	ERR_clear_error();
	if (rc != 0) {
		msp_tls_ctx_free(c);
		return rc;
	}
	*cp = c;
	return 0;
}

void
msp_tls_ctx_free(struct msp_tls_ctx *c)
{
	if (c == NULL)
		return;
	SSL_CTX_free(c->ctx);
	free(c);
}

static int
set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* A TCP connection to host:port within ms; -1 with e set. */
static int
dial(const char *host, int port, long ms, struct msp_err *e)
{
	struct addrinfo hints, *ai = NULL, *a;
	char ps[16];
	int fd = -1, rc, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ps, sizeof(ps), "%d", port);
	if ((rc = getaddrinfo(host, ps, &hints, &ai)) != 0) {
		msp_err_set(e, MSP_ENET, "%s", gai_strerror(rc));
		return -1;
	}
	for (a = ai; a != NULL; a = a->ai_next) {
		struct pollfd p;
		socklen_t len = sizeof(err);
		if ((fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
		    a->ai_protocol)) < 0) {
			err = errno;
			continue;
		}
		set_nonblock(fd, 1);
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		err = errno;
		if (errno == EINPROGRESS) {
			p.fd = fd;
			p.events = POLLOUT;
			if (poll(&p, 1, (int)ms) == 1 && getsockopt(fd,
			    SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
				break;
			if (err == EINPROGRESS || err == 0)
				err = ETIMEDOUT;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		msp_err_set(e, MSP_ENET, "%s", strerror(err ? err :
		    ECONNREFUSED));
		return -1;
	}
	set_nonblock(fd, 0);
	return fd;
}

/* Wait until the TLS socket can go on after want (SSL_ERROR_WANT_*). */
static int
await(struct msp_tls_relay *r, int want)
{
	struct pollfd p = { r->tcp, want == SSL_ERROR_WANT_WRITE ? POLLOUT :
	    POLLIN, 0 };

	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int
write_all(int fd, const char *b, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = write(fd, b, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Keep OpenSSL's reason the connection ended (an alert from the server:
 * a refused client certificate) for msp_tls_relay_why. */
static void
note_why(struct msp_tls_relay *r)
{
	ssl_why(r->why, sizeof(r->why));
	__atomic_store_n(&r->has_why, 1, __ATOMIC_RELEASE);
}

/* The relay: TLS records in, plain bytes out to the pair and back. The
 * TLS socket is non-blocking, so a record that is not data (a session
 * ticket) never holds up the other direction. */
static void *
relay(void *arg)
{
	struct msp_tls_relay *r = arg;
	char buf[16384];
	struct pollfd p[2];
	int n, x;

	for (;;) {
		p[0].fd = r->tcp;
		p[0].events = POLLIN;
		p[1].fd = r->pair;
		p[1].events = POLLIN;
		p[0].revents = p[1].revents = 0;
		if (SSL_pending(r->ssl) > 0)
			p[0].revents = POLLIN;
		else if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents != 0) {
			n = SSL_read(r->ssl, buf, sizeof(buf));
			if (n <= 0) {
				x = SSL_get_error(r->ssl, n);
				if (x == SSL_ERROR_SSL)
					note_why(r);
				if (x != SSL_ERROR_WANT_READ &&
				    x != SSL_ERROR_WANT_WRITE)
					break;
			} else if (write_all(r->pair, buf, (size_t)n) != 0) {
				break;
			}
		}
		if (p[1].revents != 0) {
			ssize_t k = read(r->pair, buf, sizeof(buf));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			while ((n = SSL_write(r->ssl, buf, (int)k)) <= 0) {
				x = SSL_get_error(r->ssl, n);
				if ((x != SSL_ERROR_WANT_READ &&
				    x != SSL_ERROR_WANT_WRITE) ||
				    await(r, x) != 0) {
					/* the server may have said why it
					 * closed: an alert waiting to be read */
					if (x != SSL_ERROR_SSL &&
					    (n = SSL_read(r->ssl, buf, 1)) <= 0)
						x = SSL_get_error(r->ssl, n);
					if (x == SSL_ERROR_SSL)
						note_why(r);
					goto out;
				}
			}
		}
	}
out:
	ERR_clear_error();
	/* the user of the plain end sees the connection end */
	shutdown(r->pair, SHUT_RDWR);
	return NULL;
}

static int
is_ip(const char *host)
{
	unsigned char b[16];

	return inet_pton(AF_INET, host, b) == 1 ||
	    inet_pton(AF_INET6, host, b) == 1;
}

int
msp_tls_relay_open(struct msp_tls_relay **rp, struct msp_tls_ctx *c,
    const char *host, int port, long timeout_ms, int *fd, struct msp_err *e)
{
	struct msp_tls_relay *r;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct timeval none = { 0, 0 };
	int sv[2] = { -1, -1 }, rc = 0, n;
	char why[256];

	*rp = NULL;
	*fd = -1;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return msp_err_set(e, MSP_ENOMEM, "out of memory");
	r->pair = -1;
	if ((r->tcp = dial(host, port, timeout_ms, e)) < 0) {
		free(r);
		return MSP_ENET;
	}
	(void)setsockopt(r->tcp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(r->tcp, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((r->ssl = SSL_new(c->ctx)) == NULL ||
	    SSL_set_fd(r->ssl, r->tcp) != 1) {
		rc = msp_err_set(e, MSP_ENOMEM, "out of memory");
		goto fail;
	}
	/* the certificate must name the host (or IP address) dialled */
	if (is_ip(host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(r->ssl), host)
		    != 1)
			rc = msp_err_set(e, MSP_EINVAL, "%s: not an address",
			    host);
	} else if (SSL_set1_host(r->ssl, host) != 1 ||
	    SSL_set_tlsext_host_name(r->ssl, host) != 1) {
		rc = msp_err_set(e, MSP_EINVAL, "%s: not a host name", host);
	}
	if (rc != 0)
		goto fail;
	if ((n = SSL_connect(r->ssl)) != 1) {
		long v = SSL_get_verify_result(r->ssl);
		if (v != X509_V_OK)
			rc = msp_err_set(e, MSP_EPERM, "TLS: the server's "
			    "certificate: %s", X509_verify_cert_error_string(v));
		else if (SSL_get_error(r->ssl, n) == SSL_ERROR_SYSCALL &&
		    ERR_peek_error() == 0)
			rc = msp_err_set(e, MSP_ENET, "TLS handshake: %s",
			    errno ? strerror(errno) : "connection closed");
		else
			rc = msp_err_set(e, MSP_ENET, "TLS handshake: %s",
			    ssl_why(why, sizeof(why)));
		goto fail;
	}
	(void)setsockopt(r->tcp, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	(void)setsockopt(r->tcp, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		rc = msp_err_set(e, MSP_EIO, "socketpair: %s", strerror(errno));
		goto fail;
	}
	r->pair = sv[1];
	set_nonblock(r->tcp, 1);
	if ((n = pthread_create(&r->thread, NULL, relay, r)) != 0) {
		close(sv[0]);
		rc = msp_err_set(e, MSP_ENOMEM, "a relay thread: %s",
		    strerror(n));
		goto fail;
	}
	*fd = sv[0];
	*rp = r;
	return 0;
fail:
	ERR_clear_error();
	SSL_free(r->ssl);
	close(r->tcp);
	if (r->pair >= 0)
		close(r->pair);
	free(r);
	return rc;
}

const char *
msp_tls_relay_why(struct msp_tls_relay *r)
{
	return r != NULL && __atomic_load_n(&r->has_why, __ATOMIC_ACQUIRE) ?
	    r->why : NULL;
}

void
msp_tls_relay_close(struct msp_tls_relay *r)
{
	if (r == NULL)
		return;
	/* wakes the relay, wherever it waits */
	shutdown(r->tcp, SHUT_RDWR);
	shutdown(r->pair, SHUT_RDWR);
	pthread_join(r->thread, NULL);
	SSL_free(r->ssl);
	close(r->tcp);
	close(r->pair);
	free(r);
}
