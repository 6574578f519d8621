// Structured logging helpers: every decision is one spdlog line of key=value
// pairs; values that contain spaces, quotes or '=' are quoted.
#pragma once

#include <string>
#include <string_view>

namespace vtasos::daemon::log {

// `abc` -> abc; `a b` -> "a b"; embedded quotes and backslashes escaped,
// control characters dropped, long values cut at 300 characters.
inline std::string quote(std::string_view v) {
    bool plain = !v.empty() && v.size() <= 300;
    for (char c : v)
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
            plain = false;
    if (plain) return std::string(v);
    std::string out = "\"";
    size_t n = 0;
    for (char c : v) {
        if (++n > 300) {
            out += "...";
            break;
        }
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    out += '"';
    return out;
}

}  // namespace vtasos::daemon::log
