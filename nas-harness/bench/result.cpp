#include "result.h"

#include <array>

namespace vtasos::bench {
namespace {
struct ErrcInfo {
    Errc code;
    std::string_view name;
    std::string_view message;
};
constexpr std::array<ErrcInfo, kErrcCount> kTable{{
    {Errc::kOk, "ok", "success"},
    {Errc::kInvalidArgument, "invalid_argument", "malformed or out-of-range input"},
    {Errc::kNotFound, "not_found", "no such binary, file or tool"},
    {Errc::kParse, "parse", "input could not be parsed"},
    {Errc::kIo, "io", "input/output failure"},
    {Errc::kTimeout, "timeout", "run exceeded its time limit"},
    {Errc::kCrashed, "crashed", "run died on a signal or exited non-zero"},
    {Errc::kUnavailable, "unavailable", "mode or tool not available on this host"},
    {Errc::kInterrupted, "interrupted", "stopped by a signal"},
    {Errc::kInternal, "internal", "internal error"},
}};
}  // namespace

std::string_view errc_name(Errc code) {
    auto i = static_cast<size_t>(code);
    return i < kTable.size() ? kTable[i].name : "internal";
}

std::string_view errc_message(Errc code) {
    auto i = static_cast<size_t>(code);
    return i < kTable.size() ? kTable[i].message : "internal error";
}

std::string Error::to_string() const { return std::string(errc_name(code_)) + ": " + message_; }

Error Error::with_context(std::string_view context) const {
    return Error(code_, std::string(context) + ": " + message_);
}

}  // namespace vtasos::bench
