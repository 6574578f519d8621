// vtasosctl's Xen parts: `register --domain` and the domain lines of `status`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

// `vtasosctl register --domain NAME|DOMID ...`: the domain becomes a tenant of
// vtasosd --driver xen (it stays one after vtasosctl exits, until `release` or
// until the domain is gone). `fields` are the request options' register fields
// (request / profile / cpus). Prints the placement; returns the exit code.
int run_register_domain(const std::string& socket, int timeout_ms, const std::string& tenant,
                        const std::string& domain, const nlohmann::json& fields, bool json_out);

// One block per domain tenant of a status reply: domid, cpupool, pause state
// and per-vCPU physical CPU, hard affinity and run time (xc_vcpu_getinfo).
void print_domains(const nlohmann::json& status);
