// libvtasos-client contract tests against fake servers: an absent daemon is
// reported at once, a silent daemon times out, broken replies are protocol
// errors, and nothing crashes or hangs.
#include "vtasos/client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "vtasos/client.hpp"

extern "C" int vtasos_c_smoke(const char* missing_socket);

namespace {

using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/vtasos-client-test-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& n) const { return path_ + "/" + n; }

private:
    std::string path_;
};

// A listening socket; `serve` (if any) runs on one accepted connection in a thread.
class FakeServer {
public:
    FakeServer(const std::string& path, std::function<void(int)> serve = nullptr) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
        EXPECT_EQ(::listen(fd_, 8), 0);
        if (serve)
            thread_ = std::thread([this, serve] {
                int c = ::accept(fd_, nullptr, nullptr);
                if (c >= 0) {
                    serve(c);
                    ::close(c);
                }
            });
    }
    ~FakeServer() {
        ::shutdown(fd_, SHUT_RDWR);
        if (thread_.joinable()) thread_.join();
        ::close(fd_);
    }

private:
    int fd_ = -1;
    std::thread thread_;
};

std::string read_line(int fd) {
    std::string s;
    char ch;
    while (::read(fd, &ch, 1) == 1 && ch != '\n') s += ch;
    return s;
}

void write_str(int fd, const std::string& s) { (void)!::write(fd, s.data(), s.size()); }

TEST(ClientTest, HeaderIsPlainC) {
    TempDir d;
    EXPECT_EQ(vtasos_c_smoke(d.file("none.sock").c_str()), 0);
}

TEST(ClientTest, AbsentDaemonIsUnavailableAtOnce) {
    TempDir d;
    vtasos_client* c = reinterpret_cast<vtasos_client*>(0x1);
    auto t = Clock::now();
    int rc = vtasos_connect(d.file("absent.sock").c_str(), 5000, &c);
    EXPECT_EQ(rc, VTASOS_E_UNAVAILABLE);
    EXPECT_EQ(c, nullptr);
    EXPECT_LT(ms_since(t), 200);
    std::string msg = vtasos_last_error(nullptr);
    EXPECT_NE(msg.find("absent.sock"), std::string::npos) << msg;
    EXPECT_NE(msg.find("is vtasosd running?"), std::string::npos) << msg;
    // The C++ wrapper says the same with an Errc.
    auto w = vtasos::Client::connect(d.file("absent.sock"), 5000);
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.error().code(), vtasos::Errc::kUnavailable);
}

TEST(ClientTest, SilentListenerTimesOut) {
    TempDir d;
    FakeServer s(d.file("silent.sock"));  // listens, never accepts, never answers
    vtasos_client* c = nullptr;
    ASSERT_EQ(vtasos_connect(d.file("silent.sock").c_str(), 200, &c), VTASOS_OK);
    char buf[256];
    auto t = Clock::now();
    EXPECT_EQ(vtasos_call(c, R"({"op":"hello"})", buf, sizeof buf), VTASOS_E_TIMEOUT);
    auto ms = ms_since(t);
    EXPECT_GE(ms, 150);
    EXPECT_LT(ms, 1500);
    EXPECT_NE(std::string(vtasos_last_error(c)).find("within 200 ms"), std::string::npos);
    EXPECT_EQ(vtasos_advice(c, "x", buf, sizeof buf), VTASOS_E_TIMEOUT);
    vtasos_close(c);
}

TEST(ClientTest, AcceptingButMuteServerTimesOut) {
    TempDir d;
    FakeServer s(d.file("mute.sock"), [](int fd) {
        read_line(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
    });
    vtasos_client* c = nullptr;
    ASSERT_EQ(vtasos_connect(d.file("mute.sock").c_str(), 150, &c), VTASOS_OK);
    EXPECT_EQ(vtasos_release(c, "x"), VTASOS_E_TIMEOUT);
    vtasos_close(c);
}

TEST(ClientTest, ServerThatHangsUpIsUnavailable) {
    TempDir d;
    FakeServer s(d.file("hangup.sock"), [](int fd) { read_line(fd); });
    vtasos_client* c = nullptr;
    ASSERT_EQ(vtasos_connect(d.file("hangup.sock").c_str(), 2000, &c), VTASOS_OK);
    EXPECT_EQ(vtasos_release(c, "x"), VTASOS_E_UNAVAILABLE);
    EXPECT_NE(std::string(vtasos_last_error(c)).find("closed the connection"), std::string::npos);
    vtasos_close(c);
}

TEST(ClientTest, GarbageReplyIsAProtocolError) {
    TempDir d;
    FakeServer s(d.file("garbage.sock"), [](int fd) {
        read_line(fd);
        write_str(fd, "this is not json\n");
        read_line(fd);
        write_str(fd, "{\"v\":1,\"id\":2}\n");  // no "ok"
    });
    vtasos_client* c = nullptr;
    ASSERT_EQ(vtasos_connect(d.file("garbage.sock").c_str(), 2000, &c), VTASOS_OK);
    EXPECT_EQ(vtasos_release(c, "x"), VTASOS_E_PROTOCOL);
    EXPECT_EQ(vtasos_release(c, "x"), VTASOS_E_PROTOCOL);
    vtasos_close(c);
}

TEST(ClientTest, RepliesToEarlierCallsAreSkippedAndErrorsAreRefused) {
    TempDir d;
    FakeServer s(d.file("ids.sock"), [](int fd) {
        read_line(fd);
        write_str(fd, R"({"v":1,"id":999,"ok":true})"
                      "\n");
        write_str(
            fd,
            R"({"v":1,"id":1,"ok":false,"error":{"code":"not_found","message":"release.tenant: no tenant \"x\""}})"
            "\n");
    });
    vtasos_client* c = nullptr;
    ASSERT_EQ(vtasos_connect(d.file("ids.sock").c_str(), 2000, &c), VTASOS_OK);
    char buf[512];
    EXPECT_EQ(vtasos_call(c, R"({"op":"release","tenant":"x"})", buf, sizeof buf),
              VTASOS_E_REFUSED);
    EXPECT_STREQ(vtasos_last_error(c), "not_found: release.tenant: no tenant \"x\"");
    EXPECT_NE(std::string(buf).find("\"id\":1"), std::string::npos) << buf;
    vtasos_close(c);
}

