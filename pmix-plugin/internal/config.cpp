#include "config.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <string>

namespace vtasos::mpi {
namespace {

std::string lower(std::string_view s) {
    std::string out;
    for (char c : s) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return out;
}

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
}

}  // namespace

std::string_view to_string(Enable e) {
    switch (e) {
        case Enable::kAuto:
            return "auto";
        case Enable::kYes:
            return "yes";
        case Enable::kNo:
            return "no";
    }
    return "?";
}

std::string_view to_string(Binding b) { return b == Binding::kTakeover ? "takeover" : "respect"; }

HookConfig validate(const RawParams& raw) {
    HookConfig c;
    auto warn = [&](std::string_view param, std::string_view value, std::string_view expected,
                    std::string_view fallback) {
        c.warnings.push_back(
            fmt::format("hook_vtasos_{}=\"{}\" is not valid (expected {}); using {}", param, value,
                        expected, fallback));
    };

    std::string e = lower(trim(raw.enable));
    if (e.empty() || e == "auto")
        c.enable = Enable::kAuto;
    else if (e == "yes" || e == "1" || e == "true" || e == "on")
        c.enable = Enable::kYes;
    else if (e == "no" || e == "0" || e == "false" || e == "off")
        c.enable = Enable::kNo;
    else
        warn("enable", raw.enable, "auto, yes or no", "auto");

    c.socket = trim(raw.socket);
    if (c.socket.size() >= 108) {  // sizeof(sockaddr_un::sun_path)
        warn("socket", raw.socket, "a Unix socket path shorter than 108 bytes",
             "the default socket");
        c.socket.clear();
    }

    c.profile = trim(raw.profile);
    for (char ch : c.profile) {
        bool ok = std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' ||
                  ch == '-' || ch == ':' || ch == '@' || ch == '+';
        if (!ok || c.profile.size() > 64) {
            warn("profile", raw.profile, "a profile name of letters, digits and . _ - : @ +",
                 "the daemon's choice");
            c.profile.clear();
            break;
        }
    }

    std::string b = lower(trim(raw.binding));
    if (b.empty() || b == "takeover")
        c.binding = Binding::kTakeover;
    else if (b == "respect")
        c.binding = Binding::kRespect;
    else
        warn("binding", raw.binding, "takeover or respect", "takeover");

    if (raw.threads_per_rank < 0 || raw.threads_per_rank > kMaxThreadsPerRank)
        warn("threads_per_rank", std::to_string(raw.threads_per_rank),
             fmt::format("0..{} (0 = OMP_NUM_THREADS)", kMaxThreadsPerRank), "0");
    else
        c.threads_per_rank = raw.threads_per_rank;

    if (raw.verbose < 0 || raw.verbose > 100)
        warn("verbose", std::to_string(raw.verbose), "0, 1 or 2", "0");
    else
        c.verbose = raw.verbose;

    if (raw.timeout_ms <= 0 || raw.timeout_ms > kMaxTimeoutMs)
        warn("timeout", std::to_string(raw.timeout_ms),
             fmt::format("1..{} milliseconds", kMaxTimeoutMs), "3000");
    else
        c.timeout_ms = raw.timeout_ms;
    return c;
}

bool selected_by_framework(std::string_view selection) {
    std::string s = trim(selection);
    if (s.empty() || s[0] == '^') return false;  // "all" or an exclusion list: not asked for
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t comma = s.find(',', pos);
        if (comma == std::string::npos) comma = s.size();
        if (trim(std::string_view(s).substr(pos, comma - pos)) == "vtasos") return true;
        pos = comma + 1;
    }
    return false;
}

int threads_per_rank(const HookConfig& cfg, const char* omp_num_threads, std::string* why) {
    auto say = [&](std::string s) {
        if (why) *why = std::move(s);
    };
    if (cfg.threads_per_rank > 0) {
        say("hook_vtasos_threads_per_rank");
        return cfg.threads_per_rank;
    }
    if (omp_num_threads && *omp_num_threads) {
        std::string v = trim(omp_num_threads);
        std::string first = v.substr(0, v.find(','));  // "4,2" -> outer level 4
        int n = 0;
        auto [p, ec] = std::from_chars(first.data(), first.data() + first.size(), n);
        if (ec == std::errc() && p == first.data() + first.size() && n > 0 &&
            n <= kMaxThreadsPerRank) {
            say("OMP_NUM_THREADS");
            return n;
        }
        say(fmt::format("default 1 (OMP_NUM_THREADS=\"{}\" is not a thread count)", v));
        return 1;
    }
    say("default 1 (no OMP_NUM_THREADS)");
    return 1;
}

}  // namespace vtasos::mpi
