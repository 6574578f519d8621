#include "vtasos/core/json_fields.h"

#include <cmath>

#include <fmt/format.h>

namespace vtasos::json {

std::string describe(const json& v) {
    switch (v.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
            return v.get<bool>() ? "true" : "false";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float:
            return "number " + v.dump();
        case json::value_t::string: {
            auto s = v.get<std::string>();
            if (s.size() > 40) return fmt::format("string of {} characters", s.size());
            return "string " + v.dump();
        }
        case json::value_t::array:
            return fmt::format("array of {}", v.size());
        case json::value_t::object:
            return "object";
        default:
            return "unsupported value";
    }
}

Error field_error(std::string_view path, std::string_view expected, const json& got) {
    return Error(Errc::kInvalidArgument,
                 fmt::format("{}: expected {}, got {}", path, expected, describe(got)));
}

Status check_object(const json& obj, std::string_view path,
                    std::initializer_list<std::string_view> allowed) {
    if (!obj.is_object()) return field_error(path.empty() ? "message" : path, "an object", obj);
    for (const auto& [key, value] : obj.items()) {
        bool known = false;
        for (auto a : allowed) known = known || a == key;
        if (!known) {
            std::string shown = key.size() > 40 ? key.substr(0, 40) + "..." : key;
            return Error(Errc::kInvalidArgument,
                         fmt::format("{}: unknown field", join_path(path, shown)));
        }
    }
    return {};
}

namespace {
const json* find(const json& obj, std::string_view key) {
    auto it = obj.find(std::string(key));
    return it == obj.end() ? nullptr : &*it;
}
Error missing(std::string_view path) {
    return Error(Errc::kInvalidArgument, fmt::format("{}: required field is missing", path));
}
}  // namespace

Result<int64_t> get_int(const json& obj, std::string_view key, std::string_view path, int64_t lo,
                        int64_t hi, std::optional<int64_t> fallback) {
    auto p = join_path(path, key);
    const json* v = find(obj, key);
    if (!v) return fallback ? Result<int64_t>(*fallback) : Result<int64_t>(missing(p));
    auto expected = fmt::format("an integer in {}..{}", lo, hi);
    if (v->is_number_integer()) {
        auto x = v->get<int64_t>();
        if (x >= lo && x <= hi) return x;
    } else if (v->is_number_unsigned()) {
        auto x = v->get<uint64_t>();
        if (lo <= 0 && x <= static_cast<uint64_t>(hi)) return static_cast<int64_t>(x);
        if (lo > 0 && x >= static_cast<uint64_t>(lo) && x <= static_cast<uint64_t>(hi))
            return static_cast<int64_t>(x);
    }
    return field_error(p, expected, *v);
}

Result<double> get_number(const json& obj, std::string_view key, std::string_view path, double lo,
                          double hi, std::optional<double> fallback) {
    auto p = join_path(path, key);
    const json* v = find(obj, key);
    if (!v) return fallback ? Result<double>(*fallback) : Result<double>(missing(p));
    if (v->is_number()) {
        double x = v->get<double>();
        if (std::isfinite(x) && x >= lo && x <= hi) return x;
    }
    return field_error(p, fmt::format("a number in {}..{}", lo, hi), *v);
}

Result<bool> get_bool(const json& obj, std::string_view key, std::string_view path,
                      std::optional<bool> fallback) {
    auto p = join_path(path, key);
    const json* v = find(obj, key);
    if (!v) return fallback ? Result<bool>(*fallback) : Result<bool>(missing(p));
    if (v->is_boolean()) return v->get<bool>();
    return field_error(p, "true or false", *v);
}

bool is_valid_id(std::string_view s, size_t max_len) {
    if (s.empty() || s.size() > max_len || s == "." || s == "..") return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == ':' || c == '@' || c == '+';
        if (!ok) return false;
    }
    return true;
}

Result<std::string> get_string(const json& obj, std::string_view key, std::string_view path,
                               size_t max_len, bool charset_id, std::optional<std::string> fallback) {
    auto p = join_path(path, key);
    const json* v = find(obj, key);
    if (!v) return fallback ? Result<std::string>(*fallback) : Result<std::string>(missing(p));
    if (!v->is_string()) return field_error(p, "a string", *v);
    const auto& s = v->get_ref<const std::string&>();
    if (s.empty() || s.size() > max_len)
        return field_error(p, fmt::format("a string of 1..{} characters", max_len), *v);
    if (charset_id && !is_valid_id(s, max_len))
        return field_error(p, "an identifier of letters, digits and . _ - : @ +", *v);
    return s;
}

}  // namespace vtasos::json
