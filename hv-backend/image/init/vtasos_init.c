/* vtasos-init: PID 1 of a right-weight guest (static, no libraries).
 *
 * Mounts proc, sys, devtmpfs and tmpfs on /dev/shm and /tmp, builds the application's argv and
 * environment from files in the image, runs it with the serial console as stdin/stdout/stderr,
 * prints
 *   @@VTASOS-START@@ uptime=<s>            just before exec
 *   @@VTASOS-EXIT@@ status=<n>             (or signal=<n>) when it ends
 * and powers the machine off. Files (NUL-separated lists):
 *   /vtasos/app        path of the executable
 *   /vtasos/args       built-in arguments      /vtasos/run/args  run-time ones (replace)
 *   /vtasos/env        built-in KEY=VALUE      /vtasos/run/env   run-time ones (appended)
 *   /vtasos/modules    kernel modules to load first, dependencies first (vtasos-image --channel)
 * With vtasos.channel=1 on the kernel command line it waits (at most 5 s) for the virtio-serial
 * ports and links /dev/virtio-ports/<name> to /dev/vportNpM, as udev would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORDS 1024

static char* slurp(const char* path, size_t* len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    size_t cap = 4096, n = 0;
    char* buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Appends the NUL-separated words of `path` to list; returns the new count. */
static int add_words(const char* path, char** list, int count) {
    size_t len = 0;
    char* buf = slurp(path, &len);
    if (!buf) return count;
    size_t i = 0;
    while (i < len && count < MAX_WORDS - 1) {
        list[count++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    return count;
}

static void power_off(void) {
    sync();
    reboot(RB_POWER_OFF);
    for (;;) pause();
}

static void load_modules(void) {
    static char* mods[MAX_WORDS];
    int n = add_words("/vtasos/modules", mods, 0);
    for (int i = 0; i < n; ++i) {
        int fd = open(mods[i], O_RDONLY | O_CLOEXEC);
        /* Flag 4 = MODULE_INIT_COMPRESSED_FILE, for .ko.xz/.ko.zst on kernels that decompress. */
        int flags = strstr(mods[i], ".ko.") ? 4 : 0;
        if (fd < 0 || syscall(SYS_finit_module, fd, "", flags) != 0)
            if (errno != EEXIST) printf("vtasos-init: load %s: %s\n", mods[i], strerror(errno));
        if (fd >= 0) close(fd);
    }
}

/* The ports appear asynchronously (the host announces them on the control queue). */
static void link_virtio_ports(void) {
    size_t len = 0;
    char* cmdline = slurp("/proc/cmdline", &len);
    int want = cmdline && strstr(cmdline, "vtasos.channel=1") != NULL;
    free(cmdline);
    if (!want) return;
    mkdir("/dev/virtio-ports", 0755);
    for (int tries = 0; tries < 500; ++tries) {
        int linked = 0;
        DIR* d = opendir("/sys/class/virtio-ports");
        struct dirent* e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char path[512], target[300], link[512];
            snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
            char* name = slurp(path, &len);
            if (name && len > 0) {
                name[strcspn(name, "\n")] = 0;
                snprintf(target, sizeof target, "../%s", e->d_name);
                snprintf(link, sizeof link, "/dev/virtio-ports/%s", name);
                if (symlink(target, link) == 0 || errno == EEXIST) ++linked;
            }
            free(name);
        }
        if (d) closedir(d);
        if (linked > 0) return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("vtasos-init: no virtio-serial port appeared within 5 s\n");
}

int main(void) {
    mkdir("/proc", 0755);
    mkdir("/sys", 0755);
    mkdir("/dev", 0755);
    mkdir("/tmp", 01777);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    /* libomp and POSIX semaphores need shm_open: a tmpfs on /dev/shm. */
    mkdir("/dev/shm", 01777);
    mount("tmpfs", "/dev/shm", "tmpfs", 0, "mode=1777");
    mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777");
    int con = open("/dev/console", O_RDWR);
    if (con >= 0) {
        dup2(con, 0);
        dup2(con, 1);
        dup2(con, 2);
        if (con > 2) close(con);
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    load_modules();
    link_virtio_ports();

    size_t len = 0;
    char* app = slurp("/vtasos/app", &len);
    if (!app || !len) {
        printf("vtasos-init: /vtasos/app missing\n%s status=127\n", "@@VTASOS-EXIT@@");
        power_off();
    }
    app[strcspn(app, "\n")] = 0;

    static char* argv[MAX_WORDS];
    static char* envp[MAX_WORDS];
    int argc = 0, envc = 0;
    argv[argc++] = app;
    if (access("/vtasos/run/args", F_OK) == 0)
        argc = add_words("/vtasos/run/args", argv, argc);
    else
        argc = add_words("/vtasos/args", argv, argc);
    argv[argc] = NULL;
    envp[envc++] = "PATH=/bin:/usr/bin";
    envp[envc++] = "HOME=/tmp";
    envc = add_words("/vtasos/env", envp, envc);
    envc = add_words("/vtasos/run/env", envp, envc);
    envp[envc] = NULL;

    char up[64] = "?";
    int ufd = open("/proc/uptime", O_RDONLY);
    if (ufd >= 0) {
        ssize_t r = read(ufd, up, sizeof up - 1);
        up[r > 0 ? r : 0] = 0;
        up[strcspn(up, " \n")] = 0;
        close(ufd);
    }
    if (chdir("/tmp") != 0) (void)chdir("/");
    printf("%s uptime=%s\n", "@@VTASOS-START@@", up);

    pid_t pid = fork();
    if (pid == 0) {
        execve(app, argv, envp);
        fprintf(stderr, "vtasos-init: exec %s: %s\n", app, strerror(errno));
        _exit(127);
    }
    int status = 0;
    /* PID 1 reaps every orphan; stop when the application itself ends. */
    for (;;) {
        pid_t w = wait(&status);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            status = 127 << 8;
            break;
        }
    }
    if (WIFSIGNALED(status))
        printf("\n%s signal=%d\n", "@@VTASOS-EXIT@@", WTERMSIG(status));
    else
        printf("\n%s status=%d\n", "@@VTASOS-EXIT@@", WEXITSTATUS(status));
    power_off();
    return 0;
}
