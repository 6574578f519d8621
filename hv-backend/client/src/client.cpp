// libvtasos-client: implementation of the C API in client.h. C++ inside, but
// no exception ever crosses the C boundary (every entry point catches).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#pragma GCC visibility push(default)
#include "vtasos/client.h"
#pragma GCC visibility pop

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kProtocolVersion = 1;
constexpr size_t kMaxRequestBytes = 64 * 1024;
constexpr size_t kMaxReplyBytes = 16 * 1024 * 1024;
constexpr int kDefaultTimeoutMs = 5000;

int remaining_ms(Clock::time_point deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

std::string errno_text(const char* what, const std::string& arg) {
    return std::string(what) + " " + arg + ": " + std::strerror(errno);
}

// The head of a reply in vtasosd's canonical order: {"v":1,"id":N,"ok":B
// (or "id":null). Lets the client route and judge a reply without parsing it.
struct Head {
    bool valid = false;
    bool has_id = false;
    long long id = -1;
    bool ok = false;
};

Head scan_head(const std::string& s) {
    Head h;
    static const char kV[] = "{\"v\":1,\"id\":";
    if (s.compare(0, sizeof(kV) - 1, kV) != 0) return h;
    size_t i = sizeof(kV) - 1;
    if (s.compare(i, 4, "null") == 0) {
        i += 4;
    } else {
        long long id = 0;
        size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 18)
            id = id * 10 + (s[i++] - '0');
        if (i == start) return h;
        h.has_id = true;
        h.id = id;
    }
    if (s.compare(i, 8, ",\"ok\":tr") == 0 && s.compare(i + 8, 2, "ue") == 0)
        h.ok = true;
    else if (s.compare(i, 10, ",\"ok\":fals") != 0)
        return h;
    h.valid = true;
    return h;
}

}  // namespace

struct vtasos_client {
    int fd = -1;
    int timeout_ms = kDefaultTimeoutMs;
    long long next_id = 1;
    std::string rbuf;  // bytes received past the last reply line
    std::string last_error;
    std::string path;
    bool chardev = false;  // a VM's virtio-serial port ("virtio:PATH"): read/write, not send/recv

    int fail(int code, std::string msg) {
        last_error = std::move(msg);
        return code;
    }

    // Sends one line; on EAGAIN waits for room until `deadline`.
    int send_all(const std::string& line, Clock::time_point deadline) {
        size_t off = 0;
        while (off < line.size()) {
            const char* at = line.data() + off;
            size_t left_bytes = line.size() - off;
            ssize_t n = chardev ? ::write(fd, at, left_bytes)
                                : ::send(fd, at, left_bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0) {
                off += static_cast<size_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return fail(VTASOS_E_UNAVAILABLE, errno_text("send to", path));
            int left = remaining_ms(deadline);
            if (left == 0) return fail(VTASOS_E_TIMEOUT, "timed out sending the request");
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, left);
        }
        return VTASOS_OK;
    }

