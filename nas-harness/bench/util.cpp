#include "util.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace vtasos::bench {

std::string_view trim(std::string_view s) {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

std::vector<std::string> split_list(std::string_view s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find(sep, start);
        if (end == std::string_view::npos) end = s.size();
        auto item = trim(s.substr(start, end - start));
        if (!item.empty()) out.emplace_back(item);
        start = end + 1;
    }
    return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += sep;
        out += items[i];
    }
    return out;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string to_upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return make_error(Errc::kInvalidArgument, "duration '" + std::string(text) +
                                                      "': " + std::string(why) +
                                                      " (examples: 90, 90s, 500ms, 5m, 1h30m)");
    };
    auto s = trim(text);
    if (s.empty()) return bad("empty");
    double total_ms = 0;
    size_t i = 0;
    bool any = false;
    while (i < s.size()) {
        size_t j = i;
        while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
        if (j == i) return bad("expected a number");
        double v = 0;
        try {
            v = std::stod(std::string(s.substr(i, j - i)));
        } catch (...) {
            return bad("expected a number");
        }
        size_t k = j;
        while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
        auto unit = s.substr(j, k - j);
        double scale = 0;
        if (unit.empty() || unit == "s")
            scale = 1000;
        else if (unit == "ms")
            scale = 1;
        else if (unit == "m" || unit == "min")
            scale = 60000;
        else if (unit == "h")
            scale = 3600000;
        else
            return bad("unknown unit '" + std::string(unit) + "'");
        total_ms += v * scale;
        any = true;
        i = k;
    }
    if (!any || total_ms <= 0) return bad("must be positive");
    return std::chrono::milliseconds(static_cast<long long>(total_ms + 0.5));
}

std::string format_clock(double seconds) {
    if (!(seconds > 0)) seconds = 0;
    long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

Result<std::vector<int>> parse_positive_ints(std::string_view text, std::string_view what,
                                             int max) {
    std::vector<int> out;
    auto items = split_list(text);
    if (items.empty())
        return make_error(Errc::kInvalidArgument, std::string(what) + ": empty list");
    for (const auto& item : items) {
        int v = 0;
        auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
        if (ec != std::errc() || p != item.data() + item.size() || v < 1 || v > max)
            return make_error(Errc::kInvalidArgument, std::string(what) + ": '" + item +
                                                          "' is not an integer in 1.." +
                                                          std::to_string(max));
        out.push_back(v);
    }
    return out;
}

Result<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int e = errno;
        return make_error(e == ENOENT ? Errc::kNotFound : Errc::kIo,
                          "cannot read " + path.string() + ": " + std::strerror(e));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Status write_file(const std::filesystem::path& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out)
        return make_error(Errc::kIo, "cannot write " + path.string() + ": " + std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) return make_error(Errc::kIo, "cannot write " + path.string() + ": write failed");
    return {};
}

namespace {
std::string format_utc(std::chrono::system_clock::time_point t, const char* fmt) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, fmt, &tm);
    return buf;
}
}  // namespace

std::string utc_iso8601(std::chrono::system_clock::time_point t) {
    return format_utc(t, "%Y-%m-%dT%H:%M:%SZ");
}
std::string utc_compact(std::chrono::system_clock::time_point t) {
    return format_utc(t, "%Y%m%dT%H%M%SZ");
}

bool is_executable(const std::filesystem::path& p) {
    std::error_code ec;
    return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

std::optional<std::filesystem::path> find_in_path(std::string_view name) {
    if (name.find('/') != std::string_view::npos) {
        std::filesystem::path p(name);
        if (is_executable(p)) return std::filesystem::absolute(p);
        return std::nullopt;
    }
    const char* path = std::getenv("PATH");
    if (!path) return std::nullopt;
    for (const auto& dir : split_list(path, ':')) {
        auto p = std::filesystem::path(dir) / name;
        if (is_executable(p)) return p;
    }
    return std::nullopt;
}

std::string shell_quote(const std::vector<std::string>& argv) {
    std::string out;
    for (size_t i = 0; i < argv.size(); ++i) {
        if (i) out += ' ';
        const auto& a = argv[i];
        bool plain = !a.empty();
        for (char c : a)
            if (!(std::isalnum(static_cast<unsigned char>(c)) ||
                  std::strchr("-_./=:,+@%", c) != nullptr))
                plain = false;
        if (plain) {
            out += a;
        } else {
            out += '\'';
            for (char c : a) {
                if (c == '\'')
                    out += "'\\''";
                else
                    out += c;
            }
            out += '\'';
        }
    }
    return out;
}

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace vtasos::bench
