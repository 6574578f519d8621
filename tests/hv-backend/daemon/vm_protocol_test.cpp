// register.vm validation (hv-backend/daemon/src/vm_protocol.cpp): a VM tenant's boot
// description is checked field by field before the daemon starts anything.
#include <gtest/gtest.h>

#include "vtasos/daemon/protocol.h"

namespace {

using vtasos::Errc;
using vtasos::daemon::parse_message;
using vtasos::daemon::RegisterArgs;

vtasos::Result<RegisterArgs> parse(const std::string& extra) {
    auto p = parse_message(R"({"v":1,"id":1,"op":"register","tenant":"vm-1",)" + extra + "}");
    if (!p.message) return p.message.error();
    return std::get<RegisterArgs>(p.message->args);
}

std::string error_of(const std::string& extra) {
    auto r = parse(extra);
    EXPECT_FALSE(r) << extra;
    if (r) return "";
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument) << r.error().to_string();
    return r.error().message();
}

TEST(VmProtocol, DefaultsAndFields) {
    auto r = parse(R"("cpus":2,"vm":{"image":"/a/ep.img"})");
    ASSERT_TRUE(r) << r.error().to_string();
    ASSERT_TRUE(r->vm);
    EXPECT_EQ(r->vm->image, "/a/ep.img");
    EXPECT_EQ(r->vm->timer, "tickless");
    EXPECT_EQ(r->vm->accel, "auto");
    EXPECT_EQ(r->vm->memory_mb, 1024);
    EXPECT_TRUE(r->vm->channel);
    EXPECT_FALSE(r->vm->args_given);
    r = parse(R"("vm":{"image":"/a/ep.img","args":["--class","S"],"env":["A=1"],"timer":"stock",)"
              R"("accel":"tcg","memory_mb":512,"console":"/tmp/c.sock","channel":false})");
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->vm->args, (std::vector<std::string>{"--class", "S"}));
    EXPECT_TRUE(r->vm->args_given);
    EXPECT_EQ(r->vm->env, std::vector<std::string>{"A=1"});
    EXPECT_EQ(r->vm->console, "/tmp/c.sock");
    EXPECT_FALSE(r->vm->channel);
}

TEST(VmProtocol, BadInputNamesTheField) {
    EXPECT_NE(error_of(R"("vm":{})").find("register.vm.image"), std::string::npos);
    EXPECT_NE(error_of(R"("vm":{"image":"rel/ep.img"})").find("absolute path"), std::string::npos);
    EXPECT_NE(error_of(R"("vm":{"image":"/a,b"})").find("register.vm.image"), std::string::npos);
    EXPECT_NE(error_of(R"("vm":{"image":"/a","timer":"fast"})").find("register.vm.timer"),
              std::string::npos);
    EXPECT_NE(error_of(R"("vm":{"image":"/a","accel":"xen"})").find("register.vm.accel"),
              std::string::npos);
    EXPECT_NE(error_of(R"("vm":{"image":"/a","memory_mb":1})").find("register.vm.memory_mb"),
              std::string::npos);
    EXPECT_NE(error_of(R"("vm":{"image":"/a","env":["NOEQUALS"]})").find("register.vm.env[0]"),
              std::string::npos);
    EXPECT_NE(error_of(R"("vm":{"image":"/a","args":[1]})").find("register.vm.args[0]"),
              std::string::npos);
    EXPECT_NE(error_of(R"("vm":{"image":"/a","disk":"/x"})").find("register.vm.disk"),
              std::string::npos);
    EXPECT_NE(error_of(R"("vm":"/a")").find("register.vm"), std::string::npos);
    // QEMU's pid and vCPU threads come from the daemon, never from the client.
    EXPECT_NE(error_of(R"("pids":[1],"vm":{"image":"/a"})").find("register.pids"),
              std::string::npos);
    EXPECT_NE(error_of(R"("vm":{"image":"/a"},"job":{"local_size":1,"local_rank":0})").find("job"),
              std::string::npos);
}

}  // namespace
