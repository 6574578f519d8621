// vtasos-xen-agent: the guest side of the Xen channel, run inside a domU.
// Writes this domain's request or profile to its own xenstore area and prints
// the advice vtasosd (in dom0) writes back (key layout: include/vtasos/xen/channel.h).
//
//   vtasos-xen-agent request --cpus 4 --coexist core --bandwidth high [--gang] [--wait 10]
//   vtasos-xen-agent profile observations.json [--wait 10]
//   vtasos-xen-agent advice
// Exit codes: 0 advice ok, 1 the daemon refused (its error is printed), 2 no
// answer within --wait, 3 xenstore not reachable / bad arguments.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

extern "C" {
#include <xenstore.h>
}

#include "vtasos/xen/channel.h"

namespace {

using json = nlohmann::json;

std::string read_key(xs_handle* h, const char* key, bool* found) {
    unsigned len = 0;
    void* v = xs_read(h, XBT_NULL, key, &len);
    *found = v != nullptr;
    if (!v) return {};
    std::string s(static_cast<char*>(v), len);
    std::free(v);
    return s;
}

int print_advice(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    std::printf("%s\n", j.is_discarded() ? text.c_str() : j.dump(2).c_str());
    return j.is_object() && j.value("ok", false) ? 0 : 1;
}

int wait_advice(xs_handle* h, double wait_s) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
    do {
        bool found = false;
        std::string a = read_key(h, vtasos::xen::kGuestAdviceKey, &found);
        if (found) return print_advice(a);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (std::chrono::steady_clock::now() < end);
    std::fprintf(stderr,
                 "vtasos-xen-agent: no advice within %.1f s (is vtasosd --driver xen "
                 "running in dom0?)\n",
                 wait_s);
    return 2;
}

int write_and_wait(xs_handle* h, const char* key, const std::string& body, double wait_s) {
    // The old advice goes first so that the next one is the answer to this write.
    xs_rm(h, XBT_NULL, vtasos::xen::kGuestAdviceKey);
    if (!xs_write(h, XBT_NULL, key, body.data(), static_cast<unsigned>(body.size()))) {
        std::perror("vtasos-xen-agent: xs_write");
        return 3;
    }
    return wait_s > 0 ? wait_advice(h, wait_s) : 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"vtasos-xen-agent: state this domU's CPU needs to vtasosd in dom0 (xenstore)"};
    app.require_subcommand(1);
    double wait_s = 10;
    int cpus = 1;
    std::string coexist, bandwidth, file;
    bool gang = false;
    auto* req = app.add_subcommand("request", "write this domain's request, print the advice");
    req->add_option("--cpus", cpus, "number of vCPUs to place")->check(CLI::Range(1, 4096));
    req->add_option("--coexist", coexist, "pu|core|socket|node|none");
    req->add_option("--bandwidth", bandwidth, "low|high|unknown");
    req->add_flag("--gang", gang, "ask for gang scheduling");
    req->add_option("--wait", wait_s, "seconds to wait for the advice (0: do not wait)");
    auto* prof = app.add_subcommand("profile", "write learned observations (JSON file)");
    prof->add_option("file", file, "observations JSON")->required();
    prof->add_option("--wait", wait_s, "seconds to wait for the advice");
    auto* adv = app.add_subcommand("advice", "print the current advice");
    CLI11_PARSE(app, argc, argv);

    xs_handle* h = xs_open(0);
    if (!h) {
        std::perror("vtasos-xen-agent: xs_open (is this a Xen domU with xenbus?)");
        return 3;
    }
    int rc = 3;
    if (*req) {
        json r = {{"cpus", cpus}};
        if (!coexist.empty()) r["coexist"] = coexist;
        if (!bandwidth.empty()) r["bandwidth"] = bandwidth;
        if (gang) r["sched"] = {{"gang", true}};
        rc = write_and_wait(h, vtasos::xen::kGuestRequestKey, r.dump(), wait_s);
    } else if (*prof) {
        std::ifstream in(file);
        std::stringstream ss;
        ss << in.rdbuf();
        if (!in || json::parse(ss.str(), nullptr, false).is_discarded()) {
            std::fprintf(stderr, "vtasos-xen-agent: %s: not a readable JSON file\n", file.c_str());
        } else {
            rc = write_and_wait(h, vtasos::xen::kGuestProfileKey, ss.str(), wait_s);
        }
    } else if (*adv) {
        bool found = false;
        std::string a = read_key(h, vtasos::xen::kGuestAdviceKey, &found);
        if (!found) {
            std::fprintf(stderr, "vtasos-xen-agent: no advice yet\n");
            rc = 2;
        } else {
            rc = print_advice(a);
        }
    }
    xs_close(h);
    return rc;
}
