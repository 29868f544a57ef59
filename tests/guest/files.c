/*
 * files: file-system and file-descriptor syscalls, all inside a scratch directory: argv[1]
 * if given (it must exist and should be empty), otherwise a fresh mkdtemp() directory under
 * $TMPDIR or /tmp.  Everything it creates is removed again.
 *   openat/read/write/readv/writev/pread/pwrite/lseek (SET/CUR/END, past EOF), fstat/stat/
 *   lstat/fstatat/statx, getdents64 via opendir/readdir, symlink/readlink, link, access/
 *   faccessat, unlink/unlinkat, mkdir/mkdirat/rmdir, rename/renameat2(RENAME_NOREPLACE),
 *   utimensat/futimens, getcwd/chdir/fchdir, umask, pipe2, dup/dup2/dup3, fcntl (F_GETFD/
 *   F_SETFD, F_GETFL/F_SETFL O_NONBLOCK/O_APPEND, F_DUPFD_CLOEXEC), ftruncate, fsync,
 *   fchmod/chmod, O_EXCL/O_DIRECTORY/O_NOFOLLOW/O_APPEND errors and semantics, errno values.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok)
        failures++;
}

static const char *errname(int e)
{
    switch (e) {
    case 0: return "0";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EBADF: return "EBADF";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case ENOTEMPTY: return "ENOTEMPTY";
    case EAGAIN: return "EAGAIN";
    case ELOOP: return "ELOOP";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case ESPIPE: return "ESPIPE";
    case EFAULT: return "EFAULT";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ERANGE: return "ERANGE";
    default: return "other";
    }
}

/* Prints "what -> ERRNO" for a call expected to fail. */
#define FAILS(what, call)                                                              \
    do {                                                                               \
        errno = 0;                                                                     \
        long _r = (long)(call);                                                        \
        printf("%s -> %s\n", what, _r == -1 ? errname(errno) : "succeeded");           \
    } while (0)

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(const char *what, const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        printf("%s: opendir failed (%s)\n", what, errname(errno));
        failures++;
        return;
    }
    char *names[64];
    int n = 0, types_ok = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64) {
        names[n++] = strdup(e->d_name);
        if (strcmp(e->d_name, "sub") == 0 && e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
            types_ok = 0;
        if (strcmp(e->d_name, "link") == 0 && e->d_type != DT_LNK && e->d_type != DT_UNKNOWN)
            types_ok = 0;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmpstr);
    printf("%s:", what);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
    check("d_type right for dir and symlink", types_ok);
}

