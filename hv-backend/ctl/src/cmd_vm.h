// `vtasosctl run --vm IMAGE`: ask vtasosd to boot a vtasos-image image as a VM tenant
// (docs/protocol.md "VM tenants") and stream the guest's console to stdout.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

struct VmRunOptions {
    std::string image;  // empty: `run` starts a process, not a VM
    std::string timer = "tickless";
    std::string accel = "auto";
    int memory_mb = 1024;
    std::vector<std::string> env;
    int timeout_s = 3600;
    bool no_channel = false;
};

// Adds --vm and the --vm-* options to the `run` subcommand.
void add_vm_options(CLI::App* run, VmRunOptions& vo);

// Registers `tenant` with `fields` (request/profile/cpus, as `run` builds them) plus the
// vm object, accepts QEMU's console connection on a private socket and copies the guest's
// console to stdout until QEMU exits. Exit code: the application's exit status in the guest
// (128+N for signal N), 124 when --vm-timeout passed (the tenant, so QEMU, is released),
// 125 when the VM could not be started or stopped without an exit status, 130 on SIGINT.
int run_vm_command(const std::string& socket, int timeout_ms, nlohmann::json fields,
                   const std::string& tenant, const VmRunOptions& vo,
                   const std::vector<std::string>& args, bool args_given, bool verbose);
