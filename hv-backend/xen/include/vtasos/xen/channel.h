// The Xen guest channel: a domU states its request and profile in its own
// xenstore area and reads the daemon's advice back (DESIGN.md "Guests").
//
// Key layout (all values JSON; <d> is the domain id):
//   /local/domain/<d>/data/vtasos/request  guest -> dom0  a request object as in
//                                          docs/protocol.md, without "tenant"
//   /local/domain/<d>/data/vtasos/profile  guest -> dom0  observations (update op)
//   /local/domain/<d>/data/vtasos/advice   dom0 -> guest  {"ok":true,"tenant":..,
//                                          "placement":..,"advice":{..}} or
//                                          {"ok":false,"error":{"code","message"}}
// A domU can write only under its own /local/domain/<d>/data (xenstore
// permissions); the daemon still checks each key it reads: the path's domain id
// must equal the key's owner (first entry of its permissions) — a key in
// domain A's area owned by domain B is rejected and never acted upon.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vtasos/core/result.h"

namespace vtasos::xen {

enum class GuestKey { kRequest, kProfile };

struct KeyRef {
    uint32_t domid = 0;
    GuestKey key = GuestKey::kRequest;
    bool operator==(const KeyRef&) const = default;
};

// Relative paths a guest uses (xenstore resolves them in its own home).
inline constexpr const char* kGuestRequestKey = "data/vtasos/request";
inline constexpr const char* kGuestProfileKey = "data/vtasos/profile";
inline constexpr const char* kGuestAdviceKey = "data/vtasos/advice";

std::string request_path(uint32_t domid);
std::string profile_path(uint32_t domid);
std::string advice_path(uint32_t domid);

// Checks one watched key. `owner` is the domain owning the key (its permission
// list's first entry). Errors (kPermissionDenied / kInvalidArgument), e.g.
//   "/local/domain/7/data/vtasos/request: written by domain 5, not by domain 7"
// Paths outside the layout (advice, other keys, dom0's area) are kInvalidArgument.
Result<KeyRef> validate_key(std::string_view path, uint32_t owner);

// The tenant id of a guest domain: "xen-<name>" when the name is a valid tenant
// id, else "xen-dom<domid>".
std::string guest_tenant(uint32_t domid, std::string_view name);

// What the channel asks of the daemon; implemented by the daemon glue with a
// client connection to vtasosd (so a guest is registered exactly like a native
// tenant) and by a recording sink in tests.
class ChannelSink {
public:
    virtual ~ChannelSink() = default;
    // register {"tenant","domain":"<domid>","request":{...}} -> the reply
    virtual Result<nlohmann::json> register_domain(const std::string& tenant, uint32_t domid,
                                                   const nlohmann::json& request) = 0;
    virtual Result<nlohmann::json> update(const std::string& tenant,
                                          const nlohmann::json& observations) = 0;
    virtual Result<nlohmann::json> advice(const std::string& tenant) = 0;
    virtual Status release(const std::string& tenant) = 0;
};

// Minimal xenstore access the channel needs (the real one wraps xs_*).
class ChannelStore {
public:
    virtual ~ChannelStore() = default;
    virtual Result<std::optional<std::string>> read(const std::string& path) = 0;
    virtual Result<uint32_t> owner(const std::string& path) = 0;  // xs_get_permissions
    virtual Status write(const std::string& path, const std::string& value) = 0;
    virtual Result<std::string> domain_name(uint32_t domid) = 0;
};

// Turns one watch event into daemon calls and writes the advice back.
// Returns what happened (for the log); never throws.
class GuestChannel {
public:
    GuestChannel(ChannelStore& store, ChannelSink& sink) : store_(store), sink_(sink) {}
    Result<std::string> on_event(const std::string& path);
    // @releaseDomain fired: releases the tenants of domains that are gone.
    // Returns their tenant ids.
    std::vector<std::string> on_release_domain();
    const std::map<uint32_t, std::string>& tenants() const { return tenants_; }

private:
    void reply(uint32_t domid, const nlohmann::json& j);
    ChannelStore& store_;
    ChannelSink& sink_;
    std::map<uint32_t, std::string> tenants_;  // domid -> tenant registered via the channel
};

// The real watcher, run in a thread of vtasosd: xs_watch on /local/domain
// and @releaseDomain, GuestChannel on every event. stop() ends it within
// ~200 ms. Errors at start: kUnavailable when xenstore cannot be opened.
class ChannelWatcher {
public:
    virtual ~ChannelWatcher() = default;
    virtual void stop() = 0;
};
Result<std::unique_ptr<ChannelWatcher>> start_channel_watcher(
    std::function<std::unique_ptr<ChannelSink>()> make_sink);

}  // namespace vtasos::xen
