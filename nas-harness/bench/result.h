// result.h: the error-as-value type of vtasos-bench.
//
// Why: every step of a benchmark campaign (parse a report, start a process, find a tool, write a
// file) can fail for a reason the user must see, and one failed run must never stop the others.
// Functions return Result<T>: a value or an Error {code, message}; the message names the
// operation and the offending input ("npb report: missing field(s): Time in seconds").
//
// Same shape as vtasos::Result in hv-backend/core (absl::StatusOr / std::expected style); the
// bench keeps its own copy so that the harness builds without the backend.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vtasos::bench {

// One code enum with one message table (errc_name/errc_message); a test checks they agree.
enum class Errc : int {
    kOk = 0,
    kInvalidArgument,  // bad command-line value, malformed input
    kNotFound,         // binary, file or tool absent
    kParse,            // a report or JSON document could not be read
    kIo,               // read/write/pipe/fork failure
    kTimeout,          // a run exceeded its time limit
    kCrashed,          // a run died on a signal or exited non-zero
    kUnavailable,      // a mode cannot run on this host
    kInterrupted,      // SIGINT/SIGTERM stopped the operation
    kInternal,         // bug: should not happen
};
inline constexpr int kErrcCount = static_cast<int>(Errc::kInternal) + 1;

// Stable lower-case identifier ("invalid_argument"), written into results.json.
std::string_view errc_name(Errc code);
// One-line human description of the code.
std::string_view errc_message(Errc code);

class Error {
  public:
    Error() = default;
    Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}
    Errc code() const { return code_; }
    const std::string& message() const { return message_; }
    // "not_found: kernel binary /x/cg does not exist"
    std::string to_string() const;
    // Prefix the message with context: "scaling: " + message.
    Error with_context(std::string_view context) const;
    bool operator==(const Error&) const = default;

  private:
    Errc code_ = Errc::kInternal;
    std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
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

}  // namespace vtasos::bench
