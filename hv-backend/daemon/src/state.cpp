#include "internal/state.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vtasos::daemon::state {
namespace {

Error io(std::string_view what, const std::string& path) {
    return Error(Errc::kIo, fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

}  // namespace

Status write_atomic(const std::string& path, const std::string& content) {
    namespace fs = std::filesystem;
    fs::path p(path);
    fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec)
            return Error(Errc::kIo,
                         fmt::format("create directory {}: {}", dir.string(), ec.message()));
        ::chmod(dir.c_str(), 0755);
    }
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io("open", tmp);
    size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            auto e = io("write", tmp);
            ::close(fd);
            ::unlink(tmp.c_str());
            return e;
        }
        off += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        auto e = io("fsync", tmp);
        ::close(fd);
        ::unlink(tmp.c_str());
        return e;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto e = io("rename to", path);
        ::unlink(tmp.c_str());
        return e;
    }
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

Result<nlohmann::json> read(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        if (errno == ENOENT)
            return Error(Errc::kNotFound, fmt::format("state file {} does not exist", path));
        return io("open", path);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return Error(Errc::kInvalidArgument, fmt::format("state file {}: not a JSON object", path));
    auto v = j.find("version");
    if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != kStateVersion)
        return Error(Errc::kInvalidArgument,
                     fmt::format("state file {}: version {} (expected {})", path,
                                 v == j.end() ? "missing" : v->dump(), kStateVersion));
    return j;
}

}  // namespace vtasos::daemon::state