int main(int argc, char **argv)
{
    char dir[PATH_MAX];
    int made_dir = 0;
    if (argc > 1) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/pyqemu-files-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 2;
        }
        made_dir = 1;
    }

    mode_t old_umask = umask(022);
    (void)old_umask;
    check("umask returns previous", umask(022) == 022);

    char start_cwd[PATH_MAX];
    check("getcwd", getcwd(start_cwd, sizeof start_cwd) != NULL);
    int start_fd = open(".", O_RDONLY | O_DIRECTORY);
    check("chdir to scratch dir", chdir(dir) == 0);
    char cwd[PATH_MAX], real[PATH_MAX];
    check("getcwd == realpath(dir)", getcwd(cwd, sizeof cwd) && realpath(dir, real) && strcmp(cwd, real) == 0);
    FAILS("getcwd tiny buffer", getcwd(cwd, 2) == NULL ? -1 : 0);

    /* --- create, write, read --- */
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    check("open . O_DIRECTORY", dfd >= 0);
    int fd = openat(dfd, "a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0666);
    check("openat create", fd >= 0);
    check("write", write(fd, "hello ", 6) == 6);
    struct iovec wv[3] = {{"wor", 3}, {"ld", 2}, {"\n", 1}};
    check("writev 3 iovecs", writev(fd, wv, 3) == 6);
    check("pwrite at 0", pwrite(fd, "H", 1, 0) == 1);
    check("lseek SEEK_CUR after pwrite unchanged", lseek(fd, 0, SEEK_CUR) == 12);
    FAILS("read on O_WRONLY fd", read(fd, cwd, 1));
    close(fd);
    FAILS("write to closed fd", write(fd, "x", 1));
    FAILS("open O_CREAT|O_EXCL existing", open("a.txt", O_CREAT | O_EXCL | O_WRONLY, 0600));

    fd = open("a.txt", O_RDONLY);
    char buf[64] = {0};
    check("read all", read(fd, buf, sizeof buf) == 12 && memcmp(buf, "Hello world\n", 12) == 0);
    check("read at EOF returns 0", read(fd, buf, sizeof buf) == 0);
    check("lseek SEEK_SET", lseek(fd, 6, SEEK_SET) == 6);
    char b1[3] = {0}, b2[4] = {0};
    struct iovec rv[2] = {{b1, 2}, {b2, 3}};
    check("readv", readv(fd, rv, 2) == 5 && memcmp(b1, "wo", 2) == 0 && memcmp(b2, "rld", 3) == 0);
    check("lseek SEEK_CUR", lseek(fd, -5, SEEK_CUR) == 6);
    check("lseek SEEK_END", lseek(fd, -1, SEEK_END) == 11);
    memset(buf, 0, sizeof buf);
    check("pread", pread(fd, buf, 5, 0) == 5 && strcmp(buf, "Hello") == 0);
    check("pread keeps offset", lseek(fd, 0, SEEK_CUR) == 11);
    FAILS("lseek negative", lseek(fd, -100, SEEK_SET));
    close(fd);

    /* --- stat family --- */
    struct stat st, st2;
    check("stat", stat("a.txt", &st) == 0);
    printf("size %lld mode %o nlink %lu regular %d\n", (long long)st.st_size, st.st_mode & 07777,
           (unsigned long)st.st_nlink, S_ISREG(st.st_mode));
    fd = open("a.txt", O_RDWR);
    check("fstat matches stat", fstat(fd, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_dev == st.st_dev &&
                                    st2.st_size == st.st_size);
    check("st_blksize > 0", st.st_blksize > 0);
    check("owner is us", st.st_uid == geteuid());
    check("fstatat", fstatat(dfd, "a.txt", &st2, 0) == 0 && st2.st_ino == st.st_ino);
    struct statx sx;
    check("statx", statx(dfd, "a.txt", 0, STATX_BASIC_STATS | STATX_BTIME, &sx) == 0);
    check("statx agrees with stat", sx.stx_size == (unsigned long long)st.st_size && sx.stx_ino == st.st_ino &&
                                        (sx.stx_mode & 07777) == (st.st_mode & 07777) &&
                                        (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
    check("statx AT_EMPTY_PATH on fd", statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx) == 0 && sx.stx_size == 12);
    FAILS("stat missing", stat("missing", &st2));
    FAILS("stat through a file", stat("a.txt/x", &st2));

    check("ftruncate grow", ftruncate(fd, 100) == 0 && fstat(fd, &st2) == 0 && st2.st_size == 100);
    check("hole reads as zeros", pread(fd, buf, 4, 50) == 4 && buf[0] == 0 && buf[3] == 0);
    check("ftruncate shrink", ftruncate(fd, 5) == 0 && fstat(fd, &st2) == 0 && st2.st_size == 5);
    check("fsync", fsync(fd) == 0);
    check("fdatasync", fdatasync(fd) == 0);
    check("lseek past EOF + write makes a hole", lseek(fd, 10, SEEK_SET) == 10 && write(fd, "Z", 1) == 1 &&
                                                   fstat(fd, &st2) == 0 && st2.st_size == 11);
    close(fd);

    /* --- O_APPEND --- */
    fd = open("a.txt", O_WRONLY | O_APPEND);
    check("O_APPEND ignores lseek", lseek(fd, 0, SEEK_SET) == 0 && write(fd, "!", 1) == 1 &&
                                        stat("a.txt", &st2) == 0 && st2.st_size == 12);
    close(fd);

    /* --- permissions, umask --- */
    fd = open("exec.sh", O_CREAT | O_WRONLY, 0777);
    check("umask applied to new file (0777 & ~022 = 0755)", fstat(fd, &st2) == 0 && (st2.st_mode & 0777) == 0755);
    check("fchmod", fchmod(fd, 0700) == 0 && fstat(fd, &st2) == 0 && (st2.st_mode & 0777) == 0700);
    close(fd);
    check("chmod", chmod("exec.sh", 0640) == 0 && stat("exec.sh", &st2) == 0 && (st2.st_mode & 0777) == 0640);
    check("access F_OK", access("exec.sh", F_OK) == 0);
    check("access R_OK|W_OK", access("exec.sh", R_OK | W_OK) == 0);
    FAILS("access missing", access("nope", F_OK));
    check("faccessat", faccessat(dfd, "a.txt", R_OK, 0) == 0);

    /* --- directories --- */
    check("mkdir", mkdir("sub", 0777) == 0);
    check("mkdir mode umasked", stat("sub", &st2) == 0 && S_ISDIR(st2.st_mode) && (st2.st_mode & 0777) == 0755);
    FAILS("mkdir existing", mkdir("sub", 0777));
    check("mkdirat", mkdirat(dfd, "sub/inner", 0700) == 0);
    FAILS("rmdir non-empty", rmdir("sub"));
    FAILS("open dir O_WRONLY", open("sub", O_WRONLY));
    FAILS("open file O_DIRECTORY", open("a.txt", O_RDONLY | O_DIRECTORY));
    check("chdir into sub", chdir("sub") == 0 && getcwd(cwd, sizeof cwd) && strstr(cwd, "/sub") != NULL);
    check("relative open from sub", (fd = open("../a.txt", O_RDONLY)) >= 0);
    close(fd);
    check("chdir ..", chdir("..") == 0);

    /* --- links --- */
    check("symlink", symlink("a.txt", "link") == 0);
    char target[64] = {0};
    ssize_t n = readlink("link", target, sizeof target);
    check("readlink", n == 5 && memcmp(target, "a.txt", 5) == 0);
    check("readlinkat", readlinkat(dfd, "link", target, sizeof target) == 5);
    FAILS("readlink on a regular file", readlink("a.txt", target, sizeof target));
    check("lstat sees symlink", lstat("link", &st2) == 0 && S_ISLNK(st2.st_mode) && st2.st_size == 5);
    check("stat follows symlink", stat("link", &st2) == 0 && S_ISREG(st2.st_mode) && st2.st_ino == st.st_ino);
    FAILS("open O_NOFOLLOW on symlink", open("link", O_RDONLY | O_NOFOLLOW));
    check("hard link", link("a.txt", "hard") == 0 && stat("a.txt", &st2) == 0 && st2.st_nlink == 2);
    list_dir("entries", ".");

    /* --- rename --- */
    check("rename", rename("hard", "hard2") == 0 && access("hard", F_OK) == -1 && access("hard2", F_OK) == 0);
    check("renameat over existing", renameat(dfd, "exec.sh", dfd, "hard2") == 0);
    fd = open("c.txt", O_CREAT | O_WRONLY, 0644);
    close(fd);
    FAILS("renameat2 RENAME_NOREPLACE", renameat2(dfd, "c.txt", dfd, "hard2", RENAME_NOREPLACE));
    FAILS("rename dir over non-empty dir", (mkdir("sub2", 0755), rename("sub2", "sub")));
    check("rmdir", rmdir("sub2") == 0);

    /* --- timestamps --- */
    struct timespec ts[2] = {{1000000000, 123456789}, {1234567890, 987654321}};
    check("utimensat", utimensat(dfd, "a.txt", ts, 0) == 0);
    check("stat shows atime/mtime", stat("a.txt", &st2) == 0 && st2.st_atim.tv_sec == 1000000000 &&
                                        st2.st_atim.tv_nsec == 123456789 && st2.st_mtim.tv_sec == 1234567890 &&
                                        st2.st_mtim.tv_nsec == 987654321);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    fd = open("a.txt", O_RDONLY);
    check("futimens UTIME_OMIT/UTIME_NOW",
          futimens(fd, omit) == 0 && fstat(fd, &st2) == 0 && st2.st_atim.tv_sec == 1000000000 &&
              st2.st_mtim.tv_sec > 1600000000);
    close(fd);
    check("utimensat AT_SYMLINK_NOFOLLOW on link", utimensat(dfd, "link", ts, AT_SYMLINK_NOFOLLOW) == 0 &&
                                                       lstat("link", &st2) == 0 &&
                                                       st2.st_mtim.tv_sec == 1234567890);

    /* --- pipes, dup, fcntl --- */
    int p[2];
    check("pipe2 O_CLOEXEC", pipe2(p, O_CLOEXEC) == 0);
    check("pipe fd has FD_CLOEXEC", fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC);
    check("pipe write/read", write(p[1], "ping", 4) == 4 && read(p[0], buf, 4) == 4 && memcmp(buf, "ping", 4) == 0);
    FAILS("lseek on pipe", lseek(p[0], 0, SEEK_SET));
    int fl = fcntl(p[0], F_GETFL);
    check("F_GETFL O_RDONLY", (fl & O_ACCMODE) == O_RDONLY);
    check("F_SETFL O_NONBLOCK", fcntl(p[0], F_SETFL, fl | O_NONBLOCK) == 0 && (fcntl(p[0], F_GETFL) & O_NONBLOCK));
    FAILS("read empty non-blocking pipe", read(p[0], buf, 1));
    int d1 = dup(p[1]);
    check("dup clears FD_CLOEXEC", d1 > p[1] && fcntl(d1, F_GETFD) == 0);
    int d2 = dup3(p[1], 40, O_CLOEXEC);
    check("dup3 to 40 with O_CLOEXEC", d2 == 40 && fcntl(40, F_GETFD) == FD_CLOEXEC);
    check("dup2 to 41", dup2(p[1], 41) == 41 && fcntl(41, F_GETFD) == 0);
    FAILS("dup3 same fd", dup3(40, 40, 0));
    int d3 = fcntl(p[1], F_DUPFD_CLOEXEC, 50);
    check("F_DUPFD_CLOEXEC >= 50", d3 >= 50 && fcntl(d3, F_GETFD) == FD_CLOEXEC);
    check("F_SETFD", fcntl(d3, F_SETFD, 0) == 0 && fcntl(d3, F_GETFD) == 0);
    check("write via dup, read original", write(d2, "abc", 3) == 3 && write(41, "de", 2) == 2 &&
                                              read(p[0], buf, 10) == 5 && memcmp(buf, "abcde", 5) == 0);
    close(d1);
    close(d2);
    close(41);
    close(d3);
    close(p[1]);
    check("read at EOF after all writers closed", read(p[0], buf, 1) == 0);
    close(p[0]);
    FAILS("fcntl on closed fd", fcntl(p[0], F_GETFD));
    FAILS("read bad fd", read(-1, buf, 1));
    fd = open("a.txt", O_WRONLY);
    void *volatile bad_pointer = (void *)8;
    FAILS("write from a bad pointer", write(fd, bad_pointer, 1));
    close(fd);

    /* --- cleanup: unlink, unlinkat, rmdir --- */
    check("unlink", unlink("a.txt") == 0);
    FAILS("unlink again", unlink("a.txt"));
    FAILS("stat dangling symlink", stat("link", &st2));
    check("unlink symlink", unlink("link") == 0);
    check("unlinkat file", unlinkat(dfd, "hard2", 0) == 0 && unlinkat(dfd, "c.txt", 0) == 0);
    FAILS("unlink a directory", unlink("sub"));
    check("unlinkat AT_REMOVEDIR", unlinkat(dfd, "sub/inner", AT_REMOVEDIR) == 0 && rmdir("sub") == 0);
    list_dir("entries after cleanup", ".");
    close(dfd);

    check("fchdir back", fchdir(start_fd) == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, start_cwd) == 0);
    close(start_fd);
    /* Our own mkdtemp() directory is removed; a directory given as argv[1] is left (empty). */
    check("scratch dir cleaned up", made_dir ? rmdir(dir) == 0 : 1);
    printf("%s files\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}
