/* tls_relay: a TLS client connection (OpenSSL) seen as a plain socket.
 * A thread moves bytes between the TLS connection and one end of a
 * socket pair; the caller speaks plain bytes on the other end (hiredis
 * over redisConnectFd, for a rediss:// queue). The server's certificate
 * is verified against the CA file (or the system's CAs) and the host
 * name (or IP address) it was reached by. Implemented in
 * lib/tls_relay.c. Not installed. */
#ifndef MSP_TLS_RELAY_H
#define MSP_TLS_RELAY_H

#include "err.h"

struct msp_tls_ctx;
struct msp_tls_relay;

/* Settings for connections: ca (may be NULL: the system's CAs), a client
 * certificate and key (both or neither; PEM files). Files are read now:
 * MSP_EINVAL naming the one that cannot be used. */
int msp_tls_ctx_new(struct msp_tls_ctx **cp, const char *ca,
    const char *cert, const char *key, struct msp_err *e);
void msp_tls_ctx_free(struct msp_tls_ctx *c);

/* Connect to host:port within timeout_ms, handshake and verify; *fd gets
 * the plain end (closed by its user: hiredis's redisFree). MSP_ENET
 * for a network failure, MSP_EPERM for a certificate that fails. */
int msp_tls_relay_open(struct msp_tls_relay **rp, struct msp_tls_ctx *c,
    const char *host, int port, long timeout_ms, int *fd, struct msp_err *e);
/* Why the TLS connection ended (an alert from the server), or NULL. */
const char *msp_tls_relay_why(struct msp_tls_relay *r);
/* Stop the relay (after the plain end was closed) and free it. */
void msp_tls_relay_close(struct msp_tls_relay *r);

#endif
