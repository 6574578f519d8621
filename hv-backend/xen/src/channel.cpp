// Guest channel over xenstore: key validation, request -> registration,
// advice back; the real watcher thread.
#include "vtasos/xen/channel.h"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <thread>

extern "C" {
#include <xenstore.h>
}

namespace vtasos::xen {

using json = nlohmann::json;

std::string request_path(uint32_t domid) {
    return fmt::format("/local/domain/{}/{}", domid, kGuestRequestKey);
}
std::string profile_path(uint32_t domid) {
    return fmt::format("/local/domain/{}/{}", domid, kGuestProfileKey);
}
std::string advice_path(uint32_t domid) {
    return fmt::format("/local/domain/{}/{}", domid, kGuestAdviceKey);
}

Result<KeyRef> validate_key(std::string_view path, uint32_t owner) {
    static const std::regex re(R"(^/local/domain/([0-9]{1,5})/data/vtasos/(request|profile)$)");
    std::cmatch m;
    std::string p(path.substr(0, 256));
    if (!std::regex_match(p.c_str(), m, re))
        return Error(Errc::kInvalidArgument,
                     fmt::format("{}: not a vtasos guest key (/local/domain/<id>/data/vtasos/"
                                 "request|profile)",
                                 p));
    unsigned long domid = std::strtoul(m[1].str().c_str(), nullptr, 10);
    if (domid == 0 || domid >= 0x7ff0)
        return Error(Errc::kInvalidArgument,
                     fmt::format("{}: domain {} cannot use the guest channel", p, domid));
    if (owner != domid)
        return Error(
            Errc::kPermissionDenied,
            fmt::format("{}: written by domain {}, not by domain {}; ignored", p, owner, domid));
    return KeyRef{static_cast<uint32_t>(domid),
                  m[2].str() == "request" ? GuestKey::kRequest : GuestKey::kProfile};
}

std::string guest_tenant(uint32_t domid, std::string_view name) {
    static const std::regex ok(R"(^[A-Za-z0-9._:@+-]{1,60}$)");
    std::string n(name.substr(0, 64));
    if (!n.empty() && std::regex_match(n, ok)) return "xen-" + n;
    return fmt::format("xen-dom{}", domid);
}

void GuestChannel::reply(uint32_t domid, const json& j) {
    if (auto s = store_.write(advice_path(domid), j.dump()); !s)
        spdlog::warn("event=xen_channel_reply domid={} result=error msg=\"{}\"", domid,
                     s.error().message());
}

static json error_json(const Error& e) {
    return {{"ok", false},
            {"error", {{"code", std::string(errc_name(e.code()))}, {"message", e.message()}}}};
}

Result<std::string> GuestChannel::on_event(const std::string& path) {
    auto owner = store_.owner(path);
    if (!owner) {
        if (owner.error().code() == Errc::kNotFound) return std::string("removed");
        return owner.error();
    }
    auto ref = validate_key(path, *owner);
    if (!ref) return ref.error();
    auto value = store_.read(path);
    if (!value) return value.error();
    if (!*value) return std::string("removed");
    const uint32_t domid = ref->domid;
    json body = json::parse(**value, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        Error e(Errc::kInvalidArgument, fmt::format("{}: expected a JSON object", path));
        reply(domid, error_json(e));
        return e;
    }
    if (ref->key == GuestKey::kRequest) {
        std::string tenant;
        if (auto it = tenants_.find(domid); it != tenants_.end()) {
            tenant = it->second;
            (void)sink_.release(tenant);  // a new request replaces the old one
            tenants_.erase(it);
        } else {
            auto name = store_.domain_name(domid);
            tenant = guest_tenant(domid, name ? *name : std::string());
        }
        body.erase("tenant");
        auto r = sink_.register_domain(tenant, domid, body);
        if (!r && r.error().code() == Errc::kAlreadyExists) {
            // The operator registered this domain already (vtasosctl register --domain):
            // that registration stands; the guest gets its advice.
            auto a = sink_.advice(tenant);
            if (a) {
                json out = {{"ok", true},
                            {"tenant", tenant},
                            {"note", "registered already; this request was not applied"}};
                if (a->contains("advice")) out["advice"] = (*a)["advice"];
                reply(domid, out);
                return fmt::format("domain {} is tenant {} already; advice sent", domid, tenant);
            }
        }
        if (!r) {
            reply(domid, error_json(r.error()));
            return r.error();
        }
        tenants_[domid] = tenant;
        json out = {{"ok", true}, {"tenant", tenant}};
        if (r->contains("placement")) out["placement"] = (*r)["placement"];
        if (auto a = sink_.advice(tenant); a && a->contains("advice"))
            out["advice"] = (*a)["advice"];
        reply(domid, out);
        return fmt::format("registered {} for domain {}", tenant, domid);
    }
    auto it = tenants_.find(domid);
    if (it == tenants_.end()) {
        Error e(Errc::kNotFound,
                fmt::format("{}: write a request first ({})", path, kGuestRequestKey));
        reply(domid, error_json(e));
        return e;
    }
    if (!body.contains("name")) body["name"] = it->second;
    auto r = sink_.update(it->second, body);
    if (!r) {
        reply(domid, error_json(r.error()));
        return r.error();
    }
    json out = {{"ok", true}, {"tenant", it->second}};
    if (r->contains("advice")) out["advice"] = (*r)["advice"];
    if (r->contains("placement")) out["placement"] = (*r)["placement"];
    reply(domid, out);
    return fmt::format("profile of {} updated", it->second);
}

std::vector<std::string> GuestChannel::on_release_domain() {
    std::vector<std::string> gone;
    for (auto it = tenants_.begin(); it != tenants_.end();) {
        auto n = store_.read(fmt::format("/local/domain/{}/name", it->first));
        if (n && !*n) {
            (void)sink_.release(it->second);
            gone.push_back(it->second);
            it = tenants_.erase(it);
        } else {
            ++it;
        }
    }
    return gone;
}

// ---------------------------------------------------------------------------
// The real watcher

namespace {

class XsStore : public ChannelStore {
public:
    explicit XsStore(xs_handle* h) : h_(h) {}
    Result<std::optional<std::string>> read(const std::string& path) override {
        unsigned len = 0;
        void* v = xs_read(h_, XBT_NULL, path.c_str(), &len);
        if (!v) {
            if (errno == ENOENT) return std::optional<std::string>();
            return Error(Errc::kIo, fmt::format("xs_read {}: {}", path, std::strerror(errno)));
        }
        std::string s(static_cast<char*>(v), len);
        std::free(v);
        return std::optional<std::string>(std::move(s));
    }
    Result<uint32_t> owner(const std::string& path) override {
        unsigned n = 0;
        xs_permissions* p = xs_get_permissions(h_, XBT_NULL, path.c_str(), &n);
        if (!p) {
            if (errno == ENOENT) return Error(Errc::kNotFound, path + ": gone");
            return Error(Errc::kIo,
                         fmt::format("xs_get_permissions {}: {}", path, std::strerror(errno)));
        }
        uint32_t id = n > 0 ? p[0].id : 0;
        std::free(p);
        return id;
    }
    Status write(const std::string& path, const std::string& value) override {
        if (!xs_write(h_, XBT_NULL, path.c_str(), value.data(),
                      static_cast<unsigned>(value.size())))
            return Error(Errc::kIo, fmt::format("xs_write {}: {}", path, std::strerror(errno)));
        // The guest must read its advice: the key is owned by the guest (as
        // its data/ area is), dom0 keeps access as the privileged domain.
        return {};
    }
    Result<std::string> domain_name(uint32_t domid) override {
        auto v = read(fmt::format("/local/domain/{}/name", domid));
        if (!v) return v.error();
        if (!*v) return Error(Errc::kNotFound, fmt::format("domain {} has no name", domid));
        return **v;
    }

private:
    xs_handle* h_;
};

class RealWatcher : public ChannelWatcher {
public:
    RealWatcher(xs_handle* h, std::unique_ptr<ChannelSink> sink)
        : h_(h), store_(h), sink_(std::move(sink)), channel_(store_, *sink_) {
        thread_ = std::thread([this] { loop(); });
    }
    ~RealWatcher() override {
        stop();
        xs_close(h_);
    }
    void stop() override {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }

private:
    void loop() {
        sweep();
        int fd = xs_fileno(h_);
        while (!stop_) {
            pollfd p{fd, POLLIN, 0};
            int n = ::poll(&p, 1, 200);
            if (n <= 0) continue;
            for (;;) {
                char** ev = xs_check_watch(h_);
                if (!ev) break;
                std::string path = ev[XS_WATCH_PATH];
                std::free(ev);
                handle(path);
            }
        }
    }
    // Requests written before the daemon watched: answer those without advice.
    void sweep() {
        unsigned n = 0;
        char** ids = xs_directory(h_, XBT_NULL, "/local/domain", &n);
        if (!ids) return;
        std::vector<std::string> doms(ids, ids + n);
        std::free(ids);
        for (const auto& id : doms) {
            if (stop_) return;
            std::string base = "/local/domain/" + id + "/";
            auto req = store_.read(base + kGuestRequestKey);
            auto adv = store_.read(base + kGuestAdviceKey);
            if (req && *req && adv && !*adv) handle(base + kGuestRequestKey);
        }
    }
    void handle(const std::string& path) {
        if (path == "@releaseDomain") {
            for (const auto& t : channel_.on_release_domain())
                spdlog::info("event=xen_channel tenant={} action=release reason=domain_gone", t);
            return;
        }
        if (path.size() < 14 || (path.compare(path.size() - 14, 14, "vtasos/request") != 0 &&
                                 path.compare(path.size() - 14, 14, "vtasos/profile") != 0))
            return;
        auto r = channel_.on_event(path);
        if (r)
            spdlog::info("event=xen_channel path={} result=\"{}\"", path, *r);
        else
            spdlog::warn("event=xen_channel path={} result=error msg=\"{}\"", path,
                         r.error().message());
    }

    xs_handle* h_;
    XsStore store_;
    std::unique_ptr<ChannelSink> sink_;
    GuestChannel channel_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<ChannelWatcher>> start_channel_watcher(
    std::function<std::unique_ptr<ChannelSink>()> make_sink) {
    xs_handle* h = xs_open(XS_OPEN_SOCKETONLY);
    if (!h)
        return Error(Errc::kUnavailable,
                     fmt::format("xenstore: cannot connect ({}); is xenstored running in dom0?",
                                 std::strerror(errno)));
    if (!xs_watch(h, "/local/domain", "vtasos") || !xs_watch(h, "@releaseDomain", "gone")) {
        int e = errno;
        xs_close(h);
        return Error(Errc::kIo, fmt::format("xs_watch: {}", std::strerror(e)));
    }
    return std::unique_ptr<ChannelWatcher>(std::make_unique<RealWatcher>(h, make_sink()));
}

}  // namespace vtasos::xen