    // Receives reply lines until one carries `id` (or no id: a connection-level
    // error such as "too many clients"). Stale replies (to calls that timed out) are skipped.
    int recv_reply(long long id, Clock::time_point deadline, std::string& line) {
        for (;;) {
            size_t nl = rbuf.find('\n');
            if (nl != std::string::npos) {
                line.assign(rbuf, 0, nl);
                rbuf.erase(0, nl + 1);
                Head h = scan_head(line);
                if (!h.valid) {  // not in vtasosd's canonical order: read the id the long way
                    json reply = json::parse(line, nullptr, false);
                    if (reply.is_discarded() || !reply.is_object())
                        return fail(VTASOS_E_PROTOCOL, "reply is not a JSON object");
                    auto it = reply.find("id");
                    h.has_id = it != reply.end() && !it->is_null();
                    h.id = h.has_id && it->is_number_integer() ? it->get<long long>() : -1;
                }
                if (!h.has_id || h.id == id) return VTASOS_OK;
                continue;  // a reply to an earlier call that timed out
            }
            if (rbuf.size() > kMaxReplyBytes)
                return fail(VTASOS_E_PROTOCOL, "reply longer than 16 MiB");
            int left = remaining_ms(deadline);
            if (left == 0)
                return fail(VTASOS_E_TIMEOUT, "no reply from " + path + " within " +
                                                  std::to_string(timeout_ms) + " ms");
            pollfd p{fd, POLLIN, 0};
            int rc = ::poll(&p, 1, left);
            if (rc < 0 && errno != EINTR)
                return fail(VTASOS_E_UNAVAILABLE, errno_text("poll", path));
            if (rc <= 0) continue;
            char buf[65536];
            ssize_t n =
                chardev ? ::read(fd, buf, sizeof(buf)) : ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n == 0) return fail(VTASOS_E_UNAVAILABLE, "the daemon closed the connection");
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
                return fail(VTASOS_E_UNAVAILABLE, errno_text("recv from", path));
            }
            rbuf.append(buf, static_cast<size_t>(n));
        }
    }

    // One request object -> its reply line. The reply is parsed into `reply`
    // only when `need_body` or when it is an error; VTASOS_E_REFUSED (with
    // last_error "code: message") when the daemon answered ok:false.
    int call(json request, std::string& line, json& reply, bool need_body) {
        if (fd < 0) return fail(VTASOS_E_UNAVAILABLE, "connection is closed");
        long long id = next_id++;
        request["v"] = kProtocolVersion;
        request["id"] = id;
        std::string out = request.dump(-1, ' ', false, json::error_handler_t::replace);
        if (out.size() > kMaxRequestBytes)
            return fail(VTASOS_E_INVAL, "request of " + std::to_string(out.size()) +
                                            " bytes exceeds the 64 KiB message limit");
        out += '\n';
        auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        if (int rc = send_all(out, deadline); rc != VTASOS_OK) return rc;
        if (int rc = recv_reply(id, deadline, line); rc != VTASOS_OK) return rc;
        Head h = scan_head(line);
        if (h.valid && h.ok && !need_body) {
            last_error.clear();
            return VTASOS_OK;
        }
        reply = json::parse(line, nullptr, false);
        if (reply.is_discarded() || !reply.is_object())
            return fail(VTASOS_E_PROTOCOL, "reply is not a JSON object");
        auto ok = reply.find("ok");
        if (ok == reply.end() || !ok->is_boolean())
            return fail(VTASOS_E_PROTOCOL, "reply has no boolean \"ok\"");
        if (!ok->get<bool>()) {
            std::string code = "unknown", msg = "(no message)";
            auto e = reply.find("error");
            if (e != reply.end() && e->is_object()) {
                if (e->contains("code") && (*e)["code"].is_string())
                    code = (*e)["code"].get<std::string>();
                if (e->contains("message") && (*e)["message"].is_string())
                    msg = (*e)["message"].get<std::string>();
            }
            return fail(VTASOS_E_REFUSED, code + ": " + msg);
        }
        last_error.clear();
        return VTASOS_OK;
    }

    int copy_out(const std::string& s, char* buf, size_t len, const char* what) {
        if (!buf || len == 0) return VTASOS_OK;
        if (s.size() + 1 > len) {
            if (len > 0) buf[0] = '\0';
            return fail(VTASOS_E_INVAL, std::string(what) + " buffer too small: " +
                                            std::to_string(s.size() + 1) + " bytes needed");
        }
        std::memcpy(buf, s.c_str(), s.size() + 1);
        return VTASOS_OK;
    }
};

namespace {

// Runs `f` and turns any exception into a result code.
template <typename F>
int guarded(vtasos_client* c, F&& f) noexcept {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        if (c) c->last_error = "out of memory";
        return VTASOS_E_NOMEM;
    } catch (const std::exception& e) {
        if (c) {
            try {
                c->last_error = e.what();
            } catch (...) {
            }
        }
        return VTASOS_E_PROTOCOL;
    } catch (...) {
        return VTASOS_E_PROTOCOL;
    }
}

