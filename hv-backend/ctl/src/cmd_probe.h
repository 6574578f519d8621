// `vtasosctl probe`: ask vtasosd to classify a tenant's memory-bandwidth
// demand with its streaming probe (docs/protocol.md "probe").
#pragma once

#include <CLI/CLI.hpp>
#include <string>

struct ProbeCommand {
    CLI::App* sub = nullptr;
    std::string tenant;
    int duration_ms = 4000;
    bool json_out = false;
    bool result_only = false;
};

// Adds the subcommand and its options to `app`.
void add_probe_command(CLI::App& app, ProbeCommand& pc);

// Starts the probe, polls until it ends (bounded by its duration + 10 s) and
// prints the verdict. Exit code 0 with a verdict (also `unknown`), 1 when the
// daemon refused or the probe failed.
int run_probe_command(const std::string& socket, int timeout_ms, const ProbeCommand& pc);
