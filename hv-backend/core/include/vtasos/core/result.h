// Result<T>: the error-as-value type used at every vtasos component boundary.
//
// Shaped like absl::StatusOr / std::expected (C++23, not yet available to us):
// either a value or an Error {code, message}. Messages name the operation and
// the offending input so that a user can act on them, e.g.
//   "request.cpus: must be an integer in 1..4096, got -3".
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vtasos {

// One code enum with one message table (errc_message); a test checks they agree.
enum class Errc : int {
    kOk = 0,
    kInvalidArgument,   // malformed or out-of-range input
    kNotFound,          // unknown tenant, profile, file
    kPermissionDenied,  // peer uid mismatch, no cgroup rights
    kInfeasible,        // placement constraints cannot all hold
    kUnavailable,       // daemon/hypervisor/backend not reachable or absent
    kIo,                // read/write/socket failure
    kProtocol,          // wire-level violation (size, version, framing)
    kTimeout,           // an operation exceeded its bound
    kAlreadyExists,     // duplicate tenant id
    kBusy,              // resource limit reached (clients, queue)
    kParse,             // a report or document could not be read (harness)
    kCrashed,           // a child run died on a signal or exited non-zero (harness)
    kInterrupted,       // SIGINT/SIGTERM stopped the operation
    kInternal,          // bug: should not happen
};
inline constexpr int kErrcCount = static_cast<int>(Errc::kInternal) + 1;

// Stable lower-case identifier ("invalid_argument"), used on the wire.
std::string_view errc_name(Errc code);
// One-line human description of the code.
std::string_view errc_message(Errc code);
// Inverse of errc_name; kInternal for an unknown name.
Errc errc_from_name(std::string_view name);

class Error {
public:
    Error() = default;
    Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}
    Errc code() const { return code_; }
    const std::string& message() const { return message_; }
    // "invalid_argument: request.cpus: ..."
    std::string to_string() const;
    // Prefix the message with context: "register: " + message.
    Error with_context(std::string_view context) const;
    bool operator==(const Error&) const = default;

private:
    Errc code_ = Errc::kInternal;
    std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & {
        assert(ok());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    const Error& error() const {
        assert(!ok());
        return std::get<1>(v_);
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T value_or(T fallback) const { return ok() ? std::get<0>(v_) : std::move(fallback); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const {
        assert(!ok_);
        return err_;
    }

private:
    Error err_;
    bool ok_ = true;
};

using Status = Result<void>;

inline Error make_error(Errc code, std::string message) { return Error(code, std::move(message)); }

}  // namespace vtasos