std::string& connect_error() {
    static thread_local std::string e;
    return e;
}

bool exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

int parse_object(vtasos_client* c, const char* text, const char* what, json& out) {
    out = json::parse(text, nullptr, false);
    if (out.is_discarded() || !out.is_object())
        return c->fail(VTASOS_E_INVAL, std::string(what) + ": not a JSON object");
    return VTASOS_OK;
}

}  // namespace

extern "C" {

const char* vtasos_default_socket(void) {
    static thread_local std::string path;
    try {
        const char* env = std::getenv("VTASOS_SOCKET");
        const std::string system_path = "/run/vtasos/vtasosd.sock";
        if (env && *env) {
            path = env;
        } else if (::geteuid() == 0) {
            path = system_path;
        } else {
            const char* xdg = std::getenv("XDG_RUNTIME_DIR");
            std::string user = (xdg && *xdg)
                                   ? std::string(xdg) + "/vtasos.sock"
                                   : "/tmp/vtasos-" + std::to_string(::geteuid()) + "/vtasos.sock";
            path = (!exists(user) && exists(system_path)) ? system_path : user;
        }
        return path.c_str();
    } catch (...) {
        return "/run/vtasos/vtasosd.sock";
    }
}

int vtasos_connect(const char* socket_path, int timeout_ms, vtasos_client** out) {
    if (!out) return VTASOS_E_INVAL;
    *out = nullptr;
    try {
        connect_error().clear();
    } catch (...) {
    }
    vtasos_client* c = new (std::nothrow) vtasos_client;
    if (!c) return VTASOS_E_NOMEM;
    int rc = guarded(c, [&]() -> int {
        c->timeout_ms = timeout_ms > 0 ? timeout_ms : kDefaultTimeoutMs;
        c->path = (socket_path && *socket_path) ? socket_path : vtasos_default_socket();
        if (c->path.rfind("virtio:", 0) == 0) {
            // Inside a VM: the daemon is at the host end of a virtio-serial port.
            c->path.erase(0, 7);
            c->chardev = true;
            c->fd = ::open(c->path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
            if (c->fd < 0) return c->fail(VTASOS_E_UNAVAILABLE, errno_text("open", c->path));
            return VTASOS_OK;
        }
        sockaddr_un addr{};
        if (c->path.size() >= sizeof(addr.sun_path))
            return c->fail(VTASOS_E_INVAL, "socket path too long: " + c->path);
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, c->path.c_str(), c->path.size() + 1);
        c->fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) return c->fail(VTASOS_E_UNAVAILABLE, errno_text("socket for", c->path));
        auto deadline = Clock::now() + std::chrono::milliseconds(c->timeout_ms);
        for (;;) {
            if (::connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
                return VTASOS_OK;
            if (errno == EINTR) continue;
            if (errno == EINPROGRESS) {
                pollfd p{c->fd, POLLOUT, 0};
                if (::poll(&p, 1, remaining_ms(deadline)) <= 0)
                    return c->fail(VTASOS_E_TIMEOUT, "connect to " + c->path + " timed out");
                int err = 0;
                socklen_t len = sizeof(err);
                ::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == 0) return VTASOS_OK;
                errno = err;
                return c->fail(VTASOS_E_UNAVAILABLE, errno_text("connect to", c->path));
            }
            if (errno == EAGAIN) {  // listen queue full: retry until the deadline
                if (remaining_ms(deadline) == 0)
                    return c->fail(VTASOS_E_TIMEOUT,
                                   "connect to " + c->path + ": daemon busy, timed out");
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
                continue;
            }
            std::string hint =
                (errno == ENOENT || errno == ECONNREFUSED) ? " (is vtasosd running?)" : "";
            return c->fail(VTASOS_E_UNAVAILABLE, errno_text("connect to", c->path) + hint);
        }
    });
    if (rc != VTASOS_OK) {
        // The connection object goes away: keep its message for vtasos_last_error(NULL).
        try {
            connect_error() = c->last_error;
        } catch (...) {
        }
        vtasos_close(c);
        return rc;
    }
    *out = c;
    return VTASOS_OK;
}

