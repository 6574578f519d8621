#include "vtasos/profiles/profiles.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace vtasos {

namespace fs = std::filesystem;

Result<Profile> load_profile_file(const std::string& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        return Error(Errc::kNotFound, fmt::format("profile file {}: not found", path));
    if (fs::file_size(path, ec) > 1 << 20)
        return Error(Errc::kInvalidArgument, fmt::format("profile file {}: larger than 1 MiB", path));
    std::ifstream in(path);
    if (!in) return Error(Errc::kIo, fmt::format("profile file {}: cannot open", path));
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded())
        return Error(Errc::kInvalidArgument, fmt::format("profile file {}: not valid JSON", path));
    auto p = Profile::from_json(j);
    if (!p) return p.error().with_context("profile file " + path);
    return p;
}

Result<ProfileStore> ProfileStore::load_dir(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        return Error(Errc::kNotFound, fmt::format("profile directory {}: not found", dir));
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".json" && e.path().filename() != "schema.json")
            files.push_back(e.path());
    if (ec) return Error(Errc::kIo, fmt::format("profile directory {}: {}", dir, ec.message()));
    std::sort(files.begin(), files.end());
    ProfileStore store;
    for (const auto& f : files) {
        auto p = load_profile_file(f.string());
        if (!p) return p.error();
        if (store.profiles_.count(p->name))
            return Error(Errc::kAlreadyExists,
                         fmt::format("profile file {}: profile \"{}\" defined twice", f.string(), p->name));
        store.profiles_.emplace(p->name, std::move(p).value());
    }
    return store;
}

Result<Profile> ProfileStore::get(std::string_view name) const {
    auto it = profiles_.find(name);
    if (it != profiles_.end()) return it->second;
    if (name == "default") return default_profile();
    auto known = names();
    std::string list;
    for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
    return Error(Errc::kNotFound, fmt::format("unknown profile \"{}\" (known: {})",
                                              std::string(name.substr(0, 64)),
                                              list.empty() ? "none" : list));
}

const Profile* ProfileStore::match_executable(std::string_view basename) const {
    for (const auto& [name, p] : profiles_)
        if (std::find(p.match.begin(), p.match.end(), basename) != p.match.end()) return &p;
    return nullptr;
}

std::vector<std::string> ProfileStore::names() const {
    std::vector<std::string> r;
    for (const auto& [name, p] : profiles_) r.push_back(name);
    if (!profiles_.count("default")) r.push_back("default");
    return r;
}

void ProfileStore::put(Profile p) { profiles_[p.name] = std::move(p); }

Profile default_profile() {
    Profile p;
    p.name = "default";
    p.note = "unknown application: own cores, packed, no gang";
    return p;
}

Request request_from_profile(const Profile& p, std::string tenant, int cpus, const ProfileRule& rule) {
    Request r;
    r.tenant = std::move(tenant);
    r.cpus = std::clamp(cpus > 0 ? cpus : (p.threads > 0 ? p.threads : 1), 1, kMaxCpusPerRequest);
    r.bandwidth = p.bandwidth;
    bool hungry = p.bandwidth.gbps ? *p.bandwidth.gbps / r.cpus >= rule.high_gbps_per_cpu
                                   : p.bandwidth.cls == BandwidthClass::kHigh;
    if (p.bandwidth.gbps && hungry) r.bandwidth.cls = BandwidthClass::kHigh;
    int threads = std::max(1, p.threads > 0 ? p.threads : r.cpus);
    bool syncs = p.barrier_rate_hz / threads >= rule.gang_barrier_rate_hz ||
                 p.sync_fraction >= rule.gang_sync_fraction;
    Coexist co = p.coexist ? *p.coexist : (syncs || hungry ? Coexist::kSocket : Coexist::kCore);
    if (p.name == "default" && !p.coexist) co = Coexist::kSocket;
    r.coexist.assign(r.cpus, co);
    r.sched.gang = p.gang ? *p.gang : syncs;
    r.memory = hungry ? MemPolicy::kInterleave : MemPolicy::kLocal;
    return r;
}

}  // namespace vtasos
