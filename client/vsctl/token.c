/* token.c — where vsctl keeps the access token between runs: $XDG_CONFIG_HOME/vs/token (default
 * ~/.config/vs/token), mode 0600 in a 0700 directory, replaced atomically. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vsctl.h"

#define VSCTL_TOKEN_MAX 4096

int vsctl_token_path(char *out, size_t outlen)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

    if (xdg != NULL && xdg[0] == '/')
        return snprintf(out, outlen, "%s/vs/token", xdg) < (int)outlen ? 0 : -1;
    if (home == NULL || home[0] == '\0') {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (home == NULL)
        return -1;
    return snprintf(out, outlen, "%s/.config/vs/token", home) < (int)outlen ? 0 : -1;
}

/* mkdir -p of path's directory; directories we create are 0700. */
static int vsctl_token_mkdirs(const char *path)
{
    char dir[PATH_MAX];
    char *slash;

    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int vsctl_token_save(const char *token, char *err, size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    size_t len = strlen(token), done = 0;
    int fd;

    if (vsctl_token_path(path, sizeof path) != 0) {
        snprintf(err, errlen, "cannot tell where to keep the token (set HOME or XDG_CONFIG_HOME)");
        return -1;
    }
    if (vsctl_token_mkdirs(path) != 0) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    while (done < len) {
        ssize_t n = write(fd, token + done, len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (done < len || fchmod(fd, 0600) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        if (fcntl(fd, F_GETFD) != -1)
            close(fd);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int vsctl_token_load(char **out)
{
    char path[PATH_MAX], buf[VSCTL_TOKEN_MAX + 1];
    struct stat st;
    ssize_t n;
    size_t len = 0;
    int fd;

    *out = NULL;
    if (vsctl_token_path(path, sizeof path) != 0)
        return -1;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        fprintf(stderr, "vsctl: ignoring %s: it must be a regular file with mode 0600\n", path);
        close(fd);
        return -1;
    }
    while (len < VSCTL_TOKEN_MAX && (n = read(fd, buf + len, VSCTL_TOKEN_MAX - len)) > 0)
        len += (size_t)n;
    close(fd);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    buf[len] = '\0';
    if (len > 0 && (*out = strdup(buf)) == NULL)
        return -1;
    explicit_bzero(buf, sizeof buf);
    return 0;
}

int vsctl_token_remove(void)
{
    char path[PATH_MAX];

    if (vsctl_token_path(path, sizeof path) != 0)
        return -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

void vsctl_token_apply(vs_client *client)
{
    char *token = NULL;

    if (vsctl_token_load(&token) == 0 && token != NULL) {
        vs_client_set_token(client, token);
        explicit_bzero(token, strlen(token));
        free(token);
    }
}