TEST(ClientTest, SmallBufferIsInvalAndNamesTheSize) {
    TempDir d;
    FakeServer s(d.file("small.sock"), [](int fd) {
        read_line(fd);
        write_str(
            fd,
            R"({"v":1,"id":1,"ok":true,"advice":{"node_load":0.5,"suggested_threads":2,"gang":false,"reason":"x"}})"
            "\n");
    });
    vtasos_client* c = nullptr;
    ASSERT_EQ(vtasos_connect(d.file("small.sock").c_str(), 2000, &c), VTASOS_OK);
    char buf[8];
    EXPECT_EQ(vtasos_advice(c, "t", buf, sizeof buf), VTASOS_E_INVAL);
    EXPECT_NE(std::string(vtasos_last_error(c)).find("bytes needed"), std::string::npos);
    EXPECT_EQ(buf[0], '\0');
    vtasos_close(c);
}

TEST(ClientTest, BadArgumentsAreInvalNeverCrashes) {
    char buf[16];
    EXPECT_EQ(vtasos_connect("/tmp/x", 10, nullptr), VTASOS_E_INVAL);
    EXPECT_EQ(vtasos_register(nullptr, "t", nullptr, nullptr, nullptr, 0, 0, buf, sizeof buf),
              VTASOS_E_INVAL);
    EXPECT_EQ(vtasos_update(nullptr, "t", "{}"), VTASOS_E_INVAL);
    EXPECT_EQ(vtasos_advice(nullptr, "t", buf, sizeof buf), VTASOS_E_INVAL);
    EXPECT_EQ(vtasos_release(nullptr, "t"), VTASOS_E_INVAL);
    EXPECT_EQ(vtasos_call(nullptr, "{}", buf, sizeof buf), VTASOS_E_INVAL);
    EXPECT_STREQ(vtasos_last_error(nullptr), vtasos_last_error(nullptr));
    vtasos_close(nullptr);
    vtasos_client* c = nullptr;
    std::string long_path(200, 'a');
    EXPECT_EQ(vtasos_connect(long_path.c_str(), 10, &c), VTASOS_E_INVAL);

    TempDir d;
    FakeServer s(d.file("args.sock"));
    ASSERT_EQ(vtasos_connect(d.file("args.sock").c_str(), 100, &c), VTASOS_OK);
    EXPECT_EQ(vtasos_register(c, nullptr, nullptr, nullptr, nullptr, 0, 0, nullptr, 0),
              VTASOS_E_INVAL);
    EXPECT_EQ(vtasos_register(c, "t", nullptr, nullptr, nullptr, 2, 0, nullptr, 0), VTASOS_E_INVAL);
    EXPECT_EQ(vtasos_register(c, "t", "{}", "prof", nullptr, 0, 0, nullptr, 0), VTASOS_E_INVAL);
    EXPECT_EQ(vtasos_register(c, "t", "{not json", nullptr, nullptr, 0, 0, nullptr, 0),
              VTASOS_E_INVAL);
    EXPECT_EQ(vtasos_update(c, "t", "[1,2]"), VTASOS_E_INVAL);
    EXPECT_EQ(vtasos_call(c, "not json", buf, sizeof buf), VTASOS_E_INVAL);
    std::string huge = R"({"op":"hello","client":")" + std::string(70000, 'x') + "\"}";
    EXPECT_EQ(vtasos_call(c, huge.c_str(), buf, sizeof buf), VTASOS_E_INVAL);
    EXPECT_NE(std::string(vtasos_last_error(c)).find("64 KiB"), std::string::npos);
    vtasos_close(c);
}

TEST(ClientTest, StrerrorHasOneMessagePerCode) {
    std::set<std::string> seen;
    for (int code : {VTASOS_OK, VTASOS_E_UNAVAILABLE, VTASOS_E_TIMEOUT, VTASOS_E_PROTOCOL,
                     VTASOS_E_REFUSED, VTASOS_E_INVAL, VTASOS_E_NOMEM}) {
        std::string m = vtasos_strerror(code);
        EXPECT_NE(m, "unknown error code") << code;
        EXPECT_TRUE(seen.insert(m).second) << m;
    }
    EXPECT_STREQ(vtasos_strerror(12345), "unknown error code");
}

TEST(ClientTest, DefaultSocketHonoursTheEnvironment) {
    ::setenv("VTASOS_SOCKET", "/tmp/custom.sock", 1);
    EXPECT_STREQ(vtasos_default_socket(), "/tmp/custom.sock");
    ::unsetenv("VTASOS_SOCKET");
    std::string d = vtasos_default_socket();
    if (::geteuid() == 0) {
        EXPECT_EQ(d, "/run/vtasos/vtasosd.sock");
    } else {
        EXPECT_NE(d.find("vtasos"), std::string::npos);
    }
}

}  // namespace
