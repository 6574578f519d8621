// Helpers of the OMPT tool tests: run a program with an environment, read
// the learned profile it wrote.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vtasos/core/profile.h"

namespace vtasos::ompt::test {

struct ProcResult {
    int status = -1;  // exit code, or 128 + signal
    std::string out;
    std::string err;
};

// Runs argv with the current environment minus OMP_TOOL_LIBRARIES/VTASOS_*
// plus `env` ("K=V"); waits at most timeout_s (then kills it, status 137).
// `on_out`, when given, sees the standard output so far after every read.
ProcResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               int timeout_s = 60,
               const std::function<void(const std::string& out)>& on_out = nullptr);

// A fresh directory under the test's temp dir.
std::string temp_dir(const std::string& tag);

std::optional<std::string> read_file(const std::string& path);

// The profile at `path`, validated by Profile::from_json (the schema's rules);
// nullopt with a gtest failure when missing or invalid.
std::optional<Profile> read_profile(const std::string& path);

// note key -> integer (the counts learned_note writes); -1 when absent.
long note_count(const Profile& p, const std::string& key);

// Lines of `text` containing "vtasos-ompt".
std::vector<std::string> tool_lines(const std::string& text);

}  // namespace vtasos::ompt::test
