/* Sockets: socketpair with sendmsg/recvmsg (scatter/gather iovecs), and a TCP connection over the
 * loopback interface between a parent and a forked child (socket, bind to an ephemeral port,
 * getsockname, listen, accept, connect, send/recv, shutdown). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok) failures++;
}

int main(void) {
    int sv[2];
    check("socketpair(AF_UNIX, SOCK_DGRAM)", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    char a[] = "hello ", b[] = "msg";
    struct iovec iov[2] = {{a, 6}, {b, 3}};
    struct msghdr m = {0};
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    check("sendmsg gathers two iovecs", sendmsg(sv[0], &m, 0) == 9);
    char buf[32] = {0};
    struct iovec r = {buf, sizeof buf};
    struct msghdr rm = {0};
    rm.msg_iov = &r;
    rm.msg_iovlen = 1;
    check("recvmsg returns them as one datagram", recvmsg(sv[1], &rm, 0) == 9 && !strcmp(buf, "hello msg"));
    check("recvmsg msg_flags 0", rm.msg_flags == 0);

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    check("bind 127.0.0.1:0", bind(ls, (struct sockaddr *)&addr, sizeof addr) == 0);
    socklen_t len = sizeof addr;
    check("getsockname gives a port", getsockname(ls, (struct sockaddr *)&addr, &len) == 0 && addr.sin_port);
    check("listen", listen(ls, 1) == 0);
    pid_t child = fork();
    if (child == 0) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&addr, sizeof addr) != 0) _exit(1);
        send(c, "ping", 4, 0);
        char reply[8] = {0};
        int n = recv(c, reply, 4, MSG_WAITALL);
        _exit(n == 4 && !strcmp(reply, "pong") ? 0 : 2);
    }
    int s = accept(ls, NULL, NULL);
    check("accept", s >= 0);
    char got[8] = {0};
    check("recv from the child", recv(s, got, 4, MSG_WAITALL) == 4 && !strcmp(got, "ping"));
    check("send to the child", send(s, "pong", 4, 0) == 4);
    int status;
    waitpid(child, &status, 0);
    check("child got its answer", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check("shutdown", shutdown(s, SHUT_RDWR) == 0);
    printf("%s sockets\n", failures ? "FAIL" : "OK");
    return failures != 0;
}
