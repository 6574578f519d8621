// Field-by-field JSON validation helpers shared by every vtasos value type.
//
// Each reader checks presence, type and range of one field and returns an
// Error whose message names the full field path ("request.groups[1].level"),
// what was expected and what was found. Unknown fields are rejected too, so a
// typo ("cpu" for "cpus") is reported rather than silently ignored.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "vtasos/core/result.h"

namespace vtasos::json {

using nlohmann::json;

// Short description of a JSON value for error messages (type and, for small
// scalars, the value itself): "string \"abc\"", "number -3", "object".
std::string describe(const json& v);

Error field_error(std::string_view path, std::string_view expected, const json& got);

// Checks that `obj` is an object and has no keys outside `allowed`.
Status check_object(const json& obj, std::string_view path,
                    std::initializer_list<std::string_view> allowed);

// Integer field in [lo, hi]. Missing -> error unless `fallback` is given.
Result<int64_t> get_int(const json& obj, std::string_view key, std::string_view path, int64_t lo,
                        int64_t hi, std::optional<int64_t> fallback = std::nullopt);
// Finite number in [lo, hi].
Result<double> get_number(const json& obj, std::string_view key, std::string_view path, double lo,
                          double hi, std::optional<double> fallback = std::nullopt);
Result<bool> get_bool(const json& obj, std::string_view key, std::string_view path,
                      std::optional<bool> fallback = std::nullopt);
// String of length [1, max_len]; if `charset_id` is true only [A-Za-z0-9._:@+-] is allowed,
// which keeps ids safe to use as cgroup and file names (no '/', no "..").
Result<std::string> get_string(const json& obj, std::string_view key, std::string_view path,
                               size_t max_len, bool charset_id,
                               std::optional<std::string> fallback = std::nullopt);

// True if `s` is a valid identifier (see get_string charset_id).
bool is_valid_id(std::string_view s, size_t max_len = 64);

inline std::string join_path(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

}  // namespace vtasos::json
