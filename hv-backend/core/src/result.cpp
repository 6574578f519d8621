#include "vtasos/core/result.h"

#include <array>

namespace vtasos {
namespace {
struct ErrcInfo {
    Errc code;
    std::string_view name;
    std::string_view message;
};
constexpr std::array<ErrcInfo, kErrcCount> kTable{{
    {Errc::kOk, "ok", "success"},
    {Errc::kInvalidArgument, "invalid_argument", "malformed or out-of-range input"},
    {Errc::kNotFound, "not_found", "no such tenant, profile or file"},
    {Errc::kPermissionDenied, "permission_denied", "operation not permitted for this caller"},
    {Errc::kInfeasible, "infeasible", "placement constraints cannot all be satisfied"},
    {Errc::kUnavailable, "unavailable", "service or backend not available"},
    {Errc::kIo, "io", "input/output failure"},
    {Errc::kProtocol, "protocol", "protocol violation"},
    {Errc::kTimeout, "timeout", "operation timed out"},
    {Errc::kAlreadyExists, "already_exists", "already exists"},
    {Errc::kBusy, "busy", "resource limit reached"},
    {Errc::kParse, "parse", "input could not be parsed"},
    {Errc::kCrashed, "crashed", "run died on a signal or exited non-zero"},
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

Errc errc_from_name(std::string_view name) {
    for (const auto& e : kTable)
        if (e.name == name) return e.code;
    return Errc::kInternal;
}

std::string Error::to_string() const { return std::string(errc_name(code_)) + ": " + message_; }

Error Error::with_context(std::string_view context) const {
    return Error(code_, std::string(context) + ": " + message_);
}

}  // namespace vtasos
