// Tool configuration from the environment (README.md, "Environment").
//
// parse_config() is pure: it reads variables through a lookup function, so the
// rules are unit-tested without touching the process environment. A bad value
// never stops the application: it yields a one-line warning naming the
// variable, the value and what was expected, and the default is used instead.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vtasos::ompt {

struct Config {
    bool enabled = true;                 // VTASOS_OMPT=0 turns the tool off (start_tool -> NULL)
    int verbose = 0;                     // VTASOS_VERBOSE 0..2
    bool bind = true;                    // VTASOS_BIND: pin threads to the placement
    std::optional<std::string> socket;   // VTASOS_SOCKET; unset: the client's default
    std::optional<std::string> tenant;   // VTASOS_TENANT: join this tenant (set by `vtasosctl run`)
    std::optional<std::string> profile;  // VTASOS_PROFILE: profile name or file path
    std::optional<std::string>
        profile_out;  // VTASOS_PROFILE_OUT: where to write the learned profile
    std::optional<std::string> fake_advice;  // VTASOS_OMPT_FAKE_ADVICE (debug): advice from a file
    bool operator==(const Config&) const = default;
};

struct ParsedConfig {
    Config config;
    std::vector<std::string> warnings;  // "VTASOS_BIND=\"yes\": expected 0 or 1; using 1"
};

// Returns the value of a variable, or nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

ParsedConfig parse_config(const EnvLookup& env);

// parse_config over the real environment (getenv).
ParsedConfig parse_config_from_environ();

// Is `s` a profile name as profiles/schema.json defines it ([A-Za-z0-9._:@+-]{1,64})?
bool is_profile_name(const std::string& s);

// Longest socket path the kernel accepts (sizeof(sockaddr_un::sun_path) - 1).
inline constexpr size_t kMaxSocketPath = 107;

}  // namespace vtasos::ompt
