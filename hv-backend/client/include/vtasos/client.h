/* libvtasos-client: the one small C API to the node daemon vtasosd.
 *
 * Used by the OMPT tool, the Open MPI hook and vtasosctl. It speaks the
 * newline-delimited JSON protocol of docs/protocol.md over the daemon's Unix
 * socket. Every call is synchronous and bounded by the connection's timeout;
 * no call crashes, throws or blocks forever, whatever the daemon does:
 *   - no daemon listening          -> VTASOS_E_UNAVAILABLE, at once
 *   - a daemon that never answers  -> VTASOS_E_TIMEOUT after timeout_ms
 *   - a daemon error reply         -> VTASOS_E_REFUSED; vtasos_last_error()
 *                                     gives "code: message" from the daemon
 * The header depends on nothing but the C standard library. A connection is
 * not thread-safe: use one per thread or serialize the calls.
 */
#ifndef VTASOS_CLIENT_H
#define VTASOS_CLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vtasos_client vtasos_client;

enum {
    VTASOS_OK = 0,
    VTASOS_E_UNAVAILABLE = -1, /* no daemon at the socket, or the connection broke */
    VTASOS_E_TIMEOUT = -2,     /* no (complete) reply within timeout_ms */
    VTASOS_E_PROTOCOL = -3,    /* the reply was not a valid protocol message */
    VTASOS_E_REFUSED = -4,     /* daemon error reply; see vtasos_last_error */
    VTASOS_E_INVAL = -5,       /* bad argument (NULL, bad JSON, buffer too small) */
    VTASOS_E_NOMEM = -6        /* out of memory */
};

/* The socket to use when none is given: $VTASOS_SOCKET if set; else, for root,
 * /run/vtasos/vtasosd.sock; else $XDG_RUNTIME_DIR/vtasos.sock if it exists,
 * else /run/vtasos/vtasosd.sock if it exists, else $XDG_RUNTIME_DIR/vtasos.sock
 * (/tmp/vtasos-UID/vtasos.sock without XDG_RUNTIME_DIR). Returns a pointer to
 * a thread-local buffer, valid until the next call in the same thread. */
const char* vtasos_default_socket(void);

/* Connects to `socket_path` (NULL or "" = vtasos_default_socket()). Every later
 * call on this connection waits at most `timeout_ms` (<= 0: 5000) for its
 * reply. On success *out holds a connection to free with vtasos_close.
 * Errors: VTASOS_E_UNAVAILABLE (nothing listens, no permission),
 * VTASOS_E_TIMEOUT (the listen queue stayed full), VTASOS_E_INVAL (out NULL,
 * path too long), VTASOS_E_NOMEM. On error *out is NULL. */
int vtasos_connect(const char* socket_path, int timeout_ms, vtasos_client** out);

/* Registers tenant `tenant` with processes pids[0..npids) (npids may be 0: a
 * reservation). The request is either `request_json` (a Request object, see
 * docs/protocol.md), or the profile named `profile`, or, with both NULL, the
 * daemon's choice (profile matching the executable, else its default).
 * detached != 0: the tenant survives this connection (it is cleaned up when its
 * processes exit or on release). On success the placement JSON is copied to
 * placement_json (if not NULL and len > 0). If it does not fit, the result is
 * VTASOS_E_INVAL although the tenant IS registered (release it, or retry with
 * a bigger buffer through vtasos_call_alloc {"op":"status"}).
 * The CPU count for a profile or the daemon's choice, and per-thread pinning,
 * need vtasos_call with the full register message (docs/protocol.md).
 * Errors: VTASOS_E_REFUSED (invalid/infeasible/permission; see last_error),
 * VTASOS_E_INVAL, and the transport errors above. */
int vtasos_register(vtasos_client* c, const char* tenant, const char* request_json,
                    const char* profile, const int* pids, int npids, int detached,
                    char* placement_json, size_t len);

/* Reports learned rates (a Profile-like JSON object: threads, region_rate_hz,
 * barrier_rate_hz, sync_fraction, imbalance, bandwidth, gang). May trigger the
 * tenant's one re-placement. */
int vtasos_update(vtasos_client* c, const char* tenant, const char* observations_json);

/* Copies the tenant's Advice JSON ({"node_load","suggested_threads","gang",
 * "reason"}) to advice_json. */
int vtasos_advice(vtasos_client* c, const char* tenant, char* advice_json, size_t len);

/* The same advice as values, for MPI programs that do not parse JSON. `tenant`
 * NULL or "": $VTASOS_MPI_TENANT (the job tenant the Open MPI hook joined and
 * published in every rank). Out pointers may be NULL. *node_load: requested
 * CPUs / PUs on the node (1.0 = full); *suggested_threads: threads to run now
 * (its disjoint share of PUs under the feedback/auto policies, all its CPUs
 * when gang scheduled or alone; 0 = no suggestion); *gang: 1 when the tenant
 * is (or should be) gang scheduled, else 0. On error the outputs are unchanged.
 * Errors: VTASOS_E_INVAL (no tenant given and $VTASOS_MPI_TENANT unset),
 * VTASOS_E_PROTOCOL (advice without these fields), and those of vtasos_advice. */
int vtasos_advice_values(vtasos_client* c, const char* tenant, double* node_load,
                         int* suggested_threads, int* gang);

/* Releases the tenant (unpin, thaw, remove its cgroup). */
int vtasos_release(vtasos_client* c, const char* tenant);

/* Raw call: `request_json` is one JSON object; "v" and "id" are filled in.
 * The whole reply line (without newline) is copied to reply_json, also when
 * the daemon refused (then the result is VTASOS_E_REFUSED). If the reply does
 * not fit in `len` bytes (NUL included) the result is VTASOS_E_INVAL and
 * vtasos_last_error says how many bytes were needed. */
int vtasos_call(vtasos_client* c, const char* request_json, char* reply_json, size_t len);

/* Like vtasos_call, but the reply is returned in *reply_json allocated with
 * malloc (free it with vtasos_free); *reply_json is NULL on transport errors. */
int vtasos_call_alloc(vtasos_client* c, const char* request_json, char** reply_json);
void vtasos_free(void* p);

/* Message of the last failed call on `c` ("" if none): the daemon's
 * "code: message" for VTASOS_E_REFUSED, else what went wrong locally.
 * With c == NULL: why this thread's last vtasos_connect failed. */
const char* vtasos_last_error(const vtasos_client* c);

/* Static description of a result code ("unknown error code" for others). */
const char* vtasos_strerror(int code);

/* Closes the connection (non-detached tenants it registered are released by
 * the daemon). NULL is allowed. */
void vtasos_close(vtasos_client* c);

#ifdef __cplusplus
}
#endif

#endif /* VTASOS_CLIENT_H */
