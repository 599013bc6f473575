/* Runs cases through the native oracle (diff_native, a -m32 static
 * program): the cases go in through a memfd as its stdin, the results come
 * back through another memfd as its stdout, so neither side can block on a
 * full pipe. */
#define _GNU_SOURCE
#include "diff.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static ssize_t read_all(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static int spawn(const char *path, int in, int out, char *msg, size_t msglen)
{
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, msglen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0)
            _exit(126);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(msg, msglen, "waitpid: %s", strerror(errno));
            return -1;
        }
    if (WIFSIGNALED(status)) {
        snprintf(msg, msglen, "%s died of signal %d", path, WTERMSIG(status));
        return -1;
    }
    if (WEXITSTATUS(status) != 0) {
        snprintf(msg, msglen, "%s exited with status %d%s", path, WEXITSTATUS(status),
                 WEXITSTATUS(status) == 127 ? " (cannot execute it)" : "");
        return -1;
    }
    return 0;
}

int diff_native_run(void *oracle_path, const struct diff_case *cases, size_t n,
                    struct diff_result *results, char *msg, size_t msglen)
{
    const char *path = oracle_path;
    int in = memfd_create("diff-cases", MFD_CLOEXEC);
    int out = memfd_create("diff-results", MFD_CLOEXEC);
    int r = -1;
    if (in < 0 || out < 0) {
        snprintf(msg, msglen, "memfd_create: %s", strerror(errno));
        goto done;
    }
    if (write_all(in, cases, n * sizeof(*cases)) < 0 || lseek(in, 0, SEEK_SET) < 0) {
        snprintf(msg, msglen, "writing the cases: %s", strerror(errno));
        goto done;
    }
    if (spawn(path, in, out, msg, msglen) < 0)
        goto done;
    if (lseek(out, 0, SEEK_SET) < 0) {
        snprintf(msg, msglen, "lseek: %s", strerror(errno));
        goto done;
    }
    ssize_t got = read_all(out, results, n * sizeof(*results));
    if (got != (ssize_t)(n * sizeof(*results))) {
        snprintf(msg, msglen, "%s returned %zd bytes of results, expected %zu", path, got,
                 n * sizeof(*results));
        goto done;
    }
    r = 0;
done:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return r;
}
