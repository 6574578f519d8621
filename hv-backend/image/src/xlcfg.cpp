#include "xlcfg.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "vtasos/core/placement.h"

namespace vtasos::image {
namespace {

namespace fs = std::filesystem;

Status plain(std::string_view what, const std::string& s) {
    if (s.find_first_of("\"\\\n\r") != std::string::npos)
        return Error(Errc::kInvalidArgument,
                     fmt::format("xlcfg {}: \"{}\" holds a quote, backslash or newline", what, s));
    return {};
}

}  // namespace

Result<std::string> make_xlcfg(const XlCfgOptions& opt) {
    if (opt.cpus < 1 || opt.cpus > 512)
        return Error(Errc::kInvalidArgument,
                     fmt::format("xlcfg --cpus: {} not in 1..512", opt.cpus));
    if (opt.memory_mb < 64)
        return Error(Errc::kInvalidArgument,
                     fmt::format("xlcfg --memory: {} MiB is below 64", opt.memory_mb));
    std::error_code ec;
    if (!fs::exists(opt.image, ec))
        return Error(Errc::kNotFound, fmt::format("xlcfg: image {} does not exist", opt.image));
    std::string image = fs::absolute(opt.image, ec).lexically_normal().string();
    std::string kernel = opt.kernel;
    if (kernel.empty()) {
        auto k = find_kernel();
        if (!k) return k.error();
        kernel = *k;
    } else if (!fs::exists(kernel, ec)) {
        return Error(Errc::kNotFound, fmt::format("xlcfg --kernel: {} does not exist", kernel));
    }
    kernel = fs::absolute(kernel, ec).lexically_normal().string();
    std::string name = opt.name.empty() ? fs::path(image).stem().string() : opt.name;
    for (auto [what, v] : {std::pair<std::string_view, const std::string&>{"image", image},
                           {"kernel", kernel},
                           {"name", name},
                           {"pool", opt.pool}})
        if (auto s = plain(what, v); !s) return s.error();
    if (name.empty()) return Error(Errc::kInvalidArgument, "xlcfg --name: empty");

    std::string cpus_line;
    if (!opt.cpus_list.empty()) {
        std::vector<std::string> norm;
        for (size_t i = 0; i < opt.cpus_list.size(); ++i) {
            auto l = parse_cpulist(opt.cpus_list[i]);
            if (!l || l->empty())
                return Error(Errc::kInvalidArgument,
                             fmt::format("xlcfg --cpus-list[{}]: \"{}\" is not a CPU list like "
                                         "2-3,6",
                                         i, opt.cpus_list[i]));
            norm.push_back(format_cpulist(*l));
        }
        if (norm.size() == 1) {
            cpus_line = fmt::format("cpus = \"{}\"", norm[0]);
        } else if (static_cast<int>(norm.size()) == opt.cpus) {
            std::vector<std::string> q;
            for (const auto& n : norm) q.push_back(fmt::format("\"{}\"", n));
            cpus_line = fmt::format("cpus = [{}]", fmt::join(q, ", "));
        } else {
            return Error(Errc::kInvalidArgument,
                         fmt::format("xlcfg --cpus-list: {} lists for {} vCPUs (give 1, or one "
                                     "per vCPU)",
                                     norm.size(), opt.cpus));
        }
    }
    std::vector<std::string> words = {"console=hvc0", "quiet"};
    for (auto& w : timer_cmdline(opt.timer, opt.cpus)) words.push_back(w);
    for (const auto& w : opt.append) {
        if (auto s = plain("--append", w); !s) return s.error();
        words.push_back(w);
    }
    std::string out;
    out += "# xl.cfg written by `vtasos-image xlcfg`: a right-weight PV domU.\n";
    out += fmt::format("name = \"{}\"\n", name);
    out += "type = \"pv\"\n";
    out += fmt::format("kernel = \"{}\"\n", kernel);
    out += fmt::format("ramdisk = \"{}\"\n", image);
    out += fmt::format("extra = \"{}\"\n", fmt::join(words, " "));
    out += fmt::format("memory = {}\n", opt.memory_mb);
    out += fmt::format("vcpus = {}\n", opt.cpus);
    if (!cpus_line.empty()) out += cpus_line + "\n";
    if (!opt.pool.empty()) out += fmt::format("pool = \"{}\"\n", opt.pool);
    // The image's init powers off when the application ends: the domain goes with it.
    out += "on_poweroff = \"destroy\"\n";
    out += "on_reboot = \"destroy\"\n";
    out += "on_crash = \"destroy\"\n";
    return out;
}

Result<std::vector<std::string>> cpus_list_from_placement_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Error(Errc::kNotFound, fmt::format("xlcfg --placement: cannot read {}", path));
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded())
        return Error(Errc::kInvalidArgument,
                     fmt::format("xlcfg --placement: {} is not JSON", path));
    if (j.is_object() && j.contains("placement")) j = j["placement"];
    auto p = Placement::from_json(j);
    if (!p) return p.error().with_context("xlcfg --placement " + path);
    std::vector<std::string> out;
    for (const auto& c : p->cpus) out.push_back(format_cpulist(c.pus));
    return out;
}

void add_xlcfg_command(CLI::App& app, XlCfgCommand& cmd) {
    auto* x = app.add_subcommand("xlcfg", "Print an xl.cfg that boots an image as a Xen PV domU");
    cmd.sub = x;
    x->add_option("image", cmd.opt.image, "Image built by `build`")->required();
    x->add_option("--cpus", cmd.opt.cpus, "vcpus")->check(CLI::Range(1, 512));
    x->add_option("--cpus-list", cmd.opt.cpus_list,
                  "hard affinity: one CPU list for every vCPU, or one per vCPU (repeat)");
    x->add_option("--placement", cmd.placement,
                  "placement JSON (vtasosctl place --json): vCPU i on placement cpu i")
        ->excludes("--cpus-list");
    x->add_option("--pool", cmd.opt.pool, "cpupool name (pool=)");
    x->add_option("--memory", cmd.opt.memory_mb, "memory in MiB")->check(CLI::Range(64, 1 << 20));
    x->add_option("--name", cmd.opt.name, "domain name (default: the image name)");
    x->add_option("--kernel", cmd.opt.kernel, "PV kernel (default newest /boot/vmlinuz-*)");
    x->add_option("--timer", cmd.timer, "Timer preset: stock or tickless");
    x->add_option("--append", cmd.opt.append, "Extra kernel command-line word");
}

int run_xlcfg_command(const XlCfgCommand& cmd) {
    XlCfgOptions opt = cmd.opt;
    auto t = parse_timer_preset(cmd.timer);
    if (!t) {
        std::fprintf(stderr, "vtasos-image: %s\n", t.error().to_string().c_str());
        return 1;
    }
    opt.timer = *t;
    if (!cmd.placement.empty()) {
        auto l = cpus_list_from_placement_file(cmd.placement);
        if (!l) {
            std::fprintf(stderr, "vtasos-image: %s\n", l.error().to_string().c_str());
            return 1;
        }
        opt.cpus_list = *l;
        if (opt.cpus == 1 && l->size() > 1) opt.cpus = static_cast<int>(l->size());
    }
    auto cfg = make_xlcfg(opt);
    if (!cfg) {
        std::fprintf(stderr, "vtasos-image: %s\n", cfg.error().to_string().c_str());
        return 1;
    }
    std::fputs(cfg->c_str(), stdout);
    return 0;
}

}  // namespace vtasos::image
