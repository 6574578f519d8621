#include "config.h"

#include <fmt/format.h>

#include <climits>
#include <cstdlib>

namespace vtasos::ompt {

namespace {

// Quotes a value for a message, cutting very long ones.
std::string quoted(const std::string& v) {
    std::string s = v.size() > 80 ? v.substr(0, 80) + "..." : v;
    return fmt::format("\"{}\"", s);
}

// 0/1 switch. Also accepts the usual spellings, as env vars are typed by people.
std::optional<bool> parse_switch(const std::string& v) {
    if (v == "1" || v == "on" || v == "yes" || v == "true") return true;
    if (v == "0" || v == "off" || v == "no" || v == "false") return false;
    return std::nullopt;
}

}  // namespace

bool is_profile_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '@' || c == '+' || c == '-';
        if (!ok) return false;
    }
    return true;
}

ParsedConfig parse_config(const EnvLookup& env) {
    ParsedConfig out;
    Config& c = out.config;
    auto warn = [&](const char* name, const std::string& v, const char* expected,
                    const std::string& using_what) {
        out.warnings.push_back(
            fmt::format("{}={}: expected {}; {}", name, quoted(v), expected, using_what));
    };

    if (auto v = env("VTASOS_OMPT")) {
        if (auto b = parse_switch(*v))
            c.enabled = *b;
        else
            warn("VTASOS_OMPT", *v, "0 or 1", "tool stays enabled");
    }
    if (auto v = env("VTASOS_VERBOSE")) {
        if (*v == "0" || *v == "1" || *v == "2")
            c.verbose = (*v)[0] - '0';
        else if (v->empty())
            c.verbose = 0;
        else
            warn("VTASOS_VERBOSE", *v, "0, 1 or 2", "using 0");
    }
    if (auto v = env("VTASOS_BIND")) {
        if (auto b = parse_switch(*v))
            c.bind = *b;
        else
            warn("VTASOS_BIND", *v, "0 or 1", "using 1 (bind threads to the placement)");
    }
    if (auto v = env("VTASOS_SOCKET")) {
        if (v->empty() || v->size() > kMaxSocketPath || v->find('\0') != std::string::npos)
            warn("VTASOS_SOCKET", *v,
                 fmt::format("a socket path of 1..{} bytes", kMaxSocketPath).c_str(),
                 "using the default socket");
        else
            c.socket = *v;
    }
    if (auto v = env("VTASOS_TENANT")) {
        if (is_profile_name(*v))  // the same character set as tenant ids
            c.tenant = *v;
        else
            warn("VTASOS_TENANT", *v, "a tenant id ([A-Za-z0-9._:@+-]{1,64})",
                 "registering a tenant of its own");
    }
    if (auto v = env("VTASOS_PROFILE")) {
        bool is_path = v->find('/') != std::string::npos ||
                       (v->size() > 5 && v->compare(v->size() - 5, 5, ".json") == 0);
        if (is_path ? v->size() < PATH_MAX : is_profile_name(*v))
            c.profile = *v;
        else
            warn("VTASOS_PROFILE", *v,
                 "a profile name ([A-Za-z0-9._:@+-]{1,64}) or a path to a profile .json file",
                 "matching by executable name");
    }
    if (auto v = env("VTASOS_PROFILE_OUT")) {
        if (v->empty() || v->size() >= PATH_MAX)
            warn("VTASOS_PROFILE_OUT", *v, "a file path", "no profile will be written");
        else
            c.profile_out = *v;
    }
    if (auto v = env("VTASOS_OMPT_FAKE_ADVICE")) {
        if (v->empty())
            warn("VTASOS_OMPT_FAKE_ADVICE", *v, "a file path", "ignored");
        else
            c.fake_advice = *v;
    }
    return out;
}

ParsedConfig parse_config_from_environ() {
    return parse_config([](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        if (!v) return std::nullopt;
        return std::string(v);
    });
}

}  // namespace vtasos::ompt
