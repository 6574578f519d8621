// The vtasosd wire protocol: parsing and validation of one request line.
//
// Every message is one line of JSON (newline-delimited) on a Unix stream
// socket, at most kMaxMessageBytes long, shaped {"v":1,"id":N,"op":"...",...}.
// parse_message() is the single entry point the daemon (and the fuzzer) uses:
// it checks framing, JSON syntax, nesting, the protocol version, the id, the
// op and then every field of that op, and returns either a fully validated
// Message or an Error whose message names the offending field
// ("register.pids[2]: expected an integer in 1..4194304, got number -3").
// See docs/protocol.md for the full description of each operation.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vtasos/core/profile.h"
#include "vtasos/core/request.h"
#include "vtasos/core/result.h"

namespace vtasos::daemon {

inline constexpr int kProtocolVersion = 1;
// Largest request line, newline excluded. Replies may be larger (status of many
// tenants, the topology of a big machine); clients accept replies up to kMaxReplyBytes.
inline constexpr size_t kMaxMessageBytes = 64 * 1024;
inline constexpr size_t kMaxReplyBytes = 16 * 1024 * 1024;
inline constexpr int kMaxNesting = 32;  // JSON arrays/objects inside each other
inline constexpr int kMaxPidsPerTenant = 1024;
inline constexpr int64_t kMaxPid = 4194304;          // PID_MAX_LIMIT on 64-bit Linux
inline constexpr int64_t kMaxId = 9007199254740991;  // 2^53 - 1: exact in every JSON reader

enum class Op {
    kHello,
    kRegister,
    kUpdate,
    kAdvice,
    kRelease,
    kStatus,
    kTopology,
    kFreeze,
    kThaw,
    kThawAll,
    kProbe,
};

// One row per operation: its wire name, the fields it accepts besides v/id/op,
// and a one-line summary (used by docs, hello and error messages).
struct OpInfo {
    Op op;
    std::string_view name;
    std::vector<std::string_view> fields;
    std::string_view summary;
};
std::span<const OpInfo> op_table();
std::string_view to_string(Op op);

// register's "job" object: the registering process is one rank of an MPI job
// and joins the job's tenant instead of making its own (docs/protocol.md "Job
// tenants"). The ranks of one job on one node name the same tenant.
struct JobArgs {
    int local_rank = 0;       // 0..local_size-1
    int local_size = 1;       // ranks of the job on this node
    int threads = 1;          // CPUs per rank
    int wait_ms = 3000;       // how long the first rank's arrival waits for the others
    bool oversubscribe = false;  // the ranks may time-share PUs (coexist pu)
    std::string nspace;       // for status and logs
    int64_t rank = -1;        // rank in the whole job, -1 = not given
    int64_t node = -1;        // launcher's node id, -1 = not given
    std::string host;
    bool operator==(const JobArgs&) const = default;
};
inline constexpr int kMaxJobWaitMs = 600000;

// register's "vm" object: the daemon boots this vtasos-image image under QEMU as the
// tenant's process (docs/protocol.md "VM tenants"; parsed in src/vm_protocol.cpp).
struct VmArgs {
    std::string image;                 // absolute path of a vtasos-image image
    std::vector<std::string> args;     // application arguments (replace the built-in ones)
    bool args_given = false;
    std::vector<std::string> env;      // KEY=VALUE for the application
    std::string timer = "tickless";    // stock | tickless
    std::string accel = "auto";        // auto | kvm | tcg
    int memory_mb = 1024;              // 64..65536
    std::string console;               // Unix socket QEMU connects the serial console to
    bool channel = true;               // attach the paravirtual channel (virtio-serial)
    bool operator==(const VmArgs&) const = default;
};

struct RegisterArgs {
    std::string tenant;
    std::vector<pid_t> pids;             // may be empty: a reservation without processes
    std::optional<Request> request;      // explicit request (tenant filled from `tenant`)
    std::optional<std::string> profile;  // or a profile name
    int cpus = 0;                        // with a profile or no request: 0 = let the daemon pick
    bool detached = false;               // survive the connection (cleaned when pids exit)
    std::vector<pid_t> threads;          // optional per-CPU thread ids (threads[i] -> cpu i)
    std::optional<JobArgs> job;          // join the MPI job tenant `tenant` (pids = {the rank})
    std::optional<VmArgs> vm;            // boot a VM as the tenant (pids and threads empty)
    std::optional<std::string> domain;   // a Xen domain (name or domid) is the tenant (xen driver)
    bool operator==(const RegisterArgs&) const = default;
};
// register.vm, checked against the rest of register (no pids, threads or job).
Result<VmArgs> parse_vm_args(const nlohmann::json& j, const RegisterArgs& a);

struct TenantArgs {
    std::string tenant;
    std::optional<pid_t> pid;  // release only: this process leaves; the tenant goes with its last
    bool operator==(const TenantArgs&) const = default;
};

struct UpdateArgs {
    std::string tenant;
    Profile observations;  // learned rates; name defaults to the tenant id
    bool operator==(const UpdateArgs&) const = default;
};

struct HelloArgs {
    std::string client;  // free-form client name for logs, may be empty
    bool operator==(const HelloArgs&) const = default;
};

// probe: a bounded memory-streaming probe beside a tenant (docs/protocol.md "probe").
inline constexpr int kMinProbeMs = 1000;
inline constexpr int kMaxProbeMs = 60000;
struct ProbeArgs {
    std::string tenant;
    int duration_ms = 4000;
    bool result_only = false;  // action "result": report the last probe, start nothing
    bool operator==(const ProbeArgs&) const = default;
};

using OpArgs =
    std::variant<std::monostate, HelloArgs, RegisterArgs, TenantArgs, UpdateArgs, ProbeArgs>;

struct Message {
    int64_t id = 0;
    Op op = Op::kHello;
    OpArgs args;
    bool operator==(const Message&) const = default;
};

// parse_message's answer: the request id when it could be read (so that even
// an error reply carries it) and the validated message or the error.
struct Parsed {
    std::optional<int64_t> id;
    Result<Message> message = Error(Errc::kInternal, "not parsed");
};

// Parses and validates one request line (without its trailing newline; a
// trailing '\r' is tolerated). Errors:
//   kProtocol        - over kMaxMessageBytes, not JSON, nested deeper than
//                      kMaxNesting, missing or unsupported "v"
//   kInvalidArgument - not an object, bad "id", unknown "op", unknown field,
//                      any field of the wrong type or out of range; the
//                      message starts with the field path.
// Never throws.
Parsed parse_message(std::string_view line);

// Reply skeletons: {"v":1,"id":ID,"ok":true} and
// {"v":1,"id":ID,"ok":false,"error":{"code":"...","message":"..."}}; id null when unknown.
nlohmann::json ok_reply(std::optional<int64_t> id);
nlohmann::json error_reply(std::optional<int64_t> id, const Error& error);

// One wire line: compact JSON plus '\n', an object's "v", "id" and "ok" first
// ({"v":1,"id":7,"ok":true,...}). Invalid UTF-8 (which can only come from
// echoed input) is replaced by U+FFFD, so serialization never throws.
std::string serialize(const nlohmann::json& j);

}  // namespace vtasos::daemon
