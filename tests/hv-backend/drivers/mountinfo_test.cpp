// parse_mountinfo: finding the cgroup hierarchies in /proc/self/mountinfo.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vtasos/drivers/internal/linux.h"

namespace vtasos::linuxdrv {
namespace {

TEST(Mountinfo, HybridV1WithEmptyUnified) {
    // This project's CI machine: v1 controllers, each on its own hierarchy.
    const char* text =
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
        "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    EXPECT_EQ(parse_mountinfo(text),
              (CgroupMounts{"/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/freezer",
                            "/sys/fs/cgroup/unified"}));
}

TEST(Mountinfo, PureV2) {
    const char* text =
        "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n";
    EXPECT_EQ(parse_mountinfo(text), (CgroupMounts{"", "", "/sys/fs/cgroup"}));
}

TEST(Mountinfo, CoMountedAndOptionalFields) {
    const char* text =
        "34 31 0:31 / /cg/cpuset,freezer rw master:7 shared:9 - cgroup cgroup rw,cpuset,freezer\n";
    EXPECT_EQ(parse_mountinfo(text),
              (CgroupMounts{"/cg/cpuset,freezer", "/cg/cpuset,freezer", ""}));
}

TEST(Mountinfo, EscapesAndRootMountsPreferred) {
    const char* text =
        "50 1 0:31 /sub /bind\\040mount rw - cgroup cgroup rw,cpuset\n"
        "51 1 0:31 / /my\\040cpuset rw - cgroup cgroup rw,cpuset\n"
        "52 1 0:31 / /other rw - cgroup cgroup rw,cpuset\n";
    EXPECT_EQ(parse_mountinfo(text).cpuset_v1, "/my cpuset");
}

TEST(Mountinfo, IgnoresGarbage) {
    EXPECT_EQ(parse_mountinfo(""), CgroupMounts{});
    EXPECT_EQ(parse_mountinfo("garbage\n1 2 3\n- - -\n\n"), CgroupMounts{});
    EXPECT_EQ(parse_mountinfo("1 2 0:1 / /x rw - cgroup"), CgroupMounts{});
}

TEST(Names, CgroupNameRules) {
    EXPECT_TRUE(check_cgroup_name("tenant", "cg-1").ok());
    EXPECT_TRUE(check_cgroup_name("tenant", "job.42:rank@host+x_y").ok());
    for (std::string bad : std::vector<std::string>{"", ".", "..", "a/b", "a b",
                                                    std::string(65, 'x'), std::string("a\0b", 3)}) {
        auto st = check_cgroup_name("tenant", bad);
        ASSERT_FALSE(st.ok()) << bad;
        EXPECT_EQ(st.error().code(), Errc::kInvalidArgument);
    }
    EXPECT_TRUE(check_parent_path("vtasos").ok());
    EXPECT_TRUE(check_parent_path("system.slice/vtasos").ok());
    EXPECT_FALSE(check_parent_path("a/../b").ok());
    EXPECT_FALSE(check_parent_path("a/").ok());
}

}  // namespace
}  // namespace vtasos::linuxdrv
