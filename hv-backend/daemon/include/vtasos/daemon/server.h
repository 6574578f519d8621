// Server: vtasosd's single-threaded epoll event loop.
//
// One thread watches the listening Unix socket, every client connection, one
// pidfd per tenant process and a signalfd (SIGTERM, SIGINT). Requests are read
// as newline-delimited lines, bounded to kMaxMessageBytes; an oversize line
// gets an error reply and is discarded up to its newline (a client that keeps
// streaming past max_discard_bytes is disconnected). Replies are queued per
// client; a client whose queue passes max_output_bytes is disconnected (slow
// reader). Nothing a client sends can stop the loop serving the others.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "vtasos/core/result.h"
#include "vtasos/daemon/service.h"

namespace vtasos::daemon {

struct ServerOptions {
    std::string socket_path;
    // Socket file mode; the group is set to `group` when that group exists.
    mode_t socket_mode = 0660;
    std::string group = "vtasos";
    size_t max_clients = 256;
    size_t max_output_bytes = 1 << 20;    // per-client reply queue
    size_t max_discard_bytes = 16 << 20;  // of one oversize line before disconnecting
};

class Server {
public:
    Server(Service& service, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Claims the socket path: refuses (kAlreadyExists) when a live daemon
    // answers there, removes a stale socket file, creates the parent directory
    // (0755) if missing, binds, sets mode and group, listens.
    // Errors: kAlreadyExists, kInvalidArgument (path too long, not a socket), kIo.
    Status bind();

    // Serves until SIGTERM or SIGINT (which must be blocked by the caller
    // before any thread starts; bind() does not need that) or stop().
    // Returns when asked to stop; the caller then shuts the Service down.
    Status run();

    // Asks run() to return (safe from any thread or a signal handler).
    void stop();

    // Unlinks the socket file if this server created it.
    void remove_socket();

    size_t client_count() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Checks that no live daemon answers at `path` and removes a stale socket
// file there. Errors: kAlreadyExists (a daemon answers), kInvalidArgument
// (path too long, or an existing non-socket file), kIo. Server::bind calls it;
// vtasosd also calls it first thing, before it touches any cgroup.
Status claim_socket_path(const std::string& path);

// Default paths (DESIGN.md "Security and failure"):
//   root:     /run/vtasos/vtasosd.sock and /var/lib/vtasos/state.json
//   non-root: $XDG_RUNTIME_DIR/vtasos.sock (else /tmp/vtasos-UID/vtasos.sock) and
//             $XDG_STATE_HOME/vtasos/state.json (else ~/.local/state/vtasos/state.json)
std::string default_socket_path();
std::string default_state_path();

}  // namespace vtasos::daemon
