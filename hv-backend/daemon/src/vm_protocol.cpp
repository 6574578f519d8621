// register.vm: validation of a VM tenant's boot description (docs/protocol.md "VM tenants").
#include <fmt/format.h>

#include "vtasos/core/json_fields.h"
#include "vtasos/daemon/protocol.h"

namespace vtasos::daemon {
namespace {

namespace jf = vtasos::json;
using nlohmann::json;

constexpr size_t kMaxPathBytes = 4096;
constexpr size_t kMaxWords = 256;
constexpr size_t kMaxWordBytes = 4096;

// Array of at most kMaxWords strings without NUL (they become NUL-separated lists).
Result<std::vector<std::string>> words(const json& j, std::string_view key, std::string_view path,
                                       bool need_equals) {
    std::string p = jf::join_path(path, key);
    auto it = j.find(std::string(key));
    if (it == j.end()) return std::vector<std::string>{};
    if (!it->is_array() || it->size() > kMaxWords)
        return jf::field_error(p, fmt::format("an array of at most {} strings", kMaxWords), *it);
    std::vector<std::string> out;
    for (size_t i = 0; i < it->size(); ++i) {
        const json& v = (*it)[i];
        auto ip = fmt::format("{}[{}]", p, i);
        if (!v.is_string()) return jf::field_error(ip, "a string", v);
        const auto& s = v.get_ref<const std::string&>();
        if (s.size() > kMaxWordBytes || s.find('\0') != std::string::npos)
            return Error(Errc::kInvalidArgument,
                         fmt::format("{}: at most {} bytes and no NUL", ip, kMaxWordBytes));
        if (need_equals && (s.empty() || s.front() == '=' || s.find('=') == std::string::npos))
            return Error(Errc::kInvalidArgument,
                         fmt::format("{}: expected KEY=VALUE, got \"{}\"", ip, s.substr(0, 60)));
        out.push_back(s);
    }
    return out;
}

// An absolute path without ',' (QEMU's option syntax) or NUL.
Result<std::string> abs_path(const json& j, std::string_view key, std::string_view path,
                             bool required) {
    auto s = jf::get_string(j, key, path, kMaxPathBytes, false,
                            required ? std::nullopt : std::optional<std::string>(""));
    if (!s) return s.error();
    if (s->empty()) return *s;
    if (s->front() != '/' || s->find(',') != std::string::npos ||
        s->find('\0') != std::string::npos)
        return Error(Errc::kInvalidArgument,
                     fmt::format("{}: expected an absolute path without ',', got \"{}\"",
                                 jf::join_path(path, key), s->substr(0, 80)));
    return *s;
}

}  // namespace

Result<VmArgs> parse_vm_args(const json& j, const RegisterArgs& a) {
    const std::string path = "register.vm";
    if (auto s = jf::check_object(
            j, path, {"image", "args", "env", "timer", "accel", "memory_mb", "console", "channel"});
        !s)
        return s.error();
    if (!a.pids.empty())
        return Error(Errc::kInvalidArgument,
                     "register.pids: not allowed with register.vm (the daemon starts QEMU)");
    if (!a.threads.empty())
        return Error(Errc::kInvalidArgument,
                     "register.threads: not allowed with register.vm (vCPU threads come from QMP)");
    if (a.job) return Error(Errc::kInvalidArgument, "register.vm: cannot be combined with job");
    VmArgs v;
    auto image = abs_path(j, "image", path, true);
    if (!image) return image.error();
    v.image = *image;
    auto console = abs_path(j, "console", path, false);
    if (!console) return console.error();
    v.console = *console;
    auto args = words(j, "args", path, false);
    if (!args) return args.error();
    v.args = std::move(*args);
    v.args_given = j.contains("args");
    auto env = words(j, "env", path, true);
    if (!env) return env.error();
    v.env = std::move(*env);
    auto timer = jf::get_string(j, "timer", path, 16, true, std::string("tickless"));
    if (!timer) return timer.error();
    if (*timer != "stock" && *timer != "tickless")
        return jf::field_error(path + ".timer", "stock or tickless", j["timer"]);
    v.timer = *timer;
    auto accel = jf::get_string(j, "accel", path, 16, true, std::string("auto"));
    if (!accel) return accel.error();
    if (*accel != "auto" && *accel != "kvm" && *accel != "tcg")
        return jf::field_error(path + ".accel", "auto, kvm or tcg", j["accel"]);
    v.accel = *accel;
    auto mem = jf::get_int(j, "memory_mb", path, 64, 65536, 1024);
    if (!mem) return mem.error();
    v.memory_mb = static_cast<int>(*mem);
    auto ch = jf::get_bool(j, "channel", path, true);
    if (!ch) return ch.error();
    v.channel = *ch;
    return v;
}

}  // namespace vtasos::daemon