int vtasos_register(vtasos_client* c, const char* tenant, const char* request_json,
                    const char* profile, const int* pids, int npids, int detached,
                    char* placement_json, size_t len) {
    if (!c) return VTASOS_E_INVAL;
    return guarded(c, [&]() -> int {
        if (!tenant || !*tenant) return c->fail(VTASOS_E_INVAL, "tenant: required");
        if (npids < 0 || (npids > 0 && !pids)) return c->fail(VTASOS_E_INVAL, "pids: bad array");
        if (request_json && profile)
            return c->fail(VTASOS_E_INVAL, "give request_json or profile, not both");
        json req = {{"op", "register"}, {"tenant", tenant}, {"detached", detached != 0}};
        json pj = json::array();
        for (int i = 0; i < npids; ++i) pj.push_back(pids[i]);
        req["pids"] = pj;
        if (request_json) {
            json r;
            if (int rc = parse_object(c, request_json, "request_json", r); rc != VTASOS_OK)
                return rc;
            req["request"] = r;
        }
        if (profile) req["profile"] = profile;
        std::string line;
        json reply;
        if (int rc = c->call(req, line, reply, true); rc != VTASOS_OK) return rc;
        auto p = reply.find("placement");
        if (p == reply.end()) return c->fail(VTASOS_E_PROTOCOL, "register reply has no placement");
        return c->copy_out(p->dump(), placement_json, len, "registered, but the placement_json");
    });
}

int vtasos_update(vtasos_client* c, const char* tenant, const char* observations_json) {
    if (!c) return VTASOS_E_INVAL;
    return guarded(c, [&]() -> int {
        if (!tenant || !*tenant || !observations_json)
            return c->fail(VTASOS_E_INVAL, "tenant and observations_json are required");
        json obs;
        if (int rc = parse_object(c, observations_json, "observations_json", obs); rc != VTASOS_OK)
            return rc;
        std::string line;
        json reply;
        return c->call({{"op", "update"}, {"tenant", tenant}, {"observations", obs}}, line, reply,
                       false);
    });
}

int vtasos_advice(vtasos_client* c, const char* tenant, char* advice_json, size_t len) {
    if (!c) return VTASOS_E_INVAL;
    return guarded(c, [&]() -> int {
        if (!tenant || !*tenant) return c->fail(VTASOS_E_INVAL, "tenant: required");
        std::string line;
        json reply;
        if (int rc = c->call({{"op", "advice"}, {"tenant", tenant}}, line, reply, true);
            rc != VTASOS_OK)
            return rc;
        auto a = reply.find("advice");
        if (a == reply.end()) return c->fail(VTASOS_E_PROTOCOL, "advice reply has no advice");
        return c->copy_out(a->dump(), advice_json, len, "advice_json");
    });
}

