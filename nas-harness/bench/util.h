// util.h: small string, duration and file helpers shared by the bench components.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace vtasos::bench {

// Leading and trailing blanks (space, tab, CR, LF) removed.
std::string_view trim(std::string_view s);
// Splits on `sep`, trims each item, drops empty items: "cg, ft,,mg" -> {"cg","ft","mg"}.
std::vector<std::string> split_list(std::string_view s, char sep = ',');
std::string join(const std::vector<std::string>& items, std::string_view sep);
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);

// Parses a duration: "90" or "90s" (seconds), "500ms", "5m", "1h", "1h30m", "2.5m".
// Errors: kInvalidArgument naming the text when it is empty, negative, zero or malformed.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// "1:05" (m:ss) under one hour, "1:02:05" above; negative -> "0:00".
std::string format_clock(double seconds);

// Parses a positive integer list "1,2,4". Errors: kInvalidArgument naming `what` and the item
// when an item is not an integer in 1..max.
Result<std::vector<int>> parse_positive_ints(std::string_view text, std::string_view what,
                                             int max = 4096);

// Whole file as a string. Errors: kNotFound / kIo naming the path.
Result<std::string> read_file(const std::filesystem::path& path);
// Writes (truncates) `path`. Errors: kIo naming the path and strerror.
Status write_file(const std::filesystem::path& path, std::string_view content);

// "2026-01-31T12:00:05Z" and "20260131T120005Z" (directory-name form) for a system time.
std::string utc_iso8601(std::chrono::system_clock::time_point t);
std::string utc_compact(std::chrono::system_clock::time_point t);

// Absolute path of an executable named `name` in $PATH, or nullopt.
std::optional<std::filesystem::path> find_in_path(std::string_view name);
// True for a regular file with an execute bit for us.
bool is_executable(const std::filesystem::path& p);

// Quotes a command line for display/copy-paste in a POSIX shell.
std::string shell_quote(const std::vector<std::string>& argv);

// Deterministic 64-bit FNV-1a hash (stable across runs and platforms, used to derive seeds).
uint64_t fnv1a(std::string_view s);

}  // namespace vtasos::bench