int vtasos_advice_values(vtasos_client* c, const char* tenant, double* node_load,
                         int* suggested_threads, int* gang) {
    if (!c) return VTASOS_E_INVAL;
    return guarded(c, [&]() -> int {
        if (!tenant || !*tenant) tenant = std::getenv("VTASOS_MPI_TENANT");
        if (!tenant || !*tenant)
            return c->fail(VTASOS_E_INVAL, "tenant: required (or set VTASOS_MPI_TENANT)");
        std::string line;
        json reply;
        if (int rc = c->call({{"op", "advice"}, {"tenant", tenant}}, line, reply, true);
            rc != VTASOS_OK)
            return rc;
        auto a = reply.find("advice");
        if (a == reply.end() || !a->is_object())
            return c->fail(VTASOS_E_PROTOCOL, "advice reply has no advice");
        auto load = a->find("node_load");
        auto threads = a->find("suggested_threads");
        auto g = a->find("gang");
        if (load == a->end() || !load->is_number() || threads == a->end() ||
            !threads->is_number_integer() || g == a->end() || !g->is_boolean())
            return c->fail(VTASOS_E_PROTOCOL,
                           "advice: node_load, suggested_threads or gang missing or mistyped");
        if (node_load) *node_load = load->get<double>();
        if (suggested_threads) *suggested_threads = threads->get<int>();
        if (gang) *gang = g->get<bool>() ? 1 : 0;
        return VTASOS_OK;
    });
}

int vtasos_release(vtasos_client* c, const char* tenant) {
    if (!c) return VTASOS_E_INVAL;
    return guarded(c, [&]() -> int {
        if (!tenant || !*tenant) return c->fail(VTASOS_E_INVAL, "tenant: required");
        std::string line;
        json reply;
        return c->call({{"op", "release"}, {"tenant", tenant}}, line, reply, false);
    });
}

int vtasos_call(vtasos_client* c, const char* request_json, char* reply_json, size_t len) {
    if (!c) return VTASOS_E_INVAL;
    return guarded(c, [&]() -> int {
        if (!request_json) return c->fail(VTASOS_E_INVAL, "request_json: required");
        json req;
        if (int rc = parse_object(c, request_json, "request_json", req); rc != VTASOS_OK) return rc;
        std::string line;
        json reply;
        int rc = c->call(req, line, reply, false);
        if (rc != VTASOS_OK && rc != VTASOS_E_REFUSED) return rc;
        std::string saved = c->last_error;
        if (int crc = c->copy_out(line, reply_json, len, "reply_json"); crc != VTASOS_OK)
            return crc;
        c->last_error = saved;
        return rc;
    });
}

int vtasos_call_alloc(vtasos_client* c, const char* request_json, char** reply_json) {
    if (!c || !reply_json) return VTASOS_E_INVAL;
    *reply_json = nullptr;
    return guarded(c, [&]() -> int {
        if (!request_json) return c->fail(VTASOS_E_INVAL, "request_json: required");
        json req;
        if (int rc = parse_object(c, request_json, "request_json", req); rc != VTASOS_OK) return rc;
        std::string line;
        json reply;
        int rc = c->call(req, line, reply, false);
        if (rc != VTASOS_OK && rc != VTASOS_E_REFUSED) return rc;
        char* out = static_cast<char*>(std::malloc(line.size() + 1));
        if (!out) return c->fail(VTASOS_E_NOMEM, "out of memory");
        std::memcpy(out, line.c_str(), line.size() + 1);
        *reply_json = out;
        return rc;
    });
}

void vtasos_free(void* p) { std::free(p); }

const char* vtasos_last_error(const vtasos_client* c) {
    return c ? c->last_error.c_str() : connect_error().c_str();
}

const char* vtasos_strerror(int code) {
    switch (code) {
        case VTASOS_OK:
            return "success";
        case VTASOS_E_UNAVAILABLE:
            return "vtasosd is not available (no daemon at the socket, or the connection broke)";
        case VTASOS_E_TIMEOUT:
            return "vtasosd did not answer in time";
        case VTASOS_E_PROTOCOL:
            return "invalid reply from vtasosd";
        case VTASOS_E_REFUSED:
            return "vtasosd refused the request";
        case VTASOS_E_INVAL:
            return "invalid argument";
        case VTASOS_E_NOMEM:
            return "out of memory";
        default:
            return "unknown error code";
    }
}

void vtasos_close(vtasos_client* c) {
    if (!c) return;
    if (c->fd >= 0) ::close(c->fd);
    delete c;
}

}  // extern "C"
